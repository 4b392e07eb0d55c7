"""Benchmark: the load check (engine.check.loads) for a pull request that moves 50 strategy pins.

Generates a 50-bot fleet (pools of 10, image fleetops/freqtrade:2026.9) in a temporary git repo,
each bot on its own strategy (S00…S49, a strategy of the usual shape: pandas, TA-Lib, technical)
pinned at v1; then a commit tags v2 of every strategy and the working tree moves every pin to
v2. Runs `fleetops plan --against HEAD` (what CI runs on the pull request) as a whole process,
each figure the median of RUNS runs, nothing cached:
  off            FLEETOPS_FREQTRADE_CHECK=off: the plan alone (with its changelog)
  image, config  the pins not moved: the config check only, in one throwaway container
  image, loads   the 50 pins moved: the config check and 50 strategy loads in that container
  local, config / local, loads   the same with the FreqTrade of .venv-freqtrade
The loads' own cost is "loads - config"; per strategy, that divided by 50 (one fork each, after
FreqTrade's imports, which the config check pays anyway). Needs the Docker engine and the image
(scripts/build-images --only freqtrade); run it under the shared Docker lock.
Usage: python benchmarks/load_check.py [RUNS] [--pins N] [--judges image,local]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from engine.demo_repo import commit_all  # noqa: E402

IMAGE = "fleetops/freqtrade:2026.9"
FREQTRADE_PYTHON = str(ROOT / ".venv-freqtrade" / "bin" / "python")
WHEN = "2026-01-01T00:00:00+00:00"

STRATEGY = '''import talib.abstract as ta
from pandas import DataFrame
from technical import qtpylib

from freqtrade.strategy import IStrategy, IntParameter


class {name}(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {{"0": {roi}}}
    stoploss = -0.10
    startup_candle_count = {warmup}
    buy_rsi = IntParameter(10, 40, default=30, space="buy")

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        bands = qtpylib.bollinger_bands(qtpylib.typical_price(dataframe), window=20, stds=2)
        dataframe["bb_lower"] = bands["lower"]
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[(dataframe["rsi"] < self.buy_rsi.value) & (dataframe["close"] < dataframe["bb_lower"]), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["rsi"] > 70, "exit_long"] = 1
        return dataframe
'''


def make_fleet(root: Path, pins: int) -> None:
    import git

    (root / "strategies").mkdir(parents=True)
    for i in range(pins):
        (root / "strategies" / f"S{i:02d}.py").write_text(STRATEGY.format(name=f"S{i:02d}", roi=0.04, warmup=30))
    repo = git.Repo.init(root, initial_branch="main")
    commit_all(repo, "strategies v1", when=WHEN, tag="v1")
    for i in range(pins):
        (root / "strategies" / f"S{i:02d}.py").write_text(STRATEGY.format(name=f"S{i:02d}", roi=0.05, warmup=40))
    commit_all(repo, "strategies v2", when=WHEN, tag="v2")
    pools = max(1, pins // 10)
    fleet = root / "fleet"
    fleet.mkdir()
    (fleet / "fleet.yaml").write_text(f"kind: Fleet\nname: bench\ndefaults:\n  image: {IMAGE}\n"
                                      "  bot_command: freqtrade trade --config {config} --config {secrets} --userdir {userdir}\n")
    (fleet / "wallets.yaml").write_text(f"kind: Wallet\nname: main\ncurrency: USDT\nbalance: {pins * 100}\nreserve: 0\n")
    (fleet / "pools.yaml").write_text("---\n".join(f"kind: Pool\nname: pool-{p}\ncapacity: 10\n" for p in range(pools)))
    bots = "---\n".join(f"kind: Bot\nname: bot-{i:02d}\nwallet: main\nallocation: 100\npool: pool-{i % pools}\nstrategy: S{i:02d}@v1\n"
                        "pairs: [BTC/USDT]\nstake_amount: 20\nstoploss: -0.10\n" for i in range(pins))
    (fleet / "bots.yaml").write_text(bots)
    commit_all(repo, "fleet", when=WHEN)


def plan(repo: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "engine", "plan", "--repo", str(repo), "--against", "HEAD"], capture_output=True,
                          text=True, env={**os.environ, "FLEETOPS_FREQTRADE_PYTHON": "", **env}, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or ("warning" in proc.stderr and env.get("FLEETOPS_FREQTRADE_CHECK") != "off"):
        sys.exit(f"plan failed or warned: {proc.stdout}{proc.stderr}")
    return wall


def median(runs: int, repo: Path, env: dict[str, str], cache: Path) -> float:
    walls = []
    for n in range(runs):
        walls.append(plan(repo, {**env, "FLEETOPS_CACHE_DIR": str(cache / f"{len(os.listdir(cache))}-{n}")}))  # a new cache: cold
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("--pins", type=int, default=50)
    parser.add_argument("--judges", default="image,local", help="which judges to time (image needs Docker and the lock)")
    args = parser.parse_args()
    judges = args.judges.split(",")
    if "image" in judges:
        subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo, cache = Path(tmp) / "fleet", Path(tmp) / "cache"
        cache.mkdir()
        make_fleet(repo, args.pins)
        bots = repo / "fleet" / "bots.yaml"
        unmoved = bots.read_text()
        moved = unmoved.replace("@v1\n", "@v2\n")
        figures: dict[str, float] = {}
        figures["off"] = median(args.runs, repo, {"FLEETOPS_FREQTRADE_CHECK": "off"}, cache)
        for judge, env in (("image", {"FLEETOPS_FREQTRADE_CHECK": "image"}),
                           ("local", {"FLEETOPS_FREQTRADE_CHECK": "local", "FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_PYTHON})):
            if judge not in judges:
                continue
            bots.write_text(unmoved)
            figures[f"{judge}, config"] = median(args.runs, repo, env, cache)
            bots.write_text(moved)
            figures[f"{judge}, loads"] = median(args.runs, repo, env, cache)
    print(f"plan --against HEAD, {args.pins} bots, {args.pins} pins moved, median of {args.runs}, nothing cached:")
    for name, wall in figures.items():
        print(f"  {name:<15} {wall:6.2f} s")
    for judge in judges:
        extra = figures[f"{judge}, loads"] - figures[f"{judge}, config"]
        print(f"  {judge}: the {args.pins} loads add {extra:.2f} s ({1000 * extra / args.pins:.0f} ms per strategy)")


if __name__ == "__main__":
    main()
