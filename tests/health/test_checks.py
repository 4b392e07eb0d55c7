"""Each health check, alone: what it sees → its verdict. One row per case, the exact detail it gives.

A row names the check, what the subject shows (its process, its ping, its /api/v1/health and
/api/v1/logs answers), whether the gate is waiting for the bot (a bot just started) or it should
be up already (``status``, the page), and the verdict: a status and the exact one-line detail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from engine.ftapi import BotLogs, LoopHealth, RawAnswer
from engine.health.check import Check, PingSeen, ProcessSeen
from engine.health.loop import LOOP, LOOP_WINDOW
from engine.health.ping import PING
from engine.health.process import PROCESS
from engine.health.status import HealthStatus, Verdict
from engine.health.strategy_errors import STRATEGY_ERRORS

NOW = 1_800_000_000.0
ERROR = "Strategy caused the following exception: ZeroDivisionError('division by zero')"


def health(**body: object) -> LoopHealth:
    return LoopHealth.parse(RawAnswer(200, json.dumps(body).encode()))


def logs(*rows: list[object]) -> BotLogs:
    return BotLogs.parse(RawAnswer(200, json.dumps({"logs": list(rows)}).encode()))


@dataclass
class Seen:
    """A subject that shows fixed observations (None: not observed)."""

    waiting: bool = True
    process_: ProcessSeen | None = None
    ping_: PingSeen | None = None
    loop_: LoopHealth | None = None
    logs_: BotLogs | None = None
    asked: list[str] = field(default_factory=list)

    def now(self) -> float:
        return NOW

    def forget(self) -> None:
        pass

    def process(self) -> ProcessSeen | None:
        self.asked.append("process")
        return self.process_

    def ping(self) -> PingSeen | None:
        self.asked.append("ping")
        return self.ping_

    def loop(self) -> LoopHealth | None:
        self.asked.append("loop")
        return self.loop_

    def logs(self) -> BotLogs | None:
        self.asked.append("logs")
        return self.logs_


H, P, D, F, M = HealthStatus.HEALTHY, HealthStatus.PROGRESSING, HealthStatus.DEGRADED, HealthStatus.FAILED, HealthStatus.MISSING
STARTED, LOOPED = {"bot_start_ts": NOW - 10}, {"bot_start_ts": NOW - 10, "last_process_ts": NOW - 2}

CASES: list[tuple[str, Check, Seen, tuple[HealthStatus, str] | None]] = [
    ("process running", PROCESS, Seen(process_=ProcessSeen("RUNNING")), (H, "its process is RUNNING")),
    ("process starting: not yet", PROCESS, Seen(process_=ProcessSeen("STARTING")), (P, "its process is STARTING (supervisord)")),
    ("process backoff: failed", PROCESS, Seen(process_=ProcessSeen("BACKOFF")), (F, "its process is BACKOFF (supervisord)")),
    ("process fatal: failed", PROCESS, Seen(process_=ProcessSeen("FATAL")), (F, "its process is FATAL (supervisord)")),
    ("process stopped: failed", PROCESS, Seen(process_=ProcessSeen("STOPPED")), (F, "its process is STOPPED (supervisord)")),
    ("no such program: missing", PROCESS, Seen(process_=ProcessSeen("MISSING")), (M, "supervisord has no program for it")),
    ("container exited: missing", PROCESS, Seen(process_=ProcessSeen("RUNNING", "exited")), (M, "its container is exited")),
    ("container restarting: failed", PROCESS, Seen(process_=ProcessSeen(None, "restarting")), (F, "its container is restarting")),
    ("container restarted by Docker: failed", PROCESS, Seen(process_=ProcessSeen("RUNNING", "running", 2)),
     (F, "its container restarted 2 time(s) since it started (it is running)")),
    ("process state unknown: no verdict", PROCESS, Seen(process_=ProcessSeen(None)), None),
    ("process not observed: no verdict", PROCESS, Seen(), None),
    ("pong", PING, Seen(ping_=PingSeen("10.0.0.2", True, "pong")), (H, "pong")),
    ("no pong yet, waited for", PING, Seen(ping_=PingSeen("10.0.0.2", False, "ConnectError")), (P, "no pong yet (last: ConnectError)")),
    ("no pong, should be up", PING, Seen(False, ping_=PingSeen("10.0.0.2", False, "HTTP 503")), (D, "it does not answer its ping (HTTP 503)")),
    ("no address: missing", PING, Seen(ping_=PingSeen(None, False, "no address")), (M, "its container has no address (not running?)")),
    ("loop ran since the start", LOOP, Seen(loop_=health(**LOOPED)), (H, "its trading loop runs (last at 07:59:58 UTC)")),
    ("loop not yet, waited for", LOOP, Seen(loop_=health(**STARTED)), (P, "its trading loop has not run yet since it started")),
    ("loop not yet, just started", LOOP, Seen(False, loop_=health(**STARTED)), (P, "its trading loop has not run yet since it started")),
    ("loop never ran, started long ago", LOOP, Seen(False, loop_=health(bot_start_ts=NOW - 3600)),
     (D, "its trading loop has not run since it started at 07:00:00 UTC (last_process_ts None, started 1799996400.0)")),
    ("loop stalled for long", LOOP, Seen(False, loop_=health(bot_start_ts=NOW - 3600, last_process_ts=NOW - LOOP_WINDOW - 60)),
     (D, "its trading loop last ran at 07:58:30 UTC, over 30 s ago")),
    ("loop stamp older than the start: not looped", LOOP, Seen(loop_=health(bot_start_ts=NOW - 10, last_process_ts=NOW - 20)),
     (P, "its trading loop has not run yet since it started")),
    ("no start time, a recent loop: healthy outside the gate", LOOP, Seen(False, loop_=health(last_process_ts=NOW - 2)),
     (H, "its trading loop runs (last at 07:59:58 UTC)")),
    ("no start time: the gate cannot tell the loop ran since the start", LOOP, Seen(loop_=health(last_process_ts=NOW - 2)),
     (P, "its trading loop has not run yet since it started")),
    ("older FreqTrade: bot_startup_ts", LOOP, Seen(loop_=health(bot_startup_ts=NOW - 10, last_process_ts=NOW - 2)),
     (H, "its trading loop runs (last at 07:59:58 UTC)")),
    ("a NaN stamp is unknown, not a loop", LOOP, Seen(loop_=LoopHealth.parse(RawAnswer(200, b'{"bot_start_ts": 1, "last_process_ts": NaN}'))),
     (P, "its trading loop has not run yet since it started")),
    ("health endpoint down", LOOP, Seen(loop_=LoopHealth.parse(RawAnswer(503))), (P, "its /api/v1/health did not answer (HTTP 503)")),
    ("health not observed: no verdict", LOOP, Seen(), None),
    ("strategy raised since the start", STRATEGY_ERRORS,
     Seen(loop_=health(**LOOPED), logs_=logs(["d", (NOW - 5) * 1000, "freqtrade.strategy", "ERROR", ERROR])),
     (F, f"its strategy raised since it started: {ERROR}")),
    ("a strategy error before the start does not count", STRATEGY_ERRORS,
     Seen(loop_=health(**LOOPED), logs_=logs(["d", (NOW - 60) * 1000, "freqtrade.strategy", "ERROR", ERROR])),
     (H, "no strategy error logged since it started")),
    ("other errors are not the strategy's", STRATEGY_ERRORS,
     Seen(loop_=health(**LOOPED), logs_=logs(["d", (NOW - 5) * 1000, "freqtrade.exchange", "ERROR", "Could not load markets"])),
     (H, "no strategy error logged since it started")),
    ("strategy wording at INFO is not an error", STRATEGY_ERRORS,
     Seen(loop_=health(**LOOPED), logs_=logs(["d", (NOW - 5) * 1000, "freqtrade.strategy", "INFO", ERROR])),
     (H, "no strategy error logged since it started")),
    ("logs not answered: no verdict", STRATEGY_ERRORS, Seen(loop_=health(**LOOPED), logs_=BotLogs.parse(RawAnswer(None, error="ConnectError"))),
     None),
    ("health not answered: no verdict (the loop check says why)", STRATEGY_ERRORS,
     Seen(loop_=LoopHealth.parse(RawAnswer(None, error="ConnectError")), logs_=logs()), None),
]


@pytest.mark.parametrize("name, check, seen, expected", CASES, ids=[c[0] for c in CASES])
def test_check(name: str, check: Check, seen: Seen, expected: tuple[HealthStatus, str] | None) -> None:
    verdict = check.look(seen)  # type: ignore[arg-type]
    assert (verdict.status, verdict.detail) == expected if verdict is not None else expected is None, verdict


def test_the_strategy_error_check_reads_the_log_only_when_the_health_answered() -> None:
    seen = Seen(loop_=LoopHealth.parse(RawAnswer(None, error="ConnectError")), logs_=logs())
    STRATEGY_ERRORS.look(seen)  # type: ignore[arg-type]
    assert seen.asked == ["loop"]  # a bot that does not answer is not asked twice per round


@pytest.mark.parametrize("check, last, window, expected", [
    (PING, Verdict(P, "no pong yet (last: ConnectError)", "ConnectError"), 30.0, (D, "no pong within the timeout (last: ConnectError)")),
    (LOOP, Verdict(P, "its trading loop has not run yet since it started", "(last_process_ts None, started 5.0)"), 30.0,
     (D, "its trading loop has not run since it started 30 s ago (last_process_ts None, started 5.0): is its exchange reachable?")),
    (LOOP, Verdict(P, "its /api/v1/health did not answer (HTTP 503)"), 30.0, (D, "its /api/v1/health did not answer (HTTP 503)")),
])
def test_a_step_still_not_healthy_when_its_window_passes_is_degraded(check: Check, last: Verdict, window: float,
                                                                     expected: tuple[HealthStatus, str]) -> None:
    verdict = check.overdue(last, window)
    assert (verdict.status, verdict.detail) == expected


def test_the_statuses_are_ordered_from_healthy_to_missing() -> None:
    from engine.health.status import worst

    assert [s.value for s in sorted(HealthStatus, key=lambda s: s.rank)] == ["healthy", "progressing", "degraded", "failed", "missing"]
    assert F.worse_than(D) and M.worse_than(F) and not H.worse_than(P) and not D.worse_than(D)
    assert [s for s in HealthStatus if s.final] == [F, M]
    assert worst([Verdict(H, "a"), Verdict(D, "b"), Verdict(P, "c")]) == Verdict(D, "b")
    assert worst([Verdict(H, "a"), Verdict(H, "b")]) == Verdict(H, "b")  # equally bad: the deeper check's
    assert worst([]) is None
