"""Benchmark: self-heal of a stopped container and of a killed bot process, beside a restart policy.

The test fleet (stand-in bots: pool ``standard`` with 3 bots, pool ``small`` with 1, dedicated bot
``solo``) on the real Docker engine, applied and followed by ``fleetops watch`` with a 60 s resync,
so whatever comes back sooner came back through Docker's events and the pools' process tables.
Each trial breaks one thing and measures from the moment the breaking call returned to the moment
it is back:
  pool container stopped     `docker stop testfleet-small-1` → its bot's program RUNNING again
  pool bot killed            SIGKILL of beta-1's process → supervisorctl shows RUNNING with a new pid
  dedicated bot killed       SIGKILL of solo's process → its container running again (a new start)
  dedicated container stopped `docker stop testfleet-bot-solo` → running again
Beside them, in the same run, the Compose equivalent: a container of the same image with
`restart: always` (what Compose sets), its main process killed and the container stopped.
The watcher runs with --flap-limit 1000 so that the repeated kills are repaired, not flagged.
Prints the median and max of each. Usage: python benchmarks/selfheal.py [--trials 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import FREQTRADE_CHECK  # noqa: E402
from tests.support.remove_fleet import remove_fleet  # noqa: E402
from tests.support.repos import make_base_repo  # noqa: E402

FLEET = "testfleet"
IMAGE = "fleetops/standin-bot:1"
COMPOSE = "fleetops-bench-compose"
GIVE_UP = 40.0
KILL_CHILD_OF_INIT = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
                      "    if open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == '1': os.kill(int(p), 9)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def program(api: docker.APIClient, container: str, bot: str) -> tuple[str, int | None]:
    """supervisorctl's view of one program: (state, pid)."""
    try:
        out = api.exec_start(api.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status", bot])).decode()
    except docker.errors.APIError:
        return "CONTAINER_DOWN", None
    parts = out.split()
    pid = int(parts[3].rstrip(",")) if len(parts) > 3 and parts[1] == "RUNNING" else None
    return (parts[1] if len(parts) > 1 else "?"), pid


def started_at(api: docker.APIClient, container: str) -> tuple[bool, str]:
    state = api.inspect_container(container)["State"]
    return bool(state["Running"]), str(state["StartedAt"])


def back_after(broken: float, is_back: Callable[[], bool], step: float = 0.05, give_up: float = GIVE_UP) -> float | None:
    """Seconds from ``broken`` until ``is_back()`` (None: not within ``give_up``)."""
    while time.perf_counter() - broken < give_up:
        if is_back():
            return time.perf_counter() - broken
        time.sleep(step)
    return None


def settle(api: docker.APIClient) -> None:
    """Everything runs and the watcher's 1 s window after its own repairs has passed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(program(api, f"{FLEET}-standard-1", b)[0] == "RUNNING" for b in ("alpha-1", "alpha-2", "beta-1")) \
                and program(api, f"{FLEET}-small-1", "euro-1")[0] == "RUNNING" and started_at(api, f"{FLEET}-bot-solo")[0]:
            break
        time.sleep(0.3)
    time.sleep(2.5)


def trial_stop_pool(api: docker.APIClient) -> float | None:
    api.stop(f"{FLEET}-small-1", timeout=5)
    broken = time.perf_counter()
    return back_after(broken, lambda: program(api, f"{FLEET}-small-1", "euro-1")[0] == "RUNNING")


def trial_kill_pool_bot(api: docker.APIClient) -> float | None:
    container = f"{FLEET}-standard-1"
    _state, pid = program(api, container, "beta-1")
    api.exec_start(api.exec_create(container, ["kill", "-9", str(pid)]))
    broken = time.perf_counter()
    return back_after(broken, lambda: (lambda s: s[0] == "RUNNING" and s[1] != pid)(program(api, container, "beta-1")))


def trial_kill_dedicated(api: docker.APIClient, container: str) -> float | None:
    _running, before = started_at(api, container)
    api.exec_start(api.exec_create(container, ["python3", "-c", KILL_CHILD_OF_INIT]))
    broken = time.perf_counter()
    return back_after(broken, lambda: (lambda s: s[0] and s[1] != before)(started_at(api, container)))


def trial_stop_dedicated(api: docker.APIClient, container: str, give_up: float = GIVE_UP) -> float | None:
    api.stop(container, timeout=5)
    broken = time.perf_counter()
    return back_after(broken, lambda: started_at(api, container)[0], give_up=give_up)


def shown(times: list[float | None]) -> str:
    done = [t for t in times if t is not None]
    missed = len(times) - len(done)
    if not done:
        return f"never came back ({missed}/{len(times)} trials; a restart policy ignores `docker stop`)"
    text = f"median {statistics.median(done):5.2f} s   max {max(done):5.2f} s"
    return text + (f"   ({missed}/{len(times)} never came back)" if missed else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    api = docker.APIClient(version="1.41")
    remove_fleet(FLEET)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        repo = make_base_repo(Path(tmp) / "fleet")
        env = {**os.environ, "FLEETOPS_STATE_DIR": str(state), "NO_COLOR": "1", **FREQTRADE_CHECK}
        port = free_port()
        watch = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(repo.working_dir), "--interval", "5",
                                  "--resync", "60", "--flap-limit", "1000", "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "watch.log", "w"))
        api.create_container(IMAGE, name=COMPOSE, command=["python3", "-c", "import time; time.sleep(10**9)"],
                             host_config=api.create_host_config(restart_policy={"Name": "always"}, init=True))
        api.start(COMPOSE)
        results: dict[str, list[float | None]] = {}
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).json()["queue"]["applied"]:
                        break
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                time.sleep(0.5)
            trials: list[tuple[str, Callable[[], float | None]]] = [
                ("fleetops: pool container stopped", lambda: trial_stop_pool(api)),
                ("fleetops: pool bot process killed", lambda: trial_kill_pool_bot(api)),
                ("fleetops: dedicated bot process killed", lambda: trial_kill_dedicated(api, f"{FLEET}-bot-solo")),
                ("fleetops: dedicated container stopped", lambda: trial_stop_dedicated(api, f"{FLEET}-bot-solo")),
                ("restart: always — main process killed", lambda: trial_kill_dedicated(api, COMPOSE)),
                ("restart: always — container stopped", lambda: trial_stop_dedicated(api, COMPOSE, give_up=10.0)),
            ]
            for _ in range(args.trials):
                for name, trial in trials:
                    settle(api)
                    results.setdefault(name, []).append(trial())
                    if name.endswith("container stopped") and name.startswith("restart"):
                        api.start(COMPOSE)  # the policy never brings it back: start it for the next trial
        finally:
            watch.terminate()
            watch.wait(timeout=60)
            api.remove_container(COMPOSE, force=True)
            remove_fleet(FLEET)
    print(f"self-heal, {args.trials} trials each, watcher resync 60 s (events only), {os.cpu_count()} cores")
    for name, times in results.items():
        print(f"  {name:<44} {shown(times)}")


if __name__ == "__main__":
    main()
