"""The fake bots' own APIs: a ping, and FreqTrade's trade-mode REST API as far as fleetops reads it.

The bots' half of the unit fakes (the backend's is ``engine.backend.fake``): a bot answers at the
address and port where the fake backend runs its process (``FakeBackend.answering``). What it
says is set by the test on ``FakeBots``: ``open_trades[bot]`` trades stay open until the test
closes them, ``realised`` profits, ``market_down`` (the loop stalls), ``crash_on_ping`` (the
process applying dies at its first ping: ``Killed``), ``probe_delay``; and the pinned strategy the
process loaded still marks a few behaviours (``BROKEN``: no answer, ``STALL``: the loop never
ticks, ``LOOPERROR``: a strategy error is logged) until the bots' fake is handler-driven too.
"""

from __future__ import annotations

import threading
import time

from engine.backend.fake import FakeBackend, Killed, Started
from engine.live.ports import BotAnswer, Ports, ProbeAnswer

__all__ = ["FakeBotApi", "FakeBots", "FakeProbe"]


class FakeBots:
    """What the bots of one fake backend say through their APIs (set by tests), and what they were told."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.open_trades: dict[str, int] = {}
        self.realised: dict[str, float] = {}
        self.api_posts: list[str] = []
        """Every POST a bot's API received ("alpha-2 stopbuy"), in order."""
        self.entries_stopped: set[str] = set()
        """Bots that received ``POST /api/v1/stopbuy`` since they last started."""
        self.market_down = False
        self.probe_delay = 0.0
        """Seconds each ping takes: a slow bot start, to hold an apply in its health wait."""
        self.crash_on_ping = False
        """Die (raise ``Killed``) at the next ping of a bot: an apply killed in its health wait."""
        self.crash_in_drain = False
        """Die (raise ``Killed``) when a paused bot is next asked for its open trades: an apply killed while it drains."""
        self._started: dict[str, float] = {}

    def ports(self) -> Ports:
        """The backend and these bots' APIs: what a test's ``Context`` talks to."""
        return Ports(backend=self.backend, probe=FakeProbe(self), bot_api=FakeBotApi(self))

    def answering(self, address: str, port: int) -> tuple[Started, float] | None:
        found = self.backend.answering(address, port)
        if found is not None and self._started.get(found[0].bot) != found[1]:  # a new process: its entries are open again
            self._started[found[0].bot] = found[1]
            self.entries_stopped.discard(found[0].bot)
        return found


def _says(started: Started, word: str) -> bool:
    return word.encode() in started.files.strategy[1]


class FakeProbe:
    """A bot answers when its process runs and its pinned strategy is not marked ``BROKEN``."""

    def __init__(self, bots: FakeBots) -> None:
        self.bots = bots

    def ping(self, address: str, port: int) -> ProbeAnswer:
        if self.bots.crash_on_ping:
            raise Killed("killed in the health wait")
        if self.bots.probe_delay:
            threading.Event().wait(self.bots.probe_delay)
        found = self.bots.answering(address, port)
        if found is None or _says(found[0], "BROKEN"):
            return ProbeAnswer(False, "ConnectError")
        return ProbeAnswer(True, "pong")


class FakeBotApi:
    """FreqTrade's trade-mode REST API, as far as fleetops reads it."""

    def __init__(self, bots: FakeBots) -> None:
        self.bots = bots

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> BotAnswer:
        bots = self.bots
        found = bots.answering(address, port)
        if found is None or found[0].bot != bot or _says(found[0], "BROKEN"):
            return BotAnswer(None, "ConnectError")
        started, at = found
        if method == "POST":
            bots.api_posts.append(f"{bot} {path}")
        stalled = bots.market_down or _says(started, "STALL")
        route = path.split("?")[0]
        if route == "health":
            return BotAnswer({"bot_start_ts": at - 1, "last_process_ts": None if stalled else time.time()}, "ok")
        if route == "logs":
            rows = []
            if _says(started, "LOOPERROR"):
                rows.append(["", (at + 0.5) * 1000, "freqtrade.strategy", "ERROR",
                             "Strategy caused the following exception: ZeroDivisionError('division by zero')"])
            return BotAnswer({"log_count": len(rows), "logs": rows}, "ok")
        if route == "count" and bot in bots.entries_stopped and bots.crash_in_drain:
            raise Killed("killed while it drains")
        if route in ("count", "status"):
            n = bots.open_trades.get(bot, 0)
            return BotAnswer({"current": n, "max": 3} if route == "count" else [{"trade_id": i + 1, "is_open": True} for i in range(n)], "ok")
        if route == "profit":
            return BotAnswer({"profit_all_coin": 0.0, "profit_all_percent": 0.0, "profit_closed_coin": bots.realised.get(bot, 0.0)}, "ok")
        if route == "balance":
            return BotAnswer({"total": 1000.0 + bots.realised.get(bot, 0.0), "stake": "USDT"}, "ok")
        if route == "show_config":
            return BotAnswer({"bot_name": bot, "state": "paused" if bot in bots.entries_stopped else "running"}, "ok")
        if route in ("stopbuy", "stopentry") and method == "POST":
            bots.entries_stopped.add(bot)
            return BotAnswer({"status": "No more entries will occur from now. Run /reload_config to reset."}, "ok")
        if route == "reload_config" and method == "POST":
            bots.entries_stopped.discard(bot)
            return BotAnswer({"status": "Reloading config ..."}, "ok")
        return BotAnswer(None, "HTTP 404")
