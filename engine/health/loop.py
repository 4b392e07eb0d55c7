"""Check: the bot's trading loop ran since the bot started (``health.check: loop``, the default).

A step, after the ping. FreqTrade's ``/api/v1/ping`` proves only that its web server answers
(freqtrade #6009 added ``/api/v1/health`` for this): a bot that cannot reach its exchange
answers pings with a stalled loop. So a changed bot passes when ``last_process_ts`` moved past its
start (the loop completed an iteration: FreqTrade only sets it at the end of one) within
``LOOP_WINDOW`` seconds (at most the fleet's health timeout). Outside the gate (``status``, the
page), a loop that last ran longer than ``LOOP_WINDOW`` ago is degraded.

fleetops sets the loop interval this check measures (``internals.process_throttle_secs`` in every
rendered config, ``engine.compile.ftconfig``): it is defined here, with the window it gives.
"""

from __future__ import annotations

import time

from engine.health.check import Check, Subject
from engine.health.status import HealthStatus, Verdict

__all__ = ["LOOP", "LOOP_WINDOW", "PROCESS_THROTTLE_SECS", "LoopCheck"]

PROCESS_THROTTLE_SECS = 5
"""Seconds between two iterations of every bot's trading loop (rendered into its config)."""
LOOP_WINDOW = 3 * PROCESS_THROTTLE_SECS + 15
"""Seconds a started bot gets to finish its first loop iteration: three intervals, and the
time FreqTrade takes to load its markets."""


class LoopCheck(Check):
    name = "loop"
    waits = True
    goal = "run their trading loop"
    stage = "trading loops"
    pace = (0.2, 1.0)  # soon at first (a bot that loops at once passes at once), then every second (two API calls each)

    def window(self, timeout: float) -> float:
        return min(LOOP_WINDOW, timeout)

    def look(self, subject: Subject) -> Verdict | None:
        health = subject.loop()
        if health is None:
            return None
        not_yet = HealthStatus.PROGRESSING if subject.waiting else HealthStatus.DEGRADED
        if not health.answered:
            return Verdict(not_yet, f"its /api/v1/health did not answer ({health.why})")
        now = subject.now()
        # Details name clock times, not ages: a verdict read again a second later is the same verdict
        # (the page publishes a new version only when its content changes).
        # Outside the gate a recent loop is enough when the bot does not say when it started.
        recent_enough = not subject.waiting and health.started is None and health.last_loop is not None
        if (health.looped or recent_enough) and health.last_loop is not None:
            if not subject.waiting and now - health.last_loop > LOOP_WINDOW:
                return Verdict(HealthStatus.DEGRADED, f"its trading loop last ran at {_clock(health.last_loop)}, over {LOOP_WINDOW} s ago")
            return Verdict(HealthStatus.HEALTHY, f"its trading loop runs (last at {_clock(health.last_loop)})")
        cause = f"(last_process_ts {health.last_loop}, started {health.started})"
        if subject.waiting or (health.started is not None and now - health.started < LOOP_WINDOW):
            return Verdict(HealthStatus.PROGRESSING, "its trading loop has not run yet since it started", cause)
        since = f" at {_clock(health.started)}" if health.started is not None else ""
        return Verdict(HealthStatus.DEGRADED, f"its trading loop has not run since it started{since} {cause}", cause)

    def overdue(self, last: Verdict, window: float) -> Verdict:
        if not last.cause:  # its API did not answer: say so
            return super().overdue(last, window)
        return Verdict(HealthStatus.DEGRADED,
                       f"its trading loop has not run since it started {window:.0f} s ago {last.cause}: is its exchange reachable?")


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(stamp))


LOOP = LoopCheck()
