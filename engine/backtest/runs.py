"""Backtest runs: what FreqTrade is given for one strategy version on one bot, who runs it, and the cache.

Called by ``engine.backtest.gate``. A run is one strategy version (class and file text) with the
bot's backtest config (``backtest_config``) on one candle set (``engine.backtest.candles``). The
runner is the local FreqTrade (``FLEETOPS_FREQTRADE_PYTHON``, else one found beside fleetops, as
the FreqTrade check's local judge finds it: ``engine.check.runners.local_python``), a subprocess
of its interpreter running ``engine/container/ftbacktest.py`` — in a network namespace of its own
when this machine lets an unprivileged user make one — with every run of a plan in one process
(FreqTrade's imports are paid once) and each in its own bounded child.

Cache: one file per result under ``<cache>/backtest/`` (``FLEETOPS_CACHE_DIR``/backtest, else the
state dir's ``cache/backtest``), named by the sha256 of everything the result depends on
(``RunRequest.key``): the strategy class and file (its sha256), the candles' sha256, the timerange
and data format, the backtest config, the FreqTrade version and interpreter, and the worker's own
text. A run that timed out or crashed is not kept (a busy machine may finish it next time).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from engine.backtest.candles import SEED, CandleSet
from engine.check.loads import LOAD_SETTINGS
from engine.check.runners import clean_env, local_python, no_network
from engine.compile.essence import BotEssence
from engine.compile.ftconfig import freqtrade_config
from engine.errors import FleetopsError
from engine.hashing import canonical_json
from engine.market.listing import make_listing, symbol_info

__all__ = ["FEE", "RUN_SECONDS", "LocalRunner", "RunRequest", "backtest_config", "cache_root", "worker_script"]

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

    def key(self, identity: str) -> str:
        """sha256 of everything the result depends on, with the runner's ``identity`` (interpreter, FreqTrade version)."""
        parts = [self.strategy_class, hashlib.sha256(self.strategy_text.encode()).hexdigest(), self.candles.sha256, self.candles.timerange,
                 self.candles.dataformat, self.config, identity, hashlib.sha256(worker_script().encode()).hexdigest()]
        return hashlib.sha256(canonical_json(parts).encode()).hexdigest()


def cache_root(state_dir: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Where results are kept; None: nowhere (no state dir and no ``FLEETOPS_CACHE_DIR``)."""
    if environ.get("FLEETOPS_CACHE_DIR"):
        return Path(environ["FLEETOPS_CACHE_DIR"]) / "backtest"
    return state_dir / "cache" / "backtest" if state_dir is not None and state_dir.is_dir() else None


class LocalRunner:
    """The local FreqTrade, one subprocess per candle set. Raises FleetopsError when there is none."""

    def __init__(self, environ: Mapping[str, str], cache: Path | None) -> None:
        python = local_python(environ)
        if python is None:
            raise FleetopsError("plan --backtest needs a FreqTrade to run: none was found beside fleetops; set FLEETOPS_FREQTRADE_PYTHON "
                                "to a Python that has freqtrade")
        self.python = python
        try:
            self.version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('freqtrade'))"],
                                          capture_output=True, text=True, timeout=30, env=clean_env()).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise FleetopsError(f"plan --backtest cannot run {python} ({type(exc).__name__}): set FLEETOPS_FREQTRADE_PYTHON to a Python "
                                "that has freqtrade") from None
        if not self.version:
            raise FleetopsError(f"plan --backtest: {python} cannot import freqtrade; set FLEETOPS_FREQTRADE_PYTHON to a Python that has it")
        self.identity = f"local {os.path.realpath(python)} {self.version}"
        self.name = f"local {python}"
        self.cache = cache
        self.ran = 0
        """Backtests run (not answered from the cache) by this runner: for the benchmark and the tests."""

    def run(self, requests: Mapping[str, RunRequest]) -> dict[str, dict[str, Any]]:
        """Each request's result (``ftbacktest.py``'s RESULT), by the caller's name for it; from the cache where it can."""
        keys = {name: request.key(self.identity) for name, request in requests.items()}
        results = {name: found for name in requests if (found := self._cached(keys[name])) is not None}
        by_candles: dict[str, dict[str, RunRequest]] = {}
        for name, request in requests.items():
            if name not in results:
                by_candles.setdefault(request.candles.sha256, {})[name] = request
        for group in by_candles.values():
            answered = self._run(group)
            for name, result in answered.items():
                results[name] = result
                if result.get("error") not in ("timeout", "crashed"):
                    self._store(keys[name], result)
        return results

    def _run(self, requests: dict[str, RunRequest]) -> dict[str, dict[str, Any]]:
        candles = next(iter(requests.values())).candles
        with tempfile.TemporaryDirectory(prefix="fleetops-backtest-data-") as temporary:
            datadir = candles.write(Path(temporary) / "data")
            payload = {
                "datadir": str(datadir), "dataformat": candles.dataformat, "timerange": candles.timerange, "seconds": RUN_SECONDS,
                "markets": [symbol_info(make_listing(pair, seed=SEED, anchor=0, sigma=0.0)) for pair in candles.pairs],
                "runs": {name: {"class": r.strategy_class, "text": r.strategy_text, "config": r.config} for name, r in requests.items()},
            }
            deadline = 60.0 + len(requests) * (RUN_SECONDS + 5)
            try:
                proc = subprocess.run([*no_network(), self.python, "-c", worker_script()], input=json.dumps(payload).encode(),
                                      capture_output=True, timeout=deadline, env=clean_env(), cwd=temporary)
            except subprocess.TimeoutExpired:
                raise FleetopsError(f"the backtests with {self.python} did not finish within {deadline:.0f} s") from None
            except OSError as exc:
                raise FleetopsError(f"plan --backtest cannot run {self.python} ({type(exc).__name__})") from None
        if proc.returncode != 0:
            tail = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
            raise FleetopsError(f"the backtests with {self.python} failed (exit {proc.returncode}): {tail[-1][:300] if tail else 'no output'}")
        try:
            answer = json.loads(proc.stdout)
        except ValueError:
            raise FleetopsError(f"the backtests with {self.python} printed no answer") from None
        if "unavailable" in answer:
            raise FleetopsError(f"plan --backtest: {self.python} has no FreqTrade it can import ({answer['unavailable']})")
        self.ran += len(requests)
        runs = answer.get("runs", {})
        return {name: runs.get(name, {"error": "crashed", "message": "no answer for this run"}) for name in requests}

    def _cached(self, key: str) -> dict[str, Any] | None:
        if self.cache is None:
            return None
        try:
            found = json.loads((self.cache / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def _store(self, key: str, result: dict[str, Any]) -> None:
        if self.cache is None:
            return
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            temporary = self.cache / f".{key}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps(result, sort_keys=True))
            temporary.replace(self.cache / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written costs time, never correctness
