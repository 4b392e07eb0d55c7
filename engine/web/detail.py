"""One bot's trades and log tail, read when its page is asked for: at most once per ``ttl`` per bot.

Used by the per-bot page (``engine.web.pages``). The fleet page never needs these, so the refresher
does not fetch them for every bot every round; a bot's page asks here instead, and however many
people look at that page, the bot is asked for its open trades (``/api/v1/status``) and its last
trades (``/api/v1/trades``) and its log is read (``engine.live.botlogs``: the reader ``fleetops logs``
uses, secrets masked) at most once per ``ttl`` seconds. The equity history is not fetched here: it
is the figures cache's (``engine.web.figures``), built from what it fetched anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.backend.port import Site
from engine.errors import FleetopsError
from engine.ftapi import BotApiPort, BotEndpoint, FreqtradeApi, Trade
from engine.live.botlogs import Masker, source_of, tail
from engine.live.observe import LiveFleet

__all__ = ["LOG_LINES", "BotDetail", "DetailCache"]

LOG_LINES = 60
RECENT_TRADES = 10


@dataclass(frozen=True)
class BotDetail:
    open_trades: tuple[Trade, ...] = ()
    recent: tuple[Trade, ...] = ()
    """The last closed trades, newest first."""
    trades_why: str = ""
    """Why there are no trades to show, when the bot did not answer ("" when it did)."""
    log: tuple[str, ...] = ()
    log_why: str = ""
    fetched_at: float = 0.0


class DetailCache:
    """Per bot: the last ``BotDetail`` and when it was read; ``requests`` counts bot API calls."""

    def __init__(self, api: BotApiPort | None, *, ttl: float = 10.0, clock: Callable[[], float] = time.time,
                 key: Callable[[], bytes | None] = lambda: None, environ: Callable[[], Mapping[str, str]] = dict) -> None:
        """``key`` and ``environ``: the state dir's key and where secret references resolve (to mask the log)."""
        self.api = FreqtradeApi(api) if api is not None else None
        self.ttl = ttl
        self.clock = clock
        self.key = key
        self.environ = environ
        self.requests = 0
        self._details: dict[str, BotDetail] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, live: LiveFleet, site: Site, bot: str, running: bool) -> BotDetail:
        """``bot``'s detail, read again when older than the ttl (one reader at a time per bot; the others wait for it)."""
        with self._lock:
            lock = self._locks.setdefault(bot, threading.Lock())
            for gone in set(self._details) - set(live.bots):
                del self._details[gone]
        with lock:
            known = self._details.get(bot)
            if known is not None and self.clock() - known.fetched_at < self.ttl:
                return known
            detail = self._read(live, site, bot, running)
            self._details[bot] = detail
            return detail

    def _read(self, live: LiveFleet, site: Site, bot: str, running: bool) -> BotDetail:
        open_trades: tuple[Trade, ...] = ()
        recent: tuple[Trade, ...] = ()
        why = "its API is not asked here" if self.api is None else "it is not running"
        where = live.address_of(bot)
        if self.api is not None and running and where is not None:
            at = BotEndpoint(live.fleet, bot, *where)
            now, last = self.api.open_trades(at), self.api.trades(at, RECENT_TRADES)
            with self._lock:
                self.requests += 2
            open_trades = now.trades
            recent = tuple(reversed([t for t in last.trades if not t.is_open]))
            why = "" if now.answered else f"it did not answer ({now.why})"
        try:
            source = source_of(live, bot)
            log = tuple(tail(site, source, Masker.for_bot(source, self.key(), self.environ()), LOG_LINES))
            log_why = "" if log else "its log is empty"
        except FleetopsError as exc:
            log, log_why = (), f"its log could not be read: {exc}"
        return BotDetail(open_trades, recent, why, log, log_why, self.clock())
