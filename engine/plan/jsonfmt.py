"""The plan as JSON (contract §4): what CI and scripts read. Byte-identical for identical inputs, strict JSON."""

from __future__ import annotations

from typing import Any

from engine.hashing import pretty_json
from engine.naming import BackendRef
from engine.plan.backtest import report_from_json
from engine.plan.fields import display_number
from engine.plan.model import Action, Change, CommitLine, FieldDiff, Plan, PlanRisk, Risk, SettingChange, Snapshot, StrategyChange, WalletUsage

__all__ = ["FORMAT_VERSION", "plan_as_dict", "plan_from_dict", "plan_to_json"]

FORMAT_VERSION = "1"


def plan_as_dict(plan: Plan) -> dict[str, Any]:
    """The JSON plan (contract §4); a live plan also names the ``backend`` it was made for (kind, target).
    ``strategy_changes`` (added in fleetops' issue 20, format_version unchanged: only a key was added)
    is the changelog of each listed bot change whose pin moved (``StrategyChange.as_json``): ``address``,
    ``before``/``after`` (the pins as the diff shows them), ``file``, ``relation`` (forward, downgrade,
    diverged, same, replaced, unknown), ``summary`` (the line every format prints), ``commits``
    (``sha``, ``subject``; newest first, at most 10), ``commits_touching``, ``more_commits``, ``behind``,
    ``undone``, ``lines`` (``added``/``removed``, or null), ``settings`` (``name``, ``before``,
    ``after``, ``risk``, ``overridden``, ``note``; a value is the literal, "(not a literal)" or
    "(not set)") and ``notes``. ``backtest`` (issue 20, only with ``plan --backtest``) is
    ``BacktestReport.as_json``: each moved pin's old and new version backtested side by side."""
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
        "strategy_changes": [s.as_json() for s in plan.listed_strategy_changes],
        **({"backtest": plan.backtest.as_json()} if plan.backtest is not None else {}),
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
               _stored_notes(c))
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
    strategy_changes = tuple(_strategy_change(s) for s in data.get("strategy_changes", []) if isinstance(s, dict))
    return Plan(
        data.get("fleet", ""),
        Snapshot("ref", target.get("ref"), target.get("commit"), bool(target.get("dirty"))),
        Snapshot(baseline.get("kind", "ref"), baseline.get("ref"), baseline.get("commit"), revision=baseline.get("revision")),
        changes, wallets, plan_risks,
        BackendRef(str(backend["kind"]), str(backend["target"])) if isinstance(backend, dict) else None,
        strategy_changes,
        report_from_json(data["backtest"]) if isinstance(data.get("backtest"), dict) else None,
    )


UNSTATED = "(no reason recorded: the plan was stored by an older fleetops)"
"""The note a stored change above low risk gets when it was recorded without one (revisions applied
before every risk had to name its reason, issue 22): it still prints as it was stored, and says so."""


def _stored_notes(change: dict[str, Any]) -> tuple[str, ...]:
    notes = tuple(str(n) for n in change.get("risk_notes", []) if str(n).strip())
    return notes or ((UNSTATED,) if str(change.get("risk", "low")).lower() != "low" else ())


def _strategy_change(data: dict[str, Any]) -> StrategyChange:
    lines = data.get("lines") if isinstance(data.get("lines"), dict) else None
    return StrategyChange(
        str(data.get("address", "")), str(data.get("before", "")), str(data.get("after", "")), str(data.get("file", "")),
        str(data.get("relation", "unknown")),
        tuple(CommitLine(str(c.get("sha", "")), str(c.get("subject", ""))) for c in data.get("commits", [])),
        int(data.get("commits_touching", 0)), int(data.get("behind", 0)), int(data.get("undone", 0)),
        int(lines["added"]) if lines else None, int(lines["removed"]) if lines else None,
        tuple(SettingChange(str(s["name"]), s.get("before"), s.get("after"), Risk[str(s.get("risk", "low")).upper()], str(s.get("note", "")),
                            bool(s.get("overridden"))) for s in data.get("settings", [])),
        tuple(str(n) for n in data.get("notes", [])),
    )
