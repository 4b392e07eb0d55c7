"""The units of one swarm fleet: the backend port's ``Units`` (``engine.backend.port``) on Swarm services.

Part of the swarm backend; the lead's site composes it with the agent's bots and files. A unit is a
service (``engine.backend.swarm.service`` builds and reads its spec): listed with the fleet label,
its state its current task's (``running``; ``created`` or ``restarting`` before it runs; ``exited``
once stopped or scaled to 0; ``unreachable`` while its node is down — nothing replaces it elsewhere),
its address None (bots answer through the node agent's relay, which knows ``tasks.<service>``).

Create, start and an update that replaces the task return once the (new) task runs, as Docker's create
and start do (an update Swarm rolled back fails at once); start and stop scale it to 1 and 0 (stop
returns once its task no longer runs); restart is stop then
start — never a forced update, which would replace every task anyway and not even stop first. A
service cannot be renamed (Swarm refuses), so ``rename`` says so; a paused task is a node's affair
(no pause in the Swarm API), so ``unpause`` starts. Where each unit runs is decided before apply
(``engine.backend.swarm.placement``) and handed over with ``place``; ``create`` refuses a unit no
node was chosen for rather than let Swarm pick one (its files are on one node's disk).

Calls per operation (what a no-op costs): ``units`` 3 (services, tasks, nodes), ``inspect`` 3
(services, tasks, networks) whatever the number of units.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from engine.backend.port import ListedUnit, SettingsDrift, UnitEvent, UnitInspect
from engine.backend.swarm.placement import Node
from engine.backend.swarm.service import (
    IN_PLACE,
    ServiceSettings,
    expected_settings,
    parse_settings,
    pinned_node,
    service_spec,
    settings_drift,
)
from engine.backend.swarm.tasks import TaskView, task_view
from engine.backend.swarm.waits import TaskWaits
from engine.errors import DockerError
from engine.naming import Labels, network_name

if TYPE_CHECKING:
    from engine.backend.swarm.api import SwarmManager
    from engine.compile.container import ContainerDefinition

__all__ = ["ImagePins", "SwarmUnits"]

ACTIONS = {"create": "create", "update": "update", "remove": "destroy"}
"""Swarm's service event actions → the port's (``destroy``: the watcher repairs a removed unit)."""


class ImagePins(Protocol):
    """Images by registry digest (``engine.backend.swarm.images.RegistryImages``)."""

    def known(self, image: str) -> str | None: ...
    def pinned(self, image: str) -> str: ...


@dataclass(frozen=True)
class _Seen:
    service: dict[str, Any]
    view: TaskView
    node: str
    """Its current task's node, else the node its constraints pin it to."""


class SwarmUnits:
    """``Units`` of ``fleet`` on the swarm behind ``api``, its images pinned by ``images``."""

    def __init__(self, api: SwarmManager, fleet: str, images: ImagePins, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.fleet = fleet
        self.images = images
        self.waits = TaskWaits(api, sleep, clock)
        self._pins: dict[str, str] = {}
        self._constraints: dict[str, tuple[str, ...]] = {}
        self._nodes: dict[str, Node] = {}
        self._where: dict[str, str] = {}
        self._known: set[str] = set()
        self._last: dict[str, _Seen] = {}

    # -- placement, as the plan decided it ---------------------------------------------------------

    def place(self, nodes: Mapping[str, str], constraints: Mapping[str, tuple[str, ...]]) -> None:
        """Units' nodes (unit → node ID, ``placement.place``) and pools' constraints (pool → as written):
        what ``create`` pins, ``update`` moves to, and ``settings_drift`` compares with."""
        self._pins.update(nodes)
        self._constraints = dict(constraints)

    def node_of(self, unit: str) -> str | None:
        """The host name of the node ``unit`` runs on (or is placed on), as the agents' channel names nodes."""
        node_id = self._where.get(unit) or self._pins.get(unit)
        if node_id is None:
            return None
        if node_id not in self._nodes:
            self._read_nodes()
        node = self._nodes.get(node_id)
        return node.hostname if node is not None else None

    def _read_nodes(self) -> frozenset[str]:
        self._nodes = {node.id: node for node in map(Node.of, self.api.nodes())}
        return frozenset(node_id for node_id, node in self._nodes.items() if node.state != "ready")

    def _seen(self, with_nodes: bool) -> dict[str, _Seen]:
        services = self.api.services({Labels.FLEET: self.fleet})
        tasks = self.api.tasks([s["ID"] for s in services])
        down = self._read_nodes() if with_nodes else frozenset(n for n, node in self._nodes.items() if node.state != "ready")
        by_service: dict[str, list[dict[str, Any]]] = {}
        for task in tasks:
            by_service.setdefault(str(task.get("ServiceID")), []).append(task)
        seen = {}
        for service in services:
            name = str(service["Spec"]["Name"])
            replicas = int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
            view = task_view(by_service.get(str(service["ID"]), []), replicas, down)
            seen[name] = _Seen(service, view, view.node or pinned_node(_constraints_of(service)) or "")
            self._where[name] = seen[name].node
        self._known |= set(seen)  # a name once the fleet's stays its own: its later events are the fleet's
        self._last = seen
        return seen

    # -- the port -----------------------------------------------------------------------------------

    def units(self) -> list[ListedUnit]:
        seen = self._seen(with_nodes=True)
        return sorted((ListedUnit(str(s.service["ID"]), name, dict(s.service["Spec"].get("Labels") or {}), s.view.state, None,
                                  self._nodes[s.node].hostname if s.node in self._nodes else None)
                       for name, s in seen.items()), key=lambda u: u.name)

    def observed(self) -> dict[str, dict[str, Any]]:
        """Service → its ID, spec version, current task and state as the last listing saw them: what the
        no-op proof keeps (``engine.backend.swarm.noop.facts``)."""
        return {name: {"id": str(s.service["ID"]), "version": int(s.service["Version"]["Index"]), "task": s.view.task, "state": s.view.state}
                for name, s in sorted(self._last.items())}

    def priors(self) -> dict[str, str]:
        """Unit → the node ID its service is pinned to (else its task's node), from the last listing: where its
        files are, what ``placement.demands_of`` keeps it on."""
        return {name: pinned_node(_constraints_of(s.service)) or s.view.node for name, s in sorted(self._last.items())
                if pinned_node(_constraints_of(s.service)) or s.view.node}

    def update_states(self) -> dict[str, str]:
        """Service → the state of its last update (``completed``, ``rollback_completed``, ``paused``…), from the
        last listing: a rollback Swarm made on its own is a failed apply (contract §8)."""
        return {name: str((s.service.get("UpdateStatus") or {}).get("State")) for name, s in self._seen(with_nodes=False).items()
                if s.service.get("UpdateStatus")}

    def inspect(self, names: list[str]) -> dict[str, UnitInspect]:
        if not names:
            return {}
        seen = self._seen(with_nodes=False)
        networks = self.api.network_names()
        found = {}
        for name in names:
            if name not in seen:
                continue  # removed since it was listed: the next plan sees it gone
            s = seen[name]
            try:
                settings = parse_settings(s.service["Spec"], s.node, networks)
            except ValueError as exc:
                raise DockerError(f"the swarm manager's answer for service {name} does not parse ({exc})") from None
            found[name] = UnitInspect(settings, s.view.state, s.view.restarts)
        return found

    def ensure_network(self) -> None:
        name = network_name(self.fleet)
        if self.api.network(name) is None:
            self.api.create_network(name, {Labels.FLEET: self.fleet})

    def remove_network(self) -> None:
        found = self.api.network(network_name(self.fleet))
        if found is not None and (found.get("Labels") or {}).get(Labels.FLEET) == self.fleet:
            self.api.remove_network(str(found["Id"]))

    def create(self, definition: ContainerDefinition, revision: int) -> str:
        """Create the unit's service on the node placed for it (its files are put there first, by the agent),
        one replica when it should run, none otherwise; its service ID."""
        node = self._pins.get(definition.name)
        if node is None:
            raise DockerError(f"no node was chosen for {definition.name}: a swarm fleet's units are placed when it is planned "
                              "(its files live on that node's disk); plan and apply again")
        spec = service_spec(definition, fleet=self.fleet, node_id=node, image=self.images.pinned(definition.image),
                            constraints=self._pool_constraints(definition), revision=revision)
        service_id = self.api.create_service(spec)
        self._where[definition.name] = node
        self._known.add(definition.name)
        if definition.running:
            self.waits.running(service_id, definition.name, "create")
        return service_id

    def update(self, definition: ContainerDefinition, revision: int) -> None:
        """Bring the service to what fleetops would create, in one update that keeps its ID: a pool-wide
        change (image, limits, placement) after the bots are drained. Swarm replaces the task when the
        task template changes (stop-first, rolled back if the new one fails); never forced."""
        service = self._service(definition.name)
        node = self._pins.get(definition.name) or pinned_node(_constraints_of(service)) or self._where.get(definition.name)
        if not node:
            raise DockerError(f"no node was chosen for {definition.name}: plan and apply again")
        spec = service_spec(definition, fleet=self.fleet, node_id=node, image=self.images.pinned(definition.image),
                            constraints=self._pool_constraints(definition), revision=revision)
        stored = service["Spec"]["TaskTemplate"]
        if "ForceUpdate" in stored:
            spec["TaskTemplate"]["ForceUpdate"] = stored["ForceUpdate"]  # as stored: a new value replaces the task for nothing
        service_id = str(service["ID"])
        before = frozenset(str(t["ID"]) for t in self.api.tasks([service_id]))
        self.api.update_service(service_id, int(service["Version"]["Index"]), spec)
        if definition.running:
            stored = self._service(definition.name)
            old, new = (copy.deepcopy(s.get("TaskTemplate") or {}) for s in (stored.get("PreviousSpec") or {}, stored["Spec"]))
            for template in (old, new):
                (template.get("Placement") or {}).pop("Constraints", None)  # a constraint its node still meets keeps the task
            self.waits.running(service_id, definition.name, "update", stale=before if old != new else frozenset(), update=True)

    def replace(self, definition: ContainerDefinition, revision: int, put_files: Callable[[], None]) -> str:
        """A pool-wide change: the unit's files put, then its service updated in place (``update``: its ID
        kept, its one task replaced stop-first); created when it has no service any more. Its service ID."""
        put_files()
        if self.api.service(definition.name) is None:
            return self.create(definition, revision)
        self.update(definition, revision)
        return str(self._service(definition.name)["ID"])

    def start(self, name: str) -> None:
        """Scale to 1 and return once its task runs (DockerError after ``RUN_WAIT`` seconds, with Swarm's reason)."""
        service = self._scale(name, 1)
        self.waits.running(str(service["ID"]), name, "start")

    def unpause(self, name: str) -> None:
        """The Swarm API has no pause: a task paused by hand on its node is that node's affair. Starts the unit."""
        self._scale(name, 1)

    def stop(self, name: str) -> None:
        """Scale to 0 and return once its task no longer runs (DockerError after ``STOP_WAIT`` seconds)."""
        service = self._scale(name, 0)
        self.waits.ended(str(service["ID"]), name, "stop")

    def restart(self, name: str) -> None:
        """Stop, then start: a new task on the same node (its bots' processes restart)."""
        self.stop(name)
        self.start(name)

    def remove(self, name: str) -> None:
        """Remove the service and return once its task has ended (its files stay on the node)."""
        service = self.api.service(name)
        if service is None:
            return
        self.api.remove_service(str(service["ID"]))
        self.waits.ended(str(service["ID"]), name, "remove")

    def rename(self, name: str, new_name: str) -> None:
        raise DockerError(f"cannot rename service {name} to {new_name}: Docker Swarm does not rename services; remove it "
                          f"(docker service rm {name}) and apply again to create {new_name} on the same node")

    def settings_drift(self, definition: ContainerDefinition, inspected: UnitInspect) -> SettingsDrift | None:
        live = _service_settings(inspected)
        return settings_drift(live, self._wanted(definition, live))

    def restore_settings(self, definition: ContainerDefinition, inspected: UnitInspect) -> None:
        """Set back what keeps the task (service labels, update and rollback settings, and the constraints
        while the task's node meets them) in one service update; the rest waits for ``update``."""
        live = _service_settings(inspected)
        drift = settings_drift(live, self._wanted(definition, live))
        if drift is None:
            return
        fields = {d.path for d in drift.diff} & (IN_PLACE | ({"placement"} if live.node and live.node == self._wanted(definition, live).node
                                                              else set()))
        if not fields:
            return
        service = self._service(definition.name)
        node = self._wanted(definition, live).node
        wanted = service_spec(definition, fleet=self.fleet, node_id=node, image=live.image, constraints=self._pool_constraints(definition),
                              revision=0)
        spec = copy.deepcopy(service["Spec"])
        if "labels" in fields:
            kept = {k: v for k, v in (spec.get("Labels") or {}).items() if k in (Labels.BOTS, Labels.ACCOUNTS, Labels.REVISION)}
            spec["Labels"] = {**{k: v for k, v in wanted["Labels"].items() if k != Labels.REVISION}, **kept}
        if "update_config" in fields:
            spec["UpdateConfig"] = wanted["UpdateConfig"]
        if "rollback_config" in fields:
            spec["RollbackConfig"] = wanted["RollbackConfig"]
        if "placement" in fields:
            spec["TaskTemplate"].setdefault("Placement", {})["Constraints"] = wanted["TaskTemplate"]["Placement"]["Constraints"]
        self.api.update_service(str(service["ID"]), int(service["Version"]["Index"]), spec)

    def foreign(self, inspected: Mapping[str, UnitInspect], recorded: set[str]) -> dict[str, str]:
        """None known: a swarm's services carry no mark of the controller that applied them (open question)."""
        return {}

    def output(self, name: str, lines: int, since: float | None = None) -> str:
        return self.api.service_logs(name, lines, since)

    def memory_of(self, unit: ListedUnit) -> int | None:
        """Unknown here: the node agent reports memory per unit (its node's cgroups)."""
        return None

    def cpu_seconds_of(self, unit: ListedUnit) -> float | None:
        """Unknown on a swarm: its node agents do not report CPU yet (only memory)."""
        return None

    def events(self, since: float | None = None, until: float | None = None) -> Iterator[UnitEvent]:
        """Service events of this fleet from the manager (create, update, remove → destroy), as they happen
        (``since``/``until``, epoch seconds: a past stretch). Task deaths on nodes are not among the
        manager's events: the watcher's periodic look finds them."""
        if not self._known:
            self._seen(with_nodes=False)
        for event in self.api.events({"type": ["service"]}, since, until):
            name = str(((event.get("Actor") or {}).get("Attributes") or {}).get("name", ""))
            action = ACTIONS.get(str(event.get("Action", "")))
            if not name or action is None:
                continue
            if name not in self._known:
                service = self.api.service(name) if action != "destroy" else None
                if service is None or (service["Spec"].get("Labels") or {}).get(Labels.FLEET) != self.fleet:
                    continue
                self._known.add(name)
            yield UnitEvent(name, action)

    # -- helpers ------------------------------------------------------------------------------------

    def _service(self, name: str) -> dict[str, Any]:
        service = self.api.service(name)
        if service is None:
            raise DockerError(f"service {name} is not on the swarm (removed by hand?); plan again to create it")
        return service

    def _pool_constraints(self, definition: ContainerDefinition) -> tuple[str, ...]:
        pool = definition.labels.get(Labels.POOL) or ""
        return self._constraints.get(pool, ()) if pool else ()

    def _wanted(self, definition: ContainerDefinition, live: ServiceSettings) -> ServiceSettings:
        node = self._pins.get(definition.name) or pinned_node(live.constraints) or live.node
        image = self.images.known(definition.image) or definition.image
        return expected_settings(definition, fleet=self.fleet, node_id=node, image=image, constraints=self._pool_constraints(definition))

    def _scale(self, name: str, replicas: int) -> dict[str, Any]:
        """Set the replica count with one update that keeps everything else as stored (retried once when
        another writer updated the service in between)."""
        for attempt in (1, 2):
            service = self._service(name)
            if int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1)) == replicas:
                return service
            spec = copy.deepcopy(service["Spec"])
            spec["Mode"] = {"Replicated": {"Replicas": replicas}}
            try:
                self.api.update_service(str(service["ID"]), int(service["Version"]["Index"]), spec)
                return service
            except DockerError as exc:
                if attempt == 2 or "out of sequence" not in str(exc):
                    raise
        raise AssertionError("unreachable")


def _constraints_of(service: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(c) for c in (((service.get("Spec") or {}).get("TaskTemplate") or {}).get("Placement") or {}).get("Constraints") or [])


def _service_settings(inspected: UnitInspect) -> ServiceSettings:
    if not isinstance(inspected.settings, ServiceSettings):
        raise DockerError(f"internal: a unit inspected by another backend ({type(inspected.settings).__name__})")
    return inspected.settings

