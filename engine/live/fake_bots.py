"""The fake bots' own APIs: a ping, and FreqTrade's trade-mode REST API as far as fleetops reads it.

Part of the fakes (``engine.live.fakes``, whose docstring says what the fake bots do): a bot
answers when its process runs in a running container of the fake engine; its pinned strategy's
markers (``BROKEN``, ``STALL``, ``LOOPERROR``) decide how, as the fakes' docstring lists.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from engine.compile.essence import RecordError, parse_record
from engine.live.fakes import FakeContainer, FakeEngine, Killed
from engine.live.ports import BotAnswer, ProbeAnswer
from engine.live.records import AppliedBot
from engine.naming import BOTS, HOST_ETC, HOST_RECORDS, Labels

__all__ = ["FakeBotApi", "FakeProbe"]


def _answering(engine: FakeEngine, address: str, port: int) -> tuple[FakeContainer, str] | None:
    """The container and bot serving ``address:port``, when its process runs."""
    with engine._lock:
        container = next((c for c in engine.containers.values() if c.ip == address and c.state == "running"), None)
        if container is None:
            return None
        bot = _bot_on_port(container.runtime_dir, port)
        if bot is None:
            return None
        if container.labels.get(Labels.ROLE) == "pool" and container.programs.get(bot) != "RUNNING":
            return None
    return container, bot


def _strategy_says(container: FakeContainer, bot: str, word: str) -> bool:
    strategies = container.runtime_dir / HOST_ETC / BOTS / bot / "strategies"
    return any(word in f.read_text() for f in strategies.glob("*.py"))


class FakeProbe:
    """A bot answers when its process runs and its pinned strategy is not marked ``BROKEN``."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def ping(self, address: str, port: int) -> ProbeAnswer:
        self.engine.before_ping()
        if self.engine.probe_delay:
            threading.Event().wait(self.engine.probe_delay)
        found = _answering(self.engine, address, port)
        if found is None or _strategy_says(*found, "BROKEN"):
            return ProbeAnswer(False, "ConnectError")
        return ProbeAnswer(True, "pong")


class FakeBotApi:
    """FreqTrade's trade-mode REST API, as far as fleetops reads it."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> BotAnswer:
        found = _answering(self.engine, address, port)
        if found is None or found[1] != bot or _strategy_says(*found, "BROKEN"):
            return BotAnswer(None, "ConnectError")
        container, _ = found
        if method == "POST":
            self.engine.api_posts.append(f"{bot} {path}")
        started = container.started_at.get(bot, time.time())
        stalled = self.engine.market_down or _strategy_says(container, bot, "STALL")
        route = path.split("?")[0]
        if route == "health":
            return BotAnswer({"bot_start_ts": started - 1, "last_process_ts": None if stalled else time.time()}, "ok")
        if route == "logs":
            rows = []
            if _strategy_says(container, bot, "LOOPERROR"):
                rows.append(["", (started + 0.5) * 1000, "freqtrade.strategy", "ERROR",
                             "Strategy caused the following exception: ZeroDivisionError('division by zero')"])
            return BotAnswer({"log_count": len(rows), "logs": rows}, "ok")
        if route == "count" and bot in self.engine.entries_stopped and self.engine.crash_in_drain:
            raise Killed("killed while it drains")
        if route in ("count", "status"):
            n = self.engine.open_trades.get(bot, 0)
            return BotAnswer({"current": n, "max": 3} if route == "count" else [{"trade_id": i + 1, "is_open": True} for i in range(n)], "ok")
        if route == "profit":
            return BotAnswer({"profit_all_coin": 0.0, "profit_all_percent": 0.0, "profit_closed_coin": self.engine.realised.get(bot, 0.0)}, "ok")
        if route == "balance":
            return BotAnswer({"total": 1000.0 + self.engine.realised.get(bot, 0.0), "stake": "USDT"}, "ok")
        if route == "show_config":
            return BotAnswer({"bot_name": bot, "state": "paused" if bot in self.engine.entries_stopped else "running"}, "ok")
        if route in ("stopbuy", "stopentry") and method == "POST":
            self.engine.entries_stopped.add(bot)
            return BotAnswer({"status": "No more entries will occur from now. Run /reload_config to reset."}, "ok")
        if route == "reload_config" and method == "POST":
            self.engine.entries_stopped.discard(bot)
            return BotAnswer({"status": "Reloading config ..."}, "ok")
        return BotAnswer(None, "HTTP 404")


def _bot_on_port(runtime_dir: Path, port: int) -> str | None:
    for record in sorted((runtime_dir / HOST_RECORDS / BOTS).glob("*.json")):
        try:
            applied = parse_record(AppliedBot, record.read_bytes())
        except RecordError:
            continue
        if applied.placement.port == port:
            return record.stem
    return None
