"""FreqTrade's REST API as fleetops reads it: the transport seam, raw answers, parsed answers, a typed client.

Called by the health checks (``engine.health``: the loop and the log), drains
(``engine.live.drain``: count, stopbuy, reload_config), ``fleetops wallets`` (balance, count,
profit) and the status page (``engine.web.figures``). Pure: it makes no request itself.

Everything a bot sends is input from a container fleetops does not control (STYLE: parse, don't
trust). The transport is one method, ``BotApiPort.call`` (the real one is
``engine.live.botapi.HttpBotApi``, over httpx with the bot's own credentials; the unit fake is
``engine.live.fake_bots.FakeBots``), and it hands back a ``RawAnswer``: an HTTP status and at most
1 MiB of bytes, or why there were none. ``FreqtradeApi`` turns that into frozen pydantic models
whose numbers are finite and of the type FreqTrade documents (a count is a non-negative int, a
timestamp or an amount a finite number). Anything else — a string, a bool, a NaN, a missing key,
a body that is not JSON, a non-200 status — is unknown (None, or ``answered`` False with ``why``),
never an exception: a bot can make fleetops show "–", never crash it or make it guess::

    transport  BotApiPort.call(fleet, bot, address, port, method, path) -> RawAnswer   (untrusted bytes)
    client     FreqtradeApi(transport).health(at)  -> LoopHealth   GET  /api/v1/health
                                      .logs(at)    -> BotLogs      GET  /api/v1/logs?limit=200
                                      .count(at)   -> TradeCount   GET  /api/v1/count
                                      .profit(at)  -> Profit       GET  /api/v1/profit
                                      .balance(at) -> Balance      GET  /api/v1/balance
                                      .show_config(at) -> BotState GET  /api/v1/show_config
                                      .open_trades(at) -> Trades   GET  /api/v1/status
                                      .trades(at)  -> Trades       GET  /api/v1/trades?limit=10
                                      .stopbuy(at), .reload_config(at) -> Ack   POST
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Protocol, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

__all__ = [
    "Ack", "Answer", "Balance", "BotApiPort", "BotEndpoint", "BotLogs", "BotState", "FreqtradeApi", "LogLine", "LoopHealth", "Profit", "RawAnswer",
    "Trade", "TradeCount", "Trades",
]

MAX_LINES = 1000
"""Log lines kept from one answer (fleetops asks for 200; a bot may send more)."""
MAX_TRADES = 50
"""Trades kept from one answer (the page shows ten)."""
MAX_TEXT = 2000
"""Characters kept of one log line's level or message."""


@dataclass(frozen=True)
class RawAnswer:
    """One request's answer as the transport got it, not yet trusted.

    ``status`` is the HTTP status (None: no HTTP answer at all); ``body`` the bytes read (the
    transport stops reading at its bound); ``error`` says why there is no usable body when the
    transport knows ("ConnectError", "answer over 1 MiB", "no API key in the state dir yet")."""

    status: int | None
    body: bytes = b""
    error: str = ""

    @property
    def detail(self) -> str:
        """``ok`` for a 200 with a body to read, else why not, in a few words."""
        if self.error:
            return self.error
        if self.status is None:
            return "no answer"
        return "ok" if self.status == 200 else f"HTTP {self.status}"


class BotApiPort(Protocol):
    """A bot's authenticated REST API (``/api/v1/<path>``): one request, its raw answer. ``fleet``
    is the fleet label the bot's container carries (its credentials are derived from it)."""

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer: ...


@dataclass(frozen=True)
class BotEndpoint:
    """Where one bot's API answers, and as whom to ask it."""

    fleet: str
    bot: str
    address: str
    port: int


# -- parsing: numbers are finite and of their type, or unknown ----------------------------------

def _finite(value: object) -> float | None:
    """A finite int or float as a float; anything else (bool, str, NaN, ±inf, None…) is unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: object) -> int | None:
    """A non-negative int (not a bool, not a float); anything else is unknown."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value: object) -> str:
    return (value if isinstance(value, str) else str(value))[:MAX_TEXT]


Finite = Annotated[float | None, BeforeValidator(_finite)]
Count = Annotated[int | None, BeforeValidator(_count)]


class Answer(BaseModel):
    """A parsed answer: ``answered`` when the bot sent a 200 with a JSON body (``why`` says what
    happened otherwise); its fields are the body's keys of the same name, each None when unknown."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    answered: bool = False
    why: str = "not asked"
    _BODY: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, raw: RawAnswer) -> Self:
        """The model of ``raw``'s body; never raises."""
        if raw.status != 200 or raw.error:
            return cls(answered=False, why=raw.detail)
        try:
            data: Any = json.loads(raw.body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond the decoder's depth
            return cls(answered=False, why="its answer is not JSON")
        body = {key: data[key] for key in cls._BODY if key in data} if isinstance(data, dict) else {}
        try:
            parsed = cls.model_validate(body)
        except ValidationError:  # the validators take any value; kept so a bot can never raise here
            parsed = cls()
        return parsed.model_copy(update={"answered": True, "why": "ok"})


class LoopHealth(Answer):
    """``GET /api/v1/health`` (freqtrade #6009): when the bot started and when its trading loop
    last finished an iteration (FreqTrade sets ``last_process_ts`` only at the end of one). Unix
    seconds, whole seconds as FreqTrade reports them."""

    bot_start_ts: Finite = None
    bot_startup_ts: Finite = None
    last_process_ts: Finite = None
    _BODY = ("bot_start_ts", "bot_startup_ts", "last_process_ts")

    @property
    def started(self) -> float | None:
        """When this process started (older FreqTrade versions name it ``bot_startup_ts``)."""
        return self.bot_start_ts if self.bot_start_ts is not None else self.bot_startup_ts

    @property
    def process_started(self) -> float | None:
        """When this process started: ``bot_startup_ts``, which FreqTrade sets at every start, while
        ``bot_start_ts`` is the bot's first start, kept in its database (freqtrade/persistence/
        key_value_store.py of 2026.9, ``set_startup_time``); ``bot_start_ts`` when that is all it sent."""
        return self.bot_startup_ts if self.bot_startup_ts is not None else self.bot_start_ts

    @property
    def last_loop(self) -> float | None:
        return self.last_process_ts

    @property
    def looped(self) -> bool:
        """The loop finished an iteration in this process: FreqTrade keeps ``last_process`` in
        memory, unset until the first ``process()`` ends, and both stamps are whole seconds."""
        return self.started is not None and self.last_loop is not None and self.last_loop >= self.started


@dataclass(frozen=True)
class LogLine:
    """One row of FreqTrade's log buffer: ``[date, timestamp_ms, logger, level, message]``."""

    at: float | None
    """Unix seconds (FreqTrade sends milliseconds); None when the row's stamp is not a number."""
    level: str
    message: str


def _rows(value: object) -> tuple[LogLine, ...]:
    """Rows that have FreqTrade's shape, the newest ``MAX_LINES``; others are left out."""
    if not isinstance(value, list):
        return ()
    lines = []
    for row in value[-MAX_LINES:]:
        if isinstance(row, list) and len(row) >= 5:
            stamp = _finite(row[1])
            lines.append(LogLine(stamp / 1000 if stamp is not None else None, _text(row[3]), _text(row[4])))
    return tuple(lines)


class BotLogs(Answer):
    """``GET /api/v1/logs?limit=N``: the bot's last log lines, oldest first."""

    logs: Annotated[tuple[LogLine, ...], BeforeValidator(_rows)] = ()
    _BODY = ("logs",)


class TradeCount(Answer):
    """``GET /api/v1/count``: how many trades the bot holds open now, how many it may (``max``:
    its ``max_open_trades``), and the stake they hold in the stake currency (``total_stake``)."""

    current: Count = None
    max: Count = None
    total_stake: Finite = None
    _BODY = ("current", "max", "total_stake")


class Profit(Answer):
    """``GET /api/v1/profit``, in the stake currency: realised and unrealised (``all``), realised only
    (``closed``); ``closed_trade_count``; ``current_drawdown``, the account's drawdown from its high
    now as a ratio (0.1 = 10 %; freqtrade/rpc/rpc.py of 2026.9, ``_rpc_trade_statistics``)."""

    profit_all_coin: Finite = None
    profit_all_percent: Finite = None
    profit_all_ratio: Finite = None
    profit_closed_coin: Finite = None
    closed_trade_count: Count = None
    current_drawdown: Finite = None
    _BODY = ("profit_all_coin", "profit_all_percent", "profit_all_ratio", "profit_closed_coin", "closed_trade_count", "current_drawdown")


class Balance(Answer):
    """``GET /api/v1/balance``: the bot's equity in its stake currency (``total``)."""

    total: Finite = None
    _BODY = ("total",)


class BotState(Answer):
    """``GET /api/v1/show_config``, as far as fleetops reads it: the bot's ``state`` (``running``,
    ``paused`` after ``stopbuy`` (freqtrade/rpc/rpc.py of 2026.9: ``State.PAUSED``), ``stopped``); None when unknown."""

    state: Annotated[str | None, BeforeValidator(lambda v: v[:MAX_TEXT] if isinstance(v, str) else None)] = None
    _BODY = ("state",)


@dataclass(frozen=True)
class Trade:
    """One trade as FreqTrade's ``/status`` (open) or ``/trades`` (all) lists it, as far as the page shows it."""

    trade_id: int | None
    pair: str
    is_open: bool
    open_date: str
    close_date: str
    amount: float | None
    stake_amount: float | None
    open_rate: float | None
    profit_abs: float | None
    """Open: unrealised (``current_profit_abs`` if given), closed: realised, in the stake currency."""
    profit_ratio: float | None
    exit_reason: str


def _trade_rows(value: object) -> tuple[Trade, ...]:
    """Rows that are objects, the newest ``MAX_TRADES``; a field of the wrong type is unknown."""
    if isinstance(value, dict):
        value = value.get("trades")
    if not isinstance(value, list):
        return ()
    rows = []
    for row in value[-MAX_TRADES:]:
        if not isinstance(row, dict):
            continue
        is_open = row.get("is_open") is True
        profit = row.get("current_profit_abs", row.get("profit_abs")) if is_open else row.get("profit_abs")
        ratio = row.get("current_profit", row.get("profit_ratio")) if is_open else row.get("profit_ratio")
        rows.append(Trade(_count(row.get("trade_id")), _text(row.get("pair") or "")[:40], is_open, _text(row.get("open_date") or "")[:40],
                          _text(row.get("close_date") or "")[:40], _finite(row.get("amount")), _finite(row.get("stake_amount")),
                          _finite(row.get("open_rate")), _finite(profit), _finite(ratio), _text(row.get("exit_reason") or "")[:80]))
    return tuple(rows)


class Trades(Answer):
    """``GET /api/v1/status`` (a list of the open trades) or ``/api/v1/trades`` (``{"trades": [...]}``, oldest first)."""

    trades: Annotated[tuple[Trade, ...], BeforeValidator(_trade_rows)] = ()
    _BODY = ("trades",)

    @classmethod
    def parse(cls, raw: RawAnswer) -> Self:
        """``/status`` answers a bare list: it is read as the ``trades`` key."""
        if raw.status == 200 and not raw.error and raw.body.lstrip()[:1] == b"[":
            raw = RawAnswer(raw.status, b'{"trades": ' + raw.body + b"}")
        return super().parse(raw)


class Ack(Answer):
    """A ``POST`` that only has to be accepted (``stopbuy``, ``reload_config``)."""


class FreqtradeApi:
    """The typed client: one method per endpoint fleetops reads, each returning its parsed answer."""

    def __init__(self, transport: BotApiPort) -> None:
        self.transport = transport

    def _ask(self, at: BotEndpoint, method: str, path: str) -> RawAnswer:
        return self.transport.call(at.fleet, at.bot, at.address, at.port, method, path)

    def health(self, at: BotEndpoint) -> LoopHealth:
        return LoopHealth.parse(self._ask(at, "GET", "health"))

    def logs(self, at: BotEndpoint, limit: int = 200) -> BotLogs:
        return BotLogs.parse(self._ask(at, "GET", f"logs?limit={limit}"))

    def count(self, at: BotEndpoint) -> TradeCount:
        return TradeCount.parse(self._ask(at, "GET", "count"))

    def profit(self, at: BotEndpoint) -> Profit:
        return Profit.parse(self._ask(at, "GET", "profit"))

    def balance(self, at: BotEndpoint) -> Balance:
        return Balance.parse(self._ask(at, "GET", "balance"))

    def show_config(self, at: BotEndpoint) -> BotState:
        return BotState.parse(self._ask(at, "GET", "show_config"))

    def open_trades(self, at: BotEndpoint) -> Trades:
        return Trades.parse(self._ask(at, "GET", "status"))

    def trades(self, at: BotEndpoint, limit: int = 10) -> Trades:
        """The last ``limit`` trades, open and closed (FreqTrade orders them oldest first)."""
        return Trades.parse(self._ask(at, "GET", f"trades?limit={limit}"))

    def stopbuy(self, at: BotEndpoint) -> Ack:
        """No new entries; open trades go on (FreqTrade: until ``reload_config`` or a restart)."""
        return Ack.parse(self._ask(at, "POST", "stopbuy"))

    def reload_config(self, at: BotEndpoint) -> Ack:
        """Re-read the config in place: ends a ``stopbuy``."""
        return Ack.parse(self._ask(at, "POST", "reload_config"))
