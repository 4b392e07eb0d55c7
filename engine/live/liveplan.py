"""The live plan: a fleet's target against what runs on its backend, in named parts.

Called by the flow (``plan_commit`` for specs, ``plan_revision`` for a stored revision), so by
``plan``, ``apply``, ``rollback`` and the watcher alike. In the order it runs::

    observe the backend (+ the fleet being renamed into this one) → compile the target with the
    live placement as prior → stamp host facts (images, secret digests) → pair and diff →
    drift → open trades → exchange accounts → compose

and the parts it keeps, apart, as Terraform keeps drift apart from changes:

    changes      what the target changes (``engine.plan.diff``, against the live baseline)
    drift        what drifted since the last apply, and its repair (``engine.live.drift``: units
                 stopped, processes dead, records unreadable, second copies;
                 ``engine.live.settings_drift``: settings changed by hand)
    open_trades  the open trades of each running bot the plan disrupts (``engine.live.drain``),
                 what a drain waits for
    conflicts    bots whose exchange account another fleet trades (``engine.live.accounts``)

The printed plan (``LivePlan.plan``) is composed from them once, by ``compose``, and carries the
spec diff's plan-wide risks and wallets as they are: no stage rebuilds the change list by hand
(one such rebuild once dropped the plan-wide risks). Formatters print the drift among the
changes, as they always did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from engine.backend.port import Backend, Site, Takeovers, UnitSeen
from engine.compile.assign import Placement
from engine.compile.desired import DesiredFleet
from engine.live import policy
from engine.live.accounts import account_conflicts, conflict_notes, starting_bots
from engine.live.drain import trade_notes
from engine.live.drift import Repairs, drift_repairs
from engine.live.hostfacts import UserIds, stamp_host_facts
from engine.live.images import check_images
from engine.live.noop_proof import SpecInputs
from engine.live.observe import LiveFleet, baseline_from_live, observe
from engine.live.ownership import refuse_foreign
from engine.live.ports import Ports
from engine.live.rename import find_rename, merged, placements_as
from engine.live.secret_values import UNRESOLVED, load_key
from engine.live.settings_drift import settings_repairs
from engine.live.store import Revision, RevisionStore
from engine.live.takeover import Takeover, pending, takeover_notes
from engine.naming import BackendRef, Labels
from engine.plan.diff import plan_fleets
from engine.plan.model import Change, Plan, RiskNote, Snapshot
from engine.timing import stage

__all__ = ["LivePlan", "PlanContext", "compose", "noop_seen", "plan_live", "secret_inputs"]


class PlanContext(Protocol):
    """What the live plan needs of its context (``engine.context.Context`` has it): defined here so
    the live half does not import the context above it."""

    state_dir: Path

    @property
    def progress(self) -> Callable[[str], None]: ...
    @property
    def ports(self) -> Ports: ...
    @property
    def backend(self) -> Backend: ...
    def site(self, fleet: str) -> Site: ...
    def read_store(self) -> RevisionStore | None: ...
    def stored_fleet(self, revision: Revision) -> DesiredFleet: ...
    def environ_now(self) -> Mapping[str, str]: ...


@dataclass
class LivePlan:
    """One live plan: its parts (``changes``, ``drift``, ``open_trades``, ``conflicts``), the plan they
    compose, and what apply needs to execute exactly that plan."""

    plan: Plan
    """The printed plan, composed from the parts (``compose``): what apply executes."""
    target: DesiredFleet
    live: LiveFleet
    source: Snapshot
    changes: tuple[Change, ...] = ()
    """What the target changes, as the diff found it (before drift and notes)."""
    drift: tuple[Change, ...] = ()
    """The repairs of what drifted (units, processes, records, settings changed by hand)."""
    open_trades: Mapping[str, int | None] = field(default_factory=dict)
    """Open trades of each running bot the plan disrupts (None: it did not say): what a drain waits for."""
    inputs: SpecInputs | None = None
    """What the compile read, when it read a working tree: lets a no-changes plan write a no-op proof."""
    repo: Path | None = None
    """The working tree planned, when it was one (the no-op proof is kept per repository)."""
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
    takeovers: Mapping[str, Takeover] = field(default_factory=dict)
    """Bots this plan creates that take over a container ``fleetops adopt`` found (``engine.live.takeover``)."""

    def refusal(self, allow: frozenset[str], backend: BackendRef | None = None) -> str | None:
        """Why this plan must not be applied, in one sentence; None when it may be. A plan made for
        another backend or target than ``backend`` (where it would be applied) is never applied; a
        plan-wide risk (``engine.plan.risk``: most of the fleet deleted, the fleet renamed) needs its
        kind in ``allow``; a bot whose exchange account another fleet trades on this engine is never started."""
        made_for = self.plan.backend
        if backend is not None and made_for is not None and made_for != backend:
            return (f"refusing to apply: this plan was made for {made_for}, and this run would apply it to {backend}; "
                    "plan again against the backend you mean to change")
        risks = [r for r in self.plan.plan_risks if r.kind not in allow]
        if risks:
            return (f"refusing to apply: this plan {' and '.join(r.reason for r in risks)}; "
                    f"if that is intended, run it again with {' '.join(r.flag for r in risks)}")
        if self.conflicts:
            return (f"refusing to apply: {'; '.join(self.conflicts)}; stop that fleet first (if it is this repository under "
                    "an earlier name, apply the rename from the same repository with --allow-rename)")
        return None


def compose(diffed: Plan, repairs: tuple[Repairs, ...] = (), notes: tuple[Mapping[str, RiskNote], ...] = ()) -> Plan:
    """The printed plan: the diff's changes with each part's repairs (in order: each may replace a
    change an earlier one made) and the risk notes of live facts; plan-wide risks, wallets and the
    backend stay the diff's."""
    changes = diffed.changes
    for part in repairs:
        changes = part.applied_to(changes)
    for found in notes:
        changes = tuple(found[c.address].on(c) if c.address in found else c for c in changes)
    return diffed.with_changes(changes)


def plan_live(ctx: PlanContext, fleet: str, target_of: Callable[[dict[str, Placement]], DesiredFleet], source: Snapshot, *,
              origin: str | None = None, rebalance: bool = False) -> LivePlan:
    """Observe the backend, compile the target with the live assignment as prior, pair and diff,
    find the drift, the open trades and the exchange accounts: the live plan, in parts.

    ``origin`` names the source planned: when it was last applied under another fleet name that
    still runs, the old fleet is planned into this one (a rename, ``engine.live.rename``).
    Raises what the backend raises (``DockerError``), ``SpecError`` when ``target_of`` does (the
    FreqTrade check) and ``ApplyError`` when an image cannot run what is rendered. ``rebalance``: a backend
    that places units on nodes may move them (``--rebalance``), else each keeps its node."""
    site = ctx.site(fleet)
    with stage("observe docker"):
        live = observe(site)
        recorded = {name for name, record in live.container_records.items() if record is not None}
        refuse_foreign(fleet, site.foreign(live.inspected, recorded), str(ctx.state_dir))
        rename = find_rename(ctx.backend, ctx.state_dir, origin, fleet)
    current = policy.current_revision(ctx.read_store(), fleet)
    if rename is not None:
        live = merged(live, rename)
    with stage("compile target"):
        target = target_of(placements_as(live))
    with stage("host facts"):
        target, uids, keyed = _with_host_facts(ctx, target, live, site, rebalance)
    with stage("diff"):
        # In a rename, the old name's wallets and settings stand for the new one's until it has its own.
        stored = current or (policy.current_revision(ctx.read_store(), rename.old) if rename else None)
        baseline = baseline_from_live(live, ctx.stored_fleet(stored) if stored else None)
        if rename is not None:
            baseline = dataclasses.replace(baseline, name=rename.old)
        meta = Snapshot("live", None, stored.commit if stored else None, revision=stored.number if stored else None)
        diffed = dataclasses.replace(plan_fleets(baseline, target, source, meta), backend=ctx.backend.ref)
        drifted = drift_repairs(diffed.changes, live, target)
        by_hand = settings_repairs(compose(diffed, (drifted,)).changes, live, target, site)
        repaired = compose(diffed, (drifted, by_hand)).changes
    with stage("open trades"):
        trades, counts = trade_notes(repaired, live, ctx.ports.bot_api)
    with stage("accounts"):
        ignore = frozenset({rename.old}) if rename else frozenset()
        conflicts = account_conflicts(ctx.backend, target, starting_bots(repaired, target), ignore=ignore)
    with stage("takeovers"):
        recorded_takeovers = pending(ctx.state_dir, fleet)
        taking = takeover_notes(recorded_takeovers, repaired, site if isinstance(site, Takeovers) else None) if recorded_takeovers else {}
    plan = _with_nodes(compose(diffed, (drifted, by_hand), (trades, conflict_notes(repaired, target, conflicts), taking)), site)
    drift = {c.address for c in drifted.changes + by_hand.changes}
    return LivePlan(plan, target, live, source, diffed.changes, tuple(c for c in repaired if c.address in drift), counts,
                    origin=origin, renamed_from=rename.old if rename else None, conflicts=tuple(c.sentence() for c in conflicts),
                    uids=uids, keyed=keyed, takeovers={a.split("/", 1)[1]: recorded_takeovers[a.split("/", 1)[1]] for a in taking})


def _with_host_facts(ctx: PlanContext, target: DesiredFleet, live: LiveFleet, site: Site,
                     rebalance: bool = False) -> tuple[DesiredFleet, UserIds, bool]:
    """The target checked against its images (``engine.live.images``: raises before anything changes)
    and stamped with what only this host knows (``engine.live.hostfacts``); then prepared by a backend
    that must place units and pin images before a plan (a swarm: ``prepare``)."""
    uids = check_images(ctx.backend, ctx.state_dir, target)
    key = load_key(ctx.state_dir)
    applied = {name: bot.record.essence for name, bot in live.bots.items() if bot.record is not None}
    stamped = stamp_host_facts(target, key, ctx.environ_now(), uids, applied, ctx.progress)
    prepare = getattr(site, "prepare", None)
    if prepare is not None:
        prepared: DesiredFleet = prepare(stamped, rebalance=rebalance)
        pinned = {c.essence.image: prepared.containers[name].essence.image for name, c in stamped.containers.items()}
        uids = {**uids, **{(pinned[image], user): uid for (image, user), uid in uids.items() if image in pinned}}
        stamped = prepared
    return stamped, uids, key is not None


def _with_nodes(plan: Plan, site: Site) -> Plan:
    """Each unit's change says its node (``…; on node w1``) where the backend places units itself (a swarm: ``placed``),
    and the backend's own words on units that change node or cannot (a swarm: ``shown_changes``)."""
    placed: Mapping[str, str] = getattr(site, "placed", None) or {}
    if not placed:
        return plan
    shown: Callable[[tuple[Change, ...]], tuple[Change, ...]] = getattr(site, "shown_changes", lambda changes: changes)
    return plan.with_changes(tuple(dataclasses.replace(c, reason=f"{c.reason}; on node {placed[c.name]}")
                                   if c.kind == "container" and c.name in placed else c for c in shown(plan.changes)))


def noop_seen(live_plan: LivePlan) -> dict[str, UnitSeen] | None:
    """What the no-op proof fingerprints of a plan that found nothing to do (``Site.noop_facts``);
    None when the plan did not see everything a proof rests on (a process table, an inspect)."""
    plan, live = live_plan.plan, live_plan.live
    if plan.has_changes or live_plan.inputs is None or live.unanswered or plan.baseline.revision is None:
        return None
    if set(live.inspected) != set(live.containers):
        return None
    return {
        name: UnitSeen(listed, live.inspected[name], tuple(sorted(
            b.name for b in live.bots.values() if b.container == name and b.enabled)) if listed.labels.get(Labels.POOL) else ())
        for name, listed in live.containers.items()
    }


def secret_inputs(target: DesiredFleet) -> dict[str, str] | None:
    """Secret reference → the digest the plan stamped for its value (None: one could not be read)."""
    found: dict[str, str] = {}
    for bot in target.bots.values():
        for name, reference in bot.essence.secrets.items():
            digest = bot.essence.secret_digests.get(name)
            if digest is None or digest == UNRESOLVED:
                return None
            found[reference] = digest
    return found
