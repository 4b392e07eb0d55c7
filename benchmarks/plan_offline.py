"""Benchmark: `fleetops plan --against` on a 1,000-bot / 100-pool fleet, as a whole process.

Generates the fleet in a temporary git repo with two commits (the second changes a handful of
bots, one pool and adds a bot, like a typical pull request), then runs the real CLI several
times and prints wall-clock figures plus per-stage timings of one run (FLEETOPS_TIMINGS=1).
Target (issue 2): under 1.0 s wall on this machine. Usage: python benchmarks/plan_offline.py [RUNS]
"""

from __future__ import annotations

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

POOLS = 100
BOTS = 1000
STRATEGY = '''from freqtrade.strategy import IStrategy


class Bench(IStrategy):
    INTERFACE_VERSION = 3
    minimal_roi = {"0": %s}
    stoploss = -0.1
'''


def bot_doc(i: int, stoploss: float = -0.10, pin: str = "Bench@v1") -> str:
    return (
        f"kind: Bot\nname: bot-{i:04d}\nwallet: w{i % 10}\nallocation: 100\npool: pool-{i % POOLS:03d}\n"
        f"strategy: {pin}\npairs: [BTC/USDT, ETH/USDT]\ntimeframe: 5m\nmax_open_trades: 3\n"
        f"stake_amount: 20\nstoploss: {stoploss}\nminimal_roi: {{\"0\": 0.04, \"30\": 0.02}}\n"
        f"trailing_stop: {{enabled: true, positive: 0.01, offset: 0.02}}\n"
    )


def write_fleet(root: Path, changed: bool) -> None:
    fleet = root / "fleet"
    (fleet / "bots").mkdir(parents=True, exist_ok=True)
    (fleet / "fleet.yaml").write_text("kind: Fleet\nname: bench\n")
    wallets = "---\n".join(f"kind: Wallet\nname: w{i}\ncurrency: USDT\nbalance: 20000\nreserve: 1000\n" for i in range(10))
    (fleet / "wallets.yaml").write_text(wallets)
    pools = "---\n".join(
        f"kind: Pool\nname: pool-{p:03d}\ncapacity: 12\nmemory: {'3g' if changed and p == 7 else '2g'}\ncpus: 1.0\n" for p in range(POOLS)
    )
    (fleet / "pools.yaml").write_text(pools)
    for p in range(POOLS):  # one file per pool's bots, the way teams split a large fleet
        docs = []
        for i in range(p, BOTS + (1 if changed else 0), POOLS):
            stoploss = -0.12 if changed and i % 97 == 0 else -0.10
            pin = "Bench@v2" if changed and i % 113 == 0 else "Bench@v1"
            docs.append(bot_doc(i, stoploss, pin))
        (fleet / "bots" / f"pool-{p:03d}.yaml").write_text("---\n".join(docs))


def build_repo(root: Path) -> None:
    repo = git.Repo.init(root, initial_branch="main")
    (root / "strategies").mkdir()
    (root / "strategies" / "Bench.py").write_text(STRATEGY % "0.04")
    commit_all(repo, "strategy v1", tag="v1")
    (root / "strategies" / "Bench.py").write_text(STRATEGY % "0.05")
    commit_all(repo, "strategy v2", tag="v2")
    write_fleet(root, changed=False)
    commit_all(repo, "fleet")
    write_fleet(root, changed=True)
    commit_all(repo, "pull request: widen some stoplosses, bump a pin, grow a pool, add a bot")


def run_plan(root: Path, timings: bool = False) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, **({"FLEETOPS_TIMINGS": "1"} if timings else {})}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "plan", "--repo", str(root), "--ref", "HEAD", "--against", "HEAD~1", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent,
    )
    return time.perf_counter() - start, proc


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet-repo"
        t0 = time.perf_counter()
        build_repo(root)
        print(f"generated {BOTS + 1} bots in {POOLS} pools, 2 commits, in {time.perf_counter() - t0:.1f} s")
        startup = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import engine.cli"], check=True, cwd=Path(__file__).resolve().parent.parent)
            startup.append(time.perf_counter() - t)
        walls = []
        for _ in range(runs):
            wall, proc = run_plan(root)
            if proc.returncode != 0:
                sys.exit(f"plan failed: {proc.stderr}")
            walls.append(wall)
        import json

        summary = json.loads(proc.stdout)["summary"]
        print(f"plan changes: {', '.join(f'{v} {k}' for k, v in summary.items() if v)}")
        print(f"fleetops plan --against: median {statistics.median(walls):.3f} s, min {min(walls):.3f} s, max {max(walls):.3f} s over {runs} runs")
        print(f"  (python + import engine.cli alone: median {statistics.median(startup):.3f} s)")
        print(f"  target: < 1.0 s -> {'MET' if statistics.median(walls) < 1.0 else 'NOT MET'}")
        _, proc = run_plan(root, timings=True)
        print("per-stage timings of one run:")
        for line in proc.stderr.splitlines():
            if line.startswith("timing:"):
                print("  " + line.removeprefix("timing: "))


if __name__ == "__main__":
    main()
