"""Live plan, apply and rollback: the pipeline with Docker on the baseline side.

Called by the CLI (and the watcher). One path computes the plan for both ``plan`` and
``apply``, so apply executes exactly the plan it printed::

    observe Docker → compile specs (keeping live assignment) → diff + drift → plan
    plan → record pending revision → execute → health → applied | rolled back
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compile.assign import Placement
from engine.compile.desired import DesiredFleet, compile_fleet, placements_of
from engine.live.docker_api import DockerEngine
from engine.errors import ApplyError, FleetopsError, HealthError, SourceError, SpecError
from engine.live.executor import Executor
from engine.live.health import BotHealth, check_health
from engine.spec.load import LoadedFleet, load_fleet
from engine.live.notify import send_event
from engine.live.observe import LiveFleet, baseline_from_live, observe
from engine.compile.payload import fleet_from_payload, fleet_to_payload
from engine.plan.diff import plan_fleets
from engine.live.drift import with_drift
from engine.plan.jsonfmt import plan_as_dict
from engine.plan.model import Plan
from engine.compile.render import network_name
from engine.live.runtime import Runtime
from engine.live.secrets import load_or_create_key
from engine.live.store import Revision, RevisionStatus, RevisionStore
from engine.timing import stage

__all__ = ["ApplyOutcome", "FleetContext", "LivePlan", "compile_at", "offline_plan", "snapshot_meta"]


@dataclass
class LivePlan:
    plan: Plan
    target: DesiredFleet
    live: LiveFleet
    source: dict[str, Any]


@dataclass
class ApplyOutcome:
    revision: int | None
    status: RevisionStatus | None
    health: dict[str, BotHealth]
    message: str


class FleetContext:
    """Docker, the state dir and the revision store, for one fleet."""

    def __init__(self, state_dir: Path, docker_host: str | None, progress: Callable[[str], None] = lambda _: None) -> None:
        self.state_dir = state_dir
        self.docker = DockerEngine(docker_host)
        self.store = RevisionStore(state_dir)
        self.progress = progress
        self._key = load_or_create_key(state_dir)

    def runtime(self, fleet: str) -> Runtime:
        return Runtime(self.state_dir, fleet, self._key)

    def last_good(self, fleet: str) -> Revision | None:
        return self.store.latest(fleet=fleet, good_only=True)

    def plan_to(self, target_of: Callable[[dict[str, Placement]], DesiredFleet], source: dict[str, Any], fleet: str) -> LivePlan:
        """Observe Docker, compile the target with the live assignment as prior, diff, add drift."""
        runtime = self.runtime(fleet)
        with stage("observe docker"):
            live = observe(self.docker, runtime, fleet)
        previous_revision = self.last_good(fleet)
        previous = fleet_from_payload(previous_revision.payload) if previous_revision else None
        prior = {name: Placement(**bot.record["placement"]) for name, bot in live.bots.items()}
        with stage("compile target"):
            target = target_of(prior)
        with stage("diff"):
            baseline = baseline_from_live(live, runtime, previous)
            meta = {"kind": "live", "ref": None, "commit": previous_revision.commit if previous_revision else None,
                    "revision": previous_revision.number if previous_revision else None}
            plan = with_drift(plan_fleets(baseline, target, source, meta), live, target)
        return LivePlan(plan, target, live, source)

    def plan_specs(self, repo: str | Path, ref: str | None, *, rebalance: bool = False) -> LivePlan:
        with stage("load specs"):
            loaded = load_fleet(repo, ref)
        return self.plan_to(lambda prior: compile_fleet(loaded.spec, prior, rebalance=rebalance), snapshot_meta(loaded), loaded.spec.fleet.name)

    def plan_revision(self, revision: Revision) -> LivePlan:
        stored = fleet_from_payload(revision.payload)
        source = {"ref": f"revision {revision.number}", "commit": revision.commit, "dirty": revision.dirty}
        return self.plan_to(lambda _prior: stored, source, stored.name)

    def apply(self, live_plan: LivePlan, *, rollback: bool, message: str = "", event: str = "apply") -> ApplyOutcome:
        """Execute a plan, record the revision, check health, roll back if it breaks bots.

        However it ends, the fleet's notify hooks hear about it once the revision is final.
        """
        self.store.mark_interrupted()
        plan, target = live_plan.plan, live_plan.target
        number = self.store.begin(target.name, live_plan.source.get("commit"), live_plan.source.get("ref"),
                                  bool(live_plan.source.get("dirty")), plan_as_dict(plan), fleet_to_payload(target))
        try:
            return self._execute(number, live_plan, rollback, message)
        finally:
            self._notify(target, number, event)

    def _execute(self, number: int, live_plan: LivePlan, rollback: bool, message: str) -> ApplyOutcome:
        plan, target = live_plan.plan, live_plan.target
        runtime = self.runtime(target.name)
        try:
            with stage("execute plan"):
                result = Executor(self.docker, runtime, target, live_plan.live, number, self.progress).run(plan)
            with stage("health checks"):
                health = self._health(target, result.check_bots)
        except HealthError as exc:
            return self._failed(number, target, rollback, str(exc), {})
        except FleetopsError as exc:
            self.store.finish(number, RevisionStatus.FAILED, str(exc))
            raise
        sick = [h for h in health.values() if not h.healthy]
        if sick:
            detail = ", ".join(f"{h.bot}: {h.detail}" for h in sick)
            return self._failed(number, target, rollback, f"{len(sick)} bot(s) unhealthy: {detail}", health)
        self.store.finish(number, RevisionStatus.APPLIED, message)
        return ApplyOutcome(number, RevisionStatus.APPLIED, health, f"revision {number} applied")

    def _notify(self, target: DesiredFleet, number: int, kind: str) -> None:
        """Tell the fleet's hooks how the revision ended (never changes that outcome)."""
        revision = self.store.get(number)
        event = {"event": kind, "fleet": target.name, **{k: v for k, v in revision.summary().items() if k != "fleet"},
                 "plan_summary": revision.plan.get("summary", {})}
        send_event(list(target.settings.get("notify", [])), event, self.progress)

    def _health(self, target: DesiredFleet, bots: set[str]) -> dict[str, BotHealth]:
        if not bots:
            return {}
        self.progress(f"waiting for {len(bots)} bot(s) to answer /api/v1/ping")
        listed = {c.name: c for c in self.docker.list_fleet(target.name, network_name(target.name))}
        timeout = float(target.settings.get("health", {}).get("timeout_seconds", 60))
        targets = {}
        for name in sorted(bots):
            bot = target.bots[name]
            container = listed.get(bot.container)
            targets[name] = (container.ip if container else None, bot.placement.port)
        return check_health(targets, timeout)

    def _failed(self, number: int, target: DesiredFleet, rollback: bool, reason: str, health: dict[str, BotHealth]) -> ApplyOutcome:
        auto = target.settings.get("health", {}).get("rollback", "auto") == "auto"
        previous = self.last_good(target.name)
        if not (rollback and auto) or previous is None:
            why = "rollback is off" if not (rollback and auto) else "there is no earlier healthy revision"
            self.store.finish(number, RevisionStatus.FAILED, f"{reason}; not rolled back: {why}")
            raise ApplyError(f"revision {number} failed its health checks ({reason}); not rolled back: {why}")
        self.progress(f"health checks failed ({reason}); rolling back to revision {previous.number}")
        back = self.plan_revision(previous)
        try:
            result = Executor(self.docker, self.runtime(target.name), back.target, back.live, previous.number, self.progress).run(back.plan)
            after = self._health(back.target, result.check_bots)
        except FleetopsError as exc:
            self.store.finish(number, RevisionStatus.FAILED, f"{reason}; rollback to {previous.number} failed: {exc}")
            raise ApplyError(f"revision {number} failed ({reason}) and the rollback to revision {previous.number} failed too: {exc}") from exc
        still_sick = [h.bot for h in after.values() if not h.healthy]
        note = f"; after rollback still unhealthy: {', '.join(still_sick)}" if still_sick else ""
        self.store.finish(number, RevisionStatus.ROLLED_BACK, f"{reason}; rolled back to revision {previous.number}{note}")
        raise HealthError(f"revision {number} failed its health checks ({reason}); rolled back to revision {previous.number}{note}")

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
