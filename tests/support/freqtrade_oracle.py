"""FreqTrade's own readers as a line-oriented server, for tests that ask it many questions.

Run with a Python that has freqtrade (``.venv-freqtrade``); one JSON request per stdin line,
one JSON answer per stdout line (FreqTrade's own logging goes to stderr):

  {"op": "load_config", "files": [A, B]}   → {"ok": true, "config": {...}} — ``load_from_files``,
                                              FreqTrade's reader of ``--config A --config B``
  {"op": "load_strategy", "dir": D, "name": N}
                                           → {"ok": true, "file": F} or {"ok": false, "error": …}
                                              — ``StrategyResolver.load_strategy``: the grep for
                                              ``class N(`` and Python's import of the file

Imports happen once, so a property-based test can ask hundreds of questions in seconds.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from freqtrade.configuration.load_config import load_from_files
from freqtrade.resolvers import StrategyResolver


def load_strategy(directory: str, name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as userdir:
        (Path(userdir) / "strategies").mkdir()
        config = {
            "strategy": name, "strategy_path": directory, "user_data_dir": Path(userdir), "timeframe": "5m",
            "stake_currency": "USDT", "dry_run": True, "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
            "minimal_roi": {"0": 0.04}, "stoploss": -0.1, "max_open_trades": 3, "stake_amount": 10,
        }
        try:
            strategy = StrategyResolver.load_strategy(config)
        except Exception as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "file": str(getattr(strategy, "__file__", ""))}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "load_config":
        try:
            return {"ok": True, "config": load_from_files(request["files"])}
        except Exception as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if request["op"] == "load_strategy":
        return load_strategy(request["dir"], request["name"])
    return {"ok": False, "error": f"unknown op {request['op']!r}"}


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line)), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
