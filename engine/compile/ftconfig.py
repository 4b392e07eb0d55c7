"""A bot's FreqTrade config, built as data from its essence.

Called by ``engine.compile.render``. The config is JSON data, so it is built as data (no text
template rendered and parsed back): every key FreqTrade requires in dry-run and live mode (see
shared/FREQTRADE.md), the paths of the bot's directories, and its API server. The bot's
``freqtrade:`` block is merged underneath, so it can tune FreqTrade but never replace a key
fleetops manages (validation rejects that too; this is the second wall). Secrets are not here:
they live in ``secrets.json``, merged by FreqTrade's repeated ``--config``.
"""

from __future__ import annotations

from typing import Any

from engine.compile.essence import BotEssence
from engine.health.loop import PROCESS_THROTTLE_SECS
from engine.naming import bot_data_dir, bot_etc_dir
from engine.spec.exchanges import ccxt_overrides

__all__ = ["CONFIG_VERSION", "freqtrade_config"]

CONFIG_VERSION = "3"
"""Folded into every bot's hash (with the templates'): bump it when this builder's output changes."""


def freqtrade_config(bot: str, essence: BotEssence) -> dict[str, Any]:
    """The config FreqTrade reads for ``bot``: managed keys over the ``freqtrade:`` block."""
    etc, data = bot_etc_dir(bot), bot_data_dir(bot)
    database = "tradesv3.dryrun.sqlite" if essence.dry_run else "tradesv3.sqlite"
    managed: dict[str, Any] = {
        "bot_name": bot,
        "initial_state": "running",
        "dry_run": essence.dry_run,
        "dry_run_wallet": essence.allocation,
        "stake_currency": essence.currency,
        "stake_amount": essence.stake_amount,
        "max_open_trades": essence.max_open_trades,
        "timeframe": essence.timeframe,
        "minimal_roi": dict(essence.minimal_roi),
        "stoploss": essence.stoploss,
        **_trailing(essence),
        "strategy": essence.strategy_class,
        "strategy_path": f"{etc}/strategies",
        "user_data_dir": f"{data}/user_data",
        "db_url": f"sqlite:///{data}/{database}",
        "entry_pricing": dict(essence.entry_pricing),
        "exit_pricing": dict(essence.exit_pricing),
        **({"order_types": dict(essence.order_types)} if essence.order_types is not None else {}),
        "exchange": {"name": essence.exchange, "pair_whitelist": list(essence.pairs),
                     **(ccxt_overrides(essence.exchange, essence.exchange_url) if essence.exchange_url else {})},
        "pairlists": [{"method": "StaticPairList"}],
        "internals": {"process_throttle_secs": PROCESS_THROTTLE_SECS},
        "api_server": {"enabled": True, "listen_ip_address": "0.0.0.0", "listen_port": essence.port},
    }
    return _overlay(dict(essence.freqtrade), managed)


def _trailing(essence: BotEssence) -> dict[str, Any]:
    trailing = essence.trailing_stop
    if trailing is None:
        return {"trailing_stop": False}
    keys: dict[str, Any] = {"trailing_stop": trailing.enabled}
    if trailing.positive is not None:
        keys["trailing_stop_positive"] = trailing.positive
    keys["trailing_stop_positive_offset"] = trailing.offset
    keys["trailing_only_offset_is_reached"] = trailing.only_offset_is_reached
    return keys


def _overlay(base: dict[str, Any], managed: dict[str, Any]) -> dict[str, Any]:
    """``base`` with every managed key set over it, recursively: managed values always win."""
    merged = dict(base)
    for key, value in managed.items():
        below = merged.get(key)
        merged[key] = _overlay(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return merged
