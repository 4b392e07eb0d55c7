"""Repeated bot changes shown once: the same change made to many bots, with the list of bots.

Used by the text and markdown plans (people read them; a fleet-wide ``bot_command`` change printed
the whole command twice for each of 12 bots, issue 22). The JSON plan is a contract and keeps
one entry per bot. Two bot changes are the same when their action, reason, risk, risk notes,
field diffs and strategy changelog are equal once each bot's own name in its diff reads ``<bot>``
(a rendered command names the bot's directories: ``/fleet/etc/bots/<bot>/config.json``); a reason
or risk note that names the bot keeps it apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.plan.model import Change, FieldDiff, Plan, StrategyChange

__all__ = ["BOT_PLACEHOLDER", "MIN_GROUP", "ChangeGroup", "grouped_changes"]

MIN_GROUP = 3
"""Fewest bots whose identical change is shown once: two lines alike read well enough, a fleet's worth does not."""

BOT_PLACEHOLDER = "<bot>"
"""What a bot's own name reads as in a grouped change's diff."""


@dataclass(frozen=True)
class ChangeGroup:
    """Changes shown as one: ``changes`` (one, or at least ``MIN_GROUP`` bots' alike, in plan order);
    ``diff`` as shown (with ``<bot>`` for each bot's name when grouped); ``strategy``: the changelog shown."""

    changes: tuple[Change, ...]
    diff: tuple[FieldDiff, ...]
    strategy: StrategyChange | None = None

    @property
    def first(self) -> Change:
        return self.changes[0]

    @property
    def grouped(self) -> bool:
        return len(self.changes) > 1

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(c.address for c in self.changes)


def grouped_changes(plan: Plan) -> list[ChangeGroup]:
    """The plan's changes in plan order, bot changes alike for at least ``MIN_GROUP`` bots as one group
    at the place of the first of them; every other change a group of one with its diff as it is."""
    keyed: dict[str, list[Change]] = {}
    for change in plan.changes:
        if change.kind == "bot":
            keyed.setdefault(_key(change, plan.strategy_change(change.address)), []).append(change)
    placed: dict[str, ChangeGroup] = {}
    for members in keyed.values():
        if len(members) >= MIN_GROUP:
            first = members[0]
            group = ChangeGroup(tuple(members), tuple(_anonymous_diff(d, first.name) for d in first.diff),
                                plan.strategy_change(first.address))
            placed.update({m.address: group for m in members})
    groups: list[ChangeGroup] = []
    for change in plan.changes:
        found = placed.get(change.address)
        if found is None:
            groups.append(ChangeGroup((change,), change.diff, plan.strategy_change(change.address)))
        elif found.first is change:
            groups.append(found)
    return groups


def _key(change: Change, strategy: StrategyChange | None) -> str:
    name = change.name
    shown = {
        "action": change.action.value, "reason": change.reason, "risk": change.risk.label, "notes": list(change.risk_notes),
        "diff": [_anonymous_diff(d, name).as_json() for d in change.diff],
        "strategy": {**strategy.as_json(), "address": ""} if strategy is not None else None,
    }
    return json.dumps(shown, sort_keys=True, default=str, ensure_ascii=False)


def _anonymous_diff(diff: FieldDiff, bot: str) -> FieldDiff:
    return FieldDiff(diff.path, _anonymous_value(diff.before, bot), _anonymous_value(diff.after, bot))


def _anonymous_value(value: Any, bot: str) -> Any:
    if isinstance(value, str):
        return _anonymous(value, bot)
    if isinstance(value, list):
        return [_anonymous_value(v, bot) for v in value]
    if isinstance(value, dict):
        return {k: _anonymous_value(v, bot) for k, v in value.items()}
    return value


def _anonymous(text: str, bot: str) -> str:
    """``text`` with ``bot`` where it stands as a whole name (not inside a longer name: bot names are ``[a-z0-9-]``)."""
    return re.sub(rf"(?<![a-z0-9-]){re.escape(bot)}(?![a-z0-9-])", BOT_PLACEHOLDER, text)
