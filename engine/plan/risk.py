"""Trading-aware risk of a change: what a reviewer must not miss.

Called by ``engine.plan.diff`` for every change. High: a bot switched to (or created with) live
money, a stake or allocation raised by more than 50 %, a stoploss widened, a wallet pushed past
90 % allocated. Medium: changes that restart or remove running bots or swap trading logic.
"""

from __future__ import annotations

from typing import Any

from engine.plan.model import Action, Risk

__all__ = ["WALLET_HIGH_UTILISATION", "bot_risk", "fleet_risk", "wallet_risk"]

WALLET_HIGH_UTILISATION = 0.9
_INCREASE_HIGH = 0.5
_DISRUPTIVE = frozenset({Action.DELETE, Action.REPLACE, Action.MOVE, Action.STOP, Action.RESTART})


def bot_risk(action: Action, before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Risk, tuple[str, ...]]:
    """The risk class of one bot change and the reasons for it, worst first."""
    notes: list[tuple[Risk, str]] = []
    if after is not None and after.get("dry_run") is False and (before is None or before.get("dry_run") is not False):
        notes.append((Risk.HIGH, "switches to live trading" if before is not None else "created trading live money"))
    if before is not None and after is not None:
        notes.extend(_money_notes(before, after))
        if before.get("strategy") != after.get("strategy"):
            notes.append((Risk.MEDIUM, "trading logic changes"))
    if action in _DISRUPTIVE:
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


def wallet_risk(utilisation_after: float | None) -> tuple[Risk, tuple[str, ...]]:
    if utilisation_after is not None and utilisation_after > WALLET_HIGH_UTILISATION:
        return Risk.HIGH, (f"wallet {100 * utilisation_after:.0f}% allocated",)
    return Risk.LOW, ()


def fleet_risk(before: dict[str, Any], after: dict[str, Any]) -> tuple[Risk, tuple[str, ...]]:
    """Turning automatic rollback off removes the safety net: a reviewer must see it."""
    old_rollback = before.get("health", {}).get("rollback")
    new_rollback = after.get("health", {}).get("rollback")
    if old_rollback == "auto" and new_rollback == "off":
        return Risk.MEDIUM, ("automatic rollback turned off",)
    return Risk.LOW, ()
