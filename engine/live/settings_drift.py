"""Unit settings changed by hand, as repairs of a live plan: set back in place, or the unit recreated.

Called by the live plan (``engine.live.liveplan``) after the other drift, for every live plan
(apply, rollback, the watcher's heal); what it returns is part of the plan's drift (``Repairs``).
Each managed unit that the plan does not already recreate is compared by its backend with what
the backend would create from the target (``Units.settings_drift``: limits, restart policy,
image, entrypoint, labels, networks, mounts for Docker). What the backend can set back in place is repaired
in place, so no bot restarts (a name changed by hand too: observe sees the unit under the name
fleetops gave it, and it is renamed back first); anything else recreates the unit, as a spec change of it would.
"""

from __future__ import annotations

import dataclasses

from engine.backend.port import Site
from engine.compile.container import container_definition
from engine.compile.desired import DesiredFleet
from engine.live.drift import Repairs
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, FieldDiff, Risk

__all__ = ["settings_repairs"]

_RECREATED = frozenset({Action.CREATE, Action.REPLACE, Action.DELETE})


def settings_repairs(prior: tuple[Change, ...], live: LiveFleet, target: DesiredFleet, site: Site) -> Repairs:
    """A repair of every unit whose settings were changed by hand, beside the ``prior`` changes (the diff's and the other drift's).

    A unit the plan creates, recreates or deletes anyway is left alone; one it starts, restarts or
    rewrites gets the in-place repair folded into that change (the executor sets settings back
    before it acts), or is recreated when the drift needs it."""
    changes = {c.address: c for c in prior}
    for name, inspected in sorted(live.inspected.items()):
        container = target.containers.get(name)
        address = f"container/{name}"
        planned = changes.get(address)
        if container is None or name not in live.containers or (planned is not None and planned.action in _RECREATED):
            continue
        drift = site.settings_drift(container_definition(target, container), inspected)
        if drift is None:
            continue
        fields = ", ".join(drift.fields)
        if drift.in_place and planned is not None:
            changes[address] = dataclasses.replace(planned, reason=f"{planned.reason}; also changed by hand ({fields}), set back in place",
                                                   diff=planned.diff + drift.diff)
        elif drift.in_place:
            changes[address] = Change(address, Action.UPDATE, f"changed by hand ({fields}); set back in place, no bot restarts",
                                      Risk.LOW, drift.diff)
        else:
            bots = len(container.bots)
            changes[address] = Change(address, Action.REPLACE, f"changed by hand ({fields}); recreates it ({bots} bot{'s' * (bots != 1)})",
                                      Risk.MEDIUM, drift.diff, (f"restarts {bots} bot{'s' * (bots != 1)}",))
    for own, shown in sorted(live.renamed.items()):  # renamed by hand: renamed back first (engine.live.ownership)
        address = f"container/{own}"
        planned = changes.get(address)
        if planned is not None:
            changes[address] = dataclasses.replace(planned, reason=f"{planned.reason}; renamed by hand to '{shown}', renamed back first")
        else:
            changes[address] = Change(address, Action.UPDATE, f"renamed by hand to '{shown}'; renamed back in place, no bot restarts",
                                      Risk.LOW, (FieldDiff("name", shown, own),))
    before = {c.address: c for c in prior}
    return Repairs(tuple(c for a, c in sorted(changes.items()) if a not in before),
                   {a: c for a, c in sorted(changes.items()) if a in before and c is not before[a]})
