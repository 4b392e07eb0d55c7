"""``plan --backtest``: each moved pin's old and new strategy version backtested side by side.

Called once the changelog is in the plan, by ``engine.offline.offline_plan`` (``plan --against``)
and by ``engine.flow.plan_commit`` (the live plan, ``plan`` without ``--against``): the bots are
the changelog's (``Plan.strategy_changes``: every listed bot whose pin moved), the new version
the target's compiled bot. The old version (``StrategyVersion``) is, for ``--against``, the
baseline's compiled bot (its strategy file at the base ref: ``versions_of``); for the live plan,
the version each bot runs now — its record's pin and sha256, read from git at that commit as the
changelog reads it (``running_versions``); one git cannot give is a note on that bot, and its new
version is still backtested. Both run with the same inputs — the target bot's backtest config
(``engine.backtest.runs.backtest_config``: pairs, timeframe, stake, fee, ROI, stop-loss…), the
same candles and timerange, the same FreqTrade — so the delta is the code's. Bots that share a
strategy version, a config and candles share one run; candles are made once per (pairs,
timeframe). The new version also goes through FreqTrade's lookahead-analysis on the same inputs
(a strategy whose signals change when later candles are cut off is flagged). Results are cached
(``engine.backtest.runs``), so a second plan of the same pull request costs the candles' hash and
nothing else.

Which FreqTrade (``FLEETOPS_FREQTRADE_CHECK``, as for the FreqTrade check): ``image`` — the
target bot's image, through the Docker engine (an error when it cannot); ``local`` — the local
FreqTrade; ``auto`` (and ``off``: a backtest asked for by flag is still run) — the image when the
Docker engine has it, else the local FreqTrade, with a note saying why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.backtest.candles import CandleSet, from_datadir, synthetic
from engine.backtest.runners import ImageRunner, LocalRunner, Runner, RunnerUnavailable
from engine.backtest.runs import RunRequest, backtest_config, cache_root
from engine.changelog import pinned_text
from engine.compile.desired import DesiredFleet
from engine.compile.essence import BotEssence
from engine.errors import FleetopsError
from engine.plan.backtest import BacktestMetrics, BacktestReport, BotBacktest, DataSet, Lookahead
from engine.plan.model import Plan
from engine.spec.source import FleetSource
from engine.timing import stage

__all__ = ["DEFAULT_DAYS", "BacktestSettings", "StrategyVersion", "require_days", "running_versions", "versions_of", "with_backtests"]

DEFAULT_DAYS = 30
"""Synthetic days backtested when ``--backtest-days`` is not given."""


@dataclass(frozen=True)
class BacktestSettings:
    """What ``plan --backtest`` was given: synthetic ``days``, or the user's ``datadir``; the state
    dir, the Docker engine, and the environment (``FLEETOPS_FREQTRADE_CHECK``,
    ``FLEETOPS_FREQTRADE_PYTHON``, ``FLEETOPS_CACHE_DIR``)."""

    days: int = DEFAULT_DAYS
    datadir: Path | None = None
    state_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    docker_host: str | None = None
    lookahead: bool = True
    """Run FreqTrade's lookahead-analysis of each new version too."""
    runner: Runner | None = None
    """One runner for every bot instead of one chosen per image (tests and benchmarks)."""


@dataclass(frozen=True)
class StrategyVersion:
    """The old side of one bot's pin change: its strategy class and file text; ``text`` None when it
    could not be read, and ``missing`` then says why (a note on the bot)."""

    strategy_class: str
    text: str | None
    missing: tuple[str, ...] = ()


def versions_of(fleet: DesiredFleet) -> dict[str, StrategyVersion]:
    """Each compiled bot's strategy version (``plan --against``: the baseline's), by bot name."""
    return {name: StrategyVersion(bot.essence.strategy_class, bot.strategy_text) for name, bot in fleet.bots.items()}


def running_versions(plan: Plan, running: Mapping[str, BotEssence], source: FleetSource) -> dict[str, StrategyVersion]:
    """The version each listed pin change's bot runs now (``running``: its record's essence, by bot
    name), read through ``source``'s git at the commit its pin names and checked against the sha256
    it ran (``engine.changelog.pinned_text``), by bot name; a version git cannot give has no text
    and says why. One read per distinct running version. Never raises."""
    read: dict[tuple[str, str, str], StrategyVersion] = {}
    found: dict[str, StrategyVersion] = {}
    for change in plan.listed_strategy_changes:
        name = change.address.removeprefix("bot/")
        essence = running.get(name)
        if essence is None:
            continue
        key = (essence.strategy, essence.strategy_class, essence.strategy_sha256)
        if key not in read:
            text, notes = pinned_text(source, essence, "running", "to backtest it")
            read[key] = StrategyVersion(essence.strategy_class, text, notes)
        found[name] = read[key]
    return found


def with_backtests(plan: Plan, before: Mapping[str, StrategyVersion], after: DesiredFleet, settings: BacktestSettings,
                   runner: Runner | None = None) -> Plan:
    """``plan`` with its backtest section: every listed pin change (``plan.listed_strategy_changes``)
    whose bot has an old version in ``before`` (by bot name: ``versions_of`` a baseline, or
    ``running_versions``) and is in ``after``, backtested old and new (``runner``, else
    ``settings.runner``: one for every bot; else chosen per image). Raises FleetopsError when no
    FreqTrade can run the backtests or the user's datadir lacks a pair's candles; a bot whose
    backtest cannot be set up (futures, no pairs) or fails, or whose old version could not be
    read (its new one still runs), is a note in the section, not an error."""
    changed = [(s.address.removeprefix("bot/"), s) for s in plan.listed_strategy_changes]
    changed = [(name, s) for name, s in changed if name in before and name in after.bots]
    if not changed:
        return plan
    chooser = _Runners(settings, runner or settings.runner)
    candle_sets: dict[tuple[tuple[str, ...], str], CandleSet] = {}
    by_runner: dict[int, tuple[Runner, dict[str, RunRequest]]] = {}
    skipped: dict[str, str] = {}
    for name, _ in changed:
        new = after.bots[name]
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
        chosen = chooser.get(after.containers[new.container].essence.image)
        group = by_runner.setdefault(id(chosen), (chosen, {}))[1]
        old = before[name]
        if old.text is not None:
            group[f"{name}/old"] = RunRequest(old.strategy_class, old.text, config, candles)
        else:
            skipped[name] = "; ".join(old.missing or ("the old version's source could not be read",)) + ": only the new version was backtested"
        group[f"{name}/new"] = RunRequest(new.essence.strategy_class, new.strategy_text, config, candles)
        if settings.lookahead:
            group[f"{name}/lookahead"] = RunRequest(new.essence.strategy_class, new.strategy_text, config, candles, "lookahead")
    results: dict[str, dict[str, object]] = {}
    requests: dict[str, RunRequest] = {}
    with stage("backtest runs"):
        for chosen, group in list(by_runner.values()):
            try:
                results.update(chosen.run(group))
            except RunnerUnavailable as exc:
                fallback = chooser.instead(chosen, str(exc))
                by_runner[id(chosen)] = (fallback, group)
                results.update(fallback.run(group))
            requests.update(group)
    bots = []
    for name, change in changed:
        notes = [skipped[name]] if name in skipped else []
        old_metrics, new_metrics = _metrics(results.get(f"{name}/old"), "old", notes), _metrics(results.get(f"{name}/new"), "new", notes)
        data = requests[f"{name}/new"].candles.sha256 if f"{name}/new" in requests else ""
        lookahead = _lookahead(results.get(f"{name}/lookahead"), notes)
        bots.append(BotBacktest(change.address, change.before, change.after, data, old_metrics, new_metrics, tuple(notes), lookahead))
    datasets = tuple(DataSet(c.name, c.sha256, c.pairs, c.timeframe, c.timerange, c.synthetic)
                     for c in sorted(candle_sets.values(), key=lambda c: (c.timeframe, c.pairs)))
    fee = sorted({str(r.config.get("fee")) for r in requests.values()})
    shared = (f"each bot's own pairs, timeframe, stake, wallet, ROI and stop-loss (its rendered config) for both versions; "
              f"fee {', '.join(fee) or '-'} per side; Binance's market rules")
    used = [chosen for chosen, _ in by_runner.values()]
    report = BacktestReport(", ".join(sorted({r.version for r in used})) or "-", ", ".join(r.name for r in used) or "-", shared, datasets,
                            tuple(bots), tuple(chooser.notes))
    return dataclasses.replace(plan, backtest=report)


class _Runners:
    """One runner per image, chosen by ``FLEETOPS_FREQTRADE_CHECK`` (see the module docstring), made on first use."""

    def __init__(self, settings: BacktestSettings, fixed: Runner | None) -> None:
        self.settings = settings
        self.fixed = fixed
        self.mode = (settings.environ.get("FLEETOPS_FREQTRADE_CHECK") or "auto").strip().lower()
        self.cache = cache_root(settings.state_dir, settings.environ)
        self.by_image: dict[str, Runner] = {}
        self.local: LocalRunner | None = None
        self.notes: list[str] = []

    def get(self, image: str) -> Runner:
        if self.fixed is not None:
            return self.fixed
        if image not in self.by_image:
            self.by_image[image] = self._choose(image)
        return self.by_image[image]

    def instead(self, failed: Runner, why: str) -> Runner:
        """The local runner for what ``failed`` (an image's) could not run, in ``auto``; else FleetopsError."""
        if self.fixed is not None or self.mode == "image" or isinstance(failed, LocalRunner):
            raise FleetopsError(f"plan --backtest: {why}")
        self.notes.append(f"the bots on {failed.name} were backtested with a local FreqTrade, not the image's: {why}")
        return self._local()

    def _local(self) -> LocalRunner:
        if self.local is None:
            self.local = LocalRunner(self.settings.environ, self.cache)
        return self.local

    def _choose(self, image: str) -> Runner:
        if self.mode != "local":
            try:
                return ImageRunner(image, self.settings.docker_host, self.cache)
            except FleetopsError as exc:
                if self.mode == "image":
                    raise FleetopsError(f"plan --backtest cannot use image {image}: {exc} (FLEETOPS_FREQTRADE_CHECK=image)") from None
                why = str(exc)
            self.notes.append(f"the bots on image {image} were backtested with a local FreqTrade, not the image's: {why}")
        return self._local()


def _candle_cache(settings: BacktestSettings) -> Path | None:
    root = cache_root(settings.state_dir, settings.environ)
    return root.parent / "candles" if root is not None else None


def _metrics(result: Mapping[str, object] | None, side: str, notes: list[str]) -> BacktestMetrics | None:
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


def _lookahead(result: Mapping[str, object] | None, notes: list[str]) -> Lookahead | None:
    if result is None:
        return None
    if "error" in result:
        notes.append(f"the new version's lookahead-analysis {result['error']}: {result.get('message', '')}")
        return None
    try:
        return Lookahead.from_json(dict(result))
    except (KeyError, TypeError, ValueError):
        notes.append("the new version's lookahead-analysis gave no answer")
        return None


def require_days(days: int) -> int:
    """``--backtest-days`` checked: 1 to 365."""
    if not 1 <= days <= 365:
        raise FleetopsError(f"--backtest-days must be between 1 and 365 (it is {days})")
    return days
