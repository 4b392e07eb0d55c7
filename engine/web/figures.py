"""What each bot says about its trading (loop, open trades, profit), fetched in the background.

Used by the refresher for the status page. Bots are asked through the typed client
(``engine.ftapi``: finite numbers of the expected type, anything else unknown) with at most
``workers`` requests in flight and each bot at most once per ``ttl`` seconds, whatever the number
of pages open: a 200-bot page never fans out 200 requests per client. The ``/api/v1/health``
answer is kept whole: the page's health look reads the loop from it (no request of its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.fleetview import BotFigures
from engine.ftapi import BotApiPort, BotEndpoint, FreqtradeApi

__all__ = ["BotFigures", "FigureCache"]


class FigureCache:
    def __init__(self, api: BotApiPort | None, *, workers: int = 8, ttl: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.api = FreqtradeApi(api) if api is not None else None
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
            at = BotEndpoint(fleet, bot, address, port)
            health, count, profit = api.health(at), api.count(at), api.profit(at)
            self.requests += 3
            figures = BotFigures(loop=health, open_trades=count.current, profit=profit.profit_all_coin,
                                 profit_pct=profit.profit_all_percent, fetched_at=self.clock())
            with self._lock:
                self._figures[bot] = figures
        finally:
            with self._lock:
                self._pending.discard(bot)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
