"""Drift: changes that only live state can show, kept as a named part of a live plan (its repairs).

Called by the live plan (``engine.live.liveplan``) after ``plan_fleets`` diffed the specs against
the live baseline. Specs did not change, so these are repairs: a unit stopped by hand (start), a
bot process that died (restart), a pool whose process manager does not answer (restart the unit:
its bots' states are unknown, and "No changes" would be a lie), a bot or unit whose record does
not parse (re-apply it), a second copy of a bot (a move cut short). Repairs are skipped where
the plan already recreates or restarts the thing. ``Repairs`` is the part; the printed plan is
composed from the parts once (``liveplan.compose``), never rewritten stage by stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.backend.records import Unreadable
from engine.compile.desired import DesiredFleet
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, Risk

__all__ = ["Repairs", "drift_repairs"]


@dataclass(frozen=True)
class Repairs:
    """What drifted, as changes: ``added`` beside the planned ones, ``replacing`` the planned change
    at the same address (a record that does not parse is re-applied whatever the specs say)."""

    added: tuple[Change, ...] = ()
    replacing: Mapping[str, Change] = field(default_factory=dict)

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every repair, in plan order: the drift being repaired, shown apart from what the specs change."""
        return tuple(sorted((*self.added, *self.replacing.values()), key=Change.sort_key))

    def applied_to(self, changes: tuple[Change, ...]) -> tuple[Change, ...]:
        """``changes`` with these repairs: replaced in place, added in plan order."""
        if not self.added and not self.replacing:
            return changes
        planned = {c.address for c in changes}
        kept = tuple(self.replacing.get(c.address, c) for c in changes)
        extra = tuple(r for address, r in self.replacing.items() if address not in planned)
        return tuple(sorted(kept + self.added + extra, key=Change.sort_key))


def drift_repairs(changes: tuple[Change, ...], live: LiveFleet, target: DesiredFleet) -> Repairs:
    """The repairs of what drifted in ``live`` from ``target``, beside the planned ``changes``:

    - a unit stopped (``start``; not one whose bots are all disabled, which is meant to be stopped),
      a pool whose process manager did not answer (``restart``: its bots' states are unknown),
      a unit record that does not parse (``update``: rewritten), a second copy of a bot
      (``update`` of its unit: the copy removed);
    - a bot record that does not parse (``reload`` where it is, ``move`` to where the target
      puts it, ``delete`` when the target lacks it: replacing the planned change), an enabled
      bot whose process is not running (``restart``, unless its unit's own change restarts it).

    Nothing already planned at an address is repeated. Pure: it reads ``live`` as observed."""
    touched = {c.address for c in changes}
    repairs: list[Change] = []
    replaced: dict[str, Change] = {}
    for name, listed in live.containers.items():
        container = target.containers.get(name)
        address = f"container/{name}"
        if container is None or address in touched:
            continue
        if not listed.running:
            if not target.meant_running(name):
                continue  # its bots are all disabled: it is meant to be stopped
            repairs.append(Change(address, Action.START, f"container is {listed.state}; starting it", Risk.LOW))
        elif name in live.unanswered:
            bots = sorted(b.name for b in live.bots.values() if b.container == name)
            repairs.append(Change(address, Action.RESTART,
                                  f"unknown: {live.unanswered[name]}; the states of {len(bots)} bot(s) are unknown "
                                  f"({', '.join(bots) or 'none'}); restarting the container", Risk.MEDIUM,
                                  risk_notes=("restarts every bot in it",)))
        elif isinstance(live.container_records.get(name), Unreadable):
            record = live.container_records[name]
            assert isinstance(record, Unreadable)
            repairs.append(Change(address, Action.UPDATE, f"its record is unreadable ({record.reason}); rewriting it", Risk.LOW))
    for stray in live.strays:
        address = f"container/{stray.container}"
        if address in touched or any(c.address == address for c in repairs) or stray.container not in target.containers:
            continue  # recreated or deleted anyway, which removes the stray with it
        repairs.append(Change(address, Action.UPDATE, f"holds a second copy of bot {stray.name} (a move was cut short); "
                              "removing that copy", Risk.MEDIUM, risk_notes=("a bot must never run twice",)))
    for name, bot in live.bots.items():
        desired = target.bots.get(name)
        address = f"bot/{name}"
        if bot.record is None:
            why = f"its record in {bot.container} is unreadable ({bot.unreadable})"
            if desired is None:
                repairs.append(Change(address, Action.DELETE, f"{why} and it is not in the specs; archiving it", Risk.MEDIUM,
                                      risk_notes=("delete stops the bot if it runs (its files are archived)",)))
            elif desired.container == bot.container:
                replaced[address] = Change(address, Action.RELOAD, f"{why}; re-applying it", Risk.LOW)
            else:
                replaced[address] = Change(address, Action.MOVE, f"{why}; moving it to {desired.container}", Risk.MEDIUM,
                                           risk_notes=("move interrupts the bot",))
            continue
        if desired is None or not bot.dead or address in touched:
            continue
        restarted = {c.address for c in changes + tuple(repairs)
                     if c.action in (Action.CREATE, Action.REPLACE, Action.START, Action.RESTART)}
        if f"container/{desired.container}" in restarted or desired.container != bot.container:
            continue  # the container's own change (re)starts the bot
        repairs.append(Change(address, Action.RESTART, f"bot process is {bot.process}; restarting it", Risk.LOW))
    return Repairs(tuple(repairs), replaced)
