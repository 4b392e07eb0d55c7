"""Changes that only live state can show: a container stopped by hand, a bot process that died.

Called after ``plan_fleets`` when the baseline is live Docker. Specs did not change, so these
are repairs; they are skipped where the plan already recreates or restarts the thing.
"""

from __future__ import annotations

from engine.compile.desired import DesiredFleet
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, Plan, Risk

__all__ = ["with_drift"]


def with_drift(plan: Plan, live: LiveFleet, target: DesiredFleet) -> Plan:
    touched = {c.address for c in plan.changes}
    repairs: list[Change] = []
    for name, listed in live.containers.items():
        container = target.containers.get(name)
        if container is None or listed.running or f"container/{name}" in touched:
            continue
        if container.dedicated and not target.bots[container.bots[0]].essence["enabled"]:
            continue  # a disabled dedicated bot's container is meant to be stopped
        repairs.append(Change(f"container/{name}", Action.START, f"container is {listed.state}; starting it", Risk.LOW))
    started = {c.address.split("/", 1)[1] for c in repairs}
    for name, bot in live.bots.items():
        desired = target.bots.get(name)
        if desired is None or not bot.dead or f"bot/{name}" in touched:
            continue
        if f"container/{desired.container}" in touched or desired.container in started or desired.container != bot.container:
            continue
        repairs.append(Change(f"bot/{name}", Action.RESTART, f"bot process is {bot.process}; restarting it", Risk.LOW))
    if not repairs:
        return plan
    changes = tuple(sorted(plan.changes + tuple(repairs), key=Change.sort_key))
    return Plan(plan.fleet, plan.target, plan.baseline, changes, plan.wallets)
