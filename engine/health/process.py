"""Check: the bot's process and its container — can it still answer at all?

A guard: the process state alone never passes a bot (a FreqTrade that cannot reach its exchange
sits RUNNING with its API never up), but it fails one at once. A program supervisord reports
EXITED, BACKOFF, FATAL or STOPPED, or a container that exited or that Docker keeps restarting (a
pool whose supervisord cannot start — "Invalid user id 1000 in section 'program:…'" — restarts
in a loop with every bot in it), will not answer its ping, so the gate does not wait out
``health.timeout_seconds`` for it. States come from supervisord's process table and Docker's
inspect (``engine.live.processes.ProcessWatch`` in the gate, ``observe`` elsewhere).
"""

from __future__ import annotations

from engine.health.check import Check, Subject
from engine.health.status import HealthStatus, Verdict

__all__ = ["DEAD_CONTAINER", "FAILED_STATES", "PROCESS", "ProcessCheck"]

FAILED_STATES = frozenset({"EXITED", "BACKOFF", "FATAL", "STOPPED"})
"""supervisord states of a program that will not answer without being started again."""
DEAD_CONTAINER = frozenset({"exited", "dead", "restarting", "created"})
"""Docker states of a container whose bots cannot run."""


class ProcessCheck(Check):
    name = "process"

    def look(self, subject: Subject) -> Verdict | None:
        seen = subject.process()
        if seen is None:
            return None
        if seen.restarts:
            return Verdict(HealthStatus.FAILED, f"its container restarted {seen.restarts} time(s) since it started "
                                                f"(it is {seen.container or 'running'})")
        if seen.container is not None:
            status = HealthStatus.FAILED if seen.container == "restarting" else HealthStatus.MISSING
            return Verdict(status, f"its container is {seen.container}")
        if seen.state in FAILED_STATES:
            return Verdict(HealthStatus.FAILED, f"its process is {seen.state} (supervisord)")
        if seen.state == "MISSING":
            return Verdict(HealthStatus.MISSING, "supervisord has no program for it")
        if seen.state == "STARTING":
            return Verdict(HealthStatus.PROGRESSING, "its process is STARTING (supervisord)")
        if seen.state == "RUNNING":
            return Verdict(HealthStatus.HEALTHY, "its process is RUNNING")
        return None  # not known (supervisord did not answer): the checks after this one decide


PROCESS = ProcessCheck()
