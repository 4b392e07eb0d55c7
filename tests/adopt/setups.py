"""Compose FreqTrade setups as FreqTrade's docs lay them out, for adopt's tests (unit and integration).

``write_setup`` writes ``docker-compose.yml`` with one service per bot (image, ``trade --config
/freqtrade/user_data/config.json --strategy Scalp``, ``./<bot>/user_data:/freqtrade/user_data``), each
bot's ``config.json`` (the local market's dry-run config of ``tests.market.bot``, adjusted by
``edit``) and its strategy; returns the compose file's path.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.market.bot import dry_run_config

STRATEGY = (ROOT / "tests/cases/trading/strategies/Scalp.py").read_text()


def bot_config(bot: str, market_url: str, port: int = 8080) -> dict[str, Any]:
    config = dry_run_config(bot_name=bot, market_url=market_url, user_data_dir=Path("/freqtrade/user_data"), api_port=port,
                            pairs=["BTC/USDT", "ETH/USDT"], api_host="0.0.0.0")
    for key in ("strategy", "strategy_path", "user_data_dir", "db_url"):
        config.pop(key)
    config["timeframe"] = "1m"
    return config


def write_setup(root: Path, bots: list[str], *, market_url: str = "http://172.17.0.1:9100", image: str = "fleetops/freqtrade:2026.9",
                edit: Callable[[str, dict[str, Any]], None] = lambda _bot, _config: None, strategy: str = STRATEGY,
                compose_extra: str = "", entrypoint: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    services = []
    for i, bot in enumerate(bots):
        user_data = root / bot / "user_data"
        (user_data / "strategies").mkdir(parents=True, exist_ok=True)
        (user_data / "strategies" / "Scalp.py").write_text(strategy)
        config = copy.deepcopy(bot_config(bot, market_url, 8080 + i))
        edit(bot, config)
        (user_data / "config.json").write_text(json.dumps(config, indent=2))
        services.append(
            f"  {bot}:\n    image: {image}\n    restart: unless-stopped\n"
            + ("    entrypoint: [freqtrade]\n    working_dir: /freqtrade\n" if entrypoint else "")
            + f"    volumes:\n      - ./{bot}/user_data:/freqtrade/user_data\n"
            f"    command: >\n      trade --db-url sqlite:////freqtrade/user_data/tradesv3.sqlite\n"
            f"      --config /freqtrade/user_data/config.json --strategy Scalp\n")
    compose = root / "docker-compose.yml"
    compose.write_text("services:\n" + "".join(services) + compose_extra)
    return compose
