"""What tests and benchmarks do with a running swarm lab (stood up by tests/support/swarm_lab.py):
a Docker SDK client per node, node labels, images into the registry or straight into nodes, memory
per container, a fresh swarm without a new lab (``clear``), a node cut off the network and back
(``partition``/``heal``), and the polling helpers Swarm's eventual consistency calls for.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker
import docker.errors
import docker.utils

API_VERSION = "1.41"  # Debian 12's docker.io 20.10, on the host and in the nodes
LAB_LABEL = "fleetops.lab"
NODE_PORT = 2375
T = TypeVar("T")
_started = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, with seconds since this module was imported."""
    print(f"swarm-lab: [{time.monotonic() - _started:6.1f} s] {message}", file=sys.stderr, flush=True)


def host_client() -> docker.DockerClient:
    """The shared engine (DOCKER_HOST or /var/run/docker.sock) that runs the lab's containers."""
    return docker.DockerClient.from_env(version=API_VERSION, timeout=120)


@dataclass(frozen=True)
class LabNode:
    name: str  # container name = hostname = the swarm node's Hostname
    role: str  # "manager" | "worker"
    ip: str  # on the lab network; dockerd answers on tcp://<ip>:2375


@dataclass
class SwarmLab:
    """A running lab. ``registry`` is how nodes name the registry in image references
    (``<prefix>-registry:5000``), ``registry_from_host`` how this machine's engine pushes to it,
    ``gateway`` the host's address as nodes and their tasks reach it (e.g. a controller's URL)."""

    prefix: str
    subnet: str
    gateway: str
    nodes: list[LabNode]
    registry: str
    registry_from_host: str
    _clients: dict[str, docker.DockerClient] = field(default_factory=dict, repr=False)

    @property
    def manager(self) -> LabNode:
        return next(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> list[LabNode]:
        return [n for n in self.nodes if n.role == "worker"]

    @property
    def manager_url(self) -> str:
        """The first manager's Engine API, for DOCKER_HOST or a backend's ``manager:`` (plain TCP)."""
        return f"tcp://{self.manager.ip}:{NODE_PORT}"

    def node(self, name: str) -> LabNode:
        return next(n for n in self.nodes if n.name == name)

    def client(self, node: str | None = None) -> docker.DockerClient:
        """A Docker SDK client to a node's engine (default: the manager), made once and kept."""
        target = self.node(node) if node else self.manager
        if target.name not in self._clients:
            self._clients[target.name] = docker.DockerClient(base_url=f"tcp://{target.ip}:{NODE_PORT}", version=API_VERSION, timeout=60)
        return self._clients[target.name]

    def label_node(self, node: str, labels: dict[str, str | None]) -> None:
        """Sets swarm node labels (placement constraints read ``node.labels.<key>``); None removes a key."""
        def update() -> bool:
            swarm_node = self.client().nodes.get(node)
            spec = swarm_node.attrs["Spec"]
            merged = {**spec.get("Labels", {}), **labels}
            spec["Labels"] = {key: value for key, value in merged.items() if value is not None}
            return _updated(swarm_node, spec)

        wait_until(lambda: f"the labels of node {node} are updated", update, 30)

    def partition(self, node: str, host: docker.DockerClient | None = None) -> None:
        """Cuts a node off the lab network: the swarm, the registry and this machine lose it (and it
        them), its containers keep running: a node behind a network partition."""
        host = host or host_client()
        host.networks.get(f"{self.prefix}-net").disconnect(node)
        self._clients.pop(node, None)
        log(f"{node}: cut off the lab network")

    def heal(self, node: str, host: docker.DockerClient | None = None) -> None:
        """Puts a partitioned node back on the lab network at its old address."""
        host = host or host_client()
        host.networks.get(f"{self.prefix}-net").connect(node, ipv4_address=self.node(node).ip)
        log(f"{node}: back on the lab network")

    def push(self, image: str, host: docker.DockerClient | None = None) -> str:
        """Pushes a local image of the host's engine to the lab registry; returns the reference nodes
        pull it by, pinned by digest: ``<prefix>-registry:5000/<repository>@sha256:…``."""
        host = host or host_client()
        repository, tag = docker.utils.parse_repository_tag(image)
        tag = tag or "latest"
        pushed = f"{self.registry_from_host}/{repository}"
        start = time.monotonic()
        host.images.get(image).tag(pushed, tag)
        digest = ""
        try:
            for line in host.api.push(pushed, tag, stream=True, decode=True):
                if "error" in line:
                    raise RuntimeError(f"push of {image} to the lab registry failed: {line['error']}")
                digest = line.get("aux", {}).get("Digest", digest)
        finally:
            host.api.remove_image(f"{pushed}:{tag}")
        if not digest:
            raise RuntimeError(f"push of {image} to the lab registry reported no digest")
        log(f"pushed {image} as {self.registry}/{repository}@{digest} in {time.monotonic() - start:.1f} s")
        return f"{self.registry}/{repository}@{digest}"

    def load(self, image: str, nodes: Iterable[str] | None = None, host: docker.DockerClient | None = None) -> None:
        """Copies a local image into nodes' engines (``docker save | docker load``), all at once; default
        every node. What a manager that built or pulled an image itself looks like."""
        host = host or host_client()
        start = time.monotonic()
        data = b"".join(host.images.get(image).save(named=True))
        parallel(lambda name: self.client(name).images.load(data), list(nodes or [n.name for n in self.nodes]))
        log(f"loaded {image} ({len(data) / 1e6:.0f} MB) into nodes in {time.monotonic() - start:.1f} s")

    def memory(self, host: docker.DockerClient | None = None) -> dict[str, int]:
        """Memory in use by each lab container, in bytes, as ``docker stats`` counts it (usage less
        inactive page cache: total_inactive_file on cgroup v1, inactive_file on v2)."""
        host = host or host_client()
        result = {}
        for container in host.containers.list(filters={"label": f"{LAB_LABEL}={self.prefix}"}):
            stats = container.stats(stream=False)["memory_stats"]
            detail = stats.get("stats", {})
            result[container.name] = stats["usage"] - detail.get("total_inactive_file", detail.get("inactive_file", 0))
        return result

    def _remove_containers(self, node: str) -> None:
        """Every container on ``node``; one Swarm removed meanwhile (a task's cleanup) is not an error:
        the SDK's ``containers.list`` inspects each container it listed, and raised NotFound for one."""
        import docker

        api = self.client(node).api
        for found in api.containers(all=True):
            try:
                api.remove_container(found["Id"], force=True)
            except docker.errors.NotFound:
                pass

    def clear(self) -> None:
        """A fresh swarm without a new lab (~1 s): removes every service, secret and config, every
        container on every node, every overlay network but ``ingress``, and every node label.
        Images pulled stay (what a long-lived real node keeps too)."""
        start = time.monotonic()
        manager = self.client()
        for service in manager.services.list():
            service.remove()
        wait_until(lambda: "the removed services' tasks are gone", lambda: not manager.api.tasks(), 60)
        parallel(lambda node: self._remove_containers(node.name), self.nodes)
        for item in [*manager.secrets.list(), *manager.configs.list()]:
            remove_eventually(item)
        for network in manager.networks.list(filters={"driver": "overlay"}):
            if network.name != "ingress":
                remove_eventually(network)
        for node in self.nodes:
            self.label_node(node.name, dict.fromkeys(manager.nodes.get(node.name).attrs["Spec"].get("Labels", {})))
        log(f"{self.prefix}: cleared in {time.monotonic() - start:.1f} s")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def remove_eventually(resource: Any, timeout: float = 30) -> None:
    """Removes a swarm object (network, secret, config) and waits until it is gone: the manager
    refuses a secret, and defers a network, while a removed service's tasks still wind down (~5 s)."""
    wait_until(lambda: f"{resource.name} is removed", lambda: _removed(resource), timeout)


def _removed(resource: Any) -> bool:
    try:
        resource.remove()
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:
        return False
    try:
        resource.reload()
    except docker.errors.NotFound:
        return True
    return False


def _updated(swarm_node: Any, spec: dict[str, Any]) -> bool:
    """False when the node changed since it was read ("update out of sequence": its status moves on its own)."""
    try:
        swarm_node.update(spec)
    except docker.errors.APIError as exc:
        if "out of sequence" in str(exc):
            return False
        raise
    return True


def wait_until(what: Callable[[], str], condition: Callable[[], bool], timeout: float) -> None:
    """Polls ``condition`` every 0.2 s; RuntimeError saying ``what()`` was awaited after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"swarm lab: timed out after {timeout:.0f} s waiting until {what()}")
        time.sleep(0.2)


def parallel(action: Callable[[T], object], items: list[T]) -> None:
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        for future in [pool.submit(action, item) for item in items]:
            future.result()


def describe(lab: SwarmLab) -> dict[str, Any]:
    """The lab as JSON-ready data (scripts/swarm-lab status, benchmarks)."""
    return {"prefix": lab.prefix, "subnet": lab.subnet, "gateway": lab.gateway, "manager_url": lab.manager_url, "registry": lab.registry,
            "registry_from_host": lab.registry_from_host, "nodes": [{"name": n.name, "role": n.role, "ip": n.ip} for n in lab.nodes]}


def dumps(lab: SwarmLab) -> str:
    return json.dumps(describe(lab), indent=2)
