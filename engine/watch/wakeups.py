"""When the watcher's loop should heal, and which deaths and exits were the fleet's own doing.

Part of the watcher (``engine.watch.daemon``): its events thread records each unit death and pool
bot exit here and asks for a heal pass ``DEBOUNCE`` seconds later; its loop asks whether a pass is
due and, before the pass, takes the deaths and exits that no step of its own caused (an apply, or
a repair that touched that bot or container, marked here as busy windows). Thread-safe: the events
thread and the loop share it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from engine.backend.unit_events import EXIT
from engine.naming import dedicated_container_name
from engine.watch.heal import Exit

if TYPE_CHECKING:
    from engine.backend.port import UnitEvent

__all__ = ["DEBOUNCE", "Wakeups"]

DEBOUNCE = 0.3
"""Seconds from a death or exit event to the heal pass that answers it: Docker sends ``kill``, ``die``
and ``stop`` of one ``docker stop`` within this, and a pool's bots' exits come in one look."""


class Wakeups:
    """Deaths, exits and busy windows (monotonic seconds), and the time of the next heal pass asked for;
    ``wake`` tells the loop to look again (``CommitQueue.wake``)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._deaths: deque[tuple[float, str]] = deque(maxlen=1000)
        self._exits: deque[tuple[float, Exit, str]] = deque(maxlen=1000)
        self._heal_at: float | None = None
        """When the loop should run a heal pass before the resync is due (events, drift in its grace)."""
        self._busy: deque[tuple[float, float, frozenset[str] | None]] = deque(maxlen=20)
        """(start, end, what it touched: None for everything) of each step that changed the fleet."""

    def follow(self, fleet: Callable[[], str | None], events_of: Callable[[str], Iterable[UnitEvent]], stopping: threading.Event,
               warn: Callable[[str], None]) -> None:
        """Follow the unit events and pool bots' process exits of the fleet ``fleet()`` names (``Units.events``,
        through ``events_of``) until ``stopping`` is set; a death or exit asks for a heal pass ``DEBOUNCE``
        seconds later (the events of one stop or one restart come together: one pass answers them all). A
        stream that ends or fails is followed again after a backoff (1 s doubling to 5 s), said through
        ``warn``, and a pass then looks at what happened meanwhile. The watcher's events thread runs it."""
        backoff = 1.0
        while not stopping.is_set():
            followed = fleet()
            if followed is None:
                stopping.wait(1.0)
                continue
            try:
                for event in events_of(followed):
                    backoff = 1.0
                    if event.action == EXIT and event.bot is not None and event.pid:
                        self.exited(Exit(event.bot, event.pid), event.name)
                    elif event.action in ("die", "stop", "destroy", "oom"):
                        self.died(event.name)
                    if stopping.is_set() or fleet() != followed:
                        break
                else:
                    warn(f"the Docker event stream ended; following again in {backoff:g} s")
            except Exception as exc:  # noqa: BLE001 - the stream is followed again whatever broke it; said in the log
                warn(f"Docker events: {exc}; following again in {backoff:g} s")
            stopping.wait(backoff)
            backoff = min(backoff * 2, 5.0)
            self.heal_soon(0.0)  # what died while nobody listened

    def died(self, container: str) -> None:
        """A container of the fleet died, stopped or went away: a heal pass soon."""
        self._deaths.append((time.monotonic(), container))
        self.heal_soon(DEBOUNCE)

    def exited(self, gone: Exit, unit: str) -> None:
        """A pool bot's process exited (in ``unit``): a heal pass soon."""
        self._exits.append((time.monotonic(), gone, unit))
        self.heal_soon(DEBOUNCE)

    def heal_soon(self, delay: float) -> None:
        """Ask the loop for a heal pass within ``delay`` seconds (an earlier request stands)."""
        at = time.monotonic() + delay
        with self._lock:
            if self._heal_at is None or at < self._heal_at:
                self._heal_at = at
        self._wake()

    def heal_due(self) -> bool:
        """Whether a pass asked for is due now (asking again clears it)."""
        with self._lock:
            if self._heal_at is None or time.monotonic() < self._heal_at:
                return False
            self._heal_at = None
            return True

    def next_look(self, resync_at: float) -> float:
        """When the loop must look next (monotonic): the resync, or an earlier pass asked for."""
        with self._lock:
            return min(resync_at, self._heal_at or resync_at)

    def busy(self, began: float, ended: float, touched: frozenset[str] | None) -> None:
        """A step changed the fleet between ``began`` and ``ended``; ``touched``: what it changed (None: anything)."""
        self._busy.append((began, ended, touched))

    def foreign_exits(self) -> list[Exit]:
        """Pool bots' process exits not caused by one of our applies or repairs (taken: asked once)."""
        exits = []
        while self._exits:
            at, gone, _unit = self._exits.popleft()
            if not self._ours(at, gone.bot):
                exits.append(gone)
        return exits

    def foreign_deaths(self, fleet: str) -> list[str]:
        """Dedicated bots of ``fleet`` whose container died on its own (not during one of our applies or heals)."""
        prefix = dedicated_container_name(fleet, "")
        deaths = []
        while self._deaths:
            at, container = self._deaths.popleft()
            if not self._ours(at, container) and container.startswith(prefix):
                deaths.append(container.removeprefix(prefix))
        return deaths

    def _ours(self, at: float, name: str) -> bool:
        """Whether what happened to ``name`` (a bot or container) at ``at`` is one of our own steps': during
        (or just after) an apply, or a repair that touched it."""
        return any(start - 0.5 <= at <= end + 1.0 and (touched is None or name in touched) for start, end, touched in self._busy)
