"""The plan for a terminal: terraform-like, one line per change with its field diffs beneath.

Colour is added with click styles; ``click.echo`` drops it when stdout is not a terminal. Every
text that came from a spec or from Docker goes through ``one_line``, so no key or value can
print a line that looks like another change.
"""

from __future__ import annotations

import json
from typing import Any

import click

from engine.naming import BackendRef
from engine.plan.backtest import backtest_text_lines
from engine.plan.groups import ChangeGroup, grouped_changes
from engine.plan.model import Action, Plan, Risk, Snapshot, StrategyChange
from engine.textsafe import one_line

__all__ = ["describe_snapshot", "plan_to_text"]

_COLOURS = {
    Action.CREATE: "green", Action.DELETE: "red", Action.REPLACE: "magenta", Action.UPDATE: "yellow",
    Action.RELOAD: "cyan", Action.RESTART: "yellow", Action.START: "green", Action.STOP: "red", Action.MOVE: "blue",
}
_RISK_COLOURS = {Risk.LOW: None, Risk.MEDIUM: "yellow", Risk.HIGH: "red"}


def describe_snapshot(snapshot: Snapshot, backend: BackendRef | None = None) -> str:
    """``HEAD (a1b2c3d, dirty)``, ``live Docker (revision 7)``, ``live Docker at unix:///var/run/docker.sock (revision 7)``
    when the plan names its ``backend`` …"""
    if snapshot.kind == "live":
        if backend is not None:
            return backend.live(snapshot.revision)
        return "live Docker" + (f" (revision {snapshot.revision})" if snapshot.revision is not None else "")
    if snapshot.kind == "empty":  # ref: what asked for nothing (``fleetops destroy``)
        return "nothing deployed" if snapshot.ref is None else one_line(f"nothing ({snapshot.ref})")
    commit = (snapshot.commit or "no commit")[:7]
    dirty = ", uncommitted changes" if snapshot.dirty else ""
    return one_line(f"{snapshot.ref} ({commit}{dirty})")


def plan_to_text(plan: Plan) -> str:
    """The plan for a terminal, terraform-like: a header naming the fleet, both sides and (live) the
    backend; one line per change (``glyph address  reason``, risk and its notes) with its field
    diffs beneath, the same change to many bots once with the list of bots (``engine.plan.groups``);
    wallets; the counts and the highest risk; plan-wide risks and how to allow them.
    Every text from a spec or the backend passes ``one_line``. What ``plan`` and ``apply`` print,
    byte for byte what the no-op proof prints for "No changes" (``noop_proof.no_changes_text``)."""
    lines = [f"fleetops plan for fleet '{plan.fleet}': {describe_snapshot(plan.target)} against {describe_snapshot(plan.baseline, plan.backend)}", ""]
    if not plan.changes:
        lines.append("No changes. The fleet matches the target.")
    for group in grouped_changes(plan):
        lines.extend(_change_lines(group))
    lines.extend(_wallet_lines(plan))
    if plan.changes:
        counts = ", ".join(f"{n} to {a}" for a, n in plan.summary.items() if n)
        risk = plan.risk
        lines += ["", f"Plan: {counts}. Highest risk: {click.style(risk.label.upper(), fg=_RISK_COLOURS[risk], bold=risk is Risk.HIGH)}."]
    for whole in plan.plan_risks:
        label = click.style(f"{whole.risk.label.capitalize()} risk for the whole plan:", fg=_RISK_COLOURS[whole.risk], bold=whole.risk is Risk.HIGH)
        lines.append(f"{label} {one_line(whole.reason)}; {whole.allow_hint}.")
    lines.extend(backtest_text_lines(plan.backtest))
    return "\n".join(lines) + "\n"


def _change_lines(group: ChangeGroup) -> list[str]:
    """One change, or the same change made to several bots (``grouped_changes``): its line, then (grouped)
    the bots, its field diffs (each bot's name reading ``<bot>``) and the changelog, once."""
    change = group.first
    colour = _COLOURS[change.action]
    glyph = click.style(f"{change.action.glyph:>3}", fg=colour, bold=True)
    risk = ""
    if change.risk is not Risk.LOW:
        notes = one_line("; ".join(change.risk_notes))
        risk = "  " + click.style(f"[{change.risk.label} risk: {notes}]", fg=_RISK_COLOURS[change.risk], bold=change.risk is Risk.HIGH)
    shown = f"{len(group.changes)} bots" if group.grouped else one_line(change.address)
    address = click.style(shown, bold=True)
    lines = [f"{glyph} {address} {click.style(change.action.value, fg=colour)}  ({one_line(change.reason)}){risk}"]
    if group.grouped:
        lines.append(f"      {one_line(', '.join(group.addresses))}")
    paths = [one_line(d.path) for d in group.diff]
    width = max((len(p) for p in paths), default=0)
    for path, d in zip(paths, group.diff, strict=True):
        lines.append(f"      {path.ljust(width)}  {_value(d.before)} -> {_value(d.after)}")
    if group.strategy is not None:
        lines.extend(_strategy_lines(group.strategy))
    lines.append("")
    return lines


def _strategy_lines(strategy: StrategyChange) -> list[str]:
    """The changelog beneath a pin change: its summary, the commits, the settings that changed."""
    lines = [f"      changelog: {one_line(strategy.summary)}"]
    lines += [f"        {c.sha} {one_line(c.subject)}" for c in strategy.commits]
    if strategy.more:
        lines.append(f"        … and {strategy.more} more")
    if strategy.settings:
        lines.append("      strategy settings:")
        width = max(len(s.name) for s in strategy.settings)
        for s in strategy.settings:
            risk = click.style(f"[{s.risk.label}]", fg=_RISK_COLOURS[s.risk], bold=s.risk is Risk.HIGH)
            lines.append(f"        {s.name.ljust(width)}  {_value(s.before)} -> {_value(s.after)}  {risk} {one_line(s.note)}")
    lines += [f"      note: {one_line(note)}" for note in strategy.notes]
    return lines


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return one_line(value if value.startswith("(") else json.dumps(value, ensure_ascii=False))
    return one_line(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


def _wallet_lines(plan: Plan) -> list[str]:
    changed = [w for w in plan.wallets if w.allocated_before != w.allocated_after or w.free_before != w.free_after]
    if not changed:
        return []
    lines = ["Wallet allocation:"]
    for w in changed:
        free = f"{w.free_after:g}" if w.free_after is not None else "(deleted)"
        pct = f" ({100 * w.utilisation_after:.0f}% of free)" if w.utilisation_after is not None else ""
        lines.append(f"  {w.name:<16} {w.allocated_before:>10g} -> {w.allocated_after:<10g} {w.currency} of {free} free{pct}")
    return lines
