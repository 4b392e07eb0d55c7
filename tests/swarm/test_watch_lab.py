"""Promise 8 of issue 19 on the real lab: the watcher on a manager applies merged commits to the swarm, and
its self-heal repairs a bot process stopped on its node and a service removed by hand.

``fleetops watch`` runs here as a real process on the host, following ``main`` of a bare git repo (pushed to
from a clone, as a merge would), listening on the lab's gateway at the test fleet's ``backend.controller``
address: the node agents of the fleet connect there, to the watcher's own server (no CLI runs an apply).
What each test checks is read from the lab itself — services, tasks and supervisorctl inside the pool's task
on its node — not from fleetops. The seconds each step took are printed (``-s``): commit to applied, a
stopped process back, a removed service back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import git
import httpx
import pytest

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE
from tests.conftest import FREQTRADE_CHECK, ROOT
from tests.support.repos import commit, edit
from tests.support.running_lab import host_client
from tests.support.swarm_fleet import FLEET, SwarmFleet

pytestmark = [pytest.mark.swarm, pytest.mark.docker]


POOL = f"{FLEET}-standard-1"
SMALL = f"{FLEET}-small-1"
TOKEN = "watch-lab-ui-token-0123456789abcdef"


class Watching:
    """The watcher process, the clone commits are pushed from, and the fleet on the lab."""

    def __init__(self, fleet: SwarmFleet, proc: subprocess.Popen[str], url: str, work: git.Repo, log: Path) -> None:
        self.fleet, self.proc, self.url, self.work, self.log = fleet, proc, url, work, log

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        return found

    def until(self, predicate: Callable[[], bool], what: str, timeout: float = 120) -> float:
        """Seconds until ``predicate`` held (polled every 0.2 s); fails after ``timeout`` with the watcher's log."""
        started = time.monotonic()
        while True:
            assert self.proc.poll() is None, f"the watcher exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}"
            try:
                if predicate():
                    return time.monotonic() - started
            except (AssertionError, httpx.HTTPError):
                pass  # a task between states, a service being recreated: look again
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; log:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)

    def push(self, message: str) -> str:
        sha = commit(self.work, message)
        self.work.git.push("-q", "origin", "main")
        return sha

    def applied(self, sha: str) -> Callable[[], bool]:
        return lambda: self.status()["queue"]["applied"] == sha

    def in_task(self, service: str, *command: str) -> str:
        """``command`` run inside ``service``'s task, on its node (what an operator would do with docker exec there)."""
        node = self.fleet.node_of(service)
        container = self.fleet.lab.client(node).containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})[0]
        result = container.exec_run(list(command))
        assert result.exit_code == 0, result.output.decode()
        return str(result.output.decode())

    def on_node(self, node: str, *command: str) -> str:
        """``command`` run on the node itself (the Docker-in-Docker container), where the units' directories are."""
        result = host_client().containers.get(node).exec_run(list(command))
        assert result.exit_code == 0, result.output.decode()
        return str(result.output.decode())


@pytest.fixture(scope="module")
def watching(fleet: SwarmFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watching]:
    """``fleetops watch`` on the fleet's branch, listening where the fleet's agents connect (``backend.controller``)."""
    where = tmp_path_factory.mktemp("watch")
    controller = re.search(r"controller: http://([\d.]+):(\d+)", (fleet.root / "fleet" / "fleet.yaml").read_text())
    assert controller is not None
    bare = where / "origin.git"
    git.Repo.clone_from(fleet.root, bare, bare=True)
    work = git.Repo.clone_from(bare, where / "work")
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(fleet.state), "NO_COLOR": "1", PLAIN_TCP_VARIABLE: "1",
           "FLEETOPS_UI_TOKEN": TOKEN, **FREQTRADE_CHECK}
    log = where / "watch.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(bare), "--interval", "1", "--resync", "2",
                                 "--listen", f"{controller[1]}:{controller[2]}", "--log-format", "json"],
                                cwd=ROOT, env=env, stdout=out, stderr=out, text=True)
    watching = Watching(fleet, proc, f"http://{controller[1]}:{controller[2]}", work, log)
    try:
        watching.until(lambda: httpx.get(f"{watching.url}/healthz", timeout=1).status_code == 200, "the watcher's server", 30)
        yield watching
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(log.read_text())


def test_the_watcher_applies_the_branch_head_at_start(watching: Watching) -> None:
    """(a) Started on a swarm without the fleet, the watcher applies the head of ``main``: every unit a service, every bot running."""
    took = watching.until(watching.applied(watching.work.head.commit.hexsha), "the head applied at start", 240)
    print(f"\nwatcher: cold apply of the branch head in {took:.1f} s")
    assert set(watching.fleet.services()) == {POOL, SMALL, f"{FLEET}-bot-solo"}
    assert {p: s for p, (s, _pid) in watching.fleet.programs(POOL).items()} == dict.fromkeys(("alpha-1", "alpha-2", "beta-1"), "RUNNING")
    assert watching.status()["last_apply"]["result"] == "applied"


def test_a_merged_commit_restarts_only_the_bot_it_changes(watching: Watching) -> None:
    """(b) A commit pushed to the branch (alpha-1's stoploss) is applied by the watcher: alpha-1's process alone restarts;
    its neighbours' PIDs, every task and every service's spec version are unchanged."""
    fleet = watching.fleet
    before, tasks, services = fleet.programs(POOL), fleet.tasks(), fleet.services()
    edit(Path(watching.work.working_dir) / "fleet" / "bots.yaml", "stoploss: -0.10", "stoploss: -0.11")
    sha = watching.push("alpha-1: a tighter stoploss")
    took = watching.until(watching.applied(sha), "the commit applied")
    print(f"\nwatcher: commit pushed to applied (health gate passed) in {took:.1f} s")
    after = fleet.programs(POOL)
    assert after["alpha-1"][0] == "RUNNING" and after["alpha-1"][1] != before["alpha-1"][1], (before, after)
    assert {b: after[b] for b in ("alpha-2", "beta-1")} == {b: before[b] for b in ("alpha-2", "beta-1")}
    assert fleet.tasks() == tasks
    assert fleet.services() == services
    node = fleet.node_of(POOL)
    config = watching.on_node(node, "cat", f"/var/lib/fleetops/{FLEET}/{POOL}/etc/bots/alpha-1/config.json")
    assert '"stoploss": -0.11' in config


def test_a_stopped_bot_process_is_started_again_by_the_watcher(watching: Watching) -> None:
    """(c) alpha-2's process stopped by hand on its node (supervisord does not bring back what it was told to stop): the
    watcher's self-heal starts it again; its neighbours and the task are untouched. A process killed outright
    (SIGKILL) supervisord restarts on its own; the watcher counts that and changes nothing else."""
    fleet = watching.fleet
    before, tasks = fleet.programs(POOL), fleet.tasks()
    watching.in_task(POOL, "supervisorctl", "-c", "/fleet/etc/supervisord.conf", "stop", "alpha-2")
    assert fleet.programs(POOL)["alpha-2"][0] == "STOPPED"
    took = watching.until(lambda: fleet.programs(POOL, settle=0)["alpha-2"][0] == "RUNNING", "alpha-2 started again", 60)
    print(f"\nwatcher: a stopped bot process running again after {took:.1f} s")
    after = fleet.programs(POOL)
    assert after["alpha-2"][1] != before["alpha-2"][1]
    assert {b: after[b] for b in ("alpha-1", "beta-1")} == {b: before[b] for b in ("alpha-1", "beta-1")}
    assert fleet.tasks() == tasks
    repairs = [line for line in watching.log.read_text().splitlines() if '"repair"' in line and "alpha-2" in line]
    assert repairs, watching.log.read_text()[-3000:]

    pid = fleet.programs(POOL)["beta-1"][1]
    watching.in_task(POOL, "kill", "-9", str(pid))
    took = watching.until(lambda: fleet.programs(POOL, settle=0)["beta-1"][0] == "RUNNING"
                          and fleet.programs(POOL, settle=0)["beta-1"][1] != pid, "beta-1 running again", 60)
    print(f"watcher: a SIGKILLed bot process running again after {took:.1f} s (supervisord's autorestart)")
    time.sleep(5)  # two more resyncs: the watcher adds no restart of its own, and touches no neighbour
    now = fleet.programs(POOL)
    assert now["alpha-1"] == after["alpha-1"] and now["alpha-2"] == after["alpha-2"] and fleet.tasks() == tasks


def test_a_removed_service_is_recreated_on_its_node_with_its_data(watching: Watching) -> None:
    """(d) Pool small's service removed by hand (``docker service rm``): the watcher creates it again on the same node,
    with euro-1 running from the same directory on that node — a file left in its data directory is still there —
    and no other unit's task or spec touched."""
    fleet = watching.fleet
    node, services, tasks = fleet.node_of(SMALL), fleet.services(), fleet.tasks()
    marker = f"/var/lib/fleetops/{FLEET}/{SMALL}/data/bots/euro-1/kept-by-the-test"
    watching.on_node(node, "sh", "-c", f"echo trade-data > {marker}")
    fleet.manager.services.get(SMALL).remove()
    took = watching.until(lambda: SMALL in fleet.services() and fleet.programs(SMALL, settle=0).get("euro-1", ("", None))[0] == "RUNNING",
                          "pool small's service and euro-1 back", 120)
    print(f"\nwatcher: a removed service recreated, its bot running, after {took:.1f} s")
    assert fleet.node_of(SMALL) == node
    assert fleet.services()[SMALL]["id"] != services[SMALL]["id"]
    assert watching.on_node(node, "cat", marker).strip() == "trade-data"
    assert {n: s for n, s in fleet.services().items() if n != SMALL} == {n: s for n, s in services.items() if n != SMALL}
    assert {n: t for n, t in fleet.tasks().items() if n not in (SMALL, "?")} == {n: t for n, t in tasks.items() if n not in (SMALL, "?")}


def test_the_watcher_stops_cleanly_on_sigterm(watching: Watching) -> None:
    """(e) SIGTERM: the watcher finishes what it does and exits 0; the fleet keeps running."""
    watching.proc.terminate()
    assert watching.proc.wait(timeout=60) == 0
    assert {p: s for p, (s, _pid) in watching.fleet.programs(POOL).items()} == dict.fromkeys(("alpha-1", "alpha-2", "beta-1"), "RUNNING")
