"""A small swarm behind the Docker SDK's ``APIClient`` method names: the seam ``engine.backend.swarm.api`` talks to.

What it keeps of Swarm is what the swarm backend's decisions lean on (each checked on the real lab
in tests/swarm): specs stored as sent, networks stored by the IDs their names resolve to, a version
index that refuses a stale update ("update out of sequence"), no renames, a task replaced exactly
when swarmkit calls it dirty (the task template changed, except constraints alone that its node
still meets; service labels, update and rollback settings and replicas never), one replica placed
on a node meeting the constraints, tasks of a removed service listed only without a service
filter while they stop, a down node's task left running, pushes that answer a digest. Failures are
injected per method (``fail``), as the SDK raises them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker.errors


def _stored(key: str, value: dict[str, Any]) -> dict[str, Any]:
    """Update and rollback settings as Docker stores them: ``MaxFailureRatio`` written when not given."""
    stored = copy.deepcopy(value)
    if key in ("UpdateConfig", "RollbackConfig"):
        stored.setdefault("MaxFailureRatio", 0)
    return stored


def _constraint_met(constraint: str, node: dict[str, Any]) -> bool:
    op = "==" if "==" in constraint else "!="
    key, value = (part.strip() for part in constraint.split(op, 1))
    actual = {"node.id": node["ID"], "node.hostname": node["Description"]["Hostname"], "node.role": node["Spec"]["Role"]}.get(key.lower())
    if actual is None and key.lower().startswith("node.labels."):
        actual = node["Spec"].get("Labels", {}).get(key[len("node.labels."):], "")
    return (str(actual).lower() == value.lower()) == (op == "==")


@dataclass
class FakeSwarm:
    """The SDK client of a manager of a swarm with ``nodes`` (host names)."""

    nodes_: list[dict[str, Any]] = field(default_factory=list)
    services_: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks_: list[dict[str, Any]] = field(default_factory=list)
    networks_: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, bytes] = field(default_factory=dict)
    events_: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Image ID → {"Id", "RepoTags", "RepoDigests"} on the manager's engine."""
    registry: dict[str, str] = field(default_factory=dict)
    """``repository:tag`` → digest the registry holds."""
    fail: dict[str, Exception] = field(default_factory=dict)
    linger: int = 0
    """How many task listings a stopping task still shows as running (its grace period)."""
    calls: list[str] = field(default_factory=list)
    swarm_state: dict[str, Any] = field(default_factory=lambda: {"LocalNodeState": "active", "ControlAvailable": True})
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _index: Iterator[int] = field(default_factory=lambda: itertools.count(10))
    _stopping: dict[str, int] = field(default_factory=dict)

    @classmethod
    def with_nodes(cls, *hostnames: str, labels: dict[str, dict[str, str]] | None = None) -> FakeSwarm:
        swarm = cls()
        for i, host in enumerate(hostnames):
            swarm.nodes_.append({"ID": f"node{i + 1}id", "Description": {"Hostname": host, "Platform": {"OS": "linux", "Architecture": "x86_64"}},
                                 "Spec": {"Role": "manager" if i == 0 else "worker", "Availability": "active",
                                          "Labels": dict((labels or {}).get(host, {}))},
                                 "Status": {"State": "ready"}})
        return swarm

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail.pop(name)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    # -- swarm -------------------------------------------------------------------------------------

    def ping(self) -> bool:
        self._enter("ping")
        return True

    def info(self) -> dict[str, Any]:
        self._enter("info")
        return {"Swarm": dict(self.swarm_state)}

    def nodes(self, filters: Any = None) -> list[dict[str, Any]]:
        self._enter("nodes")
        return copy.deepcopy(self.nodes_)

    def node(self, host: str) -> dict[str, Any]:
        return next(n for n in self.nodes_ if n["Description"]["Hostname"] == host)

    # -- services and tasks -------------------------------------------------------------------------

    def _find(self, name_or_id: str) -> dict[str, Any]:
        for service in self.services_.values():
            if name_or_id in (service["ID"], service["Spec"]["Name"]):
                return service
        raise docker.errors.NotFound(f"service {name_or_id} not found", explanation=f"service {name_or_id} not found")

    def services(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._enter("services")
        wanted = [f.partition("=") for f in (filters or {}).get("label", [])]  # key=value, or a key alone
        return [copy.deepcopy(s) for s in self.services_.values()
                if all(k in (labels := s["Spec"].get("Labels") or {}) and (not eq or labels[k] == v) for k, eq, v in wanted)]

    def inspect_service(self, service: str, insert_defaults: bool | None = None) -> dict[str, Any]:
        self._enter("inspect_service")
        return copy.deepcopy(self._find(service))

    def create_service(self, task_template: dict[str, Any], name: str | None = None, labels: dict[str, str] | None = None,
                       mode: dict[str, Any] | None = None, update_config: Any = None, networks: Any = None, endpoint_config: Any = None,
                       endpoint_spec: Any = None, rollback_config: Any = None) -> dict[str, str]:
        self._enter("create_service")
        if any(s["Spec"]["Name"] == name for s in self.services_.values()):
            raise docker.errors.APIError("conflict", explanation=f"rpc error: code = AlreadyExists desc = name conflicts with an existing object: {name}")
        spec = {"Name": name, "Labels": labels or {}, "TaskTemplate": self._resolved(task_template), "Mode": mode or {"Replicated": {"Replicas": 1}}}
        for key, value in (("UpdateConfig", update_config), ("RollbackConfig", rollback_config), ("EndpointSpec", endpoint_spec)):
            if value is not None:
                spec[key] = _stored(key, value)
        service_id = self._id("svc")
        self.services_[service_id] = {"ID": service_id, "Version": {"Index": next(self._index)}, "Spec": spec}
        self._event("create", name or "")
        self._converge(self.services_[service_id])
        return {"ID": service_id}

    def _resolved(self, task_template: dict[str, Any]) -> dict[str, Any]:
        """As Docker 20.10 stores a task template (seen on the lab): network names resolved to IDs,
        ``ForceUpdate: 0`` and ``Runtime`` written, empty lists and an empty user left out."""
        template = copy.deepcopy(task_template)
        template.setdefault("ForceUpdate", 0)
        template.setdefault("Runtime", "container")
        container = template.get("ContainerSpec") or {}
        for key in [k for k, v in container.items() if v in ([], "")]:
            del container[key]
        for network in template.get("Networks") or []:
            found = next((n for n in self.networks_.values() if network["Target"] in (n["Id"], n["Name"])), None)
            if found is None:
                raise docker.errors.APIError("not found", explanation=f"network {network['Target']} not found")
            network["Target"] = found["Id"]
        return template

    def update_service(self, service: str, version: int, task_template: dict[str, Any] | None = None, name: str | None = None,
                       labels: dict[str, str] | None = None, mode: dict[str, Any] | None = None, update_config: Any = None,
                       networks: Any = None, endpoint_config: Any = None, endpoint_spec: Any = None, fetch_current_spec: bool = False,
                       rollback_config: Any = None) -> dict[str, Any]:
        self._enter("update_service")
        stored = self._find(service)
        if version != stored["Version"]["Index"]:
            raise docker.errors.APIError("out of sequence", explanation="rpc error: code = Unknown desc = update out of sequence")
        if name is not None and name != stored["Spec"]["Name"]:
            raise docker.errors.APIError("rename", explanation="rpc error: code = Unimplemented desc = renaming services is not supported")
        before = stored["Spec"]
        after = {"Name": before["Name"], "Labels": labels or {}, "TaskTemplate": self._resolved(task_template or {}),
                 "Mode": mode or before["Mode"]}
        for key, value in (("UpdateConfig", update_config), ("RollbackConfig", rollback_config), ("EndpointSpec", endpoint_spec)):
            if value is not None:
                after[key] = _stored(key, value)
        stored["PreviousSpec"], stored["Spec"] = before, after
        stored["Version"]["Index"] = next(self._index)
        self._event("update", after["Name"])
        running = self._current(stored["ID"])
        if running is not None and self._dirty(before["TaskTemplate"], after["TaskTemplate"], running["NodeID"]):
            self._end(running, "shutdown")
        self._converge(stored)
        return {"Warnings": None}

    def _dirty(self, before: dict[str, Any], after: dict[str, Any], node_id: str) -> bool:
        """swarmkit's IsTaskDirty: the task template changed, but for constraints alone its node still meets."""
        if before == after:
            return False
        strip = [copy.deepcopy(t) for t in (before, after)]
        for t in strip:
            t.setdefault("Placement", {}).pop("Constraints", None)
        node = next(n for n in self.nodes_ if n["ID"] == node_id)
        return strip[0] != strip[1] or not all(_constraint_met(c, node) for c in (after.get("Placement") or {}).get("Constraints") or [])

    def remove_service(self, service: str) -> bool:
        self._enter("remove_service")
        stored = self._find(service)
        del self.services_[stored["ID"]]
        self._event("remove", stored["Spec"]["Name"])
        for task in self.tasks_:
            if task["ServiceID"] == stored["ID"]:
                task["DesiredState"] = "remove"
                if task["Status"]["State"] == "running":
                    self._stopping[task["ID"]] = self.linger
        return True

    def tasks(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._enter("tasks")
        for task_id, left in list(self._stopping.items()):  # time passes between listings
            if left <= 0:
                del self._stopping[task_id]
                task = next(t for t in self.tasks_ if t["ID"] == task_id)
                task["Status"]["State"] = "shutdown" if task["DesiredState"] != "remove" else "complete"
            else:
                self._stopping[task_id] = left - 1
        services = (filters or {}).get("service")
        if services is None:
            return copy.deepcopy(self.tasks_)
        ids = {self._find(s)["ID"] for s in services}
        return [copy.deepcopy(t) for t in self.tasks_ if t["ServiceID"] in ids]

    def _current(self, service_id: str) -> dict[str, Any] | None:
        return next((t for t in reversed(self.tasks_) if t["ServiceID"] == service_id and t["DesiredState"] == "running"), None)

    def _end(self, task: dict[str, Any], state: str) -> None:
        task["DesiredState"] = "shutdown"
        if self.linger and task["Status"]["State"] == "running":
            self._stopping[task["ID"]] = self.linger
        else:
            task["Status"]["State"] = state

    def _converge(self, service: dict[str, Any]) -> None:
        replicas = service["Spec"]["Mode"]["Replicated"]["Replicas"]
        current = self._current(service["ID"])
        if replicas == 0 and current is not None:
            self._end(current, "shutdown")
        elif replicas == 1 and current is None:
            constraints = (service["Spec"]["TaskTemplate"].get("Placement") or {}).get("Constraints") or []
            node = next((n for n in self.nodes_ if n["Spec"]["Availability"] == "active" and all(_constraint_met(c, n) for c in constraints)), None)
            self.tasks_.append({"ID": self._id("task"), "ServiceID": service["ID"], "NodeID": node["ID"] if node else "",
                                "Slot": 1, "CreatedAt": f"2026-01-01T00:00:{next(self._ids):02d}Z", "Version": {"Index": next(self._index)},
                                "DesiredState": "running", "Spec": copy.deepcopy(service["Spec"]["TaskTemplate"]),
                                "Status": {"State": "running", "ContainerStatus": {"ContainerID": f"{next(self._ids):064x}"}}
                                if node else {"State": "pending"}})

    def kill_task(self, service: str, state: str = "failed") -> None:
        """The task's process died on its node; Swarm's restart policy starts another."""
        stored = self._find(service)
        current = self._current(stored["ID"])
        assert current is not None
        current["Status"]["State"], current["DesiredState"] = state, "shutdown"
        self._converge(stored)

    def service_logs(self, service: str, **kwargs: Any) -> Iterator[bytes]:
        self._enter("service_logs")
        self._find(service)
        lines = self.logs.get(service, b"").splitlines(keepends=True)
        tail = kwargs.get("tail", "all")
        return iter(lines[-tail:] if isinstance(tail, int) and tail else lines)

    def _event(self, action: str, name: str) -> None:
        self.events_.append({"Type": "service", "Action": action, "Actor": {"ID": "x", "Attributes": {"name": name}}})

    def events(self, since: Any = None, until: Any = None, filters: dict[str, Any] | None = None, decode: bool | None = None) -> Iterator[dict[str, Any]]:
        self._enter("events")
        types = (filters or {}).get("type")
        return iter([copy.deepcopy(e) for e in self.events_ if not types or e["Type"] in types])

    # -- networks, secrets, configs -----------------------------------------------------------------

    def networks(self, names: list[str] | None = None, ids: Any = None, filters: Any = None) -> list[dict[str, Any]]:
        self._enter("networks")
        return [copy.deepcopy(n) for n in self.networks_.values() if not names or any(name in n["Name"] for name in names)]

    def create_network(self, name: str, driver: str | None = None, attachable: bool | None = None, labels: Any = None, **_: Any) -> dict[str, str]:
        self._enter("create_network")
        network_id = self._id("net")
        self.networks_[network_id] = {"Id": network_id, "Name": name, "Driver": driver, "Attachable": attachable, "Labels": labels or {}}
        return {"Id": network_id}

    # -- images ---------------------------------------------------------------------------------------

    def _image(self, reference: str) -> dict[str, Any]:
        for image in self.images.values():
            if reference in (image["Id"], *image["RepoTags"], *image["RepoDigests"]):
                return image
        raise docker.errors.ImageNotFound(f"No such image: {reference}", explanation=f"No such image: {reference}")

    def inspect_image(self, image: str) -> dict[str, Any]:
        self._enter("inspect_image")
        return copy.deepcopy(self._image(image))

    def tag(self, image: str, repository: str, tag: str | None = None, force: bool = False) -> bool:
        self._enter("tag")
        name = f"{repository}:{tag or 'latest'}"
        for other in self.images.values():
            if name in other["RepoTags"]:
                other["RepoTags"].remove(name)
        self._image(image)["RepoTags"].append(name)
        return True

    def push(self, repository: str, tag: str | None = None, stream: bool = False, decode: bool = False, **_: Any) -> Iterator[dict[str, Any]]:
        self._enter("push")
        image = self._image(f"{repository}:{tag}")
        digest = "sha256:" + hashlib.sha256(f"{image['Id']} {repository}".encode()).hexdigest()
        self.registry[f"{repository}:{tag}"] = digest
        if f"{repository}@{digest}" not in image["RepoDigests"]:
            image["RepoDigests"].append(f"{repository}@{digest}")
        return iter([{"status": "Pushing"}, {"status": f"{tag}: digest: {digest} size: 1234"}, {"aux": {"Tag": tag, "Digest": digest, "Size": 1234}}])

    def inspect_distribution(self, image: str, auth_config: Any = None) -> dict[str, Any]:
        self._enter("inspect_distribution")
        repository, _, digest = image.partition("@")
        found = digest if digest and digest in self.registry.values() else self.registry.get(image if not digest else "")
        if not found:
            raise docker.errors.APIError("manifest unknown", explanation=f"manifest unknown: manifest unknown for {repository}")
        return {"Descriptor": {"digest": found}}
