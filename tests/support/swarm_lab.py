"""A Docker Swarm lab on the one shared engine: Docker-in-Docker nodes and a registry container.

Who uses it: tests/swarm/conftest.py (one lab per test run), scripts/swarm-lab (humans), and the
benchmarks. Facts it is built on (checked here, /work/shared/SWARM.md): ``--privileged`` fails on
this host, so each node gets every capability but CAP_SYS_RESOURCE, no seccomp, unmasked /proc and
/sys, every device, and an entrypoint that remounts /sys and the cgroups read-write
(scripts/build-images, image ``fleetops/swarm-node:1``); ``/var/lib/docker`` on a named volume
(overlay2 does not work on the container's own overlay filesystem); ``--tls=false`` or dockerd
waits 15 s on purpose at start; the kernel has no IPVS, so services need ``endpoint_mode: dnsrr``.

Layout of the lab named ``<prefix>``, on a bridge network ``<prefix>-net`` with a /24 subnet of its
own (10.213.N.0/24: outside Docker's local pools, 172.17–31 and 192.168, and far from the
10.0.N.0/24 that the swarm hands its overlays):
  <prefix>-node1 … nodeN   dockerd on tcp://<ip>:2375 without TLS (lab use only, CONTRACT.md §8),
                           node1 the swarm's manager (``managers`` of them, the rest workers)
  <prefix>-registry        Debian's docker-registry; nodes pull from ``<prefix>-registry:5000``
                           (``--insecure-registry``), the host pushes to ``127.0.0.1:<port>`` (Docker
                           trusts 127.0.0.0/8 without TLS, and the shared engine cannot be restarted)
Every container, volume and network carries ``fleetops.lab=<prefix>``; a lab stood up by a process
that tears it down itself also carries ``fleetops.lab.owner=<pid>:<start time>``, so a later run
removes what a killed run left (``remove_leftovers``) without touching a live lab or one kept on
purpose by ``scripts/swarm-lab up``. Nothing without the label and the prefix is ever removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
import docker.utils

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_IMAGE = "fleetops/swarm-node:1"
REGISTRY_IMAGE = "fleetops/registry:1"
API_VERSION = "1.41"  # Debian 12's docker.io 20.10, on the host and in the nodes
LAB_LABEL = "fleetops.lab"
OWNER_LABEL = "fleetops.lab.owner"
ROLE_LABEL = "fleetops.lab.role"
SUBNETS = ipaddress.ip_network("10.213.0.0/16")
NODE_PORT = 2375
SWARM_PORT = 2377
# What replaces --privileged (SWARM.md): every capability the VM can grant, no seccomp filter,
# every device node allowed (/dev/fuse passed in where the host has it, for fuse-overlayfs: nodes
# run overlay2, so it is a spare); and /proc and /sys unmasked (the CLI's `--security-opt
# systempaths=unconfined`, which the API spells as empty MaskedPaths and ReadonlyPaths).
NODE_HOST_CONFIG: dict[str, Any] = {
    "cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"], "security_opt": ["seccomp=unconfined"], "device_cgroup_rules": ["a *:* rwm"],
    "devices": ["/dev/fuse:/dev/fuse:rwm"] if Path("/dev/fuse").exists() else [],
}
UNMASKED: dict[str, list[str]] = {"MaskedPaths": [], "ReadonlyPaths": []}
T = TypeVar("T")
_started = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, with seconds since this module was imported."""
    print(f"swarm-lab: [{time.monotonic() - _started:6.1f} s] {message}", file=sys.stderr, flush=True)


def host_client() -> docker.DockerClient:
    """The shared engine (DOCKER_HOST or /var/run/docker.sock) that runs the lab's containers."""
    return docker.DockerClient.from_env(version=API_VERSION, timeout=120)


def build_images() -> None:
    """The node and registry images, by scripts/build-images (cached by content hash: ~0.2 s when unchanged)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "swarm-node", "registry"], check=True)


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
        _parallel(lambda name: self.client(name).images.load(data), list(nodes or [n.name for n in self.nodes]))
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

    def clear(self) -> None:
        """A fresh swarm without a new lab (~1 s): removes every service, secret and config, every
        container on every node, every overlay network but ``ingress``, and every node label.
        Images pulled stay (what a long-lived real node keeps too)."""
        start = time.monotonic()
        manager = self.client()
        for service in manager.services.list():
            service.remove()
        wait_until(lambda: "the removed services' tasks are gone", lambda: not manager.api.tasks(), 60)
        _parallel(lambda node: [c.remove(force=True) for c in self.client(node.name).containers.list(all=True)], self.nodes)
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


def stand_up(prefix: str | None = None, managers: int = 1, workers: int = 2, keep: bool = False,
             host: docker.DockerClient | None = None) -> SwarmLab:
    """Stands up a lab and returns it once every node is Ready in the swarm and the registry answers.
    ``keep``: no owner label, so only ``tear_down`` (scripts/swarm-lab down) removes it. Expects the
    images built (``build_images``). Raises RuntimeError (naming the node) when a node does not come up."""
    host = host or host_client()
    prefix = prefix or f"fleetops-lab-{secrets.token_hex(3)}"
    remove_leftovers(host)
    try:
        return _stand_up(host, prefix, managers, workers, keep)
    except BaseException:
        log(f"{prefix}: standing up failed; removing what was made")
        tear_down(prefix, host)
        raise


def _stand_up(host: docker.DockerClient, prefix: str, managers: int, workers: int, keep: bool) -> SwarmLab:
    start = time.monotonic()
    labels = {LAB_LABEL: prefix, **({} if keep else {OWNER_LABEL: owner_of(os.getpid())})}
    network, subnet = _create_network(host, prefix, labels)
    network.reload()
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    registry = host.containers.run(REGISTRY_IMAGE, name=f"{prefix}-registry", hostname=f"{prefix}-registry", network=network.name,
                                   labels={**labels, ROLE_LABEL: "registry"}, ports={"5000/tcp": ("127.0.0.1", None)}, detach=True)
    roles = ["manager"] * managers + ["worker"] * workers
    names = [f"{prefix}-node{i}" for i in range(1, len(roles) + 1)]
    dockerd_args = ["--host=unix:///var/run/docker.sock", f"--host=tcp://0.0.0.0:{NODE_PORT}", "--tls=false", "--storage-driver=overlay2",
                    f"--insecure-registry={prefix}-registry:5000", f"--insecure-registry={subnet}"]
    for name, role in zip(names, roles, strict=True):
        host.volumes.create(f"{name}-docker", labels=labels)
        host_config = host.api.create_host_config(binds={f"{name}-docker": {"bind": "/var/lib/docker", "mode": "rw"}}, network_mode=network.name,
                                                  **NODE_HOST_CONFIG)
        created = host.api.create_container(NODE_IMAGE, dockerd_args, name=name, hostname=name, labels={**labels, ROLE_LABEL: role},
                                            host_config={**host_config, **UNMASKED})
        host.api.start(created["Id"])
    log(f"{prefix}: network {subnet}, registry and {len(names)} nodes started")
    nodes = [LabNode(name, role, _ip(host, name, network.name)) for name, role in zip(names, roles, strict=True)]
    registry.reload()
    lab = SwarmLab(prefix, subnet, gateway, nodes, f"{prefix}-registry:5000",
                   f"127.0.0.1:{registry.ports['5000/tcp'][0]['HostPort']}")
    _parallel(lambda node: _wait_for_engine(host, lab, node), nodes)
    log(f"{prefix}: every node's engine answers")
    _form_swarm(lab)
    wait_until(lambda: f"http://{lab.registry_from_host}/v2/ answers", lambda: _http_ok(f"http://{lab.registry_from_host}/v2/"), 30)
    log(f"{prefix}: swarm of {managers} manager(s) and {workers} worker(s) Ready, registry answers; stood up in {time.monotonic() - start:.1f} s")
    return lab


def _form_swarm(lab: SwarmLab) -> None:
    first = lab.manager
    lab.client().swarm.init(advertise_addr=first.ip, listen_addr=f"0.0.0.0:{SWARM_PORT}")
    tokens = lab.client().swarm.attrs["JoinTokens"]

    def join(node: LabNode) -> None:
        lab.client(node.name).swarm.join(remote_addrs=[f"{first.ip}:{SWARM_PORT}"], join_token=tokens["Manager" if node.role == "manager" else "Worker"],
                                         listen_addr=f"0.0.0.0:{SWARM_PORT}", advertise_addr=node.ip)

    _parallel(join, [n for n in lab.nodes if n is not first])

    def ready() -> bool:
        states = [n.attrs["Status"]["State"] for n in lab.client().nodes.list()]
        return len(states) == len(lab.nodes) and all(s == "ready" for s in states)

    wait_until(lambda: f"every node Ready ({[n.attrs['Status']['State'] for n in lab.client().nodes.list()]})", ready, 60)


def find(prefix: str, host: docker.DockerClient | None = None) -> SwarmLab | None:
    """The running lab named ``prefix`` (stood up by another process), or None."""
    host = host or host_client()
    containers = {c.name: c for c in host.containers.list(filters={"label": f"{LAB_LABEL}={prefix}"})}
    registry = containers.get(f"{prefix}-registry")
    networks = host.networks.list(names=[f"{prefix}-net"])
    if registry is None or not networks:
        return None
    network = networks[0]
    network.reload()
    nodes = [LabNode(name, c.labels[ROLE_LABEL], c.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"])
             for name, c in sorted(containers.items()) if c.labels.get(ROLE_LABEL) in ("manager", "worker")]
    ipam = network.attrs["IPAM"]["Config"][0]
    return SwarmLab(prefix, ipam["Subnet"], ipam["Gateway"], nodes, f"{prefix}-registry:5000",
                    f"127.0.0.1:{registry.ports['5000/tcp'][0]['HostPort']}")


def labs(host: docker.DockerClient | None = None) -> dict[str, str]:
    """Every lab on the engine: prefix → who owns it (``kept``, ``running (pid N)`` or ``left over (pid N gone)``)."""
    host = host or host_client()
    found: dict[str, str] = {}
    for resource in [*host.containers.list(all=True, filters={"label": LAB_LABEL}), *host.networks.list(filters={"label": LAB_LABEL}),
                     *host.volumes.list(filters={"label": LAB_LABEL})]:
        resource_labels = resource.attrs.get("Labels") or resource.attrs.get("Config", {}).get("Labels") or {}
        owner = resource_labels.get(OWNER_LABEL)
        pid = owner.split(":")[0] if owner else ""
        state = "kept" if not owner else (f"running (pid {pid})" if _alive(owner) else f"left over (pid {pid} gone)")
        found.setdefault(resource_labels[LAB_LABEL], state)
    return found


def remove_leftovers(host: docker.DockerClient | None = None) -> list[str]:
    """Tears down every lab whose owner process is gone (a killed test run); returns their prefixes."""
    host = host or host_client()
    gone = [prefix for prefix, state in labs(host).items() if state.startswith("left over")]
    for prefix in gone:
        log(f"{prefix}: left over by a run that no longer exists; removing it")
        tear_down(prefix, host)
    return gone


def tear_down(prefix: str, host: docker.DockerClient | None = None) -> None:
    """Removes the lab's containers (and anonymous volumes), named volumes and network: only what
    carries ``fleetops.lab=<prefix>`` and is named ``<prefix>-…``."""
    host = host or host_client()
    start = time.monotonic()
    selector = {"label": f"{LAB_LABEL}={prefix}"}

    def ours(name: str) -> bool:
        return name.startswith(f"{prefix}-")

    _parallel(lambda c: c.remove(force=True, v=True), [c for c in host.containers.list(all=True, filters=selector) if ours(c.name)])
    for volume in host.volumes.list(filters=selector):
        if ours(volume.name):
            volume.remove(force=True)
    for network in host.networks.list(filters=selector):
        if ours(network.name):
            network.remove()
    log(f"{prefix}: torn down in {time.monotonic() - start:.1f} s")


def _create_network(host: docker.DockerClient, prefix: str, labels: dict[str, str]) -> tuple[Any, str]:
    """The lab's bridge network on the first free /24 of 10.213.0.0/16 (another lab standing up at
    the same moment may take the same one: Docker refuses the overlap and the next is tried)."""
    taken = {cfg.get("Subnet") for net in host.networks.list() for cfg in (host.api.inspect_network(net.id)["IPAM"]["Config"] or [])}
    for subnet in map(str, SUBNETS.subnets(new_prefix=24)):
        if subnet in taken:
            continue
        try:
            gateway = str(next(ipaddress.ip_network(subnet).hosts()))
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
            return host.networks.create(f"{prefix}-net", driver="bridge", ipam=ipam, labels=labels), subnet
        except docker.errors.APIError as exc:
            if "overlap" not in str(exc):
                raise
    raise RuntimeError(f"no free /24 left in {SUBNETS} for a lab network: remove old labs (scripts/swarm-lab status)")


def _ip(host: docker.DockerClient, name: str, network: str) -> str:
    return str(host.api.inspect_container(name)["NetworkSettings"]["Networks"][network]["IPAddress"])


def _wait_for_engine(host: docker.DockerClient, lab: SwarmLab, node: LabNode) -> None:
    def answers() -> bool:
        if host.api.inspect_container(node.name)["State"]["Status"] != "running":
            logs = host.api.logs(node.name, tail=15).decode(errors="replace")
            raise RuntimeError(f"swarm lab node {node.name} stopped while starting dockerd; its last log lines:\n{logs}")
        try:
            return bool(lab.client(node.name).ping())
        except (docker.errors.APIError, docker.errors.DockerException, OSError):
            return False

    wait_until(lambda: f"{node.name}'s engine answers on {node.ip}:{NODE_PORT}", answers, 60)


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


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until(what: Callable[[], str], condition: Callable[[], bool], timeout: float) -> None:
    """Polls ``condition`` every 0.2 s; RuntimeError saying ``what()`` was awaited after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"swarm lab: timed out after {timeout:.0f} s waiting until {what()}")
        time.sleep(0.2)


def _parallel(action: Callable[[T], object], items: list[T]) -> None:
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        for future in [pool.submit(action, item) for item in items]:
            future.result()


def owner_of(pid: int) -> str:
    """``<pid>:<start time in clock ticks since boot>``: a reused pid does not pass for the owner."""
    return f"{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(owner: str) -> bool:
    pid, _, started = owner.partition(":")
    return pid.isdigit() and _start_time(int(pid)) == started != ""


def describe(lab: SwarmLab) -> dict[str, Any]:
    """The lab as JSON-ready data (scripts/swarm-lab status, benchmarks)."""
    return {"prefix": lab.prefix, "subnet": lab.subnet, "gateway": lab.gateway, "manager_url": lab.manager_url, "registry": lab.registry,
            "registry_from_host": lab.registry_from_host, "nodes": [{"name": n.name, "role": n.role, "ip": n.ip} for n in lab.nodes]}


def dumps(lab: SwarmLab) -> str:
    return json.dumps(describe(lab), indent=2)
