"""FreqTrade's findings about a rendered config, placed at the spec key that produced them.

Called by ``engine.check.freqtrade``. A finding names config paths (a schema error's own path,
or the paths a consistency check reads: ``CHECK_READS``); each path comes from one of: the bot's
``freqtrade:`` block (then the error points into it), a spec key that sets it
(``engine.spec.managed``, falling back to the Fleet document's ``defaults``), the bot's
``exchange_url`` (the ccxt overrides fleetops renders from it), the strategy (a setting it
declares), or fleetops itself. The error sits at the first of these paths that the spec really
has — never at a key the spec does not contain — and names every responsible spec key, saying
when one is a default or set by fleetops.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import Problem
from engine.spec.fleetspec import FleetSpec
from engine.spec.managed import FLEETOPS_OWN, FROM_FLEET_DEFAULTS, MANAGED_EXCHANGE_KEYS, MANAGED_KEYS, SET_BY_SPEC, spec_key_of
from engine.spec.rawdoc import Loc, RawDocument

__all__ = ["CHECK_READS", "locate"]

Path_ = tuple[Any, ...]

CHECK_READS: dict[str, list[Path_]] = {
    "check_exchange": [("exchange", "name")],
    "_validate_trailing_stoploss": [("trailing_stop_positive_offset",), ("trailing_stop_positive",), ("trailing_only_offset_is_reached",),
                                    ("stoploss",), ("trailing_stop",)],
    "_validate_edge": [("edge", "enabled")],
    "_validate_whitelist": [("exchange", "pair_whitelist"), ("pairlists",)],
    "_validate_unlimited_amount": [("max_open_trades",), ("stake_amount",)],
    "_validate_ask_orderbook": [("exit_pricing", "order_book_min"), ("exit_pricing", "order_book_max")],
    "_validate_freqai_hyperopt": [("freqai",)],
    "_validate_freqai_backtest": [("freqai",)],
    "_validate_freqai_include_timeframes": [("freqai", "feature_parameters", "include_timeframes"), ("timeframe",)],
    "_validate_consumers": [("external_message_consumer",)],
    "_validate_time_in_force": [("order_time_in_force",)],
    "_validate_order_types": [("order_types",)],
    "_validate_unfilledtimeout": [("unfilledtimeout",)],
    "_validate_pricing_rules": [("bid_strategy",), ("ask_strategy",)],
    "_validate_orderflow": [("exchange", "use_public_trades"), ("orderflow",)],
    "_validate_demo_trading": [("exchange", "demo_trading"), ("dry_run",)],
}
"""FreqTrade 2026.9's consistency checks (``config_validation``) → the config paths each reads,
the one a user most likely changes first. A check not listed is placed at the bot's name."""
_PRICE = {"entry": [("entry_pricing", "price_side"), ("order_types", "entry")],
          "exit": [("exit_pricing", "price_side"), ("order_types", "exit")]}
_CCXT = frozenset({"ccxt_config", "ccxt_async_config", "ccxt_sync_config", "enable_ws"})


def locate(spec: FleetSpec, bot: str, finding: dict[str, Any], version: str, strategy: dict[str, Any]) -> Problem:
    """One finding as a Problem at the spec key responsible, its message naming all of them."""
    doc = spec.documents[("Bot", bot)]
    fleet_doc = spec.documents.get(("Fleet", spec.fleet.name))
    path = tuple(finding.get("path") or ())
    check = str(finding.get("check", ""))
    if path:
        reads = [path]
    elif check == "_validate_price_config":
        reads = _PRICE["exit" if "exit" in str(finding.get("message", "")).lower().split("orders")[0] else "entry"]
    else:
        reads = CHECK_READS.get(check, [])
        mentioned = [r for r in reads if re.search(rf"\b{re.escape(str(r[-1]))}\b", str(finding.get("message", "")))]
        reads = mentioned or reads
    exact: tuple[RawDocument, Loc] | None = None
    near: tuple[RawDocument, Loc] | None = None
    named: list[str] = []
    for read in reads:
        found, name = _origin(spec, bot, doc, fleet_doc, read, strategy)
        if name and name not in named:
            named.append(name)
        if found is not None and found[2] and exact is None:
            exact = found[:2]
        elif found is not None and near is None:
            near = found[:2]
    target, loc = exact or near or (doc, ("name",))
    responsible = f" (spec key{'s' if len(named) > 1 else ''}: {', '.join(named)})" if named else ""
    message = f"bot '{bot}': FreqTrade {version} would refuse to start with this config: {finding.get('message', '')}{responsible}"
    return target.problem(loc, message)


def _origin(spec: FleetSpec, bot: str, doc: RawDocument, fleet_doc: RawDocument | None, path: Path_, strategy: dict[str, Any]
            ) -> tuple[tuple[RawDocument, Loc, bool] | None, str]:
    """((document, location, whether the spec has exactly that key) or None when the spec does
    not set ``path`` at all; how the message names what sets it)."""
    block = spec.bots[bot].freqtrade
    top = str(path[0]) if path else ""
    managed = top in MANAGED_KEYS or (top == "exchange" and len(path) > 1 and path[1] in MANAGED_EXCHANGE_KEYS)
    if not managed and top in block and not (top == "exchange" and len(path) > 1 and path[1] in _CCXT and _exchange_url(spec, bot)):
        loc = _deepest(doc, ("freqtrade", *path), minimum=2)
        return (doc, loc, len(loc) == len(path) + 1), "freqtrade." + ".".join(map(str, path))
    key = spec_key_of(tuple(map(str, path)))
    if key is not None:
        if (key[0],) in doc.value_pos:
            loc = _deepest(doc, key, minimum=1)
            return (doc, loc, loc == key), ".".join(key) + ("" if loc == key else " (not set)")
        fallback = FROM_FLEET_DEFAULTS.get((key[0],))
        if fallback is not None and fleet_doc is not None and fallback in fleet_doc.value_pos:
            return (fleet_doc, fallback, True), f"the fleet's {'.'.join(fallback)}"
        if top in strategy:
            return (doc, ("strategy",), True), f"{top} of strategy {spec.bots[bot].strategy}"
        return None, f"{'.'.join(key)} (not set)"
    for config_path, spec_path in SET_BY_SPEC.items():  # a section that exists because a secret is put there
        if config_path[0] == top and spec_path[0] == "secrets" and spec_path in doc.value_pos:
            return (doc, spec_path, False), f"{'.'.join(spec_path)} (it puts FreqTrade's {top} section in the config)"
    if top == "exchange" and len(path) > 1 and path[1] in _CCXT:
        url = _exchange_url(spec, bot)
        if url == "bot":
            return (doc, ("exchange_url",), True), "exchange_url"
        if url == "fleet" and fleet_doc is not None:
            return (fleet_doc, ("defaults", "exchange_url"), True), "the fleet's defaults.exchange_url"
    if top in strategy:
        return (doc, ("strategy",), True), f"{top} of strategy {spec.bots[bot].strategy}"
    if top in FLEETOPS_OWN:
        return None, f"{top} (set by fleetops)"
    return None, ""


def _exchange_url(spec: FleetSpec, bot: str) -> str | None:
    if spec.bots[bot].exchange_url:
        return "bot"
    return "fleet" if spec.fleet.defaults.exchange_url else None


def _deepest(doc: RawDocument, loc: tuple[Any, ...], *, minimum: int) -> Loc:
    """The longest prefix of ``loc`` the document has (at least ``minimum`` parts)."""
    for size in range(len(loc), minimum - 1, -1):
        if loc[:size] in doc.value_pos:
            return loc[:size]
    return loc[:minimum]
