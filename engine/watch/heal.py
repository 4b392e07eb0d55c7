"""Self-heal between commits: bring the fleet back to its last applied revision, never a newer one.

Called by the daemon every ``--resync`` seconds and at once after a Docker ``die``/``stop``.
It plans the last applied revision against live Docker (``flow.plan_revision``): with the specs
unchanged, what remains is drift — a container stopped or removed by hand, a bot process that
died, a record that no longer parses — and executes exactly that, through the executor. A bot
the flap guard marks failing is stopped and left alone. Repairs are recorded in the journal,
not as revisions: history shows them as repairs of the revision they restore.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import SupervisorError
from engine.flow import Context, check_health, plan_revision
from engine.live import policy
from engine.live.drain import drain, without
from engine.live.executor import Executor
from engine.live.observe import LiveFleet
from engine.naming import Labels
from engine.plan.model import Action, Change
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
    whose container died on its own."""
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
    allowed = []
    for change in live_plan.plan.changes:
        if change.address not in confirmed:
            continue
        bots = _bots_of(change, live_plan.live)
        if any(guard.blocked(b) for b in bots) and change.action in (Action.START, Action.RESTART, Action.RELOAD):
            continue
        allowed.append(change)
        if change.action in (Action.START, Action.RESTART):
            for bot in bots:
                if guard.count(bot, f"{change.address} {change.action.value}"):
                    repair.newly_failing.append(bot)
    for bot in repair.newly_failing:
        _stop_failing(ctx, live_plan.live, bot, report)
        report(f"bot {bot} is failing ({guard.failing[bot]}); stopped, and not restarted until a new commit is applied")
    if allowed:
        plan = live_plan.plan.with_changes(tuple(allowed))
        held = drain(ctx.ports.bot_api, plan, live_plan.live, live_plan.target, report, wait=0.0).postponed  # never wait on trades here
        plan = without(plan, held, live_plan.live, live_plan.target)
        allowed = list(plan.changes)
    if allowed:
        for change in allowed:
            report(f"repair: {change.address} {change.action.value} ({change.reason})")
        runtime = ctx.runtime(fleet, writable=True)
        executed = Executor(ctx.ports, runtime, live_plan.target, live_plan.live, current.number, ctx.progress).run(plan)
        repair.actions = [f"{c.address} {c.action.value}" for c in allowed]
        sick = [h.bot for h in policy.unhealthy(check_health(ctx, live_plan.target, executed.check_bots, executed.start, executed.refused))]
        if sick:
            report(f"after the repair, still not answering: {', '.join(sick)}")
        guard.forget_pids()
    if not repair.actions and not repair.newly_failing:
        return None, live_plan.live
    result = "failing: " + ", ".join(repair.newly_failing) if repair.newly_failing else "repaired"
    journal.record_repair(fleet, current.number, repair.actions + [f"bot/{b} failing" for b in repair.newly_failing], result)
    return repair, live_plan.live


def _stop_failing(ctx: Context, live: LiveFleet, bot: str, report: Callable[[str], None]) -> None:
    running = live.bots.get(bot)
    if running is None:
        return
    container = live.containers.get(running.container)
    if container is None:
        return
    try:
        if container.labels.get(Labels.ROLE) == "dedicated":
            ctx.ports.docker.stop(container.name)
        else:
            runtime = ctx.runtime(live.fleet)
            ctx.ports.supervisor(container.name, runtime.data_dir(container.name), 30.0).stop(bot)
    except SupervisorError as exc:
        report(f"could not stop failing bot {bot}: {exc}")
