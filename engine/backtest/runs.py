"""Backtest runs: what FreqTrade is given for one strategy version on one bot, who runs it, and the cache.

Called by ``engine.backtest.gate`` and ``engine.backtest.runners``. A run is one strategy version
(class and file text) with the bot's backtest config (``backtest_config``) on one candle set
(``engine.backtest.candles``); the runners (the image's FreqTrade or a local one) run
``engine/container/ftbacktest.py`` with many runs per process.

Cache: one file per result under ``<cache>/backtest/`` (``FLEETOPS_CACHE_DIR``/backtest, else the
state dir's ``cache/backtest``), named by the sha256 of everything the result depends on
(``RunRequest.key``): the strategy class and file (its sha256), the candles' sha256, the timerange
and data format, the backtest config, the runner's identity (the image's ID, or the interpreter
and its FreqTrade version), and the worker's own text. A run that timed out or crashed is not kept (a busy machine may finish it next time).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from engine.backtest.candles import SEED, CandleSet
from engine.check.loads import LOAD_SETTINGS
from engine.compile.essence import BotEssence
from engine.compile.ftconfig import freqtrade_config
from engine.hashing import canonical_json
from engine.market.listing import make_listing, symbol_info

__all__ = ["FEE", "RUN_SECONDS", "ResultCache", "RunRequest", "backtest_config", "cache_root", "markets", "worker_script"]

FEE = 0.001
"""The fee per side when the bot's ``freqtrade:`` block sets none: Binance spot's 0.1 %."""
RUN_SECONDS = 600.0
"""One backtest's deadline (seconds of wall clock and of CPU)."""
_KEYS = (*(k for k in LOAD_SETTINGS if k != "dry_run"), "dry_run_wallet", "entry_pricing", "exit_pricing", "fee")
"""What of a bot's rendered config its backtest takes: what FreqTrade's strategy resolver reads
(``engine.check.loads.LOAD_SETTINGS``: ROI, stop-loss, trailing, timeframe, stake, order types…),
the wallet, the pricing sides and a ``fee`` its ``freqtrade:`` block sets."""


def backtest_config(bot: str, essence: BotEssence) -> dict[str, Any]:
    """The FreqTrade config keys ``bot``'s backtests run with: its rendered config's strategy and
    money settings (``_KEYS``), its pairs on a static pair list, and no API server, database,
    exchange address or secret. The exchange is named ``binance`` whatever the bot trades on:
    the candles are not that exchange's either (the markets come with the request)."""
    config = freqtrade_config(bot, essence)
    chosen = {key: config[key] for key in _KEYS if key in config}
    chosen.setdefault("fee", FEE)
    chosen["exchange"] = {"name": "binance", "pair_whitelist": list(essence.pairs), "enable_ws": False}
    chosen["pairlists"] = [{"method": "StaticPairList"}]
    return chosen


def worker_script() -> str:
    return resources.files("engine.container").joinpath("ftbacktest.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RunRequest:
    """One backtest: ``strategy_class`` at ``strategy_text`` with ``config`` on ``candles``."""

    strategy_class: str
    strategy_text: str
    config: dict[str, Any]
    candles: CandleSet
    analysis: str = "backtest"
    """``backtest``, or ``lookahead`` (FreqTrade's lookahead-analysis of the same inputs)."""

    def key(self, identity: str) -> str:
        """sha256 of everything the result depends on, with the runner's ``identity`` (image ID, or interpreter and FreqTrade version)."""
        parts = [self.strategy_class, hashlib.sha256(self.strategy_text.encode()).hexdigest(), self.candles.sha256, self.candles.timerange,
                 self.candles.dataformat, self.config, identity, hashlib.sha256(worker_script().encode()).hexdigest(), self.analysis]
        return hashlib.sha256(canonical_json(parts).encode()).hexdigest()


def cache_root(state_dir: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Where results are kept; None: nowhere (no state dir and no ``FLEETOPS_CACHE_DIR``)."""
    if environ.get("FLEETOPS_CACHE_DIR"):
        return Path(environ["FLEETOPS_CACHE_DIR"]) / "backtest"
    return state_dir / "cache" / "backtest" if state_dir is not None and state_dir.is_dir() else None


class ResultCache:
    """``<cache>/<key>.json``: one result (``ftbacktest.py``'s RESULT plus ``"freqtrade"``, the version
    that made it) per file; nowhere when ``root`` is None."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def get(self, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            found = json.loads((self.root / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put(self, key: str, result: dict[str, Any]) -> None:
        """Keep ``result`` unless it timed out or crashed (a busy machine may finish it next time)."""
        if self.root is None or result.get("error") in ("timeout", "crashed"):
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temporary = self.root / f".{key}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps(result, sort_keys=True))
            temporary.replace(self.root / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written costs time, never correctness


def markets(pairs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Binance's ``exchangeInfo`` entries for ``pairs``, as the local market lists them: what the worker's ccxt parses into markets."""
    return [symbol_info(make_listing(pair, seed=SEED, anchor=0, sigma=0.0)) for pair in pairs]
