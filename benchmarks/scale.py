"""Benchmark: the scale curve — fleetops vs Docker Compose at 50, 100, 200 and 400 bots, in one run.

For each size (stand-in bots in pools of 10, on the local engine), both tools converge the same
fleet: fleetops from its specs, Compose v2 (PyPI ``docker-compose`` in the venv) from fleetops'
own rendered compose file, so the containers, supervisord confs and bots are identical.

  cold       fleetops ``apply --yes`` (returns when every bot answers and runs its loop) vs
             ``compose up -d`` + until every bot answers its ping
  no-op      ``apply --yes`` and ``plan`` on the unchanged fleet (CLI, whole process; the first
             no-op after a change runs the full plan and writes the no-op proof, the rest use
             it — both shown), the full plan forced (``FLEETOPS_FULL_PLAN=1``), the watcher's
             in-process resync (``plan_revision``), vs ``compose up -d`` unchanged
  one bot    repin one bot: fleetops reloads it in place; Compose must recreate its container
             (it cannot see a change inside mounted files), restarting its 9 neighbours
Plus offline ``plan --against`` at 1,000, 5,000 and 10,000 bots. Prints a table with ratios,
saves raw figures as JSON and draws the curves (matplotlib) to ``docs/scale.png``.

Usage: python benchmarks/scale.py [--sizes 50 100 200 400] [--offline 1000 5000 10000]
       python benchmarks/scale.py --from-json benchmarks/results/scale.json   (redraw only)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
import plan_offline  # noqa: E402
import reconcile as bench  # noqa: E402  (the shared fleet, Compose and teardown helpers)

from engine.demo_repo import commit_all  # noqa: E402

IMAGE = "fleetops/standin-bot:1"
COMMAND = "standin-bot trade --config {config} --config {secrets} --userdir {userdir}"
MB_PER_BOT = 40  # stand-in bot + its share of supervisord and shims, measured ~25 MB; with margin


def _fleet(repo_dir: Path, bots: int, pins: dict[int, str]) -> None:
    bench.write_fleet(repo_dir, bots=bots, per_pool=10, dedicated=False, image=IMAGE, command=COMMAND, pin_of=pins)


def _cli(state: Path, *args: str, env: dict[str, str] | None = None) -> float:
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        elapsed, proc = bench.fleetops(state, *args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if args[0] == "plan" or "--yes" in args:
        assert proc.returncode == 0, proc.stderr
    return elapsed


def _median(values: list[float]) -> float:
    return statistics.median(values)


def fleetops_side(tmp: Path, bots: int) -> dict[str, Any]:
    repo_dir, state = tmp / f"repo-{bots}", tmp / f"state-{bots}"
    repo = bench.make_repo(repo_dir, bots=bots, per_pool=10, dedicated=False, image=IMAGE, command=COMMAND)
    bench.teardown()
    out: dict[str, Any] = {"cold": _cli(state, "apply", "--repo", str(repo_dir), "--yes")}
    out["noop_first"] = _cli(state, "apply", "--repo", str(repo_dir), "--yes")  # full plan; writes the proof
    out["noop_apply"] = _median([_cli(state, "apply", "--repo", str(repo_dir), "--yes") for _ in range(5)])
    out["noop_plan"] = _median([_cli(state, "plan", "--repo", str(repo_dir)) for _ in range(5)])
    out["noop_full"] = _median([_cli(state, "plan", "--repo", str(repo_dir), env={"FLEETOPS_FULL_PLAN": "1"}) for _ in range(3)])
    from engine.flow import Context, plan_revision, plan_specs
    from engine.live import policy
    from engine.live.adapters import real_ports

    ctx = Context(state, real_ports(None, state))
    resync, specs = [], []
    for _ in range(7):  # the first warms caches, as a long-running watcher has
        start = time.perf_counter()
        assert not plan_revision(ctx, policy.current_revision(ctx.read_store(), bench.FLEET)).plan.has_changes  # type: ignore[arg-type]
        resync.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert not plan_specs(ctx, repo_dir, None).plan.has_changes
        specs.append(time.perf_counter() - start)
    calls = ctx.ports.docker.calls
    ctx.ports.docker.calls = 0
    plan_revision(ctx, policy.current_revision(ctx.read_store(), bench.FLEET))  # type: ignore[arg-type]
    out["docker_calls_per_noop"] = ctx.ports.docker.calls
    ctx.ports.docker.calls = calls
    out["inprocess_resync"], out["inprocess_plan"] = _median(resync[1:]), _median(specs[1:])
    before = bench.all_pids()
    _fleet(repo_dir, bots, {7: "Bench@v2"})
    commit_all(repo, "repin b007")
    ctx.ports.docker.calls = 0
    out["one_bot"] = _cli(state, "apply", "--repo", str(repo_dir), "--yes")
    after = bench.all_pids()
    out["one_bot_restarts"] = sum(1 for b in before if before[b] != after.get(b))
    _fleet(repo_dir, bots, {})
    commit_all(repo, "back to v1")
    bench.teardown()
    return out


def compose_side(tmp: Path, bots: int) -> dict[str, Any]:
    repo_dir, render = tmp / f"repo-{bots}", tmp / f"render-{bots}"
    _cli(tmp / "render-state", "render", "--repo", str(repo_dir), "--out", str(render))
    bench.materialise_secrets(render, b"k" * 32)
    bench.teardown()
    up = bench.compose(render, "up", "-d")
    out: dict[str, Any] = {"cold": up + bench.wait_all_pings(bench.ports_of(render)), "cold_up_returns": up}
    out["noop"] = _median([bench.compose(render, "up", "-d") for _ in range(5)])
    before = bench.all_pids()
    render2 = tmp / f"render2-{bots}"
    _fleet(repo_dir, bots, {7: "Bench@v2"})
    _cli(tmp / "render-state", "render", "--repo", str(repo_dir), "--out", str(render2))
    container = json.loads((render2 / "manifest.json").read_text())["bots"]["b007"]["container"]
    shutil.copytree(render2 / "containers" / container / "etc" / "bots" / "b007",
                    render / "containers" / container / "etc" / "bots" / "b007", dirs_exist_ok=True)
    start = time.perf_counter()
    subprocess.run([bench.COMPOSE, "up", "-d", "--force-recreate", container], cwd=render, check=True, capture_output=True)
    bench.wait_all_pings({"b007": bench.ports_of(render)["b007"]})
    out["one_bot"] = time.perf_counter() - start
    after = bench.all_pids()
    out["one_bot_restarts"] = sum(1 for b in before if before[b] != after.get(b))
    subprocess.run([bench.COMPOSE, "down"], cwd=render, check=False, capture_output=True)
    bench.teardown()
    return out


def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(sizes: list[int], offline: list[int]) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"), "live": {}, "offline": {}}
    with tempfile.TemporaryDirectory(prefix="fleetops-scale-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            for bots in sizes:
                need = 2048 + bots * MB_PER_BOT
                if available_mb() < need:
                    print(f"{bots} bots: does not fit ({available_mb():.0f} MB available, ~{need} MB needed); stopping here", flush=True)
                    results["live"][str(bots)] = {"skipped": f"{available_mb():.0f} MB available, ~{need} MB needed"}
                    break
                print(f"\n== {bots} stand-in bots in {bots // 10} pool containers", flush=True)
                f = fleetops_side(tmp, bots)
                c = compose_side(tmp, bots)
                results["live"][str(bots)] = {"fleetops": f, "compose": c}
                print(f"cold: fleetops {f['cold']:.2f} s vs compose {c['cold']:.2f} s ({f['cold'] / c['cold']:.2f}x)")
                print(f"no-op: apply {f['noop_apply']:.3f} s, plan {f['noop_plan']:.3f} s (first after a change {f['noop_first']:.3f} s, "
                      f"full plan {f['noop_full']:.3f} s), watcher resync {f['inprocess_resync'] * 1000:.0f} ms "
                      f"vs compose {c['noop']:.3f} s ({f['noop_apply'] / c['noop']:.2f}x)")
                print(f"one bot: fleetops {f['one_bot']:.2f} s ({f['one_bot_restarts']} restarted) vs compose {c['one_bot']:.2f} s "
                      f"({c['one_bot_restarts']} restarted)", flush=True)
        finally:
            bench.teardown()
    for bots in offline:
        print(f"\n== offline plan --against, {bots} bots", flush=True)
        results["offline"][str(bots)] = _median(plan_offline.measure(bots, 3))
    return results


def table(results: dict[str, Any]) -> str:
    rows = ["| bots | cold: fleetops | compose | ratio | no-op apply (CLI) | plan (CLI) | first no-op | watcher resync | compose no-op "
            "| ratio (apply) | ratio (resync) | one bot: fleetops | compose | ratio | restarts |",
            "| " + " | ".join(["---"] * 15) + " |"]
    for bots, r in results["live"].items():
        if "skipped" in r:
            rows.append(f"| {bots} | did not fit: {r['skipped']} |" + " |" * 13)
            continue
        f, c = r["fleetops"], r["compose"]
        rows.append(f"| {bots} | {f['cold']:.2f} s | {c['cold']:.2f} s | {f['cold'] / c['cold']:.2f}x | {f['noop_apply']:.3f} s "
                    f"| {f['noop_plan']:.3f} s | {f['noop_first']:.3f} s | {f['inprocess_resync'] * 1000:.0f} ms | {c['noop']:.3f} s "
                    f"| {f['noop_apply'] / c['noop']:.2f}x | {f['inprocess_resync'] / c['noop']:.2f}x | {f['one_bot']:.2f} s "
                    f"| {c['one_bot']:.2f} s | {f['one_bot'] / c['one_bot']:.2f}x | {f['one_bot_restarts']} vs {c['one_bot_restarts']} |")
    rows += ["", "| bots | offline plan --against (whole process, median of 3) |", "| --- | --- |"]
    rows += [f"| {int(b):,} | {t:.3f} s |" for b, t in results["offline"].items()]
    return "\n".join(rows)


def draw(results: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    live = {int(b): r for b, r in results["live"].items() if "skipped" not in r}
    sizes = sorted(live)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    def series(ax: Any, title: str, lines: list[tuple[str, list[float], str]], unit: str = "s") -> None:
        for label, values, style in lines:
            ax.plot(sizes, values, style, label=label, marker="o")
        ax.set_title(title)
        ax.set_xlabel("bots (pools of 10)")
        ax.set_ylabel(f"wall time ({unit})")
        ax.set_xticks(sizes)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    series(axes[0][0], "Cold apply until every bot answers", [
        ("fleetops apply", [live[b]["fleetops"]["cold"] for b in sizes], "-"),
        ("compose up -d + pings", [live[b]["compose"]["cold"] for b in sizes], "--")])
    series(axes[0][1], "No-op (nothing changed)", [
        ("fleetops apply (CLI)", [live[b]["fleetops"]["noop_apply"] * 1000 for b in sizes], "-"),
        ("fleetops full plan (CLI)", [live[b]["fleetops"]["noop_full"] * 1000 for b in sizes], ":"),
        ("watcher resync (in-process)", [live[b]["fleetops"]["inprocess_resync"] * 1000 for b in sizes], "-."),
        ("compose up -d", [live[b]["compose"]["noop"] * 1000 for b in sizes], "--")], unit="ms")
    series(axes[1][0], "One bot repinned, until it answers", [
        ("fleetops (reloads 1 bot)", [live[b]["fleetops"]["one_bot"] for b in sizes], "-"),
        ("compose (recreates its container)", [live[b]["compose"]["one_bot"] for b in sizes], "--")])
    ax = axes[1][1]
    offline = sorted((int(b), t) for b, t in results["offline"].items())
    ax.plot([b for b, _ in offline], [t for _, t in offline], "-", marker="o", label="fleetops plan --against")
    ax.scatter([1000, 10000], [0.5, 4.0], marker="x", color="red", label="targets (0.5 s at 1k, 4 s at 10k)")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_title("Offline plan (CI on a pull request)")
    ax.set_xlabel("bots")
    ax.set_ylabel("wall time (s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"fleetops vs Docker Compose v2, stand-in bots, {results['machine']}, {results['date']}")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[50, 100, 200, 400])
    parser.add_argument("--offline", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "scale.png")
    parser.add_argument("--from-json", type=Path, default=None, help="Redraw and reprint from saved figures.")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        subprocess.run([str(ROOT / "scripts/ensure-docker")], check=True)
        subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "base", "standin"], check=True)
        results = run(args.sizes, args.offline)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print("\n" + table(results))
    draw(results, args.png)
    print(f"\ncurves: {args.png}")


if __name__ == "__main__":
    main()
