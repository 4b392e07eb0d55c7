"""The check protocol: what a check may observe of a bot (``Subject``), and what it says (``Verdict``).

A check is one module under ``engine.health`` with one object of a ``Check`` subclass; the table
(``engine.health.table``) lists which checks each fleet's ``health.check`` kind runs, in order.
A check never makes a request itself: it asks the subject, and the subject decides how the
thing is observed — the gate's subject (``engine.live.health``) probes a bot it just started and
watches its process; ``fleetops status`` looks once; the status page passes the figures it
already fetched, and a subject that cannot observe something answers None for it (the check
then says nothing). So one check serves the apply's gate, ``status``, the page and the watcher.

Two kinds of check (``waits``):
- a step (ping, loop) is waited for: the gate looks at it until it is healthy, then never again,
  and the checks after it in the row wait for it (no loop is asked of a bot that gives no pong);
- a guard (process, strategy errors) is looked at on every round where it is reached: it can
  fail a bot at once, and is never waited for (a process that is STARTING does not hold the ping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from engine.health.status import HealthStatus, Verdict

if TYPE_CHECKING:  # the spec reads the table of checks: it must not pay for the API's parsed models
    from engine.ftapi import BotLogs, LoopHealth

__all__ = ["Check", "PingSeen", "ProcessSeen", "Subject"]


@dataclass(frozen=True)
class ProcessSeen:
    """A bot's process and its container, as supervisord and Docker report them."""

    state: str | None
    """supervisord's state name for a pool bot (RUNNING, STARTING, BACKOFF, EXITED, FATAL, STOPPED;
    MISSING: it has no such program), RUNNING for a dedicated bot whose container runs; None: not known."""
    container: str | None = None
    """Docker's state of its container when that cannot run the bot (exited, dead, created,
    restarting), else None."""
    restarts: int = 0
    """How often Docker restarted its container since the gate began watching it (a crash loop)."""


@dataclass(frozen=True)
class PingSeen:
    """One ``GET /api/v1/ping``: ``address`` None when its container has none (not running)."""

    address: str | None
    ok: bool
    detail: str
    """``pong``, or the error (``ConnectError``, ``HTTP 503``, ``answered without pong``)."""


class Subject(Protocol):
    """One bot as a check may observe it. Each method answers None when this subject does not
    observe that (the check then gives no verdict); observations are taken once per round."""

    @property
    def waiting(self) -> bool:
        """True in the gate, for a bot just (re)started: "not yet" is progressing. False for a
        look at a bot that should be up by now: "not yet" is degraded."""
        ...

    def now(self) -> float:
        """Unix seconds now (the bots' clock: the host's)."""
        ...

    def forget(self) -> None:
        """A new round begins: observe everything again when asked."""
        ...

    def process(self) -> ProcessSeen | None: ...
    def ping(self) -> PingSeen | None: ...
    def loop(self) -> LoopHealth | None: ...
    def logs(self) -> BotLogs | None: ...


class Check:
    """Base of every check: a name, its kind (``waits``), and how it turns an observation into a verdict."""

    name: ClassVar[str] = ""
    waits: ClassVar[bool] = False
    """A step the gate waits for (see the module docstring); False: a guard."""
    goal: ClassVar[str] = ""
    """A step's progress line: "waiting for N bot(s) to <goal>"."""
    stage: ClassVar[str] = ""
    """A step's timing stage: "health: <stage>" (``engine.timing``)."""
    pace: ClassVar[tuple[float, float]] = (0.2, 0.2)
    """A step's seconds between looks: the first, doubling up to the second."""

    def window(self, timeout: float) -> float:
        """How long the gate waits for this step, given the fleet's ``health.timeout_seconds``."""
        return timeout

    def look(self, subject: Subject) -> Verdict | None:
        """The verdict on what the subject shows now; None when the subject does not observe it."""
        raise NotImplementedError

    def overdue(self, last: Verdict, window: float) -> Verdict:
        """The verdict once the gate waited ``window`` seconds and ``last`` was still not healthy."""
        return Verdict(HealthStatus.DEGRADED if not last.status.worse_than(HealthStatus.DEGRADED) else last.status, last.detail)
