"""Trading-aware risk of a change: what a reviewer must not miss.

Called by ``engine.plan.diff`` for every change. High: a bot switched to (or created with) live
money, a stake or allocation raised by more than 50 %, a stoploss widened, a wallet pushed past
90 % allocated, a change of where a live bot's signed requests go (its exchange, ``exchange_url``
or the ccxt options under ``freqtrade.exchange.ccxt_*config``, where proxies and endpoints are
set), a live bot created or switched on with such a custom route, a live bot given another
exchange account (its key references) or more of its account at stake (futures, margin, the
share of its balance: ``MONEY_SETTINGS``), and plan-wide: a plan that
deletes more than half of the fleet's bots, or renames the fleet. Medium: changes that restart
or remove running bots or swap trading logic. The settings a moved strategy pin changes are rated
by ``strategy_setting_risk`` when they reach the bot (``engine.plan.changelog`` decides that).
"""

from __future__ import annotations

import json
from typing import Any

from engine.plan.model import Action, PlanRisk, Risk

__all__ = ["CCXT_BLOCKS", "MONEY_SETTINGS", "WALLET_HIGH_UTILISATION", "bot_risk", "fleet_risk", "mass_delete_risk", "rename_risk",
           "strategy_setting_risk", "wallet_risk"]

WALLET_HIGH_UTILISATION = 0.9
_INCREASE_HIGH = 0.5
_DISRUPTIVE = frozenset({Action.DELETE, Action.REPLACE, Action.MOVE, Action.STOP, Action.RESTART})
CCXT_BLOCKS = ("ccxt_config", "ccxt_async_config", "ccxt_sync_config")
"""FreqTrade's ``exchange`` keys handed to ccxt's constructor: proxies (``httpsProxy``,
``socksProxy``, ``proxies``…), hosts and options that decide where signed requests go."""


def bot_risk(action: Action, before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Risk, tuple[str, ...]]:
    """The risk class of one bot change and the reasons for it, worst first."""
    notes: list[tuple[Risk, str]] = []
    if after is not None and after.get("dry_run") is False and (before is None or before.get("dry_run") is not False):
        notes.append((Risk.HIGH, "switches to live trading" if before is not None else "created trading live money"))
    notes.extend(_route_notes(before, after))
    notes.extend(_live_money_notes(before, after))
    if before is not None and after is not None:
        notes.extend(_money_notes(before, after))
        if before.get("strategy") != after.get("strategy"):
            notes.append((Risk.MEDIUM, "trading logic changes"))
    if action in _DISRUPTIVE and (before is None or before.get("enabled", True)):  # a disabled bot runs nothing to interrupt
        notes.append((Risk.MEDIUM, f"{action.value} interrupts the bot"))
    if not notes:
        return Risk.LOW, ()
    notes.sort(key=lambda n: -n[0])
    return notes[0][0], tuple(n[1] for n in notes)


def _money_notes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[Risk, str]]:
    notes = []
    for key in ("allocation", "stake_amount"):
        old, new = before.get(key), after.get(key)
        if new == "unlimited" and old != "unlimited":
            notes.append((Risk.HIGH, f"{key} becomes unlimited"))
        elif isinstance(old, (int, float)) and isinstance(new, (int, float)) and old > 0 and (new - old) / old > _INCREASE_HIGH:
            notes.append((Risk.HIGH, f"{key} up {100 * (new - old) / old:.0f}%"))
    old_sl, new_sl = before.get("stoploss"), after.get("stoploss")
    if isinstance(old_sl, (int, float)) and isinstance(new_sl, (int, float)) and new_sl < old_sl:
        notes.append((Risk.HIGH, f"stoploss widened from {old_sl:g} to {new_sl:g}"))
    return notes


def _routes(essence: dict[str, Any]) -> dict[str, Any]:
    """Where a bot's requests go: its exchange, exchange URL and every ccxt option that is set."""
    exchange_block = (essence.get("freqtrade") or {}).get("exchange")
    ccxt = exchange_block if isinstance(exchange_block, dict) else {}
    routes = {"exchange": essence.get("exchange"), "exchange_url": essence.get("exchange_url")}
    routes.update({f"freqtrade.exchange.{block}": ccxt[block] for block in CCXT_BLOCKS if ccxt.get(block)})
    return routes


def _route_notes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[Risk, str]]:
    """A live bot's signed requests carry its key: where they go is a money decision."""
    if after is None or after.get("dry_run") is not False:
        return []
    new = _routes(after)
    if before is None or before.get("dry_run") is not False:  # live from now on: any custom route is news
        custom = [f"exchange_url {new['exchange_url']}"] if new["exchange_url"] else []
        custom += sorted(k for k in new if k.startswith("freqtrade."))
        return [(Risk.HIGH, "trades live with its requests sent through " + ", ".join(custom))] if custom else []
    old = _routes(before)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not changed:
        return []
    shown = [f"{k} {old.get(k) or '(none)'} -> {new.get(k) or '(none)'}" if k in ("exchange", "exchange_url") else k for k in changed]
    return [(Risk.HIGH, "changes where a live bot's signed requests go: " + ", ".join(shown))]


MONEY_SETTINGS = ("trading_mode", "margin_mode", "liquidation_buffer", "tradable_balance_ratio", "available_capital",
                  "position_adjustment_enable", "max_entry_position_adjustment")
"""FreqTrade settings a bot's ``freqtrade:`` block passes through that decide how much of a live account
it commits or borrows: futures or margin (leverage, liquidation), the share of the balance it trades,
buying more into open positions (FreqTrade's configuration reference)."""


def _live_money_notes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[Risk, str]]:
    """A live bot that keeps trading live but on another account, or with more of its money at stake."""
    if before is None or after is None or before.get("dry_run") is not False or after.get("dry_run") is not False:
        return []
    notes = []
    old_keys, new_keys = before.get("secrets") or {}, after.get("secrets") or {}
    keys = sorted(k for k in set(old_keys) | set(new_keys) if k.startswith("exchange_") and old_keys.get(k) != new_keys.get(k))
    if keys:
        shown = ", ".join(f"secrets.{k} {old_keys.get(k) or '(none)'} -> {new_keys.get(k) or '(none)'}" for k in keys)
        notes.append((Risk.HIGH, f"changes the exchange account a live bot trades: {shown}"))
    old_ft, new_ft = before.get("freqtrade") or {}, after.get("freqtrade") or {}
    changed = [k for k in MONEY_SETTINGS if old_ft.get(k) != new_ft.get(k)]
    if changed:
        shown = ", ".join(f"freqtrade.{k} {_shown(old_ft.get(k))} -> {_shown(new_ft.get(k))}" for k in changed)
        notes.append((Risk.HIGH, f"changes how much of its account a live bot commits: {shown}"))
    return notes


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def mass_delete_risk(fleet: str, total: int, deleted: int) -> PlanRisk | None:
    """More than half of the fleet's bots (or all of them) going at once is almost never meant:
    an emptied directory, a submodule the reader cannot see, a bad merge."""
    if total == 0 or deleted * 2 <= total:
        return None
    share = "all of them" if deleted == total else "more than half"
    return PlanRisk("mass-delete", f"deletes {deleted} of the {total} bots of fleet '{fleet}' ({share})")


def rename_risk(old: str, new: str) -> PlanRisk:
    """Every container name carries the fleet's name: renaming moves every bot to new containers."""
    return PlanRisk("rename", f"renames fleet '{old}' to '{new}': every bot stops in '{old}' and starts in '{new}' "
                              "with its trade database; the old containers are removed")


def wallet_risk(utilisation_after: float | None) -> tuple[Risk, tuple[str, ...]]:
    if utilisation_after is not None and utilisation_after > WALLET_HIGH_UTILISATION:
        return Risk.HIGH, (f"wallet {100 * utilisation_after:.0f}% allocated",)
    return Risk.LOW, ()


def fleet_risk(before: dict[str, Any], after: dict[str, Any]) -> tuple[Risk, tuple[str, ...]]:
    """Turning automatic rollback off removes the safety net, and moving the fleet to another backend
    (another kind, another swarm manager) leaves its bots running where they ran until they are
    stopped there (two copies of each bot, one account traded twice): a reviewer must see either."""
    old_backend, new_backend = before.get("backend") or {"kind": "docker"}, after.get("backend") or {"kind": "docker"}
    moved = [key for key in ("kind", "manager") if old_backend.get(key) != new_backend.get(key)]
    if moved:
        return Risk.HIGH, (f"the fleet moves to another backend ({' and '.join(f'backend.{key}' for key in moved)} changed): its bots "
                           "keep running where they ran until they are stopped there",)
    old_rollback = before.get("health", {}).get("rollback")
    new_rollback = after.get("health", {}).get("rollback")
    if old_rollback == "auto" and new_rollback == "off":
        return Risk.MEDIUM, ("automatic rollback turned off",)
    return Risk.LOW, ()


_LOW_STRATEGY_SETTINGS = frozenset({"startup_candle_count", "unfilledtimeout"})
"""Strategy attributes whose change does not decide what the bot buys or sells: how many candles
it warms up on (it needs more history at start), how long an unfilled order waits."""


def strategy_setting_risk(name: str, before: Any, after: Any, *, live: bool) -> tuple[Risk, str]:
    """The risk of a pinned strategy's class attribute ``name`` changing from ``before`` to
    ``after`` (literals; ``"(not set)"``; anything else that is not a literal, as ``str()`` shows
    it) when the change takes effect — the bot's config does not set the key (``engine.plan.changelog``
    judges that) — and the reason, in the words of the spec rules above:

    - ``stoploss`` widened: HIGH, as a spec stoploss widened is (contract §4); tightened: LOW
      (less at stake); set, unset or not a literal: MEDIUM.
    - ``can_short`` turned on: HIGH — the bot may open short positions, whose loss grows without
      bound as the price rises (FreqTrade refuses it in spot mode: the bot would not start).
    - ``order_types.stoploss_on_exchange`` turned off on a live bot: HIGH — its stop no longer
      rests on the exchange, so a bot that stops or loses its connection leaves positions open
      unprotected.
    - warm-up and order timeouts (``startup_candle_count``, ``unfilledtimeout``): LOW.
    - anything else (``timeframe``, ``minimal_roi``, trailing, exits, ``INTERFACE_VERSION``…): MEDIUM —
      the bot trades otherwise, as a changed pin already is (``bot_risk``: "trading logic changes").
    """
    shown = f"strategy {name} {_literal(before)} -> {_literal(after)}"
    if "(not a literal)" in (before, after):
        shown += " (computed when FreqTrade loads the strategy: read it in the code)"
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after))
    if name == "stoploss" and numbers:
        if after < before:
            return Risk.HIGH, f"strategy stoploss widened from {before:g} to {after:g}"
        return Risk.LOW, f"strategy stoploss tightened from {before:g} to {after:g}"
    if name == "can_short" and after is True and before is not True:
        return Risk.HIGH, "strategy can now open short positions (can_short turned on): a short's loss grows as the price rises"
    if name == "order_types" and live and _on_exchange(before) and not _on_exchange(after):
        return Risk.HIGH, "strategy order_types no longer place the stoploss on the exchange: a live bot that stops leaves its positions unprotected"
    if name in _LOW_STRATEGY_SETTINGS:
        return Risk.LOW, shown
    return Risk.MEDIUM, shown


def _on_exchange(order_types: Any) -> bool:
    return isinstance(order_types, dict) and order_types.get("stoploss_on_exchange") is True


def _literal(value: Any) -> str:
    if isinstance(value, str) and value.startswith("("):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) if isinstance(value, (dict, list, str, bool)) else str(value)
