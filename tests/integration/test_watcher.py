"""The watcher end to end: a real bare git repo, the real Docker engine, real HTTP, a real process.

Each step pushes a commit (or breaks something by hand) and checks what the fleet looks like
afterwards, through the watcher's own /api/status and /metrics and through supervisorctl.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import git
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import commit, edit

STANDARD = f"{FLEET}-standard-1"


class Daemon:
    def __init__(self, proc: subprocess.Popen[str], url: str, work: git.Repo, live: LiveFleetHelper) -> None:
        self.proc, self.url, self.work, self.live = proc, url, work, live
        self.log: Path | None = None

    def status(self) -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{self.url}/api/status", timeout=5).json()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}

    def until(self, predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"the watcher exited with {self.proc.returncode}"
            if predicate():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; status: {self.status()}")
            time.sleep(0.3)

    def push(self, message: str, tag: str | None = None) -> str:
        sha = commit(self.work, message, tag=tag)
        self.work.git.push("-q", "origin", "main", "--tags")
        return sha

    def applied(self, sha: str) -> Callable[[], bool]:
        return lambda: self.status()["queue"]["applied"] == sha

    def pid(self, bot: str) -> int | None:
        return self.live.programs(STANDARD)[bot][1]


@pytest.fixture
def daemon(live: LiveFleetHelper, tmp_path: Path) -> Iterator[Daemon]:
    yield from _daemon(live, tmp_path, resync=1)


@pytest.fixture
def prompt_daemon(live: LiveFleetHelper, tmp_path: Path) -> Iterator[Daemon]:
    """A watcher whose resync is 60 s: whatever it repairs sooner, Docker's events or the bots' exits made it do."""
    yield from _daemon(live, tmp_path, resync=60)


def _daemon(live: LiveFleetHelper, tmp_path: Path, resync: int) -> Iterator[Daemon]:
    bare = tmp_path / "origin.git"
    edit(live.root / "fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 10")
    commit(live.repo, "short health timeout")
    git.Repo.clone_from(live.root, bare, bare=True)
    work = git.Repo.clone_from(bare, tmp_path / "work")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(live.state), "NO_COLOR": "1"}
    log = open(tmp_path / "watch.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(bare), "--interval", "1", "--resync", str(resync),
                             "--listen", f"127.0.0.1:{port}", "--log-format", "json"], cwd=ROOT, env=env, stdout=log, stderr=log, text=True)
    d = Daemon(proc, f"http://127.0.0.1:{port}", work, live)
    d.log = tmp_path / "watch.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{d.url}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield d
    if proc.poll() is None:
        proc.kill()
    log.close()
    print((tmp_path / "watch.log").read_text()[-5000:])


def test_the_watcher_applies_quarantines_heals_and_stops(daemon: Daemon) -> None:
    root = Path(daemon.work.working_dir)
    daemon.until(daemon.applied(daemon.work.head.commit.hexsha), "the head at start")

    bots = root / "fleet/bots.yaml"
    bots.write_text(bots.read_text() + "---\nkind: Bot\nname: added\nwallet: main\nallocation: 100\npool: small\n"
                    "strategy: Alpha@v1\npairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n")
    added = daemon.push("add a bot")
    daemon.until(daemon.applied(added), "the added bot")
    assert daemon.live.programs(f"{FLEET}-small-1")["added"][0] == "RUNNING"

    before = ({n: c["Id"] for n, c in daemon.live.containers().items()}, daemon.live.programs(STANDARD))
    (root / "fleet/pools.yaml").write_text((root / "fleet/pools.yaml").read_text() + "capacity: [oops\n")
    broken_yaml = daemon.push("a YAML error")
    daemon.until(lambda: any(q["commit"] == broken_yaml for q in daemon.status()["quarantine"]), "quarantine of the YAML error")
    assert ({n: c["Id"] for n, c in daemon.live.containers().items()}, daemon.live.programs(STANDARD)) == before
    assert daemon.metrics()[("fleetops_quarantined_commits", ())] == 1
    daemon.until(lambda: any(name == "freqtrade_bot_up" and ("bot", "added") in labels and value == 1
                             for (name, labels), value in daemon.metrics().items()), "the added bot's series on /metrics")
    assert [dict(labels)["status"] for (name, labels), _ in daemon.metrics().items() if name == "fleetops_sync_info"] == ["OutOfSync"]  # its head is quarantined
    assert httpx.get(f"{daemon.url}/healthz").status_code == 200

    (root / "fleet/pools.yaml").write_text((root / "fleet/pools.yaml").read_text().replace("capacity: [oops\n", ""))
    fixed = daemon.push("fix the YAML")
    daemon.until(daemon.applied(fixed), "the fix")

    # loads (the plan's load check passes) but raises on every candle: its health gate fails and it is rolled back
    (root / "strategies/Alpha.py").write_text((root / "strategies/Alpha.py").read_text() + "\nSTANDIN_LOOP_ERROR = \"RuntimeError('broken')\"\n")
    daemon.push("Alpha v3, broken", tag="v3")
    edit(bots, "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    broken_strategy = daemon.push("use Alpha v3")
    daemon.until(lambda: any(q["commit"] == broken_strategy for q in daemon.status()["quarantine"]), "rollback and quarantine")
    assert daemon.status()["last_apply"]["result"] == "rolled_back"
    revisions = len(daemon.live.run("history", "--format", "json").out.split('"revision"'))
    time.sleep(5)  # five more polls: a quarantined commit is never retried
    assert len(daemon.live.run("history", "--format", "json").out.split('"revision"')) == revisions
    assert daemon.live.programs(STANDARD)["alpha-2"][0] == "RUNNING"

    daemon.live.api.stop(f"{FLEET}-small-1", timeout=5)
    daemon.until(lambda: daemon.live.containers()[f"{FLEET}-small-1"]["State"] == "running", "the stopped container restored")

    neighbours = {b: daemon.pid(b) for b in ("alpha-1", "alpha-2")}
    old = daemon.pid("beta-1")
    daemon.live.api.exec_start(daemon.live.api.exec_create(STANDARD, ["kill", "-9", str(old)]))
    daemon.until(lambda: daemon.live.programs(STANDARD)["beta-1"][0] == "RUNNING" and daemon.pid("beta-1") != old, "beta-1 restarted")
    assert {b: daemon.pid(b) for b in neighbours} == neighbours  # restarted alone

    for _ in range(10):  # kill it again and again (each restart is counted) until the guard says failing
        if "beta-1" in daemon.status()["failing"]:
            break
        pid = daemon.pid("beta-1")
        if pid is None:
            break
        daemon.live.api.exec_start(daemon.live.api.exec_create(STANDARD, ["kill", "-9", str(pid)]))
        daemon.until(lambda pid=pid: daemon.pid("beta-1") != pid, "beta-1 restarted or stopped")
        time.sleep(2.5)  # a resync sees each new pid
    daemon.until(lambda: "beta-1" in daemon.status()["failing"], "beta-1 marked failing")
    daemon.until(lambda: daemon.live.programs(STANDARD)["beta-1"][0] == "STOPPED", "beta-1 stopped")
    time.sleep(3)
    assert daemon.live.programs(STANDARD)["beta-1"][0] == "STOPPED"  # not looped
    assert daemon.metrics()[("fleetops_bots", (("state", "failing"),))] == 1

    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=60) == 0


def _kill_dedicated_bot(live: LiveFleetHelper, container: str) -> None:
    """SIGKILL the bot process of a dedicated container (the child of its init, PID 1): its init exits with it."""
    script = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
              "    if open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == '1': os.kill(int(p), 9)")
    live.api.exec_start(live.api.exec_create(container, ["python3", "-c", script]))


def test_prompt_self_heal_flaps_and_an_apply_outside_the_watcher(prompt_daemon: Daemon) -> None:
    """With a 60 s resync: a stopped container and killed bots (pool and dedicated) are back within seconds,
    every restart is counted (the third kill of one bot marks it failing), and an apply made by hand from an
    unpushed commit is reported OutOfSync and brought back to the branch head."""
    d = prompt_daemon
    head = d.work.head.commit.hexsha
    d.until(d.applied(head), "the head at start")
    d.until(lambda: d.status()["sync"]["status"] == "Synced", "Synced")
    time.sleep(1.5)  # what dies within 1 s of the watcher's own apply is its own

    d.live.api.stop(f"{FLEET}-small-1", timeout=5)
    d.until(lambda: d.live.containers()[f"{FLEET}-small-1"]["State"] == "running", "the stopped container restored", timeout=20)
    time.sleep(1.5)  # out of the window of the watcher's own repair

    solo = f"{FLEET}-bot-solo"
    started = d.live.api.inspect_container(solo)["State"]["StartedAt"]
    _kill_dedicated_bot(d.live, solo)
    d.until(lambda: d.live.api.inspect_container(solo)["State"]["StartedAt"] != started
            and d.live.containers()[solo]["State"] == "running", "the dedicated bot back", timeout=20)
    d.until(lambda: d.status()["restarts"].get("solo", {}).get("count") == 1, "the dedicated bot's restart counted", timeout=20)

    neighbours = {b: d.pid(b) for b in ("alpha-1", "alpha-2")}
    for kill in range(1, 4):
        pid = d.pid("beta-1")
        assert pid is not None
        d.live.api.exec_start(d.live.api.exec_create(STANDARD, ["kill", "-9", str(pid)]))
        if kill < 3:
            d.until(lambda pid=pid: d.live.programs(STANDARD)["beta-1"][0] == "RUNNING" and d.pid("beta-1") != pid,  # type: ignore[misc]
                    f"beta-1 back after kill {kill}", timeout=20)
            d.until(lambda kill=kill: d.status()["restarts"].get("beta-1", {}).get("count") == kill,  # type: ignore[misc]
                    f"kill {kill} counted", timeout=20)
            time.sleep(1.2)  # supervisord's backoff: a process killed while starting is not spawned again at once
    d.until(lambda: "beta-1" in d.status()["failing"], "beta-1 marked failing", timeout=20)
    d.until(lambda: d.live.programs(STANDARD)["beta-1"][0] == "STOPPED", "beta-1 stopped")
    assert d.status()["failing"]["beta-1"].startswith("3 restarts within 300 s")
    assert {b: d.pid(b) for b in neighbours} == neighbours
    assert d.metrics()[("fleetops_bot_restarts_counted_total", (("bot", "beta-1"), ("cause", "process_exited")))] == 3
    assert d.log is not None and "bot beta-1 restarted: its process exited (pid" in d.log.read_text()

    root = Path(d.work.working_dir)
    edit(root / "fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")
    unpushed = commit(d.work, "by hand, never pushed")
    assert d.live.run("apply", "--repo", str(root), "--yes").code == 0
    d.until(lambda: d.status()["sync"]["revision"] not in (None, 1) and d.status()["sync"]["commit"] == head
            and d.status()["sync"]["status"] == "Synced", "back at the head", timeout=60)
    text = d.log.read_text()
    assert f"the fleet is OutOfSync: revision 2 was applied from commit {unpushed[:12]}, not from the head of main ({head[:12]})" in text
    assert f"applying {head[:12]} again to bring it back to the head of main" in text
    history = d.live.run("history", "--format", "json").out
    assert history.count(unpushed) >= 1 and d.status()["sync"]["revision"] == 3

    status = json.loads(d.live.run("status", "--format", "json").out)  # the status columns, from real Docker and the bots' APIs
    containers = {c["name"]: c for c in status["containers"]}
    assert containers[STANDARD]["memory"] > 1 << 20 and containers[STANDARD]["memory_limit"] == "1g"
    alpha = next(b for b in containers[STANDARD]["bots"] if b["name"] == "alpha-1")
    assert alpha["uptime"] >= 0 and alpha["profit"] == 0.0 and alpha["health"]["status"] == "healthy"
    text = d.live.run("status").out
    row = next(line for line in text.splitlines() if line.startswith("alpha-1 "))
    assert "+0.00 USDT" in row and row.split()[5] != "-", text
    assert "MiB / 1g" in next(line for line in text.splitlines() if line.startswith(f"{STANDARD} ")), text
