"""Container settings changed by hand: limits, restart policy, image, labels, networks, mounts, name.

Called by the flow after ``with_drift``, for live plans (apply, rollback, the watcher's heal).
Each managed container that the plan does not already recreate is compared, setting by
setting, with what fleetops would create from the target (``compile.container``'s definition,
the one both ``render`` and apply use). What Docker can set back in place is repaired in place,
so no bot restarts: memory and CPU limits and the restart policy (``docker update``), the
fleet network (``docker network connect``/``disconnect``) and a name changed by hand (``docker
rename``: observe sees the container under the name fleetops gave it). Anything else — another image, entrypoint,
command, user, mounts or labels, or a limit the spec does not set (Docker cannot lift a limit
in place) — recreates the container, as a spec change of it would.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from engine.compile.container import ContainerDefinition, container_definition
from engine.compile.desired import DesiredFleet
from engine.live.container_inspect import UNCOMPARED_LABELS, ContainerSettings
from engine.live.observe import LiveFleet
from engine.live.runtime import Runtime
from engine.plan.model import Action, Change, FieldDiff, Plan, Risk

__all__ = ["SettingsDrift", "expected_settings", "settings_drift", "with_settings_drift"]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_IN_PLACE = ("memory", "cpus", "restart", "networks")
_RECREATED = frozenset({Action.CREATE, Action.REPLACE, Action.DELETE})


def memory_bytes(size: str | None) -> int:
    """A spec memory size (``512m``, ``2g``) in bytes, as Docker stores it; 0 for none."""
    if size is None:
        return 0
    match = re.fullmatch(r"([0-9]+)([bkmg]?)", size)
    if match is None:
        raise ValueError(f"not a memory size: {size!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def expected_settings(definition: ContainerDefinition, runtime: Runtime) -> ContainerSettings:
    """What Docker shows for a container fleetops creates from ``definition`` (``docker_api.create_and_start``)."""
    directory = runtime.container_dir(definition.name)
    return ContainerSettings(
        image=definition.image,
        command=definition.command,
        user=definition.user or "",
        memory=memory_bytes(definition.memory),
        nano_cpus=int(definition.cpus * 1e9) if definition.cpus else 0,
        restart=definition.restart,
        init=definition.init,
        binds=tuple(sorted(f"{directory / m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in definition.mounts)),
        networks=(definition.network,),
        labels=tuple(sorted((k, v) for k, v in definition.labels.items() if k not in UNCOMPARED_LABELS)),
        entrypoint=definition.entrypoint,
    )


@dataclass(frozen=True)
class SettingsDrift:
    """How one container's settings differ from what fleetops would create, field by field."""

    diff: tuple[FieldDiff, ...]
    in_place: bool
    """True when ``docker update`` and network (dis)connects restore every field: no bot restarts."""

    @property
    def fields(self) -> list[str]:
        return [d.path for d in self.diff]


def settings_drift(live: ContainerSettings, want: ContainerSettings) -> SettingsDrift | None:
    """None when ``live`` is what fleetops would create; else each differing field, shown readably."""
    diff: list[FieldDiff] = []
    for name, before, after in (
        ("image", live.image, want.image),
        ("entrypoint", list(live.entrypoint), list(want.entrypoint)),
        ("command", list(live.command), list(want.command)),
        ("user", live.user, want.user),
        ("memory", _memory(live.memory), _memory(want.memory)),
        ("cpus", _cpus(live.nano_cpus), _cpus(want.nano_cpus)),
        ("restart", live.restart or "no", want.restart),
        ("init", live.init, want.init),
        ("mounts", list(live.binds), list(want.binds)),
        ("networks", list(live.networks), list(want.networks)),
    ):
        if before != after:
            diff.append(FieldDiff(name, before, after))
    live_labels, want_labels = dict(live.labels), dict(want.labels)
    changed = {k for k in set(live_labels) | set(want_labels) if live_labels.get(k) != want_labels.get(k)}
    if changed:
        diff.append(FieldDiff("labels", {k: live_labels.get(k) for k in sorted(changed)}, {k: want_labels.get(k) for k in sorted(changed)}))
    if not diff:
        return None
    lifted = (want.memory == 0 and live.memory != 0) or (want.nano_cpus == 0 and live.nano_cpus != 0)
    return SettingsDrift(tuple(diff), not lifted and all(d.path in _IN_PLACE for d in diff))


def with_settings_drift(plan: Plan, live: LiveFleet, target: DesiredFleet, runtime: Runtime) -> Plan:
    """The plan plus a repair of every container whose settings were changed by hand.

    A container the plan creates, recreates or deletes anyway is left alone; one it starts,
    restarts or rewrites gets the in-place repair folded into that change (the executor sets
    settings back before it acts), or is recreated when the drift needs it."""
    changes = {c.address: c for c in plan.changes}
    for name, inspected in sorted(live.inspected.items()):
        container = target.containers.get(name)
        address = f"container/{name}"
        planned = changes.get(address)
        if container is None or name not in live.containers or (planned is not None and planned.action in _RECREATED):
            continue
        drift = settings_drift(inspected.settings, expected_settings(container_definition(target, container), runtime))
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
    for own, shown in sorted(live.renamed.items()):  # ``docker rename`` by hand: renamed back first (engine.live.ownership)
        address = f"container/{own}"
        planned = changes.get(address)
        if planned is not None:
            changes[address] = dataclasses.replace(planned, reason=f"{planned.reason}; renamed by hand to '{shown}', renamed back first")
        else:
            changes[address] = Change(address, Action.UPDATE, f"renamed by hand to '{shown}'; renamed back in place, no bot restarts",
                                      Risk.LOW, (FieldDiff("name", shown, own),))
    if len(changes) == len(plan.changes) and all(changes[c.address] is c for c in plan.changes):
        return plan
    return plan.with_changes(tuple(sorted(changes.values(), key=Change.sort_key)))  # plan-wide risks stay


def _memory(size: int) -> str | None:
    if not size:
        return None
    for unit in ("g", "m", "k"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return f"{size}b"


def _cpus(nano: int) -> float | None:
    return nano / 1e9 if nano else None
