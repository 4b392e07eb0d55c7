"""Load strategy files with FreqTrade's own resolver and run them on synthetic candles.

Usage: python check_strategies.py DIR [DIR ...]   (with a Python that has freqtrade installed)
Prints one line per file and exits 1 if any failed: proves the example strategies are real.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from freqtrade.resolvers import StrategyResolver


def candles(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    spread = np.abs(rng.normal(0, 0.005, rows)) * close
    return pd.DataFrame({
        "date": pd.date_range("2026-01-01", periods=rows, freq="5min", tz="UTC"),
        "open": close + rng.normal(0, 0.002, rows) * close, "high": close + spread, "low": close - spread,
        "close": close, "volume": rng.uniform(10, 100, rows),
    })


def check(path: Path) -> str:
    with tempfile.TemporaryDirectory() as userdir:
        config = {
            "strategy": path.stem, "strategy_path": str(path.parent), "user_data_dir": Path(userdir), "timeframe": "5m",
            "stake_currency": "USDT", "dry_run": True, "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
            "minimal_roi": {"0": 0.04}, "stoploss": -0.1, "max_open_trades": 3, "stake_amount": 10,
        }
        strategy = StrategyResolver.load_strategy(config)
        frame = strategy.populate_indicators(candles(), {"pair": "BTC/USDT"})
        frame = strategy.populate_entry_trend(frame, {"pair": "BTC/USDT"})
        frame = strategy.populate_exit_trend(frame, {"pair": "BTC/USDT"})
        assert strategy.INTERFACE_VERSION == 3
        return f"entries {int(frame.get('enter_long', pd.Series(dtype=float)).fillna(0).sum())}, exits {int(frame.get('exit_long', pd.Series(dtype=float)).fillna(0).sum())}"


def main(dirs: list[str]) -> int:
    failed = 0
    for directory in dirs:
        for path in sorted(Path(directory).glob("*.py")):
            try:
                print(f"ok {path}: {check(path)}")
            except Exception as exc:
                failed += 1
                print(f"FAILED {path}: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
