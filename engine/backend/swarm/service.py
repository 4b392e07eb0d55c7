"""A unit as a Swarm service: the spec fleetops creates from a ``ContainerDefinition``, its settings
read back, and what a person changed by hand — what Swarm can set back without replacing the task.

Used by ``engine.backend.swarm.units``. One service per unit (``<fleet>-<pool>-<n>``, ``<fleet>-bot-<bot>``):
one replica (zero while stopped) pinned to one node by ``node.id == …`` on top of the pool's own
constraints; ``endpoint_mode: dnsrr`` (no IPVS on these kernels, SWARM.md); updates ``stop-first``
with ``failure_action: rollback`` and rollbacks ``stop-first`` too (``start-first`` would run two
copies of every bot for a moment); the fleet's overlay network; fleetops' labels (contract §5) on
the *service*, where writing them replaces no task, and none on the task's container, where they
would; the image by registry digest; the unit's files bind-mounted from the node's
``/var/lib/fleetops/<fleet>/<unit>/{etc,data}`` (written there by the node agent), the layout the
Docker backend's runtime directories have.

Which differences keep the task is Swarm's rule (swarmkit ``orchestrator.IsTaskDirty``): the
service's labels, update and rollback settings and replica count are outside the task, and a
change to the placement constraints alone keeps a task whose node still meets them; anything in
the task template else (image, command, user, environment, mounts, limits, restart policy,
networks, grace period) replaces the task — every bot of a pool restarts. ``settings_drift`` says
which kind a difference is (``SettingsDrift.in_place``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.backend.docker.inspect import UNCOMPARED_LABELS
from engine.backend.docker.settings import memory_bytes
from engine.backend.engine_document import mapping, number, sequence, text
from engine.backend.port import SettingsDrift
from engine.plan.model import FieldDiff

if TYPE_CHECKING:
    from engine.compile.container import ContainerDefinition

__all__ = ["IN_PLACE", "NODE_ROOT", "ServiceSettings", "expected_settings", "node_dir", "parse_settings", "pinned_node", "service_spec",
           "settings_drift"]

NODE_ROOT = "/var/lib/fleetops"
"""Where units' files live on every node: ``<root>/<fleet>/<unit>/{etc,data}`` (the node agent's root)."""
STOP_GRACE_NS = 20 * 10**9
"""Nanoseconds a task gets to stop before it is killed: the Docker backend's stop timeout, long
enough for supervisord to stop each bot cleanly."""
RESTART_DELAY_NS = 5 * 10**9
RESTART_CONDITIONS = {"no": "none", "on-failure": "on-failure", "always": "any", "unless-stopped": "any"}
"""Docker's restart policy names → Swarm's conditions (a stopped unit is scaled to 0, so ``any`` is ``unless-stopped``)."""
UPDATE_CONFIG = {"Parallelism": 1, "Order": "stop-first", "FailureAction": "rollback", "MaxFailureRatio": 0}
ROLLBACK_CONFIG = {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause", "MaxFailureRatio": 0}
"""As Docker stores them (it writes ``MaxFailureRatio: 0`` when it is not given: read back, that would be drift)."""
IN_PLACE = frozenset({"labels", "update_config", "rollback_config"})
"""Fields set back by a service update that keeps the task; ``placement`` too while the task's node meets it."""
_PIN = re.compile(r"\s*node\.id\s*==\s*(\S+)\s*", re.IGNORECASE)


def node_dir(fleet: str, unit: str) -> str:
    """The unit's directory on its node."""
    return f"{NODE_ROOT}/{fleet}/{unit}"


def pin_constraint(node_id: str) -> str:
    return f"node.id == {node_id}"


def pinned_node(constraints: tuple[str, ...] | list[str]) -> str | None:
    """The node ID a service's constraints pin it to (``node.id == …``), or None."""
    for constraint in constraints:
        match = _PIN.fullmatch(constraint)
        if match:
            return match.group(1)
    return None


def service_spec(definition: ContainerDefinition, *, fleet: str, node_id: str, image: str, constraints: tuple[str, ...],
                 revision: int) -> dict[str, Any]:
    """The Engine API ``ServiceSpec`` of a unit: ``definition`` run from ``image`` (pinned by digest) on
    ``node_id``, also meeting the pool's ``constraints``, labelled with the ``revision`` that creates it."""
    directory = node_dir(fleet, definition.name)
    container: dict[str, Any] = {
        "Image": image,
        "Command": list(definition.entrypoint or definition.command),
        "Args": list(definition.command) if definition.entrypoint else [],
        "User": definition.user or "",
        "Env": [f"{key}={value}" for key, value in sorted(definition.environment.items())],
        "Init": definition.init,
        "Mounts": [{"Type": "bind", "Source": f"{directory}/{m.source}", "Target": m.target, "ReadOnly": m.read_only}
                   for m in definition.mounts],
        "StopGracePeriod": STOP_GRACE_NS,
    }
    limits = {key: value for key, value in (("MemoryBytes", memory_bytes(definition.memory)),
                                            ("NanoCPUs", int(definition.cpus * 1e9) if definition.cpus else 0)) if value}
    return {
        "Name": definition.name,
        "Labels": definition.with_revision(revision),
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": {"Limits": limits},
            "RestartPolicy": {"Condition": RESTART_CONDITIONS.get(definition.restart, "any"), "Delay": RESTART_DELAY_NS, "MaxAttempts": 0},
            "Placement": {"Constraints": [pin_constraint(node_id), *constraints]},
            "Networks": [{"Target": definition.network}],
        },
        "Mode": {"Replicated": {"Replicas": 1 if definition.running else 0}},
        "UpdateConfig": dict(UPDATE_CONFIG),
        "RollbackConfig": dict(ROLLBACK_CONFIG),
        "EndpointSpec": {"Mode": "dnsrr"},
    }


@dataclass(frozen=True)
class ServiceSettings:
    """A service's settings in Swarm's terms (bytes, nano-CPUs, nanoseconds), as its stored spec has them,
    and the node its current task runs on."""

    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    user: str
    env: tuple[str, ...]
    init: bool
    mounts: tuple[str, ...]
    """``source:target:ro|rw`` of each bind mount, sorted."""
    memory: int
    nano_cpus: int
    restart: str
    """Swarm's restart condition: ``any``, ``on-failure`` or ``none``."""
    stop_grace: int
    networks: tuple[str, ...]
    """Network names (Docker stores the IDs it resolved them to; read back through the network list)."""
    constraints: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    """Every service label but ``UNCOMPARED_LABELS``, sorted."""
    endpoint_mode: str
    update_config: tuple[tuple[str, Any], ...]
    rollback_config: tuple[tuple[str, Any], ...]
    node: str
    """The node ID its current task runs on ("" when it has none); for what fleetops would create, the pinned node."""

    def plain(self) -> dict[str, Any]:
        """JSON data: what the no-op proof digests."""
        return {"image": self.image, "command": list(self.command), "args": list(self.args), "user": self.user, "env": list(self.env),
                "init": self.init, "mounts": list(self.mounts), "memory": self.memory, "nano_cpus": self.nano_cpus, "restart": self.restart,
                "stop_grace": self.stop_grace, "networks": list(self.networks), "constraints": list(self.constraints),
                "labels": [list(pair) for pair in self.labels], "endpoint_mode": self.endpoint_mode,
                "update_config": [list(pair) for pair in self.update_config], "rollback_config": [list(pair) for pair in self.rollback_config],
                "node": self.node}


def parse_settings(spec: Mapping[str, Any], node: str, networks: Mapping[str, str]) -> ServiceSettings:
    """A service's stored ``Spec`` (and its current task's ``node``) → ServiceSettings; ``networks``: ID → name.
    ValueError when a field has the wrong type (the answer is input from the manager)."""
    template = mapping(spec.get("TaskTemplate"))
    container = mapping(template.get("ContainerSpec"))
    limits = mapping(mapping(template.get("Resources")).get("Limits"))
    targets = [text(mapping(n).get("Target")) for n in sequence(template.get("Networks") or spec.get("Networks"))]
    return ServiceSettings(
        image=text(container.get("Image")),
        command=tuple(text(word) for word in sequence(container.get("Command"))),
        args=tuple(text(word) for word in sequence(container.get("Args"))),
        user=text(container.get("User")),
        env=tuple(sorted(text(pair) for pair in sequence(container.get("Env")))),
        init=bool(container.get("Init")),
        mounts=tuple(sorted(_mount(mapping(m)) for m in sequence(container.get("Mounts")))),
        memory=number(limits.get("MemoryBytes")),
        nano_cpus=number(limits.get("NanoCPUs")),
        restart=text(mapping(template.get("RestartPolicy")).get("Condition")) or "any",
        stop_grace=number(container.get("StopGracePeriod")),
        networks=tuple(sorted(networks.get(target, target) for target in targets)),
        constraints=tuple(text(c) for c in sequence(mapping(template.get("Placement")).get("Constraints"))),
        labels=tuple(sorted((str(k), str(v)) for k, v in mapping(spec.get("Labels")).items() if k not in UNCOMPARED_LABELS)),
        endpoint_mode=text(mapping(spec.get("EndpointSpec")).get("Mode")) or "vip",
        update_config=tuple(sorted(mapping(spec.get("UpdateConfig")).items())),
        rollback_config=tuple(sorted(mapping(spec.get("RollbackConfig")).items())),
        node=node,
    )


def expected_settings(definition: ContainerDefinition, *, fleet: str, node_id: str, image: str, constraints: tuple[str, ...]) -> ServiceSettings:
    """What ``parse_settings`` reads from the service ``service_spec`` builds (its task on ``node_id``)."""
    spec = service_spec(definition, fleet=fleet, node_id=node_id, image=image, constraints=constraints, revision=0)
    return parse_settings(spec, node_id, {})


def settings_drift(live: ServiceSettings, want: ServiceSettings) -> SettingsDrift | None:
    """None when ``live`` is what fleetops would create; else each differing field, shown readably, and
    whether a service update can set every one back without replacing the task (Swarm's rule above)."""
    diff: list[FieldDiff] = []
    for name, before, after in (
        ("image", live.image, want.image),
        ("command", [*live.command, *live.args], [*want.command, *want.args]),
        ("user", live.user, want.user),
        ("environment", list(live.env), list(want.env)),
        ("init", live.init, want.init),
        ("mounts", list(live.mounts), list(want.mounts)),
        ("memory", _memory(live.memory), _memory(want.memory)),
        ("cpus", live.nano_cpus / 1e9 or None, want.nano_cpus / 1e9 or None),
        ("restart", live.restart, want.restart),
        ("stop_grace_period", f"{live.stop_grace / 1e9:g}s", f"{want.stop_grace / 1e9:g}s"),
        ("networks", list(live.networks), list(want.networks)),
        ("placement", list(live.constraints), list(want.constraints)),
        ("endpoint_mode", live.endpoint_mode, want.endpoint_mode),
        ("update_config", dict(live.update_config), dict(want.update_config)),
        ("rollback_config", dict(live.rollback_config), dict(want.rollback_config)),
    ):
        if before != after:
            diff.append(FieldDiff(name, before, after))
    live_labels, want_labels = dict(live.labels), dict(want.labels)
    changed = sorted(k for k in set(live_labels) | set(want_labels) if live_labels.get(k) != want_labels.get(k))
    if changed:
        diff.append(FieldDiff("labels", {k: live_labels.get(k) for k in changed}, {k: want_labels.get(k) for k in changed}))
    if not diff:
        return None
    in_place = IN_PLACE | ({"placement"} if live.node and live.node == want.node else set())
    return SettingsDrift(tuple(diff), all(d.path in in_place for d in diff))


def _mount(mount: Mapping[str, Any]) -> str:
    return f"{text(mount.get('Source'))}:{text(mount.get('Target'))}:{'ro' if mount.get('ReadOnly') else 'rw'}"


def _memory(size: int) -> str | None:
    if not size:
        return None
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"
