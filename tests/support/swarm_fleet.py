"""The test fleet on the swarm lab, driven through the CLI: what every lab test of the swarm backend
uses (tests/swarm/test_*_lab.py). The fleet is tests/support/repos.py's base fleet (pools ``standard``
and ``small``, dedicated bot ``solo``) with ``backend: kind: swarm`` pointing at the lab, its state dir
its own; the stand-in image is loaded into the manager's engine, as an operator's would have it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE
from engine.naming import Labels
from tests.conftest import FREQTRADE_CHECK, ROOT
from tests.support.repos import commit, make_base_repo
from tests.support.running_lab import host_client

if TYPE_CHECKING:
    import docker
    import pytest

    from tests.support.swarm_lab import SwarmLab

FLEET = "testfleet"
IMAGE = "fleetops/standin-bot:1"


@dataclass
class Run:
    code: int
    out: str
    err: str


class SwarmFleet:
    """The test fleet in a git repo, planned and applied by the CLI to the lab's swarm, with a state dir of its own."""

    def __init__(self, lab: SwarmLab, root: Path, state: Path) -> None:
        self.lab = lab
        self.root = root
        self.state = state
        self.manager = lab.client()

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        """``fleetops *args`` with this fleet's state dir; ``env``: more environment (the values secrets reference)."""
        env = {**os.environ, "FLEETOPS_STATE_DIR": str(self.state), "NO_COLOR": "1", PLAIN_TCP_VARIABLE: "1", **FREQTRADE_CHECK, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def apply(self, *extra: str, env: dict[str, str] | None = None) -> Run:
        return self.run("apply", "--repo", str(self.root), "--yes", *extra, env=env)

    def status(self) -> dict[str, Any]:
        result = self.run("status", "--fleet", FLEET, "--format", "json")
        assert result.code == 0, result.err
        found: dict[str, Any] = json.loads(result.out)
        return found

    def services(self) -> dict[str, dict[str, Any]]:
        """The fleet's services as the manager stores them: name → ID, spec version, constraints, image."""
        found = {}
        for service in self.manager.api.services(filters={"label": f"{Labels.FLEET}={FLEET}"}):
            spec = service["Spec"]
            found[spec["Name"]] = {"id": service["ID"], "version": service["Version"]["Index"],
                                   "constraints": spec["TaskTemplate"].get("Placement", {}).get("Constraints", []),
                                   "image": spec["TaskTemplate"]["ContainerSpec"]["Image"]}
        return found

    def tasks(self) -> dict[str, list[tuple[str, str, str]]]:
        """Service name → its tasks as (task ID, node ID, state), every task Swarm keeps (a replaced one too)."""
        names = {s["ID"]: s["Spec"]["Name"] for s in self.manager.api.services()}
        found: dict[str, list[tuple[str, str, str]]] = {}
        for task in self.manager.api.tasks():
            found.setdefault(names.get(task["ServiceID"], "?"), []).append((task["ID"], task.get("NodeID", ""), task["Status"]["State"]))
        return {name: sorted(rows) for name, rows in found.items()}

    def swarm_objects(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Every config and secret of the swarm, as (ID, version)."""
        return (sorted((c.id, c.attrs["Version"]["Index"]) for c in self.manager.configs.list()),
                sorted((s.id, s.attrs["Version"]["Index"]) for s in self.manager.secrets.list()))

    def node_of(self, service: str) -> str:
        """The host name of the node running ``service``'s task."""
        node_ids = {n.id: n.attrs["Description"]["Hostname"] for n in self.manager.nodes.list()}
        running = [t for t in self.manager.api.tasks(filters={"service": service}) if t["Status"]["State"] == "running"]
        assert len(running) == 1, f"{service}: {running}"
        return node_ids[running[0]["NodeID"]]

    def programs(self, service: str, settle: float = 15.0) -> dict[str, tuple[str, int | None]]:
        """supervisorctl's own view inside the pool's task, on its node: program → (state, pid), once no
        program is STARTING any more (supervisord's startsecs)."""
        deadline = time.monotonic() + settle
        while True:
            programs = self._programs(service)
            if all(state != "STARTING" for state, _ in programs.values()) or time.monotonic() > deadline:
                return programs
            time.sleep(0.2)

    def _programs(self, service: str) -> dict[str, tuple[str, int | None]]:
        node = self.node_of(service)
        containers = self.lab.client(node).containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})
        assert len(containers) == 1, f"{service} on {node}: {containers}"
        out = containers[0].exec_run(["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status"]).output.decode()
        programs = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                pid = re.search(r"pid (\d+)", line)
                programs[parts[0]] = (parts[1], int(pid.group(1)) if pid else None)
        return programs


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def applied_to_lab(lab: SwarmLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    """The test fleet committed for a cleared lab swarm (not applied yet); the lab is cleared again after."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "base", "standin"], check=True)
    lab.clear()
    lab.load(IMAGE, nodes=[lab.manager.name])  # the manager's engine has the fleet's image, as an operator's would
    host: docker.DockerClient = host_client()
    for node in lab.nodes:  # the one-time setup of a node (README): the agents' and units' files live here
        host.containers.get(node.name).exec_run(["mkdir", "-p", "/var/lib/fleetops"])
    root = tmp_path_factory.mktemp("swarm-fleet") / "repo"
    repo = make_base_repo(root)
    backend = (f"backend:\n  kind: swarm\n  manager: {lab.manager_url}\n  registry: {lab.registry}\n"
               f"  controller: http://{lab.gateway}:{free_port(lab.gateway)}\n")
    (root / "fleet" / "fleet.yaml").write_text((root / "fleet" / "fleet.yaml").read_text() + backend)
    commit(repo, "run the fleet on the lab's swarm")
    yield SwarmFleet(lab, root, tmp_path_factory.mktemp("swarm-state"))
    lab.clear()  # the other swarm tests start from a swarm without this fleet's services and agents
