"""The whole pipeline in a few lines: load → compile → pair and diff → plan.

Called by the CLI (and, later, the watcher): there is one way to compute a plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.desired import DesiredFleet, compile_fleet, placements_of
from engine.errors import SpecError, SourceError
from engine.load import LoadedFleet, load_fleet
from engine.plan.diff import plan_fleets
from engine.plan.model import Plan
from engine.timing import stage

__all__ = ["compile_at", "offline_plan", "snapshot_meta"]


def snapshot_meta(loaded: LoadedFleet, kind: str | None = None) -> dict[str, Any]:
    """How a plan names one side: the ref as given, the commit it is, and whether it is dirty."""
    source = loaded.source
    meta: dict[str, Any] = {"ref": source.ref if source.ref is not None else "HEAD", "commit": source.commit}
    if kind is not None:
        meta = {"kind": kind, **meta, "revision": None}
    else:
        meta["dirty"] = source.dirty
    return meta


def compile_at(repo: str | Path, ref: str | None, *, rebalance: bool = False) -> tuple[LoadedFleet, DesiredFleet]:
    loaded = load_fleet(repo, ref)
    return loaded, compile_fleet(loaded.spec, rebalance=rebalance)


def offline_plan(repo: str | Path, ref: str | None, against: str, *, rebalance: bool = False) -> Plan:
    """Plan from the fleet at ``against`` to the fleet at ``ref`` (None: the working tree); no Docker."""
    try:
        with stage(f"load {against}"):
            base_loaded = load_fleet(repo, against)
    except SpecError as exc:
        first = exc.problems[0] if exc.problems else ""
        raise SourceError(
            f"the baseline {against} does not validate ({len(exc.problems)} problem(s), first: {first}); "
            "fix it there or plan against another ref"
        ) from exc
    with stage(f"compile {against}"):
        baseline = compile_fleet(base_loaded.spec)
    with stage(f"load {ref or 'working tree'}"):
        target_loaded = load_fleet(repo, ref)
    with stage(f"compile {ref or 'working tree'}"):
        target = compile_fleet(target_loaded.spec, placements_of(baseline), rebalance=rebalance)
    base_meta = snapshot_meta(base_loaded, kind="ref")
    base_meta["ref"] = against
    with stage("diff"):
        return plan_fleets(baseline, target, snapshot_meta(target_loaded), base_meta)
