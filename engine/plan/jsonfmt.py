"""The plan as JSON (contract §4): what CI and scripts read. Byte-identical for identical inputs, strict JSON."""

from __future__ import annotations

from typing import Any

from engine.hashing import pretty_json
from engine.naming import BackendRef
from engine.plan.fields import display_number
from engine.plan.model import Action, Change, FieldDiff, Plan, PlanRisk, Risk, Snapshot, WalletUsage

__all__ = ["FORMAT_VERSION", "plan_as_dict", "plan_from_dict", "plan_to_json"]

FORMAT_VERSION = "1"


def plan_as_dict(plan: Plan) -> dict[str, Any]:
    """The JSON plan (contract §4); a live plan also names the ``backend`` it was made for (kind, target)."""
    return {
        "format_version": FORMAT_VERSION,
        "fleet": plan.fleet,
        "target": plan.target.as_target(),
        "baseline": plan.baseline.as_baseline(),
        **({"backend": plan.backend.plain()} if plan.backend is not None else {}),
        "changes": [
            {
                "address": c.address,
                "action": c.action.value,
                "reason": c.reason,
                "risk": c.risk.label,
                "risk_notes": list(c.risk_notes),
                "diff": [d.as_json() for d in c.diff],
            }
            for c in plan.changes
        ],
        "summary": plan.summary,
        "wallets": [
            {
                "name": w.name,
                "currency": w.currency,
                "free_before": display_number(w.free_before),
                "free_after": display_number(w.free_after),
                "allocated_before": display_number(w.allocated_before),
                "allocated_after": display_number(w.allocated_after),
                "utilisation_after": None if w.utilisation_after is None else round(w.utilisation_after, 4),
            }
            for w in plan.wallets
        ],
        "risk": plan.risk.label,
        "plan_risks": [r.as_json() for r in plan.plan_risks],
    }


def plan_to_json(plan: Plan) -> str:
    """``plan --format json`` (contract §4): ``plan_as_dict`` in its field order, byte-identical for identical inputs."""
    return pretty_json(plan_as_dict(plan), sort_keys=False)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """A stored plan (``plan_as_dict``'s output) as a value again, so it prints as the CLI did."""
    target, baseline = data.get("target") or {}, data.get("baseline") or {}
    changes = tuple(
        Change(c["address"], Action(c["action"]), c.get("reason", ""), Risk[str(c.get("risk", "low")).upper()],
               tuple(FieldDiff(d["path"], d.get("before"), d.get("after")) for d in c.get("diff", [])),
               tuple(c.get("risk_notes", [])))
        for c in data.get("changes", [])
    )
    wallets = tuple(
        WalletUsage(w["name"], w["currency"], w.get("free_before"), w.get("free_after"), w.get("allocated_before", 0),
                    w.get("allocated_after", 0))
        for w in data.get("wallets", [])
    )
    plan_risks = tuple(PlanRisk(str(r["kind"]), str(r.get("reason", "")), Risk[str(r.get("risk", "high")).upper()])
                       for r in data.get("plan_risks", []))
    backend = data.get("backend")
    return Plan(
        data.get("fleet", ""),
        Snapshot("ref", target.get("ref"), target.get("commit"), bool(target.get("dirty"))),
        Snapshot(baseline.get("kind", "ref"), baseline.get("ref"), baseline.get("commit"), revision=baseline.get("revision")),
        changes, wallets, plan_risks,
        BackendRef(str(backend["kind"]), str(backend["target"])) if isinstance(backend, dict) else None,
    )
