"""Container settings changed by hand, in Docker's terms: what fleetops would create, and how they differ.

Used by the Docker site (``settings_drift``, ``restore_settings``) and the fakes. A managed
container is compared, setting by setting, with what fleetops would create from its
``ContainerDefinition`` (the one both ``render`` and apply use). What Docker can set back in
place — memory and CPU limits and the restart policy (``docker update``) and the fleet network
(``docker network connect``/``disconnect``) — is marked in place, so no bot restarts; anything
else (another image, entrypoint, command, user, mounts or labels, or a limit the spec does not set: Docker
cannot lift a limit in place) recreates the container, as a spec change of it would.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.backend.docker.inspect import UNCOMPARED_LABELS, ContainerSettings
from engine.backend.port import SettingsDrift
from engine.compile.container import ContainerDefinition
from engine.plan.model import FieldDiff

__all__ = ["expected_settings", "memory_bytes", "settings_drift"]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_IN_PLACE = ("memory", "cpus", "restart", "networks")


def memory_bytes(size: str | None) -> int:
    """A spec memory size (``512m``, ``2g``) in bytes, as Docker stores it; 0 for none."""
    if size is None:
        return 0
    match = re.fullmatch(r"([0-9]+)([bkmg]?)", size)
    if match is None:
        raise ValueError(f"not a memory size: {size!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def expected_settings(definition: ContainerDefinition, directory: Path) -> ContainerSettings:
    """What Docker shows for a container fleetops creates from ``definition`` with its runtime
    ``directory`` (``DockerEngine.create_and_start``)."""
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


def _memory(size: int) -> str | None:
    if not size:
        return None
    for unit in ("g", "m", "k"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return f"{size}b"


def _cpus(nano: int) -> float | None:
    return nano / 1e9 if nano else None
