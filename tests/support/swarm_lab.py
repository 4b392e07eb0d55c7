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
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

from tests.support.running_lab import (
    API_VERSION,
    LAB_LABEL,
    NODE_PORT,
    LabNode,
    SwarmLab,
    describe,
    dumps,
    host_client,
    log,
    parallel,
    remove_eventually,
    wait_until,
)

__all__ = [  # the lab's whole interface, from one module (what a running lab offers is in running_lab)
    "API_VERSION", "LAB_LABEL", "NODE_PORT", "OWNER_LABEL", "REGISTRY_IMAGE", "LabNode", "SwarmLab", "add_worker", "build_images", "describe",
    "dumps", "find", "host_client", "labs", "log", "owner_of", "remove_eventually", "remove_leftovers", "remove_worker", "stand_up", "tear_down",
    "wait_until",
]

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_IMAGE = "fleetops/swarm-node:1"
REGISTRY_IMAGE = "fleetops/registry:1"
OWNER_LABEL = "fleetops.lab.owner"
ROLE_LABEL = "fleetops.lab.role"
SUBNETS = ipaddress.ip_network("10.213.0.0/16")
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


def build_images() -> None:
    """The node and registry images, by scripts/build-images (cached by content hash: ~0.2 s when unchanged)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "swarm-node", "registry"], check=True)


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
    for name, role in zip(names, roles, strict=True):
        _start_node(host, prefix, subnet, network.name, name, role, labels)
    log(f"{prefix}: network {subnet}, registry and {len(names)} nodes started")
    nodes = [LabNode(name, role, _ip(host, name, network.name)) for name, role in zip(names, roles, strict=True)]
    registry.reload()
    lab = SwarmLab(prefix, subnet, gateway, nodes, f"{prefix}-registry:5000",
                   f"127.0.0.1:{registry.ports['5000/tcp'][0]['HostPort']}")
    parallel(lambda node: _wait_for_engine(host, lab, node), nodes)
    log(f"{prefix}: every node's engine answers")
    _form_swarm(lab)
    wait_until(lambda: f"http://{lab.registry_from_host}/v2/ answers", lambda: _http_ok(f"http://{lab.registry_from_host}/v2/"), 30)
    log(f"{prefix}: swarm of {managers} manager(s) and {workers} worker(s) Ready, registry answers; stood up in {time.monotonic() - start:.1f} s")
    return lab


def _start_node(host: docker.DockerClient, prefix: str, subnet: str, network: str, name: str, role: str, labels: dict[str, str]) -> None:
    dockerd_args = ["--host=unix:///var/run/docker.sock", f"--host=tcp://0.0.0.0:{NODE_PORT}", "--tls=false", "--storage-driver=overlay2",
                    f"--insecure-registry={prefix}-registry:5000", f"--insecure-registry={subnet}"]
    host.volumes.create(f"{name}-docker", labels=labels)
    host_config = host.api.create_host_config(binds={f"{name}-docker": {"bind": "/var/lib/docker", "mode": "rw"}}, network_mode=network,
                                              **NODE_HOST_CONFIG)
    created = host.api.create_container(NODE_IMAGE, dockerd_args, name=name, hostname=name, labels={**labels, ROLE_LABEL: role},
                                        host_config={**host_config, **UNMASKED})
    host.api.start(created["Id"])


def add_worker(lab: SwarmLab, host: docker.DockerClient | None = None) -> LabNode:
    """A fresh node joins the running lab as a worker (``<prefix>-node<N+1>``, labelled as the lab's other containers,
    so ``tear_down`` removes it too) and is returned once the manager sees it Ready; ``remove_worker`` takes it out."""
    host = host or host_client()
    start = time.monotonic()
    first = host.containers.get(lab.manager.name)
    labels = {k: v for k, v in first.labels.items() if k in (LAB_LABEL, OWNER_LABEL)}
    name = f"{lab.prefix}-node{len(lab.nodes) + 1}"
    _start_node(host, lab.prefix, lab.subnet, f"{lab.prefix}-net", name, "worker", labels)
    node = LabNode(name, "worker", _ip(host, name, f"{lab.prefix}-net"))
    lab.nodes.append(node)
    _wait_for_engine(host, lab, node)
    token = lab.client().swarm.attrs["JoinTokens"]["Worker"]
    lab.client(name).swarm.join(remote_addrs=[f"{lab.manager.ip}:{SWARM_PORT}"], join_token=token, listen_addr=f"0.0.0.0:{SWARM_PORT}",
                                advertise_addr=node.ip)
    wait_until(lambda: f"{name} is Ready in the swarm",
               lambda: any(n.attrs["Description"]["Hostname"] == name and n.attrs["Status"]["State"] == "ready" for n in lab.client().nodes.list()), 60)
    log(f"{name}: joined the swarm as a worker in {time.monotonic() - start:.1f} s")
    return node


def remove_worker(lab: SwarmLab, name: str, host: docker.DockerClient | None = None) -> None:
    """Takes a worker out of the swarm and the lab (its container and volume removed): the lab as it was before ``add_worker``."""
    host = host or host_client()
    for swarm_node in lab.client().nodes.list(filters={"name": name}):
        swarm_node.remove(force=True)
    lab.nodes[:] = [n for n in lab.nodes if n.name != name]
    client = lab._clients.pop(name, None)
    if client is not None:
        client.close()
    host.containers.get(name).remove(force=True, v=True)
    host.volumes.get(f"{name}-docker").remove(force=True)
    log(f"{name}: removed from the swarm and the lab")


def _form_swarm(lab: SwarmLab) -> None:
    first = lab.manager
    lab.client().swarm.init(advertise_addr=first.ip, listen_addr=f"0.0.0.0:{SWARM_PORT}")
    tokens = lab.client().swarm.attrs["JoinTokens"]

    def join(node: LabNode) -> None:
        lab.client(node.name).swarm.join(remote_addrs=[f"{first.ip}:{SWARM_PORT}"], join_token=tokens["Manager" if node.role == "manager" else "Worker"],
                                         listen_addr=f"0.0.0.0:{SWARM_PORT}", advertise_addr=node.ip)

    parallel(join, [n for n in lab.nodes if n is not first])

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

    parallel(lambda c: c.remove(force=True, v=True), [c for c in host.containers.list(all=True, filters=selector) if ours(c.name)])
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


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


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


