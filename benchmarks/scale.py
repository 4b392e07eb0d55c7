"""Benchmark: the scale curve — fleetops vs Docker Compose at 50, 100, 200 and 400 bots, in one run.

Why: one figure at one size says little about how either tool grows; this measures both at each
size on the same machine in the same run and draws the curves. What: for each size (stand-in bots
in pools of 10), both tools converge the same fleet — fleetops from its specs, run as a user runs
it (the built wheel installed in a venv, ``fleetbench.use_installed_wheel``, not the checkout's
editable install), Compose v2 (PyPI ``docker-compose`` in the venv) from fleetops' own rendered
compose file, so containers, supervisord confs and bots are identical:

  cold     fleetops ``apply --yes`` (returns once every bot answers and runs its loop) vs
           ``compose up -d`` + until every bot answers its ping
  no-op    ``apply --yes`` and ``plan`` on the unchanged fleet (CLI, whole process, median of 5;
           the first no-op after a change runs the full plan and writes the no-op proof, so it is
           shown apart, as is the full plan forced by ``FLEETOPS_FULL_PLAN=1``), the watcher's
           in-process ``plan_commit`` (and its resync, ``plan_revision``) with the Docker API calls
           one costs, vs ``compose up -d`` unchanged
  one bot  repin b007 to Bench@v2: fleetops reloads it in place; Compose must recreate its
           container (it cannot see a change inside mounted files), restarting its 9 neighbours
Before each size MemAvailable must leave ~2 GiB beyond an estimate for the fleet, or the run stops
there and says so. Then offline ``plan --against`` at 1,000, 5,000 and 10,000 bots (plan_offline.py).
Prints figures as it goes and markdown tables, saves raw figures as JSON (after every size, so an
interrupted run keeps what it measured) and draws the curves (matplotlib, Agg) to ``docs/scale.png``.
Every container of the benchmark's fleet is removed on the way out, however the run ends.

Usage: python benchmarks/scale.py [--sizes 50 100 200 400] [--offline-sizes 1000 5000 10000]
                                  [--json benchmarks/results/scale.json] [--png docs/scale.png] [--fleet bench]
       python benchmarks/scale.py --from-json benchmarks/results/scale.json [--png PATH]   (reprint, redraw)
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleetbench as fb
import plan_offline

ROOT = fb.ROOT
HEADROOM_MB = 2048
MB_PER_BOT = 40  # a stand-in bot + its share of supervisord and the shim, ~25 MB measured; with margin
NOOP_RUNS, INPROCESS_RUNS = 5, 6  # in-process: the first warms caches (as a long-running watcher has) and is dropped


def _fleet(repo_dir: Path, bots: int, pins: dict[int, str]) -> None:
    fb.write_fleet(repo_dir, bots=bots, per_pool=10, dedicated=False, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND, pin_of=pins)


def _cli(state: Path, *args: str, env: dict[str, str] | None = None, expect: str | None = None) -> float:
    elapsed, proc = fb.fleetops(state, *args, env=env)
    if proc.returncode != 0 or (expect is not None and expect not in proc.stdout):
        sys.exit(f"fleetops {' '.join(args)}: exit {proc.returncode}, expected {expect!r} in its output:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def _timed(fn: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _calls(docker: Any, fn: Any) -> int | None:
    """Docker API calls ``fn`` makes, if the adapter counts them."""
    before = getattr(docker, "calls", None)
    fn()
    return None if before is None else docker.calls - before


def fleetops_side(tmp: Path, bots: int) -> dict[str, Any]:
    repo_dir, state = tmp / f"repo-{bots}", tmp / f"state-{bots}"
    fb.teardown()
    repo = fb.make_repo(repo_dir, bots=bots, per_pool=10, dedicated=False, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND)
    apply, plan = ("apply", "--repo", str(repo_dir), "--yes"), ("plan", "--repo", str(repo_dir))
    mem_before = fb.available_mb()
    out: dict[str, Any] = {"cold": _cli(state, *apply), "containers": fb.containers()}
    out["mem_used_mb"] = mem_before - fb.available_mb()
    print(f"fleetops cold apply: {out['cold']:.2f} s ({out['containers']} containers, ~{out['mem_used_mb']:.0f} MB)", flush=True)
    out["noop_first"] = _cli(state, *apply, expect="No changes")  # the full plan; writes the no-op proof
    out["noop_apply_runs"] = [_cli(state, *apply, expect="No changes") for _ in range(NOOP_RUNS)]
    out["noop_plan_runs"] = [_cli(state, *plan) for _ in range(NOOP_RUNS)]
    out["noop_full_runs"] = [_cli(state, *plan, env={"FLEETOPS_FULL_PLAN": "1"}) for _ in range(3)]
    for key in ("noop_apply", "noop_plan", "noop_full"):
        out[key] = statistics.median(out[f"{key}_runs"])
    print(f"fleetops no-op: apply {out['noop_apply']:.3f} s, plan {out['noop_plan']:.3f} s (CLI, median of {NOOP_RUNS}); "
          f"first after a change {out['noop_first']:.3f} s, full plan forced {out['noop_full']:.3f} s", flush=True)

    from engine import flow
    from engine.context import Context
    from engine.live.adapters import real_ports

    ctx = Context(state, real_ports(None, state))

    def in_process() -> None:
        if flow.plan_commit(ctx, repo_dir, None, proof=False).plan.has_changes:
            sys.exit("in-process plan_commit of the unchanged fleet found changes")

    out["inprocess_plan_runs"] = _timed(in_process, INPROCESS_RUNS)[1:]
    out["inprocess_plan"] = statistics.median(out["inprocess_plan_runs"])
    out["docker_calls_per_noop"] = _calls(ctx.ports.backend, in_process)
    if hasattr(flow, "plan_revision"):  # the watcher's resync against the running revision
        from engine.live import policy

        def resync() -> None:
            if flow.plan_revision(ctx, policy.current_revision(ctx.read_store(), fb.FLEET)).plan.has_changes:  # type: ignore[arg-type]
                sys.exit("in-process plan_revision of the unchanged fleet found changes")

        out["inprocess_resync_runs"] = _timed(resync, INPROCESS_RUNS)[1:]
        out["inprocess_resync"] = statistics.median(out["inprocess_resync_runs"])
        out["docker_calls_per_resync"] = _calls(ctx.ports.backend, resync)
    print(f"fleetops in-process no-op (plan_commit, median of {INPROCESS_RUNS - 1}): {out['inprocess_plan'] * 1000:.0f} ms, "
          f"{out['docker_calls_per_noop']} Docker API calls", flush=True)

    before = fb.all_pids()
    _fleet(repo_dir, bots, {7: "Bench@v2"})
    fb.commit_all(repo, "repin b007")
    out["one_bot"] = _cli(state, *apply)
    out["one_bot_restarts"] = fb.restarted(before, fb.all_pids())
    print(f"fleetops one-bot change: {out['one_bot']:.2f} s, {out['one_bot_restarts']} of {len(before)} bot processes restarted", flush=True)
    _fleet(repo_dir, bots, {})
    fb.commit_all(repo, "back to v1")  # Compose starts from the same fleet
    fb.teardown()
    return out


def compose_side(tmp: Path, bots: int) -> dict[str, Any]:
    repo_dir, render, render2 = tmp / f"repo-{bots}", tmp / f"render-{bots}", tmp / f"render2-{bots}"
    fb.teardown()
    _cli(tmp / "render-state", "render", "--repo", str(repo_dir), "--out", str(render))
    fb.materialise_secrets(render, b"k" * 32)
    up = fb.compose(render, "up", "-d")
    out: dict[str, Any] = {"cold_up_returns": up, "cold": up + fb.wait_all_pings(fb.ports_of(render)), "containers": fb.containers()}
    out["noop_runs"] = [fb.compose(render, "up", "-d") for _ in range(NOOP_RUNS)]
    out["noop"] = statistics.median(out["noop_runs"])
    before = fb.all_pids()
    _fleet(repo_dir, bots, {7: "Bench@v2"})
    _cli(tmp / "render-state", "render", "--repo", str(repo_dir), "--out", str(render2))
    container = json.loads((render2 / "manifest.json").read_text())["bots"]["b007"]["container"]
    shutil.copytree(render2 / "containers" / container / "etc" / "bots" / "b007",
                    render / "containers" / container / "etc" / "bots" / "b007", dirs_exist_ok=True)
    start = time.perf_counter()
    subprocess.run([fb.COMPOSE, "up", "-d", "--force-recreate", container], cwd=render, check=True, capture_output=True)
    fb.wait_all_pings({"b007": fb.ports_of(render)["b007"]})
    out["one_bot"] = time.perf_counter() - start
    out["one_bot_restarts"] = fb.restarted(before, fb.all_pids())
    subprocess.run([fb.COMPOSE, "down"], cwd=render, check=False, capture_output=True)
    fb.teardown()
    return out


def compose_per_bot_side(tmp: Path, bots: int) -> dict[str, Any]:
    """What users run today, the FreqTrade docs' setup: Compose with one service per bot. The same bots, rendered by
    fleetops with no pool (each alone in its container, no supervisord), brought up and left unchanged as above."""
    repo_dir, render = tmp / f"repo-{bots}-per-bot", tmp / f"render-{bots}-per-bot"
    fb.teardown()
    fb.make_repo(repo_dir, bots=bots, per_pool=10, dedicated=True, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND)
    _cli(tmp / "render-state", "render", "--repo", str(repo_dir), "--out", str(render))
    fb.materialise_secrets(render, b"k" * 32)
    try:
        up = fb.compose(render, "up", "-d")
        out: dict[str, Any] = {"cold_up_returns": up, "cold": up + fb.wait_all_pings(fb.ports_of(render)), "containers": fb.containers()}
        out["noop_runs"] = [fb.compose(render, "up", "-d") for _ in range(NOOP_RUNS)]
        out["noop"] = statistics.median(out["noop_runs"])
    finally:
        subprocess.run([fb.COMPOSE, "down"], cwd=render, check=False, capture_output=True)
        fb.teardown()
    print(f"compose, one service per bot: cold {out['cold']:.2f} s ({out['containers']} containers), no-op up -d {out['noop']:.3f} s", flush=True)
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def run_size(tmp: Path, bots: int) -> dict[str, Any]:
    fb.section(f"{bots} stand-in bots in pools of 10 ({bots // 10} containers)")
    f = fleetops_side(tmp, bots)
    c = compose_side(tmp, bots)
    p = compose_per_bot_side(tmp, bots)
    print(f"cold:    fleetops {f['cold']:.2f} s | compose {c['cold']:.2f} s (up -d returns at {c['cold_up_returns']:.2f} s) | {_ratio(f['cold'], c['cold'])}")
    print(f"no-op:   fleetops apply {f['noop_apply']:.3f} s, plan {f['noop_plan']:.3f} s, in-process {f['inprocess_plan'] * 1000:.0f} ms "
          f"| compose up -d {c['noop']:.3f} s | {_ratio(f['noop_apply'], c['noop'])} (CLI apply), {_ratio(f['inprocess_plan'], c['noop'])} (in-process)")
    print(f"one bot: fleetops {f['one_bot']:.2f} s, {f['one_bot_restarts']} restarted | compose {c['one_bot']:.2f} s, "
          f"{c['one_bot_restarts']} restarted | {_ratio(f['one_bot'], c['one_bot'])}", flush=True)
    print(f"vs compose with one service per bot: cold {_ratio(f['cold'], p['cold'])}, no-op {_ratio(f['noop_apply'], p['noop'])}", flush=True)
    return {"fleetops": f, "compose": c, "compose_per_bot": p}


def machine() -> str:
    mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    return f"{os.cpu_count()} cores, {mem_gib} GiB RAM"


def run(sizes: list[int], offline: list[int], json_path: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "fleet": fb.FLEET, "live": {}, "offline": {}}

    def save() -> None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="fleetops-scale-") as tmp_name:
        print(f"fleetops as a user installs it: {fb.use_installed_wheel(Path(tmp_name) / 'installed')}", flush=True)
        results["cli"] = "the built wheel, installed in a venv (bytecode compiled)"
        try:
            for bots in sizes:
                fb.teardown()
                available, need = fb.available_mb(), HEADROOM_MB + bots * MB_PER_BOT
                if available < need:
                    note = f"{available:.0f} MB available, ~{need} MB needed (2 GiB + {MB_PER_BOT} MB a bot)"
                    print(f"\n{bots} bots did not fit: {note}; stopping the live sizes here", flush=True)
                    results["live"][str(bots)] = {"skipped": note}
                    break
                try:
                    results["live"][str(bots)] = run_size(Path(tmp_name), bots)
                except SystemExit as exc:  # a failed command: keep what the smaller sizes measured
                    print(f"\n{bots} bots failed: {exc}; stopping the live sizes here", flush=True)
                    results["live"][str(bots)] = {"failed": str(exc)[:500]}
                    break
                finally:
                    save()
        finally:
            fb.teardown()
    for bots in offline:
        fb.section(f"offline plan --against, {bots:,} bots (3 runs)")
        walls = plan_offline.measure(bots, 3)
        results["offline"][str(bots)] = {"median": statistics.median(walls), "runs": walls}
        save()
    return results


def _offline_median(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float(value["median"])  # older JSON stored the median alone


def tables(results: dict[str, Any]) -> str:
    head = ["bots", "containers", "fleetops cold", "compose cold", "ratio", "fleetops no-op CLI apply", "plan CLI", "in-process",
            "compose no-op", "ratio (CLI apply / compose)", "in-process ratio", "one-bot change fleetops", "compose", "ratio",
            "restarts fleetops vs compose", "Docker calls per no-op"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    detail = ["| bots | first no-op after a change (full plan, writes the proof) | full plan forced (plan CLI) | watcher resync in-process "
              "| Docker calls per resync | memory used by the fleetops fleet |", "|---|---|---|---|---|---|"]
    for bots, r in results["live"].items():
        if "fleetops" not in r:
            rows.append(f"| {bots} | {'did not fit: ' + r['skipped'] if 'skipped' in r else 'failed: ' + r['failed'][:120]} |" + " |" * (len(head) - 2))
            continue
        f, c = r["fleetops"], r["compose"]
        rows.append(f"| {bots} | {f.get('containers', int(bots) // 10)} | {f['cold']:.2f} s | {c['cold']:.2f} s | {_ratio(f['cold'], c['cold'])} "
                    f"| {f['noop_apply']:.3f} s | {f['noop_plan']:.3f} s | {f['inprocess_plan'] * 1000:.0f} ms | {c['noop']:.3f} s "
                    f"| {_ratio(f['noop_apply'], c['noop'])} | {_ratio(f['inprocess_plan'], c['noop'])} | {f['one_bot']:.2f} s "
                    f"| {c['one_bot']:.2f} s | {_ratio(f['one_bot'], c['one_bot'])} | {f['one_bot_restarts']} vs {c['one_bot_restarts']} "
                    f"| {f.get('docker_calls_per_noop', 'n/a')} |")
        resync = f"{f['inprocess_resync'] * 1000:.0f} ms" if "inprocess_resync" in f else "n/a"
        mem = f"{f['mem_used_mb']:.0f} MB" if "mem_used_mb" in f else "n/a"
        detail.append(f"| {bots} | {f['noop_first']:.3f} s | {f['noop_full']:.3f} s | {resync} | {f.get('docker_calls_per_resync', 'n/a')} | {mem} |")
    per_bot = ["| bots | fleetops cold (pools of 10) | compose cold, one service per bot | ratio | fleetops no-op CLI apply "
               "| compose no-op, one service per bot | ratio |", "|---|---|---|---|---|---|---|"]
    for bots, r in results["live"].items():
        if "compose_per_bot" in r:
            f, p = r["fleetops"], r["compose_per_bot"]
            per_bot.append(f"| {bots} | {f['cold']:.2f} s | {p['cold']:.2f} s ({p['containers']} containers) | {_ratio(f['cold'], p['cold'])} "
                           f"| {f['noop_apply']:.3f} s | {p['noop']:.3f} s | {_ratio(f['noop_apply'], p['noop'])} |")
    offline = ["| bots | offline plan --against (whole process, median of 3) | target | met |", "|---|---|---|---|"]
    for bots, value in results["offline"].items():
        t = _offline_median(value)
        target = 0.5 if int(bots) <= 1000 else 4.0 if int(bots) <= 10000 else None
        offline.append(f"| {int(bots):,} | {t:.3f} s | {f'< {target} s' if target else '-'} | {('yes' if t < target else 'NO') if target else '-'} |")
    return "\n".join([*rows, "", *detail, "", *([*per_bot, ""] if len(per_bot) > 2 else []), *offline])


def draw(results: dict[str, Any], png: Path) -> None:
    """The 2×2 curves: cold apply, no-op, one-bot change (fleetops vs Compose by fleet size) and the offline plan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

    live = {int(b): r for b, r in results["live"].items() if "fleetops" in r}
    sizes = sorted(live)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:.2g}")

    def frame(ax: Any, title: str, ylabel: str, ticks: list[int], xlabel: str = "bots (stand-in, pools of 10)", logy: bool = False) -> None:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_locator(NullLocator())
        if logy:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        if not ax.lines:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="gray")
        else:
            ax.legend(fontsize=8)

    def line(ax: Any, side: str, key: str, label: str, scale: float = 1.0, **style: Any) -> None:
        values = [live[b][side][key] * scale for b in sizes if key in live[b].get(side, {})]
        if len(values) == len(sizes) and sizes:
            ax.plot(sizes, values, marker="o", label=label, **style)

    fo, co = {"color": "C0"}, {"color": "C1", "linestyle": "--"}
    line(axes[0][0], "fleetops", "cold", "fleetops apply (returns when every bot runs its loop)", **fo)
    line(axes[0][0], "compose", "cold", "compose up -d + until every bot answers", **co)
    line(axes[0][0], "compose", "cold_up_returns", "(compose up -d returns)", color="C1", linestyle=":", alpha=0.6)
    line(axes[0][0], "compose_per_bot", "cold", "compose, one service per bot, + until every bot answers", color="C3", linestyle="--")
    frame(axes[0][0], "Cold apply", "wall time (s, log scale)", sizes, logy=True)
    ax = axes[0][1]
    line(ax, "fleetops", "noop_apply", "fleetops apply --yes (CLI)", 1000, **fo)
    line(ax, "fleetops", "noop_plan", "fleetops plan (CLI)", 1000, color="C0", linestyle="-.")
    line(ax, "fleetops", "inprocess_plan", "fleetops in-process plan_commit", 1000, color="C2")
    line(ax, "fleetops", "inprocess_resync", "watcher resync (in-process)", 1000, color="C2", linestyle="--")
    line(ax, "fleetops", "noop_full", "fleetops plan, full plan forced", 1000, color="gray", linestyle=":")
    line(ax, "compose", "noop", "compose up -d", 1000, **co)
    line(ax, "compose_per_bot", "noop", "compose up -d, one service per bot", 1000, color="C3", linestyle="--")
    frame(ax, "No-op (nothing changed), median", "wall time (ms, log scale)", sizes, logy=True)
    line(axes[1][0], "fleetops", "one_bot", "fleetops apply (reloads b007 only)", **fo)
    line(axes[1][0], "compose", "one_bot", "compose up -d --force-recreate (its container)", **co)
    frame(axes[1][0], "One bot repinned, until it answers again", "wall time (s)", sizes)
    ax = axes[1][1]
    offline = sorted((int(b), _offline_median(v)) for b, v in results["offline"].items())
    if offline:
        ax.plot([b for b, _ in offline], [t for _, t in offline], marker="o", color="C0", label="fleetops plan --against (median of 3)")
    ax.scatter([1000, 10000], [0.5, 4.0], marker="x", s=70, color="red", zorder=3, label="targets: 0.5 s at 1k, 4 s at 10k")
    for x, y, dx, align in ((1000, 0.5, 8, "left"), (10000, 4.0, -8, "right")):
        ax.annotate(f"target {y:g} s", (x, y), textcoords="offset points", xytext=(dx, 6), ha=align, color="red", fontsize=8)
    frame(ax, "Offline plan (CI on a pull request)", "wall time (s, log scale)", sorted({1000, 10000, *(b for b, _ in offline)}),
          xlabel="bots (generated fleet, no Docker)", logy=True)
    fig.suptitle(f"fleetops vs Docker Compose v2 — {results['machine']} — {results['date']}", fontsize=13)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[50, 100, 200, 400], help="live fleet sizes (stand-in bots)")
    parser.add_argument("--offline-sizes", "--offline", type=int, nargs="*", default=[1000, 5000, 10000], help="offline plan sizes")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json", help="where the raw figures go")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "scale.png", help="where the curves go")
    parser.add_argument("--from-json", type=Path, default=None, help="only reprint the tables and redraw the PNG from saved figures")
    parser.add_argument("--fleet", default=fb.FLEET, help="fleet name (containers labelled io.fleetops.fleet=NAME are torn down)")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        fb.FLEET = args.fleet
        subprocess.run([str(ROOT / "scripts/ensure-docker")], check=True)
        subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "base", "standin"], check=True)
        results = run(args.sizes, args.offline_sizes, args.json)
        print(f"\nraw figures: {args.json}")
    print("\n" + tables(results))
    draw(results, args.png)
    print(f"\ncurves: {args.png}")


if __name__ == "__main__":
    main()
