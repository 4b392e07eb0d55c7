"""A FreqTrade dry-run bot directory that trades against the local market within a minute
(or a live one on the paper account: ``dry_run_config(live_keys=…)``).

Why here and not in a test: the same config shape is what fleet bots in Docker will use
(only the market URL changes to the bridge gateway), so it lives next to the market. Nothing
here imports FreqTrade (the project venv does not have it): it writes the files ``freqtrade
trade --config`` reads, runs that command from ``.venv-freqtrade`` and reads its REST API.

The strategy enters on every candle and leaves a trade after ``hold_seconds`` through
``custom_exit`` (evaluated on every loop, not only on new candles), with ROI
``{"0": 0.05, "1": -1}`` as a backstop (any price after a minute). Entry and exit are limit
orders on the *other* side of the book, which a dry-run fills at once, so a trade opens on the
first loop and closes ``hold_seconds`` later.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from engine.spec.exchanges import ccxt_overrides as exchange_url_overrides
from tests.market import ccxt_overrides

STRATEGY_NAME = "MarketScalp"

STRATEGY_SOURCE = '''\
"""Enters on every candle, leaves after HOLD_SECONDS: a heartbeat, not a trading idea."""
from datetime import datetime

from pandas import DataFrame

from freqtrade.strategy import IStrategy


class MarketScalp(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = False
    process_only_new_candles = True
    startup_candle_count = 0
    HOLD_SECONDS = {hold_seconds}

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def custom_exit(self, pair: str, trade, current_time: datetime, current_rate: float,
                    current_profit: float, **kwargs):
        if (current_time - trade.open_date_utc).total_seconds() >= self.HOLD_SECONDS:
            return "held_long_enough"
        return None
'''


def dry_run_config(
    *,
    bot_name: str,
    market_url: str,
    user_data_dir: Path,
    api_port: int,
    pairs: list[str],
    api_host: str = "127.0.0.1",
    password: str = "market-test-password",
    jwt_secret_key: str = "market-test-jwt-secret-key-0123456789abcdef",
    throttle_secs: int = 2,
    live_keys: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The ``freqtrade trade`` config for one dry-run bot on the market at ``market_url``.

    With ``live_keys`` (key, secret) the bot runs live (``dry_run: false``) on the paper
    exchange's account of that key, its ccxt URLs rendered as fleetops renders a bot's
    ``exchange_url`` (``engine.spec.exchanges.ccxt_overrides``), so every private call goes there too.
    """
    exchange: dict[str, Any] = {"name": "binance", "key": "", "secret": "", "pair_whitelist": pairs, "enable_ws": False,
                                "ccxt_config": ccxt_overrides(market_url)}
    if live_keys is not None:
        exchange.update({"key": live_keys[0], "secret": live_keys[1], **exchange_url_overrides("binance", market_url)})
    return {
        "bot_name": bot_name,
        "dry_run": live_keys is None,
        "dry_run_wallet": 1000,
        "stake_currency": "USDT",
        "stake_amount": 50,
        "max_open_trades": 3,
        "timeframe": "1m",
        "minimal_roi": {"0": 0.05, "1": -1},
        "stoploss": -0.10,
        "trailing_stop": False,
        "strategy": STRATEGY_NAME,
        "strategy_path": str(user_data_dir / "strategies"),
        "user_data_dir": str(user_data_dir),
        "db_url": f"sqlite:///{user_data_dir / 'tradesv3.dryrun.sqlite'}",
        "entry_pricing": {"price_side": "other", "use_order_book": False},
        "exit_pricing": {"price_side": "other", "use_order_book": False},
        "order_types": {"entry": "limit", "exit": "limit", "stoploss": "market", "stoploss_on_exchange": False},
        "unfilledtimeout": {"entry": 1, "exit": 1, "unit": "minutes"},
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "api_server": {
            "enabled": True,
            "listen_ip_address": api_host,
            "listen_port": api_port,
            "username": "ftuser",
            "password": password,
            "jwt_secret_key": jwt_secret_key,
        },
        "internals": {"process_throttle_secs": throttle_secs, "heartbeat_interval": 0},
        "initial_state": "running",
    }


def write_bot(directory: Path, *, hold_seconds: int = 20, **config: Any) -> Path:
    """Create ``directory`` with ``config.json`` and the strategy; returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "strategies").mkdir(exist_ok=True)
    (directory / "strategies" / f"{STRATEGY_NAME}.py").write_text(STRATEGY_SOURCE.replace("{hold_seconds}", str(hold_seconds)))
    cfg = dry_run_config(user_data_dir=directory, **config)
    path = directory / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


FREQTRADE = Path(__file__).resolve().parents[2] / ".venv-freqtrade" / "bin" / "freqtrade"


def start_freqtrade(config: Path, *, freqtrade: Path = FREQTRADE, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``freqtrade trade --config config`` as a child process, its output into ``log``.

    FreqTrade lives in its own venv (it is not a dependency of the project), so it always runs
    as a separate process; the caller stops it with ``stop_freqtrade``.
    """
    log = log or config.parent / "freqtrade.log"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(freqtrade), "trade", "--config", str(config)],
            cwd=config.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )


def stop_freqtrade(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM (FreqTrade's graceful stop), then SIGKILL if it lingers; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class FtApi:
    """The few FreqTrade REST calls the tests read, with HTTP Basic auth."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", username: str = "ftuser", password: str = "market-test-password") -> None:
        self.base = f"http://{host}:{port}/api/v1"
        self._auth = (username, password)

    def ping(self) -> bool:
        try:
            return bool(httpx.get(f"{self.base}/ping", timeout=2.0).json() == {"status": "pong"})
        except (httpx.HTTPError, ValueError):
            return False

    def get(self, endpoint: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}/{endpoint}", params=params, auth=self._auth, timeout=5.0)
        response.raise_for_status()
        return response.json()
