"""The pipeline, in the order it runs — a newcomer's first read::

    plan a commit:  the no-op proof (a working tree unchanged since a no-changes apply) → load the
                    specs → compile (the FreqTrade check) → the live plan (``engine.live.liveplan``:
                    observe the backend → diff → drift, open trades, accounts, in named parts)
    apply:          refuse what must not run → record pending → converge → notify
    converge:       drain → execute → health gate → record applied, or roll back

There is one way to plan a commit (``plan_commit``: the CLI's ``plan`` and ``apply`` and the
watcher), one way to change a fleet (``converge``: apply, ``rollback``, the rollback a failed
gate begins, the watcher's self-heal) and one verdict on its health (``gate``: the killed-apply
finisher, ``engine.resume``, too). Apply executes exactly the plan that was printed. The
decisions (what failed, what to roll back to) are ``engine.live.policy``'s, what must not be applied
``LivePlan.refusal``'s; the outside world is
reached only through the context's ports (``engine.backend.port``, the bots' APIs).

Cheap to import: the stages are imported where they run, so an unchanged working tree is
answered by the no-op proof before the parser, the compiler, git or any backend client is loaded
(``plan`` and ``apply`` in ~0.1 s at 50 bots, ``benchmarks/scale.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from engine.backend.values import BackendChoice
from engine.context import Context
from engine.errors import ApplyError, FleetopsError, HealthError, Problem, SpecError
from engine.live.noop_proof import ProofHeader, proven_unchanged
from engine.live.store import HEALTH_WAIT, ROLLING_BACK, Revision, RevisionStatus
from engine.textsafe import one_line
from engine.timing import stage

if TYPE_CHECKING:
    from engine.backend.port import Site
    from engine.backtest import BacktestSettings
    from engine.compile.desired import DesiredFleet
    from engine.health.gate import BotHealth
    from engine.live.liveplan import LivePlan
    from engine.live.processes import LogStart
    from engine.plan.model import Change, Plan

__all__ = [
    "ApplyOutcome", "apply_plan", "check_health", "converge", "gate", "plan_commit", "plan_revision", "remember_origin",
    "roll_back", "settled",
]


@dataclass
class ApplyOutcome:
    revision: int
    status: RevisionStatus
    health: dict[str, BotHealth]
    message: str
    postponed: dict[str, str] = field(default_factory=dict)
    """Bots whose change waits for their open trades to close (drain timed out); the next apply tries again."""
    executed: tuple[Change, ...] = ()
    """The changes converge made (the plan less what waits for trades)."""


# -- plan ---------------------------------------------------------------------------------------

@overload
def plan_commit(ctx: Context, repo: str | Path, ref: str | None = None, *, branch: str | None = None, origin: str | None = None,
                rebalance: bool = False, warn: Callable[[Problem], None] | None = None, proof: Literal[False], backtest: BacktestSettings | None = None) -> LivePlan: ...
@overload
def plan_commit(ctx: Context, repo: str | Path, ref: str | None = None, *, branch: str | None = None, origin: str | None = None,
                rebalance: bool = False, warn: Callable[[Problem], None] | None = None, proof: bool = True, backtest: BacktestSettings | None = None) -> LivePlan | ProofHeader: ...
def plan_commit(ctx: Context, repo: str | Path, ref: str | None = None, *, branch: str | None = None, origin: str | None = None,
                rebalance: bool = False, warn: Callable[[Problem], None] | None = None, proof: bool = True,
                backtest: BacktestSettings | None = None) -> LivePlan | ProofHeader:
    """The live plan of the fleet at ``ref`` of ``repo`` (None: its working tree), against the backend
    its Fleet document names: what ``plan``, ``apply`` and the watcher run for a commit.

    A working tree planned as it is (no ``ref``, no ``rebalance``) is answered by the no-op proof
    when the context allows it (``ctx.proofs``, and ``proof``: the text format) and the proof still
    holds: the ``ProofHeader`` of its "No changes" then. ``branch`` names the ref in the plan (the
    watcher's branch, for a commit it fetched); ``origin`` is the source's identity (default: the
    repository's path). With ``backtest`` (``plan --backtest``), each bot whose running pin differs
    from the spec's is backtested, the version it runs against the new one (``engine.backtest``).
    Raises SpecError / SourceError for specs that do not load or that FreqTrade would refuse, and
    what the backend raises."""
    if proof and ctx.proofs and ref is None and not rebalance:
        with stage("no-op proof"):
            header = proven_unchanged(ctx.state_dir, repo, ctx.backend_ref)
        if header is not None:
            return header
    from engine.changelog import with_changelog
    from engine.check import require_accepted
    from engine.compile.assign import Placement
    from engine.compile.desired import compile_fleet
    from engine.live.identity import origin_of_path
    from engine.live.liveplan import plan_live
    from engine.live.noop_proof import SpecInputs
    from engine.offline import snapshot_of
    from engine.plan.model import Snapshot
    from engine.spec.load import load_fleet

    with stage("load specs"):
        loaded = load_fleet(repo, ref, cache=ctx.parse_cache, warn=warn)
    ctx.use(BackendChoice.of(loaded.spec.fleet.backend.model_dump(mode="json")))
    checks = ctx.check_settings()

    def target_of(prior: dict[str, Placement]) -> DesiredFleet:
        target = compile_fleet(loaded.spec, prior, rebalance=rebalance)
        if checks is not None:
            with stage("freqtrade check"):
                require_accepted(loaded.spec, target, checks)
        return target

    source = snapshot_of(loaded) if branch is None else Snapshot("ref", branch, loaded.source.commit, subject=loaded.source.subject)
    try:
        planned = plan_live(ctx, loaded.spec.fleet.name, target_of, source, origin=origin if origin is not None else origin_of_path(repo),
                            rebalance=rebalance)
    except SpecError as exc:
        if not exc.where:
            raise
        raise SpecError([document.problem(loc, message) if (document := loaded.spec.documents.get((kind, name))) is not None
                         else Problem("fleet", 1, 1, message) for kind, name, loc, message in exc.where]) from None
    running = {n: b.record.essence for n, b in planned.live.bots.items() if b.record is not None}
    with stage("strategy changelog"):
        planned.plan = with_changelog(planned.plan, running, {n: b.essence for n, b in planned.target.bots.items()}, loaded.source)
    if backtest is not None:
        from engine.backtest import running_versions, with_backtests  # only when asked: a plain plan keeps its start-up

        with stage("backtest"):
            planned.plan = with_backtests(planned.plan, running_versions(planned.plan, running, loaded.source), planned.target, backtest)
    if ref is None and not rebalance:
        planned.inputs = SpecInputs(loaded.files, {pin.ref: pin.commit for pin in loaded.spec.pins.values()})
        planned.repo = Path(repo).resolve()
    return planned


def plan_revision(ctx: Context, revision: Revision) -> LivePlan:
    """The live plan back to a stored revision: its desired fleet exactly, placements included, on
    the backend it names (rollback, the watcher's self-heal, the killed-apply finisher)."""
    from engine.live.liveplan import plan_live
    from engine.plan.model import Snapshot

    stored = ctx.stored_fleet(revision)
    ctx.use(BackendChoice.of(stored.backend))
    source = Snapshot("revision", f"revision {revision.number}", revision.commit, revision.dirty, revision.number, revision.subject)
    return plan_live(ctx, stored.name, lambda _prior: stored, source)


def remember_origin(ctx: Context, live_plan: LivePlan) -> None:
    """Record which fleet the planned source is applied as (``engine.live.identity``)."""
    from engine.live.identity import remember_fleet

    if live_plan.origin is not None:
        remember_fleet(ctx.state_dir, live_plan.origin, live_plan.target.name)


def settled(ctx: Context, live_plan: LivePlan) -> bool:
    """A plan with nothing to do: its source is this fleet (``remember_origin``), and, for a working
    tree, the no-op proof is written so that the next plan can say so without compiling (when the
    context keeps proofs and the plan saw everything a proof rests on). True when one was written."""
    from engine.live.liveplan import noop_seen, secret_inputs
    from engine.live.noop_proof import write_proof

    remember_origin(ctx, live_plan)
    seen = noop_seen(live_plan) if ctx.proofs and live_plan.repo is not None else None
    secrets = secret_inputs(live_plan.target) if seen is not None else None
    if seen is None or secrets is None or live_plan.inputs is None or live_plan.repo is None or live_plan.plan.baseline.revision is None:
        return False
    inputs = dataclasses.replace(live_plan.inputs, secrets=secrets)
    write_proof(ctx.state_dir, live_plan.repo, ctx.backend.ref, ctx.choice, inputs, live_plan.live.fleet,
                live_plan.plan.baseline.revision, ctx.site(live_plan.live.fleet).noop_facts(seen))
    return True


# -- apply --------------------------------------------------------------------------------------

def apply_plan(ctx: Context, live_plan: LivePlan, *, rollback: bool = True, message: str = "", event: str = "apply",
               allow: frozenset[str] = frozenset(), drain: bool = True) -> ApplyOutcome:
    """Record a new revision for the plan and converge the fleet to it (``converge``).

    A health failure is an outcome (rolled_back or failed), not an exception; an error that
    stops the apply marks the revision failed before it propagates. An interrupt (Ctrl-C, a
    second SIGTERM) leaves it pending, as SIGKILL does: bots it already changed run unchecked,
    and the next run finishes it (``engine.resume``). The fleet's notify hooks hear about every
    revision once it is final, and can never change it. A plan ``LivePlan.refusal`` names raises
    ApplyError before anything is recorded or touched. ``drain=False`` disrupts bots holding open
    trades without waiting for them (``destroy --force-open-trades``).
    """
    from engine.compile.payload import fleet_to_payload
    from engine.plan.jsonfmt import plan_as_dict

    refused = live_plan.refusal(allow, ctx.backend_ref())
    if refused is not None:
        raise ApplyError(refused)
    live_plan = _keyed(ctx, live_plan)
    store = ctx.store()
    for interrupted in store.mark_interrupted():
        ctx.progress(f"revision {interrupted} was interrupted (its apply stopped part-way); this apply converges from what runs")
    target, source = live_plan.target, live_plan.source
    number = store.begin(target.name, source.commit, source.ref, source.dirty, plan_as_dict(live_plan.plan), fleet_to_payload(target),
                         {"rollback": rollback}, source.subject)
    if live_plan.renamed_from is None:  # a rename is the new name's only once it worked
        remember_origin(ctx, live_plan)
    try:
        outcome = converge(ctx, number, live_plan, rollback=rollback, message=message, drain=drain)
        if live_plan.renamed_from is not None and outcome.status is RevisionStatus.APPLIED:
            remember_origin(ctx, live_plan)
    except Exception as exc:
        if store.get(number).status is RevisionStatus.PENDING:
            store.finish(number, RevisionStatus.FAILED,
                         one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, FleetopsError) else str(exc)))
        _resume_paused(ctx, number, target)
        _notify(ctx, target, number, event)
        raise
    _resume_paused(ctx, number, target)
    _notify(ctx, target, number, event)
    return outcome


def _resume_paused(ctx: Context, number: int, target: DesiredFleet) -> None:
    """Bots this apply's drain paused (``stopbuy``) and never restarted — its change failed, was rolled
    back, or never came — trade again (``drain.resume_entries``). Never raises: it runs on the way out."""
    paused = ctx.store().get(number).options.get("entries_stopped") or []
    if not paused:
        return
    from engine.live.drain import resume_entries
    from engine.live.observe import observe

    try:
        resume_entries(ctx.ports.bot_api, observe(ctx.site(target.name)), paused, ctx.progress)
    except Exception as exc:  # noqa: BLE001 - the apply's own outcome or error comes first
        ctx.progress(f"could not resume the entries of {', '.join(paused)} ({type(exc).__name__}); "
                     "each opens no new trade until it restarts")


def _keyed(ctx: Context, live_plan: LivePlan) -> LivePlan:
    """A plan made before the state dir had a key (its first apply) gets its secret digests now.

    Without a key nothing was applied from this state dir, so nothing runs that the digests could
    change the plan for: only what the records and the revision will keep change."""
    from engine.live.hostfacts import stamp_host_facts
    from engine.live.secret_values import load_or_create_key

    if live_plan.keyed:
        return live_plan
    target = stamp_host_facts(live_plan.target, load_or_create_key(ctx.state_dir), ctx.environ_now(), live_plan.uids)
    return dataclasses.replace(live_plan, target=target, keyed=True)


def converge(ctx: Context, number: int, live_plan: LivePlan, *, rollback: bool = True, message: str = "", record: bool = True,
             drain: bool = True, wait: float | None = None, announce: Callable[[Plan], None] | None = None) -> ApplyOutcome:
    """Drain, execute the plan, run the health gate on the bots it (re)started; with ``record``,
    finish revision ``number`` applied, or roll it back when the gate fails (``gate``).

    Every change to a fleet goes through here: apply and ``rollback`` (a new revision), the
    rollback a failed gate begins (``record=False``, no ``drain``: going back never waits on
    trades), and the watcher's self-heal (``record=False``, ``wait=0``: a dead bot is not trading;
    it says what it repairs through ``announce``, which hears the plan about to run). A drain that
    times out postpones that bot's changes (``postponed``); the rest runs. Without ``record`` an
    unhealthy bot is reported in the outcome's health, never rolled back here, and a HealthError
    (moved bots that never answered) propagates."""
    from engine.live.drain import drain as drain_trades
    from engine.live.drain import without
    from engine.live.executor import ExecutionResult, Executor

    target, store = live_plan.target, ctx.store() if record else None
    plan, postponed = live_plan.plan, {}
    if drain:
        with stage("drain"):
            noted = (lambda bots: store.note(number, entries_stopped=bots)) if store is not None else (lambda _bots: None)
            postponed = drain_trades(ctx.ports.bot_api, plan, live_plan.live, target, ctx.progress,
                                     wait=ctx.drain_wait if wait is None else wait, pausing=noted).postponed
        plan = without(plan, postponed, live_plan.live, target)
    if postponed:
        message = "; ".join(([message] if message else []) + [f"postponed {b}: {why}" for b, why in sorted(postponed.items())])
    if announce is not None:
        announce(plan)
    try:
        if live_plan.takeovers:
            _take_over(ctx, live_plan)
        with stage("execute plan"):
            result = Executor(ctx.ports, _site_for(ctx, live_plan), ctx.materials(target.name, writable=True), target, live_plan.live,
                              number, ctx.progress).run(plan) if plan.changes else ExecutionResult()
        if store is not None:
            store.set_phase(number, HEALTH_WAIT)
        with stage("health checks"):
            health = check_health(ctx, target, result.check_bots, result.start, result.refused)
    except HealthError as exc:
        if store is None:
            raise
        return roll_back(ctx, number, target, rollback, str(exc), {})
    if store is not None:
        failed = gate(ctx, number, target, health, rollback=rollback)
        if failed is not None:
            return failed
        store.finish(number, RevisionStatus.APPLIED, message)
    waits = f"; postponed until their trades close: {', '.join(sorted(postponed))}" if postponed else ""
    return ApplyOutcome(number, RevisionStatus.APPLIED, health, f"revision {number} applied{waits}", postponed, plan.changes)


def _take_over(ctx: Context, live_plan: LivePlan) -> None:
    """Stop the old containers of adopted bots and carry their trade databases in (``engine.live.takeover``),
    before any bot starts: never two copies of a bot trading at once."""
    from engine.backend.port import Takeovers
    from engine.live.takeover import take_over

    site, bots = ctx.site(live_plan.target.name), live_plan.target.bots
    if not isinstance(site, Takeovers):
        raise ApplyError("this backend cannot take over the containers fleetops adopt recorded; apply on the Docker engine they run on")
    with stage("takeover"):
        take_over(ctx.state_dir, live_plan.target.name, live_plan.takeovers, site,
                  lambda bot: (bots[bot].container, bots[bot].essence.uid), ctx.progress)


def _site_for(ctx: Context, live_plan: LivePlan) -> Site:
    """The target fleet on its backend, reaching the units of a fleet being renamed into it."""
    site = ctx.site(live_plan.target.name)
    for container, owner in live_plan.live.owners.items():
        site.adopt(owner, container)
    return site


# -- health and rollback ----------------------------------------------------------------------------

def gate(ctx: Context, number: int, target: DesiredFleet, health: dict[str, BotHealth], *, rollback: bool,
         why: str = "") -> ApplyOutcome | None:
    """The verdict on revision ``number``: None when every checked bot is healthy; else the sick
    bots' last log lines are shown and the revision is rolled back (``roll_back``; failed where
    rollback is off), and that is the outcome. ``why`` opens the reason (a killed apply's: "interrupted, then ")."""
    from engine.live import policy

    sick = policy.unhealthy(health)
    if not sick:
        return None
    for h in sick:
        if h.log:
            ctx.progress(f"{h.bot}: last {len(h.log)} log lines:")
            for line in h.log:
                ctx.progress(f"  | {line}")
    detail = ", ".join(f"{h.bot}: {h.detail}" for h in sick)
    return roll_back(ctx, number, target, rollback, f"{why}{len(sick)} bot(s) unhealthy: {detail}", health)


def check_health(ctx: Context, target: DesiredFleet, bots: set[str], start: LogStart | None = None,
                 refused: Mapping[str, str] | None = None) -> dict[str, BotHealth]:
    """The health gate on ``bots`` of ``target`` (``engine.live.health.gate_bots``): the checks of the
    fleet's ``health.check`` kind within its timeout; ``start``: where this run's logs begin (from
    the executor); ``refused``: bots supervisord would not start, failed at once with its reason."""
    from engine.live.health import gate_bots

    return gate_bots(ctx.ports, ctx.site(target.name), ctx.materials(target.name, writable=True), target, bots, start=start,
                     refused=refused, progress=ctx.progress)


def roll_back(ctx: Context, number: int, target: DesiredFleet, rollback: bool, reason: str, health: dict[str, BotHealth],
              details: dict[str, Any] | None = None) -> ApplyOutcome:
    """Revision ``number`` failed its health gate: restore the newest healthy one before it (unless
    rollback is off), and finish the revision as rolled back or failed. ``details``: the failure
    per bot when ``health`` no longer has it (a rollback a killed apply had begun)."""
    from engine.live import policy

    store = ctx.store()
    if details is None:
        details = {h.bot: h.record() for h in policy.unhealthy(health)}
    previous = policy.rollback_target(store, target.name, before=number)
    refused = policy.rollback_refusal(target.settings, rollback, previous)
    if refused is not None or previous is None:
        note = f"{reason}; not rolled back: {refused}"
        store.finish(number, RevisionStatus.FAILED, note, details)
        return ApplyOutcome(number, RevisionStatus.FAILED, health, f"revision {number} failed its health checks ({note})")
    ctx.progress(f"health checks failed ({reason}); rolling back to revision {previous.number}")
    store.set_phase(number, ROLLING_BACK, reason, details)  # killed from here on, the next run finishes this rollback
    try:
        restored = converge(ctx, previous.number, plan_revision(ctx, previous), record=False, drain=False)
    except FleetopsError as exc:
        store.finish(number, RevisionStatus.FAILED, f"{reason}; rollback to {previous.number} failed: {exc}", details)
        raise ApplyError(f"revision {number} failed ({reason}) and the rollback to revision {previous.number} failed too: {exc}") from exc
    still_sick = [h.bot for h in policy.unhealthy(restored.health)]
    note = f"; after rollback still unhealthy: {', '.join(still_sick)}" if still_sick else ""
    store.finish(number, RevisionStatus.ROLLED_BACK, f"{reason}; rolled back to revision {previous.number}{note}", details)
    return ApplyOutcome(number, RevisionStatus.ROLLED_BACK, health,
                        f"revision {number} failed its health checks ({reason}); rolled back to revision {previous.number}{note}")


def _notify(ctx: Context, target: DesiredFleet, number: int, kind: str) -> None:
    """Tell the fleet's hooks how the revision ended; a hook can never change that outcome."""
    from engine.live.notify import send_event

    if target.settings is None or not target.settings.notify:
        return
    try:
        revision = ctx.store().get(number)
        event = {"event": kind, "fleet": target.name, **{k: v for k, v in revision.summary().items() if k != "fleet"},
                 "plan_summary": revision.plan.get("summary", {})}
        send_event(target.settings.notify, event, ctx.progress)
    except Exception as exc:  # noqa: BLE001 - reporting must not mask the apply's own result
        ctx.progress(f"notify: not delivered ({type(exc).__name__})")
