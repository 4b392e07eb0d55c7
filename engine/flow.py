"""The whole pipeline, in the order it runs — a newcomer's first read::

    offline plan:  load ref A, load ref B → compile both → pair and diff → Plan
    live plan:     observe Docker → compile specs (keeping the live assignment) → pair and diff → + drift → Plan
    apply:         record pending → execute → health → record applied, or roll back → notify

Called by the CLI and the watcher; there is one way to plan and one way to apply, and apply
executes exactly the plan that was printed. The decisions (what failed, what to roll back to)
are ``engine.live.policy``'s; the outside world is reached only through ``Ports``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.check import CheckSettings, require_accepted
from engine.compile.assign import Placement
from engine.compile.desired import DesiredFleet, compile_fleet
from engine.compile.payload import fleet_from_payload, fleet_to_payload
from engine.errors import ApplyError, FleetopsError, HealthError, Problem
from engine.health.gate import BotHealth
from engine.live import policy
from engine.live.accounts import account_conflicts, starting_bots, with_account_conflicts
from engine.live.drain import drain, with_open_trades, without
from engine.live.drift import with_drift
from engine.live.executor import Executor
from engine.live.health import gate_bots
from engine.live.hostfacts import UserIds, stamp_host_facts
from engine.live.identity import origin_of_path, remember_fleet
from engine.live.images import check_images
from engine.live.noop_proof import ContainerSeen, SpecInputs, settings_digest, write_proof
from engine.live.notify import send_event
from engine.live.observe import LiveFleet, baseline_from_live, observe
from engine.live.ports import Ports
from engine.live.processes import LogStart
from engine.live.rename import find_rename, merged, placements_as
from engine.live.runtime import Runtime
from engine.live.secret_values import UNRESOLVED, load_key, load_or_create_key
from engine.live.settings_drift import with_settings_drift
from engine.live.store import HEALTH_WAIT, ROLLING_BACK, Revision, RevisionStatus, RevisionStore
from engine.naming import Labels
from engine.offline import compile_at, offline_plan, snapshot_of
from engine.plan.diff import plan_fleets
from engine.plan.jsonfmt import plan_as_dict
from engine.plan.model import Plan, Snapshot
from engine.spec.load import ParseCache, load_fleet
from engine.textsafe import one_line
from engine.timing import stage

__all__ = [
    "ApplyOutcome", "Context", "LivePlan", "apply_plan", "check_health", "compile_at", "offline_plan", "plan_live", "plan_revision",
    "plan_specs", "record_noop_proof", "refusal", "remember_origin", "roll_back", "snapshot_of",
]


@dataclass
class Context:
    """Where a fleet lives: its state dir (revisions, runtime dirs, key), the ports, and progress."""

    state_dir: Path
    ports: Ports
    progress: Callable[[str], None] = lambda _line: None
    environ: Mapping[str, str] | None = None
    parse_cache: ParseCache = field(default_factory=ParseCache)
    drain_wait: float | None = None
    """Caps every bot's drain_timeout (the watcher's self-heal does not wait on trades)."""
    freqtrade_check: CheckSettings | None = None
    """Plans of specs go through the FreqTrade check (engine.check) with these settings; None: not checked."""
    """Parsed spec files for this context's life (a watcher's: bounded, see ParseCache)."""
    _store: RevisionStore | None = field(default=None, init=False, repr=False)
    _stored_fleets: dict[tuple[int, str], DesiredFleet] = field(default_factory=dict, init=False, repr=False)

    def stored_fleet(self, revision: Revision) -> DesiredFleet:
        """A revision's desired fleet, parsed once per context: a revision's payload never changes
        after it is recorded, and a watcher reads the running one on every resync."""
        key = (revision.number, revision.started_at)
        if key not in self._stored_fleets:
            if len(self._stored_fleets) >= 4:
                self._stored_fleets.pop(next(iter(self._stored_fleets)))
            self._stored_fleets[key] = fleet_from_payload(revision.payload)
        return self._stored_fleets[key]

    def store(self) -> RevisionStore:
        """The revision store, created on first write."""
        if self._store is None:
            self._store = RevisionStore(self.state_dir)
        return self._store

    def read_store(self) -> RevisionStore | None:
        """The store for reading; None when nothing was ever applied (reading creates nothing)."""
        return self._store if self._store is not None else RevisionStore.open_readonly(self.state_dir)

    def environ_now(self) -> Mapping[str, str]:
        """Where secret references are resolved: the given environment, else the process's."""
        return self.environ if self.environ is not None else os.environ

    def runtime(self, fleet: str, *, writable: bool = False) -> Runtime:
        key = load_or_create_key(self.state_dir) if writable else None
        return Runtime(self.state_dir, fleet, key, self.environ, self.progress)


@dataclass
class LivePlan:
    plan: Plan
    target: DesiredFleet
    live: LiveFleet
    source: Snapshot
    inputs: SpecInputs | None = None
    """What the compile read, when it read a working tree: lets a no-changes plan write a no-op proof."""
    origin: str | None = None
    """The source planned (``engine.live.identity``): a repository's path, or the watcher's remote and branch."""
    renamed_from: str | None = None
    """The fleet name this source was last applied as, when the plan renames it (``engine.live.rename``)."""
    conflicts: tuple[str, ...] = ()
    """Bots the plan would start on an exchange account another fleet trades on this engine (one sentence each)."""
    uids: UserIds = field(default_factory=dict)
    """User names' uids in the target's images, as stamped onto the target."""
    keyed: bool = True
    """False when the state dir had no key yet (nothing applied): apply stamps secret digests then."""


@dataclass
class ApplyOutcome:
    revision: int
    status: RevisionStatus
    health: dict[str, BotHealth]
    message: str
    postponed: dict[str, str] = field(default_factory=dict)
    """Bots whose change waits for their open trades to close (drain timed out); the next apply tries again."""


# -- offline: engine.offline (kept apart so `plan --against` never imports the live half) --------

# -- live -------------------------------------------------------------------------------------

def plan_live(ctx: Context, fleet: str, target_of: Callable[[dict[str, Placement]], DesiredFleet], source: Snapshot, *,
              origin: str | None = None) -> LivePlan:
    """Observe Docker, compile the target with the live assignment as prior, pair and diff, add drift.

    ``origin`` names the source planned: when it was last applied under another fleet name that
    still runs, the old fleet is planned into this one (a rename, ``engine.live.rename``)."""
    with stage("observe docker"):
        live = observe(ctx.ports, ctx.runtime(fleet), fleet)
        rename = find_rename(ctx.ports, ctx.runtime(fleet), origin, fleet)
    current = policy.current_revision(ctx.read_store(), fleet)
    if rename is not None:
        live = merged(live, rename)
    with stage("compile target"):
        target = target_of(placements_as(live))
    with stage("host facts"):
        target, uids, keyed = _with_host_facts(ctx, target, live)
    with stage("diff"):
        # In a rename, the old name's wallets and settings stand for the new one's until it has its own.
        stored = current or (policy.current_revision(ctx.read_store(), rename.old) if rename else None)
        baseline = baseline_from_live(live, ctx.stored_fleet(stored) if stored else None)
        if rename is not None:
            baseline = dataclasses.replace(baseline, name=rename.old)
        meta = Snapshot("live", None, stored.commit if stored else None, revision=stored.number if stored else None)
        plan = with_drift(plan_fleets(baseline, target, source, meta), live, target)
        plan = with_settings_drift(plan, live, target, ctx.runtime(fleet))
    with stage("open trades"):
        plan, _counts = with_open_trades(plan, live, ctx.ports.bot_api)
    with stage("accounts"):
        ignore = frozenset({rename.old}) if rename else frozenset()
        conflicts = account_conflicts(ctx.ports, ctx.runtime(fleet), target, starting_bots(plan, target), ignore=ignore)
        plan = with_account_conflicts(plan, target, conflicts)
    return LivePlan(plan, target, live, source, origin=origin, renamed_from=rename.old if rename else None,
                    conflicts=tuple(c.sentence() for c in conflicts), uids=uids, keyed=keyed)


def _with_host_facts(ctx: Context, target: DesiredFleet, live: LiveFleet) -> tuple[DesiredFleet, UserIds, bool]:
    """The target checked against its images (``engine.live.images``: raises before anything changes)
    and stamped with what only this host knows (``engine.live.hostfacts``)."""
    uids = check_images(ctx.ports.docker, ctx.state_dir, target)
    key = load_key(ctx.state_dir)
    applied = {name: bot.record.essence for name, bot in live.bots.items() if bot.record is not None}
    return stamp_host_facts(target, key, ctx.environ_now(), uids, applied, ctx.progress), uids, key is not None


def plan_specs(ctx: Context, repo: str | Path, ref: str | None, *, rebalance: bool = False,
               warn: Callable[[Problem], None] | None = None) -> LivePlan:
    with stage("load specs"):
        loaded = load_fleet(repo, ref, cache=ctx.parse_cache, warn=warn)

    def target_of(prior: dict[str, Placement]) -> DesiredFleet:
        target = compile_fleet(loaded.spec, prior, rebalance=rebalance)
        if ctx.freqtrade_check is not None:
            with stage("freqtrade check"):
                require_accepted(loaded.spec, target, ctx.freqtrade_check)
        return target

    planned = plan_live(ctx, loaded.spec.fleet.name, target_of, snapshot_of(loaded), origin=origin_of_path(repo))
    if ref is None and not rebalance:
        planned.inputs = SpecInputs(loaded.files, {pin.ref: pin.commit for pin in loaded.spec.pins.values()})
    return planned


def record_noop_proof(ctx: Context, live_plan: LivePlan, repo: str | Path, docker_host: str | None) -> bool:
    """After a full plan of a working tree found nothing to do, let the next one prove it cheaply
    (``engine.live.noop_proof``). Written only from a plan that saw every bot's process."""
    plan, live = live_plan.plan, live_plan.live
    if plan.has_changes or live_plan.inputs is None or live.unanswered or plan.baseline.revision is None:
        return False
    if set(live.inspected) != set(live.containers):
        return False
    containers = {
        name: ContainerSeen(listed.id, listed.state, listed.labels, tuple(sorted(
            b.name for b in live.bots.values() if b.container == name and b.enabled)) if listed.labels.get(Labels.POOL) else (),
            settings_digest(live.inspected[name].settings))
        for name, listed in live.containers.items()
    }
    secrets = _secret_inputs(live_plan.target)
    if secrets is None:
        return False
    inputs = dataclasses.replace(live_plan.inputs, secrets=secrets)
    write_proof(ctx.state_dir, Path(repo).resolve(), docker_host, inputs, live.fleet, plan.baseline.revision, containers)
    return True


def _secret_inputs(target: DesiredFleet) -> dict[str, str] | None:
    """Secret reference → the digest the plan stamped for its value (None: one could not be read)."""
    found: dict[str, str] = {}
    for bot in target.bots.values():
        for name, reference in bot.essence.secrets.items():
            digest = bot.essence.secret_digests.get(name)
            if digest is None or digest == UNRESOLVED:
                return None
            found[reference] = digest
    return found


def plan_revision(ctx: Context, revision: Revision) -> LivePlan:
    """The live plan back to a stored revision: its desired fleet exactly, placements included."""
    stored = ctx.stored_fleet(revision)
    source = Snapshot("revision", f"revision {revision.number}", revision.commit, revision.dirty, revision.number)
    return plan_live(ctx, stored.name, lambda _prior: stored, source)


def refusal(live_plan: LivePlan, allow: frozenset[str]) -> str | None:
    """Why this plan must not be applied, in one sentence; None when it may be. A plan-wide risk
    (``engine.plan.risk``: most of the fleet deleted, the fleet renamed) needs its kind in
    ``allow``; a bot whose exchange account another fleet trades on this engine is never started."""
    risks = [r for r in live_plan.plan.plan_risks if r.kind not in allow]
    if risks:
        return (f"refusing to apply: this plan {' and '.join(r.reason for r in risks)}; "
                f"if that is intended, run it again with {' '.join(r.flag for r in risks)}")
    if live_plan.conflicts:
        return (f"refusing to apply: {'; '.join(live_plan.conflicts)}; stop that fleet first (if it is this repository under "
                "an earlier name, apply the rename from the same repository with --allow-rename)")
    return None


def remember_origin(ctx: Context, live_plan: LivePlan) -> None:
    """Record which fleet the planned source is applied as (``engine.live.identity``)."""
    if live_plan.origin is not None:
        remember_fleet(ctx.state_dir, live_plan.origin, live_plan.target.name)


def apply_plan(ctx: Context, live_plan: LivePlan, *, rollback: bool = True, message: str = "", event: str = "apply",
               allow: frozenset[str] = frozenset()) -> ApplyOutcome:
    """Execute a plan, record the revision, check health, roll back if it breaks bots.

    A health failure is an outcome (rolled_back or failed), not an exception; an error that
    stops the apply marks the revision failed before it propagates. An interrupt (Ctrl-C, a
    second SIGTERM) leaves it pending, as SIGKILL does: bots it already changed run unchecked,
    and the next run finishes it (``engine.resume``). The fleet's notify hooks hear about every
    revision once it is final, and can never change it. A plan ``refusal`` names raises
    ApplyError before anything is recorded or touched.
    """
    refused = refusal(live_plan, allow)
    if refused is not None:
        raise ApplyError(refused)
    live_plan = _keyed(ctx, live_plan)
    store = ctx.store()
    for interrupted in store.mark_interrupted():
        ctx.progress(f"revision {interrupted} was interrupted (its apply stopped part-way); this apply converges from what runs")
    target, source = live_plan.target, live_plan.source
    number = store.begin(target.name, source.commit, source.ref, source.dirty, plan_as_dict(live_plan.plan), fleet_to_payload(target))
    if live_plan.renamed_from is None:  # a rename is the new name's only once it worked
        remember_origin(ctx, live_plan)
    try:
        outcome = _converge(ctx, number, live_plan, rollback, message)
        if live_plan.renamed_from is not None and outcome.status is RevisionStatus.APPLIED:
            remember_origin(ctx, live_plan)
    except Exception as exc:
        if store.get(number).status is RevisionStatus.PENDING:
            store.finish(number, RevisionStatus.FAILED,
                         one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, FleetopsError) else str(exc)))
        _notify(ctx, target, number, event)
        raise
    _notify(ctx, target, number, event)
    return outcome


def _keyed(ctx: Context, live_plan: LivePlan) -> LivePlan:
    """A plan made before the state dir had a key (its first apply) gets its secret digests now.

    Without a key nothing was applied from this state dir, so nothing runs that the digests could
    change the plan for: only what the records and the revision will keep changes."""
    if live_plan.keyed:
        return live_plan
    target = stamp_host_facts(live_plan.target, load_or_create_key(ctx.state_dir), ctx.environ_now(), live_plan.uids)
    return dataclasses.replace(live_plan, target=target, keyed=True)


def _converge(ctx: Context, number: int, live_plan: LivePlan, rollback: bool, message: str) -> ApplyOutcome:
    target, store = live_plan.target, ctx.store()
    runtime = _runtime_for(ctx, live_plan)
    with stage("drain"):
        drained = drain(ctx.ports.bot_api, live_plan.plan, live_plan.live, target, ctx.progress, wait=ctx.drain_wait)
    plan = without(live_plan.plan, drained.postponed, live_plan.live, target)
    if drained.postponed:
        message = "; ".join(([message] if message else []) + [f"postponed {b}: {why}" for b, why in sorted(drained.postponed.items())])
    try:
        with stage("execute plan"):
            result = Executor(ctx.ports, runtime, target, live_plan.live, number, ctx.progress).run(plan)
        store.set_phase(number, HEALTH_WAIT)
        with stage("health checks"):
            health = check_health(ctx, target, result.check_bots, result.start, result.refused)
    except HealthError as exc:
        return roll_back(ctx, number, target, rollback, str(exc), {})
    sick = policy.unhealthy(health)
    if sick:
        detail = ", ".join(f"{h.bot}: {h.detail}" for h in sick)
        for h in sick:
            if h.log:
                ctx.progress(f"{h.bot}: last {len(h.log)} log lines:")
                for line in h.log:
                    ctx.progress(f"  | {line}")
        return roll_back(ctx, number, target, rollback, f"{len(sick)} bot(s) unhealthy: {detail}", health)
    store.finish(number, RevisionStatus.APPLIED, message)
    postponed = f"; postponed until their trades close: {', '.join(sorted(drained.postponed))}" if drained.postponed else ""
    return ApplyOutcome(number, RevisionStatus.APPLIED, health, f"revision {number} applied{postponed}", drained.postponed)


def _runtime_for(ctx: Context, live_plan: LivePlan) -> Runtime:
    """The target's runtime, reaching the containers of a fleet being renamed into it."""
    runtime = ctx.runtime(live_plan.target.name, writable=True)
    for container, owner in live_plan.live.owners.items():
        runtime.adopt(owner, container)
    return runtime


def check_health(ctx: Context, target: DesiredFleet, bots: set[str], start: LogStart | None = None,
                 refused: Mapping[str, str] | None = None) -> dict[str, BotHealth]:
    """The health gate on ``bots`` of ``target`` (``engine.live.health.gate_bots``)."""
    return gate_bots(ctx.ports, ctx.runtime(target.name, writable=True), target, bots, start=start, refused=refused, progress=ctx.progress)


def roll_back(ctx: Context, number: int, target: DesiredFleet, rollback: bool, reason: str, health: dict[str, BotHealth],
              details: dict[str, Any] | None = None) -> ApplyOutcome:
    """Revision ``number`` failed its health gate: restore the newest healthy one before it (unless
    rollback is off), and finish the revision as rolled back or failed. ``details``: the failure
    per bot when ``health`` no longer has it (a rollback a killed apply had begun)."""
    store = ctx.store()
    if details is None:
        details = {h.bot: h.record() for h in policy.unhealthy(health)}
    previous = policy.rollback_target(store, target.name, before=number)
    refusal = policy.rollback_refusal(target.settings, rollback, previous)
    if refusal is not None or previous is None:
        note = f"{reason}; not rolled back: {refusal}"
        store.finish(number, RevisionStatus.FAILED, note, details)
        return ApplyOutcome(number, RevisionStatus.FAILED, health, f"revision {number} failed its health checks ({note})")
    ctx.progress(f"health checks failed ({reason}); rolling back to revision {previous.number}")
    store.set_phase(number, ROLLING_BACK, reason, details)  # killed from here on, the next run finishes this rollback
    back = plan_revision(ctx, previous)
    try:
        result = Executor(ctx.ports, ctx.runtime(target.name, writable=True), back.target, back.live, previous.number,
                          ctx.progress).run(back.plan)
        after = check_health(ctx, back.target, result.check_bots, result.start, result.refused)
    except FleetopsError as exc:
        store.finish(number, RevisionStatus.FAILED, f"{reason}; rollback to {previous.number} failed: {exc}", details)
        raise ApplyError(f"revision {number} failed ({reason}) and the rollback to revision {previous.number} failed too: {exc}") from exc
    still_sick = [h.bot for h in policy.unhealthy(after)]
    note = f"; after rollback still unhealthy: {', '.join(still_sick)}" if still_sick else ""
    store.finish(number, RevisionStatus.ROLLED_BACK, f"{reason}; rolled back to revision {previous.number}{note}", details)
    return ApplyOutcome(number, RevisionStatus.ROLLED_BACK, health,
                        f"revision {number} failed its health checks ({reason}); rolled back to revision {previous.number}{note}")


def _notify(ctx: Context, target: DesiredFleet, number: int, kind: str) -> None:
    """Tell the fleet's hooks how the revision ended; a hook can never change that outcome."""
    if target.settings is None or not target.settings.notify:
        return
    try:
        revision = ctx.store().get(number)
        event = {"event": kind, "fleet": target.name, **{k: v for k, v in revision.summary().items() if k != "fleet"},
                 "plan_summary": revision.plan.get("summary", {})}
        send_event(target.settings.notify, event, ctx.progress)
    except Exception as exc:  # noqa: BLE001 - reporting must not mask the apply's own result
        ctx.progress(f"notify: not delivered ({type(exc).__name__})")
