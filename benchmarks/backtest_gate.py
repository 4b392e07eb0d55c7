"""Benchmark: the backtest gate (``plan --backtest``) for one pin change, 5 pairs x 90 days of 5m candles, old vs new.

Builds a one-bot fleet in a temporary git repo: MeanRevert v1.0.0 (examples/strategy-history) tagged
v1, v1.1.0 (strategies/) tagged v2, the bot on 5 pairs at 5m moved from v1 to v2 in the working
tree. Then, with the FreqTrade of .venv-freqtrade, times:
  candles        generating and hashing the synthetic candles (5 pairs x (90 + 2 warm-up) days)
  plan, cold     ``offline_plan(..., backtest=...)`` with an empty cache: the plan, the candles, two backtests and
                 the new version's lookahead-analysis
  plan, cached   the same again: every result from the cache
  worker: old / new / lookahead  each run's own seconds in the worker (a further cold run)
  plan alone     the same plan without --backtest (what every other plan costs)
Prints seconds; each figure the median of RUNS runs (default 1: a cold run takes most of a minute),
then every stage of every plan (engine.timing: "backtest candles", "backtest runs" — FreqTrade's
imports and both backtests in one process — and the plan's own) in the order they ran.
Usage: python benchmarks/backtest_gate.py [RUNS] [--days N] [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FLEETOPS_TIMINGS", "1")  # the plan's stages, printed to stderr at the end (engine.timing)
from engine import timing  # noqa: E402
from engine.backtest import BacktestSettings, versions_of, with_backtests  # noqa: E402
from engine.backtest.candles import synthetic  # noqa: E402
from engine.backtest.runners import LocalRunner  # noqa: E402
from engine.demo_repo import commit_all  # noqa: E402
from engine.offline import compile_at, offline_plan  # noqa: E402

FREQTRADE_PYTHON = str(ROOT / ".venv-freqtrade" / "bin" / "python")
WHEN = "2026-01-01T00:00:00+00:00"
PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "LTC/USDT")
FLEET = """kind: Fleet
name: benchfleet
defaults:
  image: fleetops/freqtrade:2026.9
---
kind: Wallet
name: main
currency: USDT
balance: 10000
---
kind: Pool
name: standard
capacity: 2
memory: 1g
cpus: 1.0
"""
BOT = """kind: Bot
name: mean-1
wallet: main
allocation: 1000
pool: standard
strategy: MeanRevert@{tag}
pairs: [{pairs}]
timeframe: 5m
stake_amount: 100
stoploss: -0.06
minimal_roi: {{"0": 0.03, "60": 0.015}}
"""


def make_repo(path: Path, pairs: tuple[str, ...]) -> None:
    import git

    repo = git.Repo.init(path, initial_branch="main")
    (path / "strategies").mkdir()
    shutil.copy(ROOT / "examples/strategy-history/v1.0.0/MeanRevert.py", path / "strategies/MeanRevert.py")
    commit_all(repo, "MeanRevert v1.0.0", when=WHEN, tag="v1")
    shutil.copy(ROOT / "strategies/MeanRevert.py", path / "strategies/MeanRevert.py")
    commit_all(repo, "MeanRevert v1.1.0", when=WHEN, tag="v2")
    (path / "fleet").mkdir()
    (path / "fleet/fleet.yaml").write_text(FLEET)
    (path / "fleet/bots.yaml").write_text(BOT.format(tag="v1", pairs=", ".join(pairs)))
    commit_all(repo, "fleet", when=WHEN)
    (path / "fleet/bots.yaml").write_text(BOT.format(tag="v2", pairs=", ".join(pairs)))


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=1)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    pairs = PAIRS[: args.pairs]
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        make_repo(root / "repo", pairs)
        figures: dict[str, list[float]] = {"candles": [], "plan, cold": [], "plan, cached": [], "plan alone": []}
        each: dict[str, list[float]] = {}
        for n in range(args.runs):
            cache = root / f"cache{n}"
            environ = {"FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_PYTHON, "FLEETOPS_CACHE_DIR": str(cache)}
            settings = BacktestSettings(days=args.days, environ=environ)
            figures["candles"].append(timed(lambda: synthetic(pairs, "5m", args.days)))
            result = {}

            def cold(settings: BacktestSettings = settings, result: dict[str, object] = result) -> None:
                result["plan"] = offline_plan(root / "repo", None, "HEAD", backtest=settings)

            figures["plan, cold"].append(timed(cold))
            figures["plan, cached"].append(timed(lambda settings=settings: offline_plan(root / "repo", None, "HEAD", backtest=settings)))
            figures["plan alone"].append(timed(lambda: offline_plan(root / "repo", None, "HEAD")))
            runner = LocalRunner(environ, root / f"runs{n}")  # once more, cold, for each run's own time in the worker
            with_backtests(offline_plan(root / "repo", None, "HEAD"), versions_of(compile_at(root / "repo", "HEAD")[1]), compile_at(root / "repo", None)[1],
                           settings, runner)
            for name, seconds in runner.seconds.items():
                each.setdefault(name.split("/", 1)[1], []).append(seconds)
        report = result["plan"].backtest  # type: ignore[attr-defined]
    print(f"backtest gate: {len(pairs)} pairs x {args.days} days of 5m candles, MeanRevert v1.0.0 vs v1.1.0, FreqTrade {report.freqtrade}")
    for name, values in figures.items():
        print(f"  {name:<14} {statistics.median(values):7.2f} s")
    for name, values in sorted(each.items()):
        print(f"  worker: {name:<10} {statistics.median(values):7.2f} s (one forked child, FreqTrade imported before)")
    for bot in report.bots:
        for side, metrics in (("old", bot.old), ("new", bot.new)):
            if metrics is not None:
                win = f"{metrics.win_rate_pct:.2f}" if metrics.win_rate_pct is not None else "-"
                print(f"  {side}: {metrics.trades} trades, profit {metrics.profit_pct:.2f} %, max drawdown {metrics.max_drawdown_pct:.2f} %, "
                      f"win rate {win} %")
        if bot.lookahead is not None:
            print(f"  lookahead-analysis of the new version: {bot.lookahead.summary}")
        for note in bot.notes:
            print(f"  note: {note}")
    print(f"  results sha256 {report.results_sha256}")
    timing.report()


if __name__ == "__main__":
    main()
