"""What each bot says about its trading (loop age, open trades, profit), fetched in the background.

Used by the refresher for the status page. Bots are asked through ``BotApiPort`` with at most
``workers`` requests in flight and each bot at most once per ``ttl`` seconds, whatever the number
of pages open: a 200-bot page never fans out 200 requests per client. Answers are checked here
(finite numbers of the expected type) and anything else is shown as unknown.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from engine.live.ports import BotApiPort

__all__ = ["BotFigures", "FigureCache"]


@dataclass(frozen=True)
class BotFigures:
    last_loop: float | None
    """Unix time of the bot's last trading-loop iteration (FreqTrade's ``last_process_ts``)."""
    open_trades: int | None
    profit: float | None
    """Realised and unrealised profit in the stake currency (``profit_all_coin``)."""
    profit_pct: float | None
    fetched_at: float


def _number(data: Any, key: str) -> float | None:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class FigureCache:
    def __init__(self, api: BotApiPort | None, *, workers: int = 8, ttl: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.ttl = ttl
        self.clock = clock
        self.requests = 0
        self._figures: dict[str, BotFigures] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleetops-figures")
        self._pending: set[str] = set()

    def get(self, bot: str) -> BotFigures | None:
        with self._lock:
            return self._figures.get(bot)

    def refresh(self, fleet: str, targets: dict[str, tuple[str, int]]) -> None:
        """Queue a fetch for every bot whose figures are older than the ttl (never twice at once)."""
        if self.api is None:
            return
        now = self.clock()
        with self._lock:
            stale = [b for b in targets if b not in self._pending and now - getattr(self._figures.get(b), "fetched_at", 0.0) >= self.ttl]
            self._pending.update(stale)
            for gone in set(self._figures) - set(targets):
                del self._figures[gone]
        for bot in stale:
            self._pool.submit(self._fetch, fleet, bot, *targets[bot])

    def _fetch(self, fleet: str, bot: str, address: str, port: int) -> None:
        api = self.api
        assert api is not None
        try:
            health = api.call(fleet, bot, address, port, "GET", "health").data
            count = api.call(fleet, bot, address, port, "GET", "count").data
            profit = api.call(fleet, bot, address, port, "GET", "profit").data
            self.requests += 3
            last_loop = _number(health, "last_process_ts")
            current = _number(count, "current")
            figures = BotFigures(last_loop, int(current) if current is not None else None, _number(profit, "profit_all_coin"),
                                 _number(profit, "profit_all_percent"), self.clock())
            with self._lock:
                self._figures[bot] = figures
        finally:
            with self._lock:
                self._pending.discard(bot)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
