"""``plan --backtest``: each moved pin's old and new strategy version backtested side by side.

Called by ``engine.offline.offline_plan`` (``plan --against``) once the changelog is in the plan:
the bots are the changelog's (``Plan.strategy_changes``: every listed bot whose pin moved), the old
version is the baseline's compiled bot (its strategy file at the base ref), the new one the
target's. Both run with the same inputs — the target bot's backtest config
(``engine.backtest.runs.backtest_config``: pairs, timeframe, stake, fee, ROI, stop-loss…), the
same candles and timerange, the same FreqTrade — so the delta is the code's. Bots that share a
strategy version, a config and candles share one run; candles are made once per (pairs,
timeframe). Results are cached (``engine.backtest.runs``), so a second plan of the same pull
request costs the candles' hash and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.backtest.candles import CandleSet, from_datadir, synthetic
from engine.backtest.runs import LocalRunner, RunRequest, backtest_config, cache_root
from engine.compile.desired import DesiredBot
from engine.errors import FleetopsError
from engine.plan.backtest import BacktestMetrics, BacktestReport, BotBacktest, DataSet
from engine.plan.model import Plan
from engine.timing import stage

__all__ = ["DEFAULT_DAYS", "BacktestSettings", "with_backtests"]

DEFAULT_DAYS = 30
"""Synthetic days backtested when ``--backtest-days`` is not given."""


@dataclass(frozen=True)
class BacktestSettings:
    """What ``plan --backtest`` was given: synthetic ``days``, or the user's ``datadir``; the state
    dir and environment (``FLEETOPS_FREQTRADE_PYTHON``, ``FLEETOPS_CACHE_DIR``)."""

    days: int = DEFAULT_DAYS
    datadir: Path | None = None
    state_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)


def with_backtests(plan: Plan, before: Mapping[str, DesiredBot], after: Mapping[str, DesiredBot], settings: BacktestSettings,
                   runner: LocalRunner | None = None) -> Plan:
    """``plan`` with its backtest section: every listed pin change (``plan.listed_strategy_changes``)
    whose bot is on both sides, backtested old and new. Raises FleetopsError when no FreqTrade can
    run the backtests or the user's datadir lacks a pair's candles; a bot whose backtest cannot be
    set up (futures, no pairs) or fails is a note in the section, not an error."""
    changed = [(s.address.removeprefix("bot/"), s) for s in plan.listed_strategy_changes]
    changed = [(name, s) for name, s in changed if name in before and name in after]
    if not changed:
        return plan
    runner = runner or LocalRunner(settings.environ, cache_root(settings.state_dir, settings.environ))
    candle_sets: dict[tuple[tuple[str, ...], str], CandleSet] = {}
    requests: dict[str, RunRequest] = {}
    skipped: dict[str, str] = {}
    for name, _ in changed:
        new = after[name]
        config = backtest_config(name, new.essence)
        if config.get("trading_mode", "spot") != "spot":
            skipped[name] = f"not backtested: it trades {config['trading_mode']}, and the backtest's market is spot only"
            continue
        pairs, timeframe = tuple(new.essence.pairs), str(config["timeframe"])
        if not pairs:
            skipped[name] = "not backtested: the bot has no static pairs"
            continue
        if (pairs, timeframe) not in candle_sets:
            with stage("backtest candles"):
                candle_sets[pairs, timeframe] = (from_datadir(settings.datadir, pairs, timeframe) if settings.datadir is not None
                                                 else synthetic(pairs, timeframe, settings.days, _candle_cache(settings)))
        candles = candle_sets[pairs, timeframe]
        requests[f"{name}/old"] = RunRequest(before[name].essence.strategy_class, before[name].strategy_text, config, candles)
        requests[f"{name}/new"] = RunRequest(new.essence.strategy_class, new.strategy_text, config, candles)
    with stage("backtest runs"):
        results = runner.run(requests) if requests else {}
    bots = []
    for name, change in changed:
        notes = [skipped[name]] if name in skipped else []
        old, new_metrics = _metrics(results.get(f"{name}/old"), "old", notes), _metrics(results.get(f"{name}/new"), "new", notes)
        data = requests[f"{name}/new"].candles.sha256 if f"{name}/new" in requests else ""
        bots.append(BotBacktest(change.address, change.before, change.after, data, old, new_metrics, tuple(notes)))
    datasets = tuple(DataSet(c.name, c.sha256, c.pairs, c.timeframe, c.timerange, c.synthetic)
                     for c in sorted(candle_sets.values(), key=lambda c: (c.timeframe, c.pairs)))
    fee = sorted({str(r.config.get("fee")) for r in requests.values()})
    shared = (f"each bot's own pairs, timeframe, stake, wallet, ROI and stop-loss (its rendered config) for both versions; "
              f"fee {', '.join(fee) or '-'} per side; Binance's market rules")
    report = BacktestReport(runner.version, runner.name, shared, datasets, tuple(bots))
    return dataclasses.replace(plan, backtest=report)


def _candle_cache(settings: BacktestSettings) -> Path | None:
    root = cache_root(settings.state_dir, settings.environ)
    return root.parent / "candles" if root is not None else None


def _metrics(result: dict[str, object] | None, side: str, notes: list[str]) -> BacktestMetrics | None:
    if result is None:
        return None
    if "error" in result:
        notes.append(f"the {side} version's backtest {result['error']}: {result.get('message', '')}")
        return None
    try:
        return BacktestMetrics.from_json(dict(result))
    except (KeyError, TypeError, ValueError):
        notes.append(f"the {side} version's backtest gave no figures")
        return None


def require_days(days: int) -> int:
    """``--backtest-days`` checked: 1 to 365."""
    if not 1 <= days <= 365:
        raise FleetopsError(f"--backtest-days must be between 1 and 365 (it is {days})")
    return days
