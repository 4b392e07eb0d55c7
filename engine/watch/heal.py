"""Self-heal between commits: bring the fleet back to its last applied revision, never a newer one.

Called by the daemon every ``--resync`` seconds and at once after a Docker ``die``/``stop``.
It plans the last applied revision against its backend (``flow.plan_revision``): with the specs
unchanged, what remains is drift — a container stopped or removed by hand, a bot process that
died, a record that no longer parses, settings changed by hand — and converges exactly that, as
apply does (``flow.converge``), without a new revision. A bot the flap guard marks failing is
stopped and left alone. When that plan has a plan-wide risk (most of the live fleet deleted: bots
a failed revision left running that the applied one lacks), it deletes nothing: apply refuses such
a plan without a flag, and a repair has no one to give it. Repairs are recorded in the journal,
not as revisions: history shows them as repairs of the revision they restore.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.context import Context
from engine.errors import SupervisorError
from engine.flow import converge, plan_revision
from engine.live import policy
from engine.live.observe import LiveFleet
from engine.naming import Labels
from engine.plan.model import Action, Change, Plan
from engine.watch.guard import FlapGuard
from engine.watch.journal import Journal

__all__ = ["DriftConfirmer", "Repair", "heal"]


class DriftConfirmer:
    """Drift is repaired only once it has lasted ``grace`` seconds (seen in two passes at least).

    A container Docker is stopping, a supervisord still starting, a program supervisord is about
    to restart itself: each looks like drift for a moment. Acting on the first sight made the
    watcher restart what was already coming back, and count those restarts as flaps.
    """

    def __init__(self, grace: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace = grace
        self.clock = clock
        self._since: dict[str, float] = {}

    def confirmed(self, addresses: set[str]) -> set[str]:
        now = self.clock()
        self._since = {a: self._since.get(a, now) for a in addresses}
        return {a for a, since in self._since.items() if now - since >= self.grace}

    @property
    def drifting(self) -> tuple[str, ...]:
        """Addresses the last pass saw drifting and no repair has set back since, sorted (the sync status's drift)."""
        return tuple(sorted(self._since))

    def repaired(self, addresses: set[str]) -> None:
        """These were converged back: no longer drifting (a later pass that sees them again starts their grace anew)."""
        self._since = {a: since for a, since in self._since.items() if a not in addresses}


@dataclass
class Repair:
    revision: int
    actions: list[str] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)


def _bots_of(change: Change, live: LiveFleet) -> list[str]:
    if change.kind == "bot":
        return [change.name]
    return sorted(b.name for b in live.bots.values() if b.container == change.name)


def heal(ctx: Context, fleet: str, guard: FlapGuard, journal: Journal, observed_deaths: list[str],
         report: Callable[[str], None], confirmer: DriftConfirmer | None = None) -> tuple[Repair | None, LiveFleet | None]:
    """One self-heal pass, and the live fleet it observed; ``observed_deaths`` are dedicated bots
    whose container died on its own.

    The running revision is planned against what runs (``flow.plan_revision``); what drifted for
    long enough (``confirmer``) is converged back (``flow.converge``: no new revision, nothing waits
    on trades, nothing rolled back). A restart that makes a bot failing (the flap guard's limit) is
    not made: the bot is stopped instead, after the repairs, and left alone until a new commit."""
    current = policy.current_revision(ctx.read_store(), fleet)
    if current is None:
        return None, None
    live_plan = plan_revision(ctx, current)
    repair = Repair(current.number)
    restarted = guard.observe_pids({b.name: b.pid for b in live_plan.live.bots.values() if b.pid})
    for bot in restarted:
        if guard.count(bot, "supervisord restarted its process"):
            repair.newly_failing.append(bot)
    for bot in observed_deaths:
        if guard.count(bot, "its container died"):
            repair.newly_failing.append(bot)
    confirmed = (confirmer or DriftConfirmer(0.0)).confirmed({c.address for c in live_plan.plan.changes})
    if live_plan.plan.plan_risks:  # what apply refuses without a flag, a repair never does on its own
        report(f"not repairing by deleting: the plan back to revision {current.number} "
               f"{' and '.join(r.reason for r in live_plan.plan.plan_risks)}; apply or roll back explicitly")
    allowed = []
    for change in live_plan.plan.changes:
        if change.address not in confirmed or (live_plan.plan.plan_risks and change.action is Action.DELETE):
            continue
        bots = _bots_of(change, live_plan.live)
        if any(guard.blocked(b) for b in bots) and change.action in (Action.START, Action.RESTART, Action.RELOAD):
            continue
        if change.action in (Action.START, Action.RESTART):
            tipped = [b for b in bots if guard.count(b, f"{change.address} {change.action.value}")]
            repair.newly_failing.extend(tipped)
            if tipped and set(tipped) == set(bots):
                continue  # this restart is the one too many: the bot is stopped below instead
        allowed.append(change)
    if allowed:
        def announce(plan: Plan) -> None:
            for change in plan.changes:
                report(f"repair: {change.address} {change.action.value} ({change.reason})")

        outcome = converge(ctx, current.number, dataclasses.replace(live_plan, plan=live_plan.plan.with_changes(tuple(allowed))),
                           record=False, wait=0.0, announce=announce)
        repair.actions = [f"{c.address} {c.action.value}" for c in outcome.executed]
        if confirmer is not None:
            confirmer.repaired({c.address for c in outcome.executed})
        sick = [h.bot for h in outcome.health.values() if not h.passed]
        if sick:
            report(f"after the repair, still not answering: {', '.join(sick)}")
        if outcome.executed:
            guard.forget_pids()
    for bot in repair.newly_failing:
        _stop_failing(ctx, live_plan.live, bot, report)
        report(f"bot {bot} is failing ({guard.failing[bot]}); stopped, and not restarted until a new commit is applied")
    if not repair.actions and not repair.newly_failing:
        return None, live_plan.live
    result = "failing: " + ", ".join(repair.newly_failing) if repair.newly_failing else "repaired"
    journal.record_repair(fleet, current.number, repair.actions + [f"bot/{b} failing" for b in repair.newly_failing], result)
    return repair, live_plan.live


def _stop_failing(ctx: Context, live: LiveFleet, bot: str, report: Callable[[str], None]) -> None:
    """Stop a failing bot, pool or dedicated alike (``Bots.stop_bot``)."""
    running = live.bots.get(bot)
    if running is None:
        return
    container = live.containers.get(running.container)
    if container is None:
        return
    try:
        ctx.site(live.fleet).stop_bot(container.name, bot, dedicated=container.labels.get(Labels.ROLE) == "dedicated")
    except SupervisorError as exc:
        report(f"could not stop failing bot {bot}: {exc}")
