"""The plan as a pull-request comment: a summary table, risks first, field diffs folded away.

The comment is read on GitHub by people deciding to merge, and its text comes partly from the
pull request itself, so every user string is escaped: code spans are HTML ``<code>`` elements
(a backtick cannot close them), cells have pipes and markup escaped, nothing spans lines.
"""

from __future__ import annotations

import json
from typing import Any

from engine.plan.backtest import backtest_markdown_lines
from engine.plan.groups import ChangeGroup, grouped_changes
from engine.plan.model import Plan, Risk, StrategyChange
from engine.plan.text import describe_snapshot
from engine.textsafe import md_code, md_text

__all__ = ["plan_to_markdown"]

_RISK_BADGE = {Risk.LOW: "low", Risk.MEDIUM: "**medium**", Risk.HIGH: ":warning: **HIGH**"}


def plan_to_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment (the fleet-plan workflow): a heading, the sides, a table of
    changes with their risk (the same change to many bots in one row, ``engine.plan.groups``), the diffs folded, wallets and plan-wide risks; every value from a spec
    goes through ``md_code``/``md_text``, so no spec can write markup or a mention."""
    out = [
        f"### fleetops plan: {md_code(plan.fleet)}",
        "",
        f"Target {_code(describe_snapshot(plan.target))} against {_code(describe_snapshot(plan.baseline, plan.backend))}.",
        "",
    ]
    if not plan.changes:
        out.append("**No changes.**")
        return "\n".join(out) + "\n"
    counts = ", ".join(f"{n} {a}" for a, n in plan.summary.items() if n)
    out += [f"**{len(plan.changes)} change{'s' * (len(plan.changes) != 1)}**: {counts}. Highest risk: {_RISK_BADGE[plan.risk]}.", ""]
    groups = grouped_changes(plan)
    high = [g for g in groups if g.first.risk is Risk.HIGH]
    if high or plan.plan_risks:
        out += ["> [!WARNING]", "> High-risk changes:"]
        out += [f"> - **whole plan**: {md_text(r.reason)}; {md_text(r.allow_hint)}" for r in plan.plan_risks]
        out += [f"> - {_addresses(g)}: {md_text('; '.join(g.first.risk_notes))}" for g in high]
        out.append("")
    out += ["| | address | action | risk | reason |", "|---|---|---|---|---|"]
    for g in groups:
        c = g.first
        out.append(f"| {md_code(c.action.glyph)} | {_addresses(g)} | {c.action.value} | {_RISK_BADGE[c.risk]} | {md_text(c.reason)} |")
    out += _strategy_sections(plan.listed_strategy_changes)
    out += backtest_markdown_lines(plan.backtest)
    detailed = [g for g in groups if g.diff]
    if detailed:
        out += ["", "<details><summary>Field changes</summary>", ""]
        for g in detailed:
            out += [f"**{_addresses(g)}** ({g.first.action.value})", "", "| field | before | after |", "|---|---|---|"]
            out += [f"| {md_code(d.path)} | {_value(d.before)} | {_value(d.after)} |" for d in g.diff]
            out.append("")
        out.append("</details>")
    wallets = [w for w in plan.wallets if w.allocated_before != w.allocated_after or w.free_before != w.free_after]
    if wallets:
        out += ["", "| wallet | allocated before | allocated after | free | used |", "|---|---|---|---|---|"]
        for w in wallets:
            used = f"{100 * w.utilisation_after:.0f}%" if w.utilisation_after is not None else "-"
            free = f"{w.free_after:g} {w.currency}" if w.free_after is not None else "(deleted)"
            out.append(f"| {md_code(w.name)} | {w.allocated_before:g} | {w.allocated_after:g} | {md_text(free)} | {used} |")
    return "\n".join(out) + "\n"


def _strategy_sections(changes: tuple[StrategyChange, ...]) -> list[str]:
    """"Strategy changes": one block per distinct changelog (bots moved the same way, with the same
    verdicts, share one), with its summary, the commits, and a table of the settings that changed."""
    if not changes:
        return []
    groups: dict[str, list[StrategyChange]] = {}
    for change in changes:
        key = json.dumps({**change.as_json(), "address": ""}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(change)
    out = ["", "#### Strategy changes"]
    for members in groups.values():
        s = members[0]
        bots = ", ".join(md_code(m.address) for m in members)
        out += ["", f"{bots}: {md_code(s.before)} → {md_code(s.after)}: {md_text(s.summary)}"]
        if s.commits:
            out.append("")
            out += [f"- {md_code(c.sha)} {md_text(c.subject)}" for c in s.commits]
            if s.more:
                out.append(f"- … and {s.more} more")
        if s.settings:
            out += ["", "| setting | before | after | risk | what it does here |", "|---|---|---|---|---|"]
            out += [f"| {md_code(x.name)} | {_value(x.before)} | {_value(x.after)} | {_RISK_BADGE[x.risk]} | {md_text(x.note)} |"
                    for x in s.settings]
        out += [f"> {md_text(note)}" for note in s.notes]
    return out


def _addresses(group: ChangeGroup) -> str:
    """A change's address, or the addresses of the bots a repeated change is made to (``engine.plan.groups``)."""
    return ", ".join(md_code(a) for a in group.addresses) + (f" ({len(group.changes)} bots)" if group.grouped else "")


def _code(text: str) -> str:
    return md_code(text)


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str) and value.startswith("("):
        return md_text(value)
    return md_code(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))
