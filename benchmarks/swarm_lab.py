"""Benchmark: what the Docker Swarm lab costs (tests/support/swarm_lab.py, the tests under tests/swarm).

Measures, in one run on this machine's engine:
  images     scripts/build-images --only swarm-node registry: from nothing (Debian packages downloaded
             into an empty cache, --cold), rebuilt from cached packages (--force), and cached (the usual case)
  stand-up   3 nodes (1 manager, 2 workers) and the registry, from `docker run` to every node Ready and
             the registry answering, images cached; median and range of --runs stand-ups
  push       fleetops/standin-bot:1 into the lab registry from the host's engine
  memory     per lab container as `docker stats` counts it: idle, and with one task per node running
  teardown   every container, volume and network of the lab
Usage: python benchmarks/swarm_lab.py [--runs 3] [--cold]   (run it under the shared Docker lock)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import swarm_lab  # noqa: E402

BUILD = [sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "swarm-node", "registry"]


def timed_build(*extra: str, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    subprocess.run([*BUILD, *extra], check=True, env={**os.environ, **(env or {})}, capture_output=True)
    return time.monotonic() - start


def mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def load(lab: swarm_lab.SwarmLab, host: docker.DockerClient, rows: list[tuple[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Memory idle, then the push, then memory with one task per node (a global service): (idle, busy)."""
    idle = lab.memory(host)
    start = time.monotonic()
    image = lab.push("fleetops/standin-bot:1", host)
    rows.append(("push fleetops/standin-bot:1 (74 MB) to the registry", f"{time.monotonic() - start:.1f} s"))
    service = lab.client().services.create(image, ["sleep", "600"], name="bench", mode="global", stop_grace_period=10**9)
    swarm_lab.wait_until(lambda: "a task running on every node",
                         lambda: sum(t["Status"]["State"] == "running" for t in service.tasks()) == len(lab.nodes), 60)
    time.sleep(2)
    return idle, lab.memory(host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also build from nothing: download the Debian packages into an empty cache")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "standin"], check=True, capture_output=True)
    rows = []
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="swarm-lab-bench-cache-") as cache:
            rows.append(("images from nothing (packages downloaded)", f"{timed_build('--force', env={'FLEETOPS_IMAGE_CACHE': cache}):.1f} s"))
    rows.append(("images rebuilt from cached packages", f"{timed_build('--force'):.1f} s"))
    rows.append(("images cached (the usual run)", f"{timed_build():.1f} s"))

    host = swarm_lab.host_client()
    stand_ups, teardowns = [], []
    for run in range(args.runs):
        start = time.monotonic()
        lab = swarm_lab.stand_up(host=host)
        stand_ups.append(time.monotonic() - start)
        if run == args.runs - 1:
            idle, busy = load(lab, host, rows)
        lab.close()
        start = time.monotonic()
        swarm_lab.tear_down(lab.prefix, host)
        teardowns.append(time.monotonic() - start)
    rows.append((f"stand-up, images cached (median of {args.runs}, range)",
                 f"{statistics.median(stand_ups):.1f} s ({min(stand_ups):.1f}–{max(stand_ups):.1f})"))
    rows.append((f"teardown (median of {args.runs})", f"{statistics.median(teardowns):.1f} s"))
    for node in lab.nodes:
        rows.append((f"memory {node.role} {node.name.rsplit('-', 1)[1]}: idle / one task", f"{mib(idle[node.name])} / {mib(busy[node.name])}"))
    registry = f"{lab.prefix}-registry"
    rows.append(("memory registry: idle / after the push", f"{mib(idle[registry])} / {mib(busy[registry])}"))
    print("| swarm lab, 3 nodes + registry | measured |\n| --- | --- |")
    for what, figure in rows:
        print(f"| {what} | {figure} |")


if __name__ == "__main__":
    main()
