"""A bot's health as an ordered status, and a check's verdict (a status and one line saying why).

The order is gitops-engine's idea (``pkg/health/health.go``: codes with an order and
``IsWorse``) with fleetops' own codes, from best to worst::

    healthy      every check passed: it runs, answers and trades
    progressing  not there yet, and still expected to be (starting, no pong yet, no loop yet)
    degraded     it runs but does not do its job, and waiting longer did not help (no pong, a
                 stalled loop); it may recover by itself (an exchange that comes back)
    failed       it will not recover by waiting: its process exited or cannot start, its
                 container restarts in a loop, its strategy raises
    missing      nothing is there to check: no container address, no program, a stopped container

Missing is the worst because nothing runs at all: a failed bot at least ran and left the lines
that say why. The gate (``engine.health.gate``) stops waiting for a bot at once when one of its
checks says ``failed`` or worse; a revision passes when every bot it started is ``healthy``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["HealthStatus", "Verdict", "worst"]


class HealthStatus(str, Enum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    DEGRADED = "degraded"
    FAILED = "failed"
    MISSING = "missing"

    @property
    def rank(self) -> int:
        """0 for healthy, growing with how bad it is (the order of the members)."""
        return _RANK[self]

    def worse_than(self, other: HealthStatus) -> bool:
        return self.rank > other.rank

    @property
    def final(self) -> bool:
        """Waiting cannot change it: the gate stops waiting for the bot (failed, missing)."""
        return self.rank >= _RANK[HealthStatus.FAILED]


_RANK = {status: rank for rank, status in enumerate(HealthStatus)}


@dataclass(frozen=True)
class Verdict:
    """What one check, or a bot's checks together, say about a bot."""

    status: HealthStatus
    detail: str
    """One line for people: what was seen, e.g. "its process is BACKOFF (supervisord)"."""
    cause: str = ""
    """What the check last saw, kept for the verdict it gives when the gate's wait ends
    (``Check.overdue``): e.g. the ping's last error."""

    def to_json(self) -> dict[str, str]:
        return {"status": self.status.value, "detail": self.detail}


def worst(verdicts: Iterable[Verdict]) -> Verdict | None:
    """The worst verdict (the last of equally bad ones: the deepest check said it), or None for none."""
    found: Verdict | None = None
    for verdict in verdicts:
        if found is None or not found.status.worse_than(verdict.status):
            found = verdict
    return found
