"""What each bot says about its trading (loop, trades, profit, balance, drawdown, strategy errors), fetched in the background.

Used by the refresher for the status page. Bots are asked through the typed client
(``engine.ftapi``: finite numbers of the expected type, anything else unknown) with at most
``workers`` requests in flight and each bot at most once per ``ttl`` seconds, whatever the number
of pages open: a 200-bot page never fans out 200 requests per client. The ``/api/v1/health``
answer is kept whole: the page's health look reads the loop from it (no request of its own).
The same figures feed the per-bot series of ``/metrics`` (``engine.watch.bot_metrics``): a scrape
reads this cache and never asks a bot. Per bot and ttl: ``health``, ``count``, ``profit``,
``balance``, and ``logs`` when it answered (5 requests).

Each bot's profit is also kept as a bounded history (``history``: one point a minute for the last
``HISTORY_SECONDS``, at most ``HISTORY_POINTS`` per bot): the per-bot page draws its equity
sparkline from what was fetched anyway, never from a request of its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.fleetview import BotFigures
from engine.ftapi import BotApiPort, BotEndpoint, FreqtradeApi
from engine.health.strategy_errors import strategy_errors

__all__ = ["HISTORY_POINTS", "HISTORY_SECONDS", "BotFigures", "FigureCache"]

HISTORY_SECONDS = 6 * 3600
HISTORY_STEP = 60.0
"""Seconds between kept points: a newer fetch within a step replaces the step's last point."""
HISTORY_POINTS = int(HISTORY_SECONDS / HISTORY_STEP)

LOG_LINES = 100
"""Log lines read per fetch to count strategy errors since the bot started (the health check reads 200 when it gates)."""


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
        self._history: dict[str, deque[tuple[float, float]]] = {}

    def get(self, bot: str) -> BotFigures | None:
        with self._lock:
            return self._figures.get(bot)

    def history(self, bot: str) -> list[tuple[float, float]]:
        """(unix seconds, profit in the stake currency: realised and unrealised), oldest first, the last hours."""
        with self._lock:
            points = list(self._history.get(bot, ()))
        since = self.clock() - HISTORY_SECONDS
        return [p for p in points if p[0] >= since]

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
            for gone in set(self._history) - set(targets):  # a stopped bot's page still shows its last hours
                if not self._history[gone] or self._history[gone][-1][0] < now - HISTORY_SECONDS:
                    del self._history[gone]
        for bot in stale:
            self._pool.submit(self._fetch, fleet, bot, *targets[bot])

    def _fetch(self, fleet: str, bot: str, address: str, port: int) -> None:
        api = self.api
        assert api is not None
        try:
            at = BotEndpoint(fleet, bot, address, port)
            health, count, profit, balance = api.health(at), api.count(at), api.profit(at), api.balance(at)
            logs = api.logs(at, limit=LOG_LINES) if health.answered else None
            self.requests += 4 + (logs is not None)
            errors = len(strategy_errors(health, logs)) if logs is not None and logs.answered else None
            with self._lock:
                before = self._figures.get(bot)
            restarts = before.restarts if before is not None else 0
            if before is not None and before.loop is not None and before.loop.process_started is not None \
                    and health.process_started is not None and health.process_started != before.loop.process_started:
                restarts += 1
            figures = BotFigures(loop=health, open_trades=count.current, profit=profit.profit_all_coin,
                                 profit_pct=profit.profit_all_percent, realised=profit.profit_closed_coin, equity=balance.total,
                                 fetched_at=self.clock(), max_open_trades=count.max, stake_used=count.total_stake,
                                 closed_trades=profit.closed_trade_count, profit_ratio=profit.profit_all_ratio,
                                 drawdown=profit.current_drawdown, strategy_errors=errors, restarts=restarts)
            with self._lock:
                self._figures[bot] = figures
                if figures.profit is not None:
                    self._remember(bot, figures.fetched_at, figures.profit)
        finally:
            with self._lock:
                self._pending.discard(bot)

    def _remember(self, bot: str, at: float, profit: float) -> None:
        points = self._history.setdefault(bot, deque(maxlen=HISTORY_POINTS))
        if len(points) >= 2 and points[-1][0] - points[-2][0] < HISTORY_STEP:
            points[-1] = (at, profit)  # the last point is the newest value until it is a step after the one before it
        else:
            points.append((at, profit))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
