"""Pair baseline and target by address, then decide one action per pair.

Called by the CLI's plan and (later) apply. Convention for every pair ``(before, after)``:
``before is None`` → create, ``after is None`` → delete, both → compare essences. A bot whose
own essence is unchanged is not listed, even when its container is replaced: the container's
entry says so. Changes of one bot never produce entries for its neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.compile.desired import DesiredFleet
from engine.compile.essence import POLICY_FIELDS, Essence
from engine.plan.fields import BOT_HIDDEN, diff_essences, display_number
from engine.plan.model import Action, Change, FieldDiff, Plan, PlanRisk, Risk, Snapshot, WalletUsage
from engine.plan.risk import bot_risk, fleet_risk, mass_delete_risk, rename_risk, wallet_risk

__all__ = ["plan_fleets"]

_COMMAND_FIELDS = frozenset({"command", "run_as", "run_as_uid"})
_SHOWN_AS = {"secret_digests": "secret values", "strategy_sha256": None, "strategy_class": None}
"""How a changed field is named in a reason (None: not named; it shows through another)."""


def plan_fleets(baseline: DesiredFleet | None, target: DesiredFleet, target_meta: Snapshot, baseline_meta: Snapshot) -> Plan:
    """The plan that takes ``baseline`` (None: nothing deployed) to ``target``: both sides paired by
    address (``fleet/``, ``wallet/``, ``pool/``, ``container/``, ``bot/``), each pair diffed field by
    field on its essence, one ``Change`` per address that differs (a missing baseline side is a
    create, a missing target side a delete), sorted as plans list them, with each wallet's usage
    before and after and the plan-wide risks (most of the fleet deleted, a rename).

    Pure: no backend, no git. Used by offline plans (two refs) and, against the live baseline
    (``engine.live.observe.baseline_from_live``), as the ``changes`` part of every live plan.
    ``target_meta``/``baseline_meta`` name the two sides in the printed plan."""
    changes: list[Change] = []
    changes.extend(_fleet_changes(baseline, target))
    changes.extend(_bot_changes(baseline, target))
    changes.extend(_container_changes(baseline, target))
    changes.extend(_pool_changes(baseline, target))
    wallets = _wallet_usage(baseline, target)
    changes.extend(_wallet_changes(baseline, target, wallets))
    return Plan(
        fleet=target.name,
        target=target_meta,
        baseline=baseline_meta,
        changes=tuple(sorted(changes, key=Change.sort_key)),
        wallets=wallets,
        plan_risks=_plan_risks(baseline, target, changes),
    )


def _plan_risks(baseline: DesiredFleet | None, target: DesiredFleet, changes: list[Change]) -> tuple[PlanRisk, ...]:
    """What only the whole plan shows: most of the fleet going at once, or the fleet changing its name."""
    if baseline is None:
        return ()
    risks = []
    if baseline.name != target.name:
        risks.append(rename_risk(baseline.name, target.name))
    deleted = sum(1 for c in changes if c.kind == "bot" and c.action is Action.DELETE)
    mass = mass_delete_risk(baseline.name, len(baseline.bots), deleted)
    if mass is not None:
        risks.append(mass)
    return tuple(risks)


def _pairs(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(name, before.get(name), after.get(name)) for name in sorted(set(before) | set(after))]


def _fleet_changes(baseline: DesiredFleet | None, target: DesiredFleet) -> list[Change]:
    """The Fleet document's own settings (defaults, health, notify, and its backend once either side
    names one other than plain ``docker``): a change there is a change too."""
    before = baseline.settings.plain() if baseline is not None and baseline.settings is not None else None
    after = target.settings.plain() if target.settings is not None else None
    backends = ((dict(baseline.backend) if baseline is not None else None), dict(target.backend))
    if any(backend is not None and backend != {"kind": "docker"} for backend in backends):
        before = {**before, "backend": backends[0]} if before is not None and backends[0] is not None else before
        after = {**after, "backend": backends[1]} if after is not None else None
    if baseline is not None and baseline.name != target.name and before is not None and after is not None:
        renamed = rename_risk(baseline.name, target.name)
        diff = (FieldDiff("name", baseline.name, target.name), *diff_essences(before, after, show_all=False))
        return [Change(f"fleet/{target.name}", Action.UPDATE, f"fleet renamed from '{baseline.name}'", Risk.HIGH, diff, (renamed.reason,))]
    if before == after or after is None:
        return []
    diff = diff_essences(before, after, show_all=before is None)
    if before is None:
        return [Change(f"fleet/{target.name}", Action.CREATE, "fleet settings recorded", Risk.LOW, diff)]
    risk, notes = fleet_risk(before, after)
    return [Change(f"fleet/{target.name}", Action.UPDATE, "fleet settings changed", risk, diff, notes)]


def _bot_changes(baseline: DesiredFleet | None, target: DesiredFleet) -> list[Change]:
    changes = []
    for name, old, new in _pairs(baseline.bots if baseline else {}, target.bots):
        if old is not None and new is not None and old.hash == new.hash:
            continue
        before = old.essence.plain() if old else None
        after = new.essence.plain() if new else None
        action, reason = _bot_action(before, after)
        risk, notes = bot_risk(action, before, after)
        diff = diff_essences(before, after, show_all=before is None or after is None, hidden=BOT_HIDDEN)
        changes.append(Change(f"bot/{name}", action, reason, risk, diff, notes))
    return changes


def _bot_action(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Action, str]:
    if before is None:
        assert after is not None
        return Action.CREATE, f"new bot in {after['container']}" + ("" if after["enabled"] else " (disabled)")
    if after is None:
        return Action.DELETE, f"removed from the specs (was in {before['container']})"
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if "container" in changed:
        return Action.MOVE, f"moves from {before['container']} to {after['container']}"
    if before["enabled"] and not after["enabled"]:
        return Action.STOP, "disabled; config and data kept"
    if not before["enabled"] and after["enabled"]:
        return Action.START, "enabled"
    if not before["enabled"] and not after["enabled"] and not (changed and changed <= POLICY_FIELDS):
        return Action.STOP, "disabled: " + _what_changed(changed) + "; written for its next start, it stays stopped"
    if changed & _COMMAND_FIELDS:
        return Action.RESTART, "bot command changed"
    if changed <= {"strategy", "strategy_sha256", "strategy_class"} and changed:
        return Action.RELOAD, "strategy pin changed"
    if changed and changed <= POLICY_FIELDS:
        return Action.UPDATE, "how changes reach it: " + ", ".join(sorted(changed)) + " (the bot keeps running)"
    if not changed:
        return Action.RELOAD, "rendered config changed (fleetops templates)"
    if changed == {"secret_digests"}:
        return Action.RELOAD, "secret changed (a value behind its reference was rotated)"
    return Action.RELOAD, _what_changed(changed)


def _what_changed(changed: set[str]) -> str:
    """``config changed: pairs, stake_amount``, ``bot command changed``, ``strategy pin changed``…"""
    if not changed:
        return "rendered config changed (fleetops templates)"
    if changed & _COMMAND_FIELDS:
        return "bot command changed"
    if changed <= {"strategy", "strategy_sha256", "strategy_class"}:
        return "strategy pin changed"
    named = {_SHOWN_AS.get(key, key) for key in changed} - {None}
    return "config changed: " + ", ".join(sorted(str(n) for n in named))


def _container_changes(baseline: DesiredFleet | None, target: DesiredFleet) -> list[Change]:
    changes = []
    for name, old, new in _pairs(baseline.containers if baseline else {}, target.containers):
        if old is not None and new is not None and old.hash == new.hash:
            continue
        before = old.essence.plain() if old else None
        after = new.essence.plain() if new else None
        diff = diff_essences(before, after, show_all=before is None or after is None)
        if old is None:
            what = "dedicated container" if new.dedicated else f"container {new.index} of pool {new.pool}"
            changes.append(Change(f"container/{name}", Action.CREATE, f"new {what}", Risk.LOW, diff))
        elif new is None:
            if baseline is None or baseline.name == target.name:
                why, note = "no bots left in it", "removes the container (its directory is archived)"
            else:
                why = f"fleet '{baseline.name}' is renamed '{target.name}': its bots leave first (stopped, trade databases carried over)"
                note = f"removed once its bots answer in fleet '{target.name}' (its directory is archived)"
            changes.append(Change(f"container/{name}", Action.DELETE, why, Risk.MEDIUM, diff, (note,)))
        else:
            fields = ", ".join(d.path for d in diff) or "rendered container settings"
            bots = len(new.bots)
            changes.append(
                Change(f"container/{name}", Action.REPLACE, f"{fields} changed; recreates it ({bots} bot{'s' * (bots != 1)})",
                       Risk.MEDIUM, diff, (f"restarts {bots} bot{'s' * (bots != 1)}",))
            )
    return changes


def _pool_changes(baseline: DesiredFleet | None, target: DesiredFleet) -> list[Change]:
    return _spec_changes("pool", baseline.pools if baseline else {}, target.pools)


def _spec_changes(kind: str, before: Mapping[str, Essence], after: Mapping[str, Essence]) -> list[Change]:
    changes = []
    for name, old_model, new_model in _pairs(before, after):
        old = old_model.plain() if old_model is not None else None
        new = new_model.plain() if new_model is not None else None
        if old == new:
            continue
        diff = diff_essences(old, new, show_all=old is None or new is None)
        action = Action.CREATE if old is None else Action.DELETE if new is None else Action.UPDATE
        reason = {Action.CREATE: f"new {kind}", Action.DELETE: f"{kind} removed", Action.UPDATE: f"{kind} settings changed"}[action]
        changes.append(Change(f"{kind}/{name}", action, reason, Risk.LOW, diff))
    return changes


def _wallet_usage(baseline: DesiredFleet | None, target: DesiredFleet) -> tuple[WalletUsage, ...]:
    old_wallets = baseline.wallets if baseline else {}
    usages = []
    for name in sorted(set(old_wallets) | set(target.wallets)):
        fields = target.wallets.get(name) or old_wallets[name]
        usages.append(
            WalletUsage(
                name=name,
                currency=fields.currency,
                free_before=baseline.free(name) if baseline else None,
                free_after=target.free(name),
                allocated_before=baseline.allocated(name) if baseline else 0.0,
                allocated_after=target.allocated(name),
            )
        )
    return tuple(usages)


def _wallet_changes(baseline: DesiredFleet | None, target: DesiredFleet, usages: tuple[WalletUsage, ...]) -> list[Change]:
    by_name = {c.name: c for c in _spec_changes("wallet", baseline.wallets if baseline else {}, target.wallets)}
    for usage in usages:
        if usage.allocated_before == usage.allocated_after and usage.name not in by_name:
            continue
        risk, notes = wallet_risk(usage.utilisation_after)
        if usage.name not in by_name and risk is Risk.LOW:
            continue
        base = by_name.get(usage.name) or Change(f"wallet/{usage.name}", Action.UPDATE, "bot allocations changed")
        allocation: tuple[FieldDiff, ...] = ()
        if usage.allocated_before != usage.allocated_after:
            allocation = (FieldDiff("allocated", display_number(usage.allocated_before), display_number(usage.allocated_after)),)
        by_name[usage.name] = Change(base.address, base.action, base.reason, max(base.risk, risk), base.diff + allocation, notes)
    return list(by_name.values())
