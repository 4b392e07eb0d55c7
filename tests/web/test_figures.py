"""Bot figures are fetched with bounded concurrency and at most once per ttl, however many pages ask."""

from __future__ import annotations

import itertools
import json
import threading
import time

from engine.ftapi import RawAnswer
from engine.web.figures import FigureCache


class SlowApi:
    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls = 0
        self.lock = threading.Lock()

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.01)
        with self.lock:
            self.in_flight -= 1
        data = {"health": {"last_process_ts": 1700000000}, "count": {"current": 2}, "profit": {"profit_all_coin": float("nan")},
                "balance": {"total": 990.5}, "logs?limit=100": {"logs": []}}[path]
        return RawAnswer(200, json.dumps(data).encode())  # the NaN as Python's json writes it


def test_two_hundred_bots_asked_by_many_pages_cost_five_calls_each_with_bounded_concurrency() -> None:
    api = SlowApi()
    cache = FigureCache(api, workers=8, ttl=60)
    targets = {f"bot-{i}": ("10.0.0.2", 8081 + i) for i in range(200)}
    for _ in range(50):  # fifty clients' worth of refreshes
        cache.refresh("f", targets)
    deadline = time.monotonic() + 30
    while any(cache.get(b) is None for b in targets) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.calls == 1000 and api.most <= 8  # health, count, profit, balance, logs
    figures = cache.get("bot-7")
    assert figures is not None and figures.open_trades == 2 and figures.last_loop == 1700000000
    assert figures.profit is None  # a NaN from a bot is not a number to show
    assert figures.equity == 990.5 and figures.strategy_errors == 0


def test_the_equity_history_is_kept_from_the_fetches_bounded_and_costs_no_call() -> None:
    """Six hours at one point a minute, whatever the fetch rate; reading it asks no bot anything."""
    from engine.web.figures import HISTORY_POINTS

    calls = []

    class Api:
        def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
            calls.append(path.split("?")[0])
            data = {"health": {}, "count": {"current": 0}, "profit": {"profit_all_coin": calls.count("profit")},
                    "balance": {"total": 1000.0}, "logs": {"logs": []}}[calls[-1]]
            return RawAnswer(200, json.dumps(data).encode())

    now = [1_800_000_000.0]
    cache = FigureCache(Api(), workers=1, ttl=0, clock=lambda: now[0])
    for _ in range(1600):  # a fetch every 15 s for over six and a half hours
        cache.refresh("f", {"bot-1": ("10.0.0.2", 8081)})
        deadline = time.monotonic() + 5
        while cache._pending and time.monotonic() < deadline:
            time.sleep(0.0005)
        now[0] += 15
    history = [cache.history("bot-1") for _ in range(100)][-1]
    per_fetch = len(set(calls))
    assert len(calls) == 1600 * per_fetch  # the figures' own calls per fetch; the history reads none
    assert HISTORY_POINTS - 2 <= len(history) <= HISTORY_POINTS + 1 and history[-1][0] - history[0][0] <= 6 * 3600
    assert all(b[0] - a[0] >= 60 for a, b in itertools.pairwise(history[:-1]))  # a point a minute (the last one: now)
    assert history[-1][1] == 1600.0  # the newest profit
