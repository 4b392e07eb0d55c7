"""The offline half of the pipeline: two git refs → compile both → pair and diff → Plan. No Docker.

What CI runs on a pull request (``plan --against``) and what ``render`` compiles. Split from
``engine.flow`` so these commands import the spec, compile and plan layers only: the live half
(Docker SDK, supervisord, HTTP, the revision store) costs start-up time they never use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.changelog import with_changelog
from engine.check import CheckSettings, require_accepted
from engine.compile.desired import DesiredFleet, compile_fleet, placements_of
from engine.errors import Problem, SourceError, SpecError
from engine.plan.diff import plan_fleets
from engine.plan.model import Plan, Snapshot
from engine.spec.load import LoadedFleet, ParseCache, load_fleet
from engine.timing import stage

if TYPE_CHECKING:
    from engine.backtest import BacktestSettings

__all__ = ["compile_at", "offline_plan", "snapshot_of"]


def snapshot_of(loaded: LoadedFleet) -> Snapshot:
    """How a plan names a side read from git: the ref as given, its commit, whether it is dirty."""
    source = loaded.source
    return Snapshot("ref", source.ref if source.ref is not None else "HEAD", source.commit, source.dirty, subject=source.subject)


def compile_at(repo: str | Path, ref: str | None, *, rebalance: bool = False,
               warn: Callable[[Problem], None] | None = None) -> tuple[LoadedFleet, DesiredFleet]:
    loaded = load_fleet(repo, ref, warn=warn)
    return loaded, compile_fleet(loaded.spec, rebalance=rebalance)


def offline_plan(repo: str | Path, ref: str | None, against: str, *, rebalance: bool = False,
                 warn: Callable[[Problem], None] | None = None, check: CheckSettings | None = None,
                 backtest: BacktestSettings | None = None) -> Plan:
    """Plan from the fleet at ``against`` to the fleet at ``ref`` (None: the working tree); no Docker
    for the plan itself. ``warn`` hears the target's warnings (files that look like specs but are not
    read). With ``check``, the target's configs go through the FreqTrade check (``engine.check``: the
    image's FreqTrade when a Docker engine has it), and the strategies of the bots whose pin (or
    load settings) changed against ``against`` are loaded by it; a refusal is a SpecError. With
    ``backtest`` (``plan --backtest``), every moved pin's old and new version is backtested
    (``engine.backtest``) and the plan carries the results."""
    cache = ParseCache()  # shared by both sides: the files they have in common are parsed once
    try:
        with stage(f"load {against}"):
            base_loaded = load_fleet(repo, against, cache=cache)
    except SpecError as exc:
        first = exc.problems[0] if exc.problems else ""
        raise SourceError(
            f"the baseline {against} does not validate ({len(exc.problems)} problem(s), first: {first}); "
            "fix it there or plan against another ref"
        ) from exc
    with stage(f"compile {against}"):
        baseline = compile_fleet(base_loaded.spec)
    with stage(f"load {ref or 'working tree'}"):
        target_loaded = load_fleet(repo, ref, cache=cache, warn=warn)
    with stage(f"compile {ref or 'working tree'}"):
        target = compile_fleet(target_loaded.spec, placements_of(baseline), rebalance=rebalance)
    if check is not None:
        with stage("freqtrade check"):
            require_accepted(target_loaded.spec, target, check, {n: b.essence for n, b in baseline.bots.items()})
    base = snapshot_of(base_loaded)
    with stage("diff"):
        plan = plan_fleets(baseline, target, snapshot_of(target_loaded), Snapshot("ref", against, base.commit))
    with stage("strategy changelog"):
        plan = with_changelog(plan, {n: b.essence for n, b in baseline.bots.items()}, {n: b.essence for n, b in target.bots.items()},
                              target_loaded.source)
    if backtest is not None:
        from engine.backtest import versions_of, with_backtests  # its modules only when asked: a plain plan keeps its start-up

        with stage("backtest"):
            plan = with_backtests(plan, versions_of(baseline), target, backtest)
    return plan
