"""Which spec key sets each FreqTrade config key fleetops renders, and why the rest are fleetops' own.

Read by ``engine.spec.freqtrade_extras`` (a ``freqtrade:`` block that tries to set a managed key
is told which spec key sets it) and by ``engine.check`` (a problem FreqTrade finds in a rendered
config is reported at the spec key that produced it, never at a key the spec does not have).
``engine.compile.ftconfig`` renders exactly these keys; a test holds the two together.

Config paths are tuples (``("exchange", "name")``); a spec key is a path in the Bot document.
"""

from __future__ import annotations

__all__ = ["FLEETOPS_OWN", "FROM_FLEET_DEFAULTS", "MANAGED_KEYS", "SET_BY_SPEC", "managed_message", "spec_key_of"]

SET_BY_SPEC: dict[tuple[str, ...], tuple[str, ...]] = {
    ("bot_name",): ("name",),
    ("dry_run",): ("dry_run",),
    ("dry_run_wallet",): ("allocation",),
    ("stake_currency",): ("wallet",),
    ("stake_amount",): ("stake_amount",),
    ("max_open_trades",): ("max_open_trades",),
    ("timeframe",): ("timeframe",),
    ("minimal_roi",): ("minimal_roi",),
    ("stoploss",): ("stoploss",),
    ("trailing_stop",): ("trailing_stop", "enabled"),
    ("trailing_stop_positive",): ("trailing_stop", "positive"),
    ("trailing_stop_positive_offset",): ("trailing_stop", "offset"),
    ("trailing_only_offset_is_reached",): ("trailing_stop", "only_offset_is_reached"),
    ("strategy",): ("strategy",),
    ("order_types",): ("order_types",),
    ("entry_pricing",): ("entry_pricing",),
    ("exit_pricing",): ("exit_pricing",),
    ("initial_state",): ("enabled",),
    ("exchange", "name"): ("exchange",),
    ("exchange", "pair_whitelist"): ("pairs",),
    ("exchange", "pair_blacklist"): ("pairs",),
    ("pairlists",): ("pairs",),
    ("exchange", "key"): ("secrets", "exchange_key"),
    ("exchange", "secret"): ("secrets", "exchange_secret"),
    ("exchange", "password"): ("secrets", "exchange_password"),
    ("exchange", "uid"): ("secrets", "exchange_uid"),
    ("exchange", "wallet_address"): ("secrets", "exchange_wallet_address"),
    ("exchange", "private_key"): ("secrets", "exchange_private_key"),
    ("exchange", "api_key"): ("secrets", "exchange_key"),
    ("telegram", "token"): ("secrets", "telegram_token"),
    ("telegram", "chat_id"): ("secrets", "telegram_chat_id"),
    ("webhook", "url"): ("secrets", "webhook_url"),
    ("discord", "webhook_url"): ("secrets", "discord_webhook_url"),
    ("coingecko", "api_key"): ("secrets", "coingecko_api_key"),
}
"""FreqTrade config path → the bot spec key that sets it."""

FROM_FLEET_DEFAULTS = {("timeframe",): ("defaults", "timeframe"), ("exchange",): ("defaults", "exchange"),
                       ("exchange_url",): ("defaults", "exchange_url")}
"""Bot spec keys that fall back to the Fleet document's ``defaults``."""

_PATHS = "fleetops gives each bot its own directories and database inside its container"
FLEETOPS_OWN: dict[str, str] = {
    "api_server": "each bot's REST API is how fleetops checks its health and drains it: fleetops assigns its "
                  "port per container and derives its credentials from the state dir",
    "internals": "fleetops sets the loop interval its health check measures (internals.process_throttle_secs)",
    "db_url": _PATHS, "user_data_dir": _PATHS, "strategy_path": _PATHS, "datadir": _PATHS, "logfile": _PATHS,
    "add_config_files": "a bot reads exactly the config fleetops renders and its secrets",
    "recursive_strategy_search": "a bot loads exactly its pinned strategy file",
    "runmode": "FreqTrade's run mode follows the bot's dry_run",
}
"""Config keys no spec key sets, and why fleetops keeps them."""

MANAGED_KEYS = frozenset({path[0] for path in SET_BY_SPEC if len(path) == 1} | set(FLEETOPS_OWN))
"""Top-level config keys fleetops renders: set through the bot spec or by fleetops, never through the block."""
MANAGED_EXCHANGE_KEYS = frozenset(path[1] for path in SET_BY_SPEC if path[0] == "exchange")


def spec_key_of(path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The bot spec key that sets config ``path`` (the longest managed prefix, the rest of the
    path appended where the spec key is a block of the same shape), or None."""
    for size in range(len(path), 0, -1):
        key = SET_BY_SPEC.get(path[:size])
        if key is not None:
            rest = path[size:] if key[0] in ("order_types", "entry_pricing", "exit_pricing") else ()
            return key + tuple(rest)
    return None


def managed_message(path: tuple[str, ...]) -> str | None:
    """Why ``freqtrade.<path>`` cannot be set in a bot's freqtrade block, naming the spec key that
    sets it (or why fleetops sets it itself); None when the path is not managed."""
    dotted = "freqtrade." + ".".join(path)
    spec = spec_key_of(path)
    if spec is not None:
        if spec[0] == "secrets":
            return f"{dotted} is a credential: set it with the bot's secrets: ({spec[1]}: env:… or file:…), never in the spec"
        what = "wallet (its currency is the stake currency)" if spec == ("wallet",) else ".".join(spec)
        return f"{dotted} is managed by fleetops; set it with the bot's {what} instead of the freqtrade block"
    reason = FLEETOPS_OWN.get(path[0])
    if reason is not None:
        return f"{dotted} is set by fleetops itself ({reason}); remove it from the freqtrade block"
    return None
