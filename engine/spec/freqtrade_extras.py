"""Checks on a bot's free-form ``freqtrade:`` block, merged last into its FreqTrade config.

Called by ``engine.spec.validate``. The block may tune FreqTrade, but never take over what fleetops
manages (paths, the API server, money settings that have their own spec keys) and never carry
a literal secret: secrets go through ``secrets:`` references.
"""

from __future__ import annotations

from typing import Any

from engine.spec.rawdoc import Loc

__all__ = ["MANAGED_KEYS", "check_freqtrade_extras"]

MANAGED_KEYS = frozenset({
    "add_config_files", "api_server", "bot_name", "datadir", "db_url", "dry_run", "dry_run_wallet",
    "logfile", "max_open_trades", "minimal_roi", "recursive_strategy_search", "runmode", "stake_amount",
    "stake_currency", "stoploss", "strategy", "strategy_path", "timeframe", "trailing_only_offset_is_reached",
    "trailing_stop", "trailing_stop_positive", "trailing_stop_positive_offset", "user_data_dir",
})
_MANAGED_EXCHANGE_KEYS = frozenset({"name", "key", "secret", "password", "uid", "pair_whitelist"})
_SECRET_WORDS = ("secret", "password", "token", "key", "passphrase", "chat_id", "uid")


def check_freqtrade_extras(extras: dict[str, Any]) -> list[tuple[Loc, str, bool]]:
    """(location inside the block, message, at the key?) for every managed key, literal secret or path."""
    problems: list[tuple[Loc, str, bool]] = []
    for key, value in extras.items():
        if key in MANAGED_KEYS:
            problems.append(((key,), f"freqtrade.{key} is managed by fleetops; set it through the bot spec, not the freqtrade block", True))
        elif key == "exchange" and isinstance(value, dict):
            for sub in sorted(set(value) & _MANAGED_EXCHANGE_KEYS):
                problems.append(((key, sub), f"freqtrade.exchange.{sub} is managed by fleetops (use exchange, pairs or secrets)", True))
    _walk(extras, (), problems)
    return problems


def _walk(value: Any, loc: Loc, problems: list[tuple[Loc, str, bool]]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            if any(word in key.lower() for word in _SECRET_WORDS) and isinstance(sub, (str, int)) and sub not in ("", 0):
                if not (loc == ("exchange",) and key in _MANAGED_EXCHANGE_KEYS):
                    problems.append(((*loc, key), f"literal secret at freqtrade.{'.'.join(map(str, (*loc, key)))}: use the bot's secrets: references", False))
                continue
            _walk(sub, (*loc, key), problems)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _walk(sub, (*loc, i), problems)
    elif isinstance(value, str) and (value.startswith(("/", "~")) or ".." in value.split("/")):
        problems.append((loc, f"freqtrade.{'.'.join(map(str, loc))} points outside the bot's directory ({value!r}); paths are managed by fleetops", False))
