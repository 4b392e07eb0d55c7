"""Benchmark: what the FreqTrade check (engine.check) adds to `fleetops validate` on a 500-bot fleet (or --bots N).

Generates the fleet (pools of 10, image fleetops/freqtrade:2026.9) in a temporary git repo and
runs the real CLI as a whole process, each figure the median of RUNS runs:
  off          FLEETOPS_FREQTRADE_CHECK=off: loading, validating and compiling alone
  local, cold  the FreqTrade of .venv-freqtrade, nothing cached
  image, cold  the image's own FreqTrade in one throwaway container, nothing cached
  image, warm  every bot's answer cached: no container started
  image, 1 bot one bot's config changed since the cached run: one container, one bot judged
Needs the Docker engine and the image (scripts/build-images --only freqtrade); run it under the
shared Docker lock. Usage: python benchmarks/freqtrade_check.py [RUNS] [--bots N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.bigfleet import make_big_fleet  # noqa: E402

IMAGE = "fleetops/freqtrade:2026.9"
FREQTRADE_PYTHON = str(ROOT / ".venv-freqtrade" / "bin" / "python")


def validate(repo: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "engine", "validate", "--repo", str(repo)], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or ("warning" in proc.stderr and env.get("FLEETOPS_FREQTRADE_CHECK") != "off"):
        sys.exit(f"validate failed or warned: {proc.stdout}{proc.stderr}")
    return wall


def median_of(runs: int, repo: Path, env: dict[str, str], before: object = None) -> float:
    walls = []
    for _ in range(runs):
        if callable(before):
            before()
        walls.append(validate(repo, env))
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("--bots", type=int, default=500)
    args = parser.parse_args()
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "fleet"
        make_big_fleet(repo, args.bots, image=IMAGE, command="freqtrade trade --config {config} --config {secrets} --userdir {userdir}")
        cache = Path(tmp) / "cache"

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        base = {"FLEETOPS_CACHE_DIR": str(cache), "FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_PYTHON}
        figures = {
            "off": median_of(args.runs, repo, {**base, "FLEETOPS_FREQTRADE_CHECK": "off"}),
            "local, cold": median_of(args.runs, repo, {**base, "FLEETOPS_FREQTRADE_CHECK": "local"}, cold),
            "image, cold": median_of(args.runs, repo, {**base, "FLEETOPS_FREQTRADE_CHECK": "image"}, cold),
            "image, warm": median_of(args.runs, repo, {**base, "FLEETOPS_FREQTRADE_CHECK": "image"}),
        }
        bots = repo / "fleet" / "bots" / "pool-000.yaml"
        original = bots.read_text()
        changes = iter(range(1, 1000))

        def one_bot_changed() -> None:
            bots.write_text(original.replace("stake_amount: 20\n", f"stake_amount: {20 + next(changes)}\n", 1))

        figures["image, 1 bot changed"] = median_of(args.runs, repo, {**base, "FLEETOPS_FREQTRADE_CHECK": "image"}, one_bot_changed)
        print(f"fleetops validate, {args.bots} bots in pools of 10, median of {args.runs} runs (whole process):")
        for name, wall in figures.items():
            extra = "" if name == "off" else f"  (+{wall - figures['off']:.2f} s for the check)"
            print(f"  {name:<22} {wall:6.2f} s{extra}")


if __name__ == "__main__":
    main()
