"""Bot figures are fetched with bounded concurrency and at most once per ttl, however many pages ask."""

from __future__ import annotations

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
