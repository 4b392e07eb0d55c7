"""Benchmark: `fleetops plan --against` on a 1,000-bot / 100-pool fleet (or --bots N), as a whole process.

Generates the fleet in a temporary git repo with two commits (the second changes a handful of
bots, one pool and adds a bot, like a typical pull request), then runs the real CLI several
times and prints wall-clock figures plus per-stage timings of one run (FLEETOPS_TIMINGS=1).
Targets (issue 11): 1,000 bots under 0.5 s, 10,000 under 4 s. ``--no-pin-change`` leaves every pin as
it was (no strategy changelog to read: the plan of a pull request that only edits specs).
Usage: python benchmarks/plan_offline.py [RUNS] [--bots N] [--no-pin-change]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import git

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine.demo_repo import commit_all

STRATEGY = '''from freqtrade.strategy import IStrategy


class Bench(IStrategy):
    INTERFACE_VERSION = 3
    minimal_roi = {"0": %s}
    stoploss = -0.1
'''


def bot_doc(i: int, pools: int, stoploss: float = -0.10, pin: str = "Bench@v1") -> str:
    return (
        f"kind: Bot\nname: bot-{i:05d}\nwallet: w{i % 10}\nallocation: 100\npool: pool-{i % pools:04d}\n"
        f"strategy: {pin}\npairs: [BTC/USDT, ETH/USDT]\ntimeframe: 5m\nmax_open_trades: 3\n"
        f"stake_amount: 20\nstoploss: {stoploss}\nminimal_roi: {{\"0\": 0.04, \"30\": 0.02}}\n"
        f"trailing_stop: {{enabled: true, positive: 0.01, offset: 0.02}}\n"
    )


def write_fleet(root: Path, changed: bool, bots: int, pins: bool = True) -> None:
    pools = bots // 10
    fleet = root / "fleet"
    (fleet / "bots").mkdir(parents=True, exist_ok=True)
    (fleet / "fleet.yaml").write_text("kind: Fleet\nname: bench\n")
    wallets = "---\n".join(f"kind: Wallet\nname: w{i}\ncurrency: USDT\nbalance: {bots * 20}\nreserve: 1000\n" for i in range(10))
    (fleet / "wallets.yaml").write_text(wallets)
    pool_docs = "---\n".join(
        f"kind: Pool\nname: pool-{p:04d}\ncapacity: 12\nmemory: {'3g' if changed and p == 7 else '2g'}\ncpus: 1.0\n" for p in range(pools)
    )
    (fleet / "pools.yaml").write_text(pool_docs)
    for p in range(pools):  # one file per pool's bots, the way teams split a large fleet
        docs = []
        for i in range(p, bots + (1 if changed else 0), pools):
            stoploss = -0.12 if changed and i % 97 == 0 else -0.10
            pin = "Bench@v2" if changed and pins and i % 113 == 0 else "Bench@v1"
            docs.append(bot_doc(i, pools, stoploss, pin))
        (fleet / "bots" / f"pool-{p:04d}.yaml").write_text("---\n".join(docs))


def tagged_strategy_repo(root: Path, strategy: str = STRATEGY) -> git.Repo:
    """A new repository whose ``strategies/Bench.py`` is tagged v1 and v2 (``strategy`` % its ROI):
    the pins every benchmark fleet starts from."""
    repo = git.Repo.init(root, initial_branch="main")
    (root / "strategies").mkdir()
    (root / "strategies" / "Bench.py").write_text(strategy % "0.04")
    commit_all(repo, "strategy v1", tag="v1")
    (root / "strategies" / "Bench.py").write_text(strategy % "0.05")
    commit_all(repo, "strategy v2", tag="v2")
    return repo


def build_repo(root: Path, bots: int = 1000, pins: bool = True) -> None:
    repo = tagged_strategy_repo(root)
    write_fleet(root, changed=False, bots=bots)
    commit_all(repo, "fleet")
    write_fleet(root, changed=True, bots=bots, pins=pins)
    commit_all(repo, "pull request: widen some stoplosses, bump a pin, grow a pool, add a bot")


def run_plan(root: Path, timings: bool = False) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, **({"FLEETOPS_TIMINGS": "1"} if timings else {})}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "plan", "--repo", str(root), "--ref", "HEAD", "--against", "HEAD~1", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent,
    )
    return time.perf_counter() - start, proc


def measure(bots: int, runs: int, pins: bool = True) -> list[float]:
    """Whole-process wall times of ``runs`` offline plans of a generated ``bots``-bot fleet."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet-repo"
        t0 = time.perf_counter()
        build_repo(root, bots, pins)
        print(f"generated {bots + 1} bots in {bots // 10} pools, 2 commits, in {time.perf_counter() - t0:.1f} s", flush=True)
        walls = []
        for _ in range(runs):
            wall, proc = run_plan(root)
            if proc.returncode != 0:
                sys.exit(f"plan failed: {proc.stderr}")
            walls.append(wall)
        summary = json.loads(proc.stdout)["summary"]
        print(f"plan changes: {', '.join(f'{v} {k}' for k, v in summary.items() if v)}")
        print(f"fleetops plan --against, {bots} bots: median {statistics.median(walls):.3f} s, "
              f"min {min(walls):.3f} s, max {max(walls):.3f} s over {runs} runs")
        _, proc = run_plan(root, timings=True)
        print("per-stage timings of one run:")
        for line in proc.stderr.splitlines():
            if line.startswith("timing:"):
                print("  " + line.removeprefix("timing: "))
        return walls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--no-pin-change", action="store_true", help="the pull request moves no strategy pin")
    args = parser.parse_args()
    startup = []
    for _ in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import engine.cli"], check=True, cwd=Path(__file__).resolve().parent.parent)
        startup.append(time.perf_counter() - t)
    print(f"python + import engine.cli alone: median {statistics.median(startup):.3f} s")
    walls = measure(args.bots, args.runs, pins=not args.no_pin_change)
    target = 0.5 if args.bots <= 1000 else 4.0 if args.bots <= 10000 else None
    if target is not None:
        print(f"target: < {target} s -> {'MET' if statistics.median(walls) < target else 'NOT MET'}")


if __name__ == "__main__":
    main()
