"""Fixtures for tests against the real Docker engine (started by scripts/ensure-docker)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import git
import httpx
import pytest

from engine.demo_repo import commit_all
from engine.live.secrets import api_credentials
from engine.naming import PRELOAD_PROGRAM, Labels, network_name
from tests.conftest import ROOT, Run
from tests.support.repos import FIXED_DATE

FLEET = "testfleet"


@pytest.fixture(scope="session")
def docker_api() -> docker.APIClient:
    subprocess.run([str(ROOT / "scripts" / "ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "base", "standin"], check=True)
    return docker.APIClient(version="1.41")


def remove_fleet(api: docker.APIClient, fleet: str) -> None:
    for container in api.containers(all=True, filters={"label": f"{Labels.FLEET}={fleet}"}):
        api.remove_container(container["Id"], force=True)
    for network in api.networks(names=[network_name(fleet)]):
        api.remove_network(network["Id"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``also_preloaded`` run twice: plain pools, and pools with ``preload: true``."""
    if metafunc.definition.get_closest_marker("also_preloaded"):
        metafunc.parametrize("preloaded", [False, True], ids=["plain", "preloaded"])


@pytest.fixture
def preloaded() -> bool:
    return False


@pytest.fixture
def live(docker_api: docker.APIClient, base_repo: git.Repo, tmp_path: Path, fleetops: Callable[..., Run], preloaded: bool
         ) -> Iterator[LiveFleetHelper]:
    remove_fleet(docker_api, FLEET)
    if preloaded:
        pools = Path(base_repo.working_dir) / "fleet/pools.yaml"
        pools.write_text(re.sub(r"^(capacity: .*)$", r"\1\npreload: true", pools.read_text(), flags=re.M))
        commit_all(base_repo, "preload every pool", when=FIXED_DATE)
    helper = LiveFleetHelper(docker_api, base_repo, tmp_path / "state", fleetops)
    yield helper
    remove_fleet(docker_api, FLEET)


class LiveFleetHelper:
    """The test fleet in a real git repo, applied to the real engine with a state dir of its own."""

    def __init__(self, api: docker.APIClient, repo: git.Repo, state: Path, fleetops: Callable[..., Run]) -> None:
        self.api = api
        self.repo = repo
        self.root = Path(repo.working_dir)
        self.state = state
        self.run = fleetops

    def apply(self, *extra: str) -> Run:
        return self.run("apply", "--repo", str(self.root), "--yes", *extra)

    def plan(self, *extra: str) -> Run:
        return self.run("plan", "--repo", str(self.root), *extra)

    def plan_json(self) -> dict:  # type: ignore[type-arg]
        import json

        result = self.plan("--format", "json")
        assert result.code == 0, result.err
        return json.loads(result.out)

    def programs(self, container: str, settle: float = 5.0) -> dict[str, tuple[str, int | None]]:
        """supervisorctl's own view: program → (state, pid), once no program is STARTING any more."""
        deadline = time.monotonic() + settle
        while True:
            programs = self._programs(container)
            if all(state != "STARTING" for state, _ in programs.values()) or time.monotonic() > deadline:
                return programs
            time.sleep(0.2)

    def _programs(self, container: str) -> dict[str, tuple[str, int | None]]:
        exec_id = self.api.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status"])
        out = self.api.exec_start(exec_id).decode()
        programs = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] != PRELOAD_PROGRAM:
                pid = re.search(r"pid (\d+)", line)
                programs[parts[0]] = (parts[1], int(pid.group(1)) if pid else None)
        return programs

    def preloader_children(self, container: str) -> tuple[str, list[int]] | None:
        """(the preloader's supervisord state, the pids it forked) — None without a preloader."""
        exec_id = self.api.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status", PRELOAD_PROGRAM])
        status = self.api.exec_start(exec_id).decode().split()
        if len(status) < 2 or status[0] != PRELOAD_PROGRAM:
            return None
        script = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
                  "    print(p, open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])")  # comm may hold spaces
        exec_id = self.api.exec_create(container, ["python3", "-c", script])
        table = [tuple(map(int, line.split())) for line in self.api.exec_start(exec_id).decode().splitlines() if line.strip()]
        pid = int(status[3].rstrip(",")) if status[1] == "RUNNING" else 0
        return status[1], [child for child, parent in table if parent == pid]

    def containers(self) -> dict[str, dict]:  # type: ignore[type-arg]
        rows = self.api.containers(all=True, filters={"label": f"{Labels.FLEET}={FLEET}"})
        return {r["Names"][0].lstrip("/"): r for r in rows}

    def ip(self, container: str) -> str:
        info = self.api.inspect_container(container)
        return info["NetworkSettings"]["Networks"][network_name(FLEET)]["IPAddress"]

    def show_config(self, container: str, bot: str, port: int) -> dict:  # type: ignore[type-arg]
        key = (self.state / "api.key").read_bytes()
        creds = api_credentials(key, FLEET, bot)
        response = httpx.get(f"http://{self.ip(container)}:{port}/api/v1/show_config", auth=(creds["username"], creds["password"]), timeout=5)
        response.raise_for_status()
        return response.json()
