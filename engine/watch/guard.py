"""The flap guard: a bot that keeps dying is marked failing instead of being restarted forever.

Used by the self-heal. Every restart of a bot — one fleetops makes, or one it observes
(supervisord restarted the program: its pid changed; Docker restarted a dedicated container:
a ``die`` event) — is counted; after ``limit`` restarts within ``window`` seconds the bot is
``failing``: the heal stops it and leaves it alone until a new commit is applied. Pure.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FlapGuard"]


@dataclass
class FlapGuard:
    limit: int = 3
    window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    failing: dict[str, str] = field(default_factory=dict)
    """Bot → why it is failing (shown in status and metrics)."""
    _restarts: dict[str, deque[float]] = field(default_factory=dict)
    _pids: dict[str, int] = field(default_factory=dict)

    def count(self, bot: str, why: str) -> bool:
        """Record one restart; True when this one makes the bot failing."""
        if bot in self.failing:
            return False
        now = self.clock()
        times = self._restarts.setdefault(bot, deque())
        times.append(now)
        while times and times[0] < now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            self.failing[bot] = f"{len(times)} restarts within {self.window:.0f} s (last: {why})"
            return True
        return False

    def blocked(self, bot: str) -> bool:
        return bot in self.failing

    def observe_pids(self, pids: dict[str, int]) -> list[str]:
        """Compare supervisord's pids with the last look; bots whose process was replaced since."""
        changed = [bot for bot, pid in pids.items() if pid and self._pids.get(bot) not in (None, 0, pid)]
        self._pids.update(pids)
        return changed

    def forget_pids(self) -> None:
        """After an apply restarted bots on purpose, their new pids are not flaps."""
        self._pids.clear()

    def reset(self) -> None:
        """A new commit was applied: every bot gets a fresh start."""
        self.failing.clear()
        self._restarts.clear()
        self._pids.clear()
