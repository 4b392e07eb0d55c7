"""The flap guard: a bot that keeps dying is marked failing instead of being restarted forever.

Used by the self-heal. Every restart of a bot is counted once, whoever made it: one fleetops makes
(``restarting``), a process exit its pool's supervisord saw and answered by starting it again (an
``exit`` event, or its pid found changed at a pass: ``exited`` / ``observe_pids``, one count per pid
however it was seen), a dedicated bot's container that died (a ``die`` event: ``died``; Docker's
restart policy or the next repair brings it back, and that restart is the same flap). After
``limit`` restarts within ``window`` seconds the bot is ``failing``: the heal stops it and leaves it
alone until a new commit is applied. ``restarts`` is what the page and ``/api/status`` show. Pure.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FlapGuard"]

_REMEMBERED_PIDS = 10_000


@dataclass
class FlapGuard:
    limit: int = 3
    window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    failing: dict[str, str] = field(default_factory=dict)
    """Bot → why it is failing (shown in status and metrics)."""
    _restarts: dict[str, deque[float]] = field(default_factory=dict)
    _pids: dict[str, int] = field(default_factory=dict)
    _exited: dict[tuple[str, int], None] = field(default_factory=dict)
    """(bot, pid) of every process exit counted: an event and a pass that both saw it count it once."""
    _down: set[str] = field(default_factory=set)
    """Bots counted as dead whose restart was not seen yet: the restart is the same flap, not another."""
    _last: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Bot → (why, unix time) of its last counted restart."""

    def count(self, bot: str, why: str) -> bool:
        """Record one restart; True when this one makes the bot failing."""
        if bot in self.failing:
            return False
        now = self.clock()
        times = self._restarts.setdefault(bot, deque())
        times.append(now)
        self._last[bot] = (why, time.time())
        while times and times[0] < now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            self.failing[bot] = f"{len(times)} restarts within {self.window:.0f} s (last: {why})"
            return True
        return False

    def recent(self, bot: str) -> int:
        """Restarts of ``bot`` counted within the window, now."""
        since = self.clock() - self.window
        return sum(1 for at in list(self._restarts.get(bot, ())) if at >= since)  # a copy: the page asks from another thread

    def exited(self, bot: str, pid: int, why: str) -> bool | None:
        """The process ``pid`` of ``bot`` exited (its supervisord restarts it, or the heal will): counted
        once per pid; None when it was counted already, else whether it makes the bot failing."""
        if (bot, pid) in self._exited:
            return None
        self._remember(bot, pid)
        self._down.add(bot)
        return self.count(bot, why)

    def died(self, bot: str, why: str) -> bool:
        """A dedicated bot's container died on its own; whether that makes the bot failing."""
        self._down.add(bot)
        return self.count(bot, why)

    def restarting(self, bot: str, why: str) -> bool | None:
        """fleetops (re)starts ``bot``: counted unless its death was counted already (one flap, not two:
        None); else whether it makes the bot failing."""
        if bot in self._down:
            self._down.discard(bot)
            return None
        return self.count(bot, why)

    def blocked(self, bot: str) -> bool:
        return bot in self.failing

    def observe_pids(self, pids: dict[str, int]) -> list[str]:
        """Compare supervisord's pids with the last look; bots whose process was replaced since and
        whose exit no event counted (each such exit is remembered, so a late event does not count it again)."""
        changed = []
        for bot, pid in pids.items():
            before = self._pids.get(bot)
            if pid and before not in (None, 0, pid):
                assert before is not None
                if (bot, before) not in self._exited:
                    self._remember(bot, before)
                    changed.append(bot)
        self._pids.update(pids)
        return changed

    def running(self, bots: set[str]) -> None:
        """These bots were seen running again: a later repair of one of them is a new restart."""
        self._down -= bots

    def _remember(self, bot: str, pid: int) -> None:
        self._exited[(bot, pid)] = None
        while len(self._exited) > _REMEMBERED_PIDS:
            del self._exited[next(iter(self._exited))]

    def forget_pids(self) -> None:
        """After an apply restarted bots on purpose, their new pids are not flaps."""
        self._pids.clear()
        self._down.clear()

    def reset(self) -> None:
        """A new commit was applied: every bot gets a fresh start."""
        self.failing.clear()
        self._restarts.clear()
        self._pids.clear()
        self._down.clear()
        self._last.clear()

    def restarts(self) -> dict[str, dict[str, Any]]:
        """Bot → ``{count, limit, window, last, at}``: its restarts counted within the window (seconds), the
        last one's cause and unix time; bots with none are left out (``/api/status``'s ``restarts``)."""
        shown = {}
        for bot, (why, at) in sorted(dict(self._last).items()):
            count = self.recent(bot)
            if count or bot in self.failing:
                shown[bot] = {"count": count, "limit": self.limit, "window": self.window, "last": why, "at": at}
        return shown
