"""Changes that only live state can show, added to a live plan as repairs.

Called by the flow after ``plan_fleets`` when the baseline is live Docker. Specs did not
change, so these are repairs: a container stopped by hand (start), a bot process that died
(restart), a pool whose supervisord does not answer (restart the container: its bots' states
are unknown, and "No changes" would be a lie), a bot or container whose record does not parse
(re-apply it). Repairs are skipped where the plan already recreates or restarts the thing.
"""

from __future__ import annotations

from engine.backend.records import Unreadable
from engine.compile.desired import DesiredFleet
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, Plan, Risk

__all__ = ["with_drift"]


def with_drift(plan: Plan, live: LiveFleet, target: DesiredFleet) -> Plan:
    touched = {c.address for c in plan.changes}
    repairs: list[Change] = []
    replaced: dict[str, Change] = {}
    for name, listed in live.containers.items():
        container = target.containers.get(name)
        address = f"container/{name}"
        if container is None or address in touched:
            continue
        if not listed.running:
            if container.dedicated and not target.bots[container.bots[0]].essence.enabled:
                continue  # a disabled dedicated bot's container is meant to be stopped
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
                repairs.append(Change(address, Action.DELETE, f"{why} and it is not in the specs; archiving it", Risk.MEDIUM))
            elif desired.container == bot.container:
                replaced[address] = Change(address, Action.RELOAD, f"{why}; re-applying it", Risk.LOW)
            else:
                replaced[address] = Change(address, Action.MOVE, f"{why}; moving it to {desired.container}", Risk.MEDIUM,
                                           risk_notes=("move interrupts the bot",))
            continue
        if desired is None or not bot.dead or address in touched:
            continue
        restarted = {c.address for c in plan.changes + tuple(repairs)
                     if c.action in (Action.CREATE, Action.REPLACE, Action.START, Action.RESTART)}
        if f"container/{desired.container}" in restarted or desired.container != bot.container:
            continue  # the container's own change (re)starts the bot
        repairs.append(Change(address, Action.RESTART, f"bot process is {bot.process}; restarting it", Risk.LOW))
    if not repairs and not replaced:
        return plan
    kept = tuple(replaced.pop(c.address, c) for c in plan.changes)
    changes = tuple(sorted(kept + tuple(repairs) + tuple(replaced.values()), key=Change.sort_key))
    return plan.with_changes(changes)
