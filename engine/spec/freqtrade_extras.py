"""Checks on a bot's free-form ``freqtrade:`` block, merged under its rendered FreqTrade config.

Called by ``engine.spec.validate``. The block may tune FreqTrade, but never take over what
fleetops manages (paths, the API server, the exchange and pairs, money settings, order types and
price sides that have their own spec keys: ``engine.spec.managed`` names the spec key that sets
each, and the error says it), never carry a literal secret and never hold a non-finite number.

Which keys hold credentials comes from FreqTrade's own config schema (``CONF_SCHEMA``, 2026.9):
``exchange.key/secret/password/uid/wallet_address/private_key/api_key``, ``telegram.token`` and
``chat_id``, ``webhook.url``, ``discord.webhook_url``, ``coingecko.api_key``,
``external_message_consumer.producers[].ws_token``, ``api_server.*`` and ``db_url``; ccxt's
constructor options (``exchange.ccxt_*config``) can carry ``apiKey``, ``secret``, ``password``,
``uid``, ``token``, ``privateKey``, ``walletAddress`` and ``headers``. Each of those is either
managed (set by fleetops) or a secret that must come through ``secrets:`` references; as a
second net, any key whose name says it holds a secret cannot hold a literal value.
"""

from __future__ import annotations

import math
from typing import Any

from engine.spec.managed import MANAGED_EXCHANGE_KEYS, MANAGED_KEYS, managed_message
from engine.spec.rawdoc import Loc

__all__ = ["MANAGED_KEYS", "check_freqtrade_extras"]

_SECRET_PATHS = {
    ("telegram", "token"), ("telegram", "chat_id"), ("webhook", "url"), ("discord", "webhook_url"), ("coingecko", "api_key"),
}
_CCXT_BLOCKS = frozenset({"ccxt_config", "ccxt_async_config", "ccxt_sync_config"})
_CCXT_FORBIDDEN = frozenset({"apikey", "secret", "password", "uid", "login", "token", "privatekey", "walletaddress", "twofa",
                             "headers", "urls", "hostname"})
_SECRET_WORDS = ("secret", "password", "token", "key", "passphrase", "chat_id", "uid", "auth", "webhook")
MAX_DEPTH = 8
MAX_INT = 10**15


def check_freqtrade_extras(extras: dict[str, Any]) -> list[tuple[Loc, str, bool]]:
    """(location inside the block, message, at the key?) for every managed key, literal secret, path or bad number."""
    problems: list[tuple[Loc, str, bool]] = []
    for key, value in extras.items():
        if key in MANAGED_KEYS:
            problems.append(((key,), managed_message((key,)) or f"freqtrade.{key} is managed by fleetops", True))
        elif key == "exchange":
            if not isinstance(value, dict):
                problems.append(((key,), "freqtrade.exchange must be a mapping of extra exchange settings (the exchange itself is the bot's 'exchange')", False))
                continue
            for sub in sorted(set(value) & MANAGED_EXCHANGE_KEYS):
                problems.append(((key, sub), managed_message((key, sub)) or f"freqtrade.exchange.{sub} is managed by fleetops", True))
            for block in sorted(set(value) & _CCXT_BLOCKS):
                options = value[block]
                for option in sorted(options) if isinstance(options, dict) else []:
                    if str(option).lower() in _CCXT_FORBIDDEN:
                        problems.append(((key, block, option), f"freqtrade.exchange.{block}.{option} may carry credentials or "
                                         "endpoints; credentials go through secrets:, endpoints are not a pass-through setting", True))
        elif key == "external_message_consumer":
            problems.append(((key,), "freqtrade.external_message_consumer carries producer tokens; it is not supported in the freqtrade block", True))
    for section, field in sorted(_SECRET_PATHS):
        if isinstance(extras.get(section), dict) and field in extras[section]:
            problems.append(((section, field), f"freqtrade.{section}.{field} is a credential: set it with the bot's "
                             f"secrets: ({section}_{field}: env:… or file:…), never in the spec", True))
    _walk(extras, (), problems)
    return problems


def _walk(value: Any, loc: Loc, problems: list[tuple[Loc, str, bool]]) -> None:
    dotted = ".".join(map(str, loc))
    if len(loc) > MAX_DEPTH:
        problems.append((loc, f"freqtrade.{dotted} is nested more than {MAX_DEPTH} levels deep", False))
        return
    if isinstance(value, dict):
        for key, sub in value.items():
            if any(word in str(key).lower() for word in _SECRET_WORDS) and isinstance(sub, (str, int)) and sub not in ("", 0) \
                    and not isinstance(sub, bool):
                reported = {p[0] for p in problems}
                if (*loc, key) not in reported:
                    problems.append(((*loc, key), f"literal secret at freqtrade.{'.'.join(map(str, (*loc, key)))}: use the bot's secrets: references", False))
                continue
            _walk(sub, (*loc, key), problems)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _walk(sub, (*loc, i), problems)
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append((loc, f"freqtrade.{dotted}: {value} is not a finite number", False))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        problems.append((loc, f"freqtrade.{dotted}: {value} is out of range (at most {MAX_INT:.0e})", False))
    elif isinstance(value, str) and (value.startswith(("/", "~")) or ".." in value.split("/")):
        problems.append((loc, f"freqtrade.{dotted} points outside the bot's directory ({value!r}); paths are managed by fleetops", False))
