"""Check: the bot's API answers ``GET /api/v1/ping`` with ``pong``.

A step, waited for up to the fleet's ``health.timeout_seconds``. It proves only that FreqTrade's
web server is up (the loop check says whether it trades); it is what ``health.check: ping``
asks of a bot (webserver mode has no trading loop). Only a 200 with ``{"status": "pong"}``
counts (``engine.live.probe``).
"""

from __future__ import annotations

from engine.health.check import Check, Subject
from engine.health.status import HealthStatus, Verdict

__all__ = ["PING", "PingCheck"]


class PingCheck(Check):
    name = "ping"
    waits = True
    goal = "answer /api/v1/ping"
    stage = "pings"

    def look(self, subject: Subject) -> Verdict | None:
        seen = subject.ping()
        if seen is None:
            return None
        if seen.address is None:
            return Verdict(HealthStatus.MISSING, "its container has no address (not running?)")
        if seen.ok:
            return Verdict(HealthStatus.HEALTHY, seen.detail)
        if subject.waiting:
            return Verdict(HealthStatus.PROGRESSING, f"no pong yet (last: {seen.detail})", seen.detail)
        return Verdict(HealthStatus.DEGRADED, f"it does not answer its ping ({seen.detail})", seen.detail)

    def overdue(self, last: Verdict, window: float) -> Verdict:
        return Verdict(HealthStatus.DEGRADED, f"no pong within the timeout (last: {last.cause or 'no answer'})")


PING = PingCheck()
