"""The fake bots' APIs: a ping, and FreqTrade's trade-mode REST API as far as fleetops reads it.

The bots' half of the unit fakes (the backend's is ``engine.backend.fake``), shipped beside the
real transports (``engine.live.probe``, ``engine.live.botapi``) as httpx ships ``MockTransport``:
``FakeBots`` is ``Ports.probe`` and ``Ports.bot_api`` for the unit tests, and answers in raw bytes,
so what the engine reads goes through the same parsing (``engine.ftapi``) as a real bot's answer.
The fake backend tells it one thing: which bot process, if any, serves an address and port
(``FakeBackend.answering``: the bot, when it started, the files it started with). Everything
else is said by the test, explicitly:

- ``behave(Behaviour(...), bot=…, strategy=…)``: how the processes of a bot, or those that loaded
  a given strategy source, behave from now on — ``answers`` (False: nothing listens, ping
  included), ``loop`` (False: the trading loop never completes an iteration), ``strategy_errors``
  (logged at ERROR once it started, as FreqTrade logs a strategy that raises), ``ping_delay``;
  the last matching rule wins, and a process no rule matches behaves like a healthy FreqTrade;
- ``open_trades[bot]`` trades stay open until the test lowers the count; ``realised[bot]`` is its
  closed profit; every POST is in ``posts`` ("alpha-2 stopbuy"); ``stopbuy`` holds until
  ``reload_config`` or the next start of the process (``show_config`` says ``paused`` meanwhile);
- ``handler``: any answer at all (raw status and bytes: a NaN, a string where a number belongs,
  a 500) for the calls it does not pass on (it returns None for those);
- ``crash_on_ping`` / ``crash_in_drain``: the process applying dies (``Killed``) at the next ping,
  or when a paused bot is next asked for its open trades.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.backend.fake import FakeBackend, Killed
from engine.ftapi import RawAnswer
from engine.live.ports import Ports, ProbeAnswer

__all__ = ["STRATEGY_ERROR", "Behaviour", "BotCall", "FakeBots", "RunningProcess"]


@dataclass(frozen=True)
class RunningProcess:
    """A bot's process as the fake backend runs it."""

    bot: str
    started_at: float
    strategy: str
    """The strategy source the process loaded when it started (what it really runs)."""


@dataclass(frozen=True)
class Behaviour:
    """How a bot's API behaves; the defaults are a healthy FreqTrade in trade mode."""

    answers: bool = True
    """False: nothing listens on its port (every call, the ping included, fails to connect)."""
    loop: bool = True
    """False: its trading loop never completes an iteration (an exchange it cannot reach)."""
    strategy_errors: tuple[str, ...] = ()
    """Messages logged at ERROR half a second after it started (a strategy that raises)."""
    ping_delay: float = 0.0
    """Seconds its ping takes (a slow start, to hold an apply in its health wait)."""


@dataclass(frozen=True)
class BotCall:
    """One request to a bot's API, as the test's ``handler`` sees it."""

    fleet: str
    bot: str
    method: str
    path: str
    """As asked: ``count``, ``logs?limit=200``."""
    process: RunningProcess


@dataclass(frozen=True)
class _Rule:
    behaviour: Behaviour
    bot: str | None
    strategy: str | None

    def matches(self, process: RunningProcess) -> bool:
        return (self.bot is None or self.bot == process.bot) and (self.strategy is None or self.strategy == process.strategy)


STRATEGY_ERROR = "Strategy caused the following exception: ZeroDivisionError('division by zero')"
"""What FreqTrade logs for a strategy that divides by zero on every candle: a ready ``strategy_errors`` value."""


class FakeBots:
    """Every bot's API on one fake backend."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.handler: Callable[[BotCall], RawAnswer | None] | None = None
        self.open_trades: dict[str, int] = {}
        self.realised: dict[str, float] = {}
        self.posts: list[str] = []
        """Every POST a bot's API received ("alpha-2 stopbuy"), in order."""
        self.crash_on_ping = False
        """Die (raise ``Killed``) at the next ping of a bot: an apply killed in its health wait."""
        self.crash_in_drain = False
        """Die (raise ``Killed``) when a paused bot is next asked for its open trades: an apply killed while it drains."""
        self._rules: list[_Rule] = []
        self._stopped: dict[str, float] = {}
        """Bot → when the process that received ``stopbuy`` started."""
        self._lock = threading.Lock()

    def ports(self) -> Ports:
        """The backend and these bots' APIs: what a test's ``Context`` talks to."""
        return Ports(backend=self.backend, probe=self, bot_api=self)

    def process_at(self, address: str, port: int) -> RunningProcess | None:
        """The bot process serving ``address:port``, as the fake backend runs it."""
        found = self.backend.answering(address, port)
        if found is None:
            return None
        started, at = found
        return RunningProcess(started.bot, at, started.files.strategy[1].decode(errors="replace"))

    def behave(self, behaviour: Behaviour, *, bot: str | None = None, strategy: str | None = None) -> None:
        """From now on, the processes of ``bot`` (any bot when None) that loaded ``strategy`` (any
        when None) behave so; a later rule wins over an earlier one."""
        with self._lock:
            self._rules.append(_Rule(behaviour, bot, strategy))

    def behaviour_of(self, process: RunningProcess) -> Behaviour:
        with self._lock:
            return next((r.behaviour for r in reversed(self._rules) if r.matches(process)), Behaviour())

    @property
    def entries_stopped(self) -> set[str]:
        """Bots that received ``stopbuy`` and no ``reload_config`` since (a restarted process trades
        normally again, as FreqTrade does: ask ``stopped``)."""
        with self._lock:
            return set(self._stopped)

    def stopped(self, process: RunningProcess) -> bool:
        """Whether this process received ``stopbuy`` (and no ``reload_config`` since)."""
        with self._lock:
            return self._stopped.get(process.bot) == process.started_at

    # -- ProbePort --------------------------------------------------------------------------

    def ping(self, address: str, port: int) -> ProbeAnswer:
        if self.crash_on_ping:
            raise Killed("killed in the health wait")
        process = self.process_at(address, port)
        behaviour = self.behaviour_of(process) if process is not None else Behaviour(answers=False)
        if behaviour.ping_delay:
            threading.Event().wait(behaviour.ping_delay)
        if process is None or not behaviour.answers:
            return ProbeAnswer(False, "ConnectError")
        return ProbeAnswer(True, "pong")

    # -- BotApiPort -------------------------------------------------------------------------

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        process = self.process_at(address, port)
        if process is None or not self.behaviour_of(process).answers:
            return RawAnswer(None, error="ConnectError")
        if process.bot != bot:  # another bot's credentials
            return RawAnswer(401, b'{"detail": "Unauthorized"}')
        if self.handler is not None:
            answer = self.handler(BotCall(fleet, bot, method, path, process))
            if answer is not None:
                return answer
        route = path.split("?")[0]
        if route == "count" and self.crash_in_drain and self.stopped(process):
            raise Killed("killed while it drains")
        data = self._answer(process, method, route)
        return RawAnswer(404, b'{"detail": "Not Found"}') if data is None else RawAnswer(200, json.dumps(data).encode())

    def _answer(self, process: RunningProcess, method: str, route: str) -> object:
        """FreqTrade's answer to ``route``, as data (None: no such route)."""
        bot, behaviour = process.bot, self.behaviour_of(process)
        if method == "POST":
            with self._lock:
                self.posts.append(f"{bot} {route}")
        if route == "health":
            return {"bot_start_ts": process.started_at - 1, "last_process_ts": time.time() if behaviour.loop else None}
        if route == "logs":
            rows = [["", (process.started_at + 0.5) * 1000, "freqtrade.strategy", "ERROR", message] for message in behaviour.strategy_errors]
            return {"log_count": len(rows), "logs": rows}
        if route in ("count", "status", "trades"):
            n = self.open_trades.get(bot, 0)
            if route == "count":
                return {"current": n, "max": 3}
            trade_rows: list[dict[str, object]] = [
                {"trade_id": i + 1, "pair": "BTC/USDT", "is_open": True, "open_date": "2026-12-01 00:00:00", "amount": 0.001,
                 "stake_amount": 50.0, "open_rate": 50000.0, "current_profit_abs": 0.5, "current_profit": 0.01} for i in range(n)]
            if route == "status":
                return trade_rows
            closed: list[dict[str, object]] = [{"trade_id": 100, "pair": "ETH/USDT", "is_open": False, "open_date": "2026-11-30 22:00:00",
                       "close_date": "2026-11-30 23:00:00", "profit_abs": self.realised[bot], "profit_ratio": 0.02,
                       "exit_reason": "roi"}] if self.realised.get(bot) else []
            return {"trades": closed + trade_rows, "trades_count": len(closed) + n, "total_trades": len(closed) + n}
        if route == "profit":
            realised = self.realised.get(bot, 0.0)  # no open trade moves: all profit is the realised one
            return {"profit_all_coin": realised, "profit_all_percent": 0.0, "profit_closed_coin": realised}
        if route == "balance":
            return {"total": 1000.0 + self.realised.get(bot, 0.0), "stake": "USDT"}
        if route == "show_config":
            return {"bot_name": bot, "state": "paused" if self.stopped(process) else "running"}
        if route in ("stopbuy", "stopentry") and method == "POST":
            with self._lock:
                self._stopped[bot] = process.started_at
            return {"status": "No more entries will occur from now. Run /reload_config to reset."}
        if route == "reload_config" and method == "POST":
            with self._lock:
                self._stopped.pop(bot, None)
            return {"status": "Reloading config ..."}
        return None
