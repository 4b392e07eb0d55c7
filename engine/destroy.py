"""``fleetops destroy``: take a fleet down — the live plan whose target is empty, applied as a revision.

Called by the CLI's ``destroy``. There is no second way to remove things: the target is the fleet
with no wallet, pool, container or bot (its name, settings and backend kept, so the plan is made
for the backend the fleet runs on and the notify hooks hear of it), planned against what runs
(``engine.live.liveplan``) and applied by the flow (``engine.flow.apply_plan``) like any other
plan. So what apply's deletes do, destroy does, on every backend the port has:

- every unit labelled for the fleet goes (containers, or a swarm's services) and, with the last one,
  the fleet's network (``engine.live.executor``); nothing unlabelled is touched;
- nothing is deleted from disk: each unit's runtime files — configs, logs, trade databases — are
  archived (Docker: under ``<state>/archive/<fleet>/``; a swarm: on each node, under its agent's
  ``.archive/<fleet>/``) — ``archive_place`` says where;
- bots that must not lose their trades to a delete drain first (``engine.live.drain``: a live-money
  bot always, a dry-run bot with ``on_change: drain``); one whose trades do not close in time keeps
  running, and destroy ends unfinished (``Destroyed.postponed``). A live-money bot whose open trades
  cannot be read is refused (``refusal``). ``force_open_trades`` removes them all without a drain;
- the destroy is a revision in the store (subject ``fleetops destroy``, no commit): ``history``
  shows it, ``rollback`` goes back to the revision before it, and the next ``apply`` of the specs
  creates the fleet again.

The mass-delete guard (``engine.plan.risk.mass_delete_risk``: apply refuses a plan deleting more
than half of the bots unless ``--allow-mass-delete``) exists to catch deletes nobody asked for (an
emptied directory, a bad merge). A destroy is the explicit request for exactly that, confirmed on
the terminal or by ``--yes``: its plan drops the guard's plan-wide risk and says instead what is
destroyed (``Destroyed``'s caller prints it); every per-change risk (open trades, live money) stays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backend.values import BackendChoice
from engine.compile.desired import DesiredFleet
from engine.context import Context
from engine.errors import ApplyError
from engine.flow import ApplyOutcome, apply_plan
from engine.plan.model import Snapshot

if TYPE_CHECKING:
    from engine.live.liveplan import LivePlan

__all__ = ["DESTROY_REF", "SUBJECT", "Destroyed", "archive_place", "destroy", "plan_destroy", "refusal"]

DESTROY_REF = "fleetops destroy"
"""What the plan's target and the revision name instead of a git ref: nothing, on request."""
SUBJECT = "fleetops destroy"
"""The revision's subject in ``history`` (a destroy applies no commit)."""
_ALLOWED = frozenset({"mass-delete"})
_SPEC_DELETE = "removed from the specs"
"""How the diff words a bot's delete (``engine.plan.diff``); a destroy's says ``fleetops destroy`` instead."""


@dataclass(frozen=True)
class Destroyed:
    """How a destroy ended: the revision it recorded, where the files went, what still runs."""

    outcome: ApplyOutcome
    archive: str
    """Where the runtime files and trade databases were archived (``archive_place``)."""

    @property
    def postponed(self) -> dict[str, str]:
        """Bots still running because their trades did not close in their drain (bot → why)."""
        return self.outcome.postponed


def empty_target(name: str, backend: Mapping[str, Any], settings: Any) -> DesiredFleet:
    """The fleet ``name`` with nothing in it, on ``backend``, keeping its ``settings`` (no change to them is planned)."""
    return DesiredFleet(name, {}, {}, {}, {}, settings, dict(backend))


def plan_destroy(ctx: Context, fleet: str, backend: Mapping[str, Any] | None = None) -> LivePlan:
    """The live plan that removes everything ``fleet`` owns on its backend: ``backend`` (the Fleet
    document's block, when read from specs), else the one its running revision names, else the
    default Docker engine. Its plan-wide mass-delete risk is dropped (a destroy asks for it); an
    empty ``changes`` means nothing of the fleet exists there. Raises what the backend raises."""
    from engine.live import policy
    from engine.live.liveplan import plan_live

    current = policy.current_revision(ctx.read_store(), fleet)
    stored = ctx.stored_fleet(current) if current is not None else None
    chosen = dict(backend) if backend is not None else dict(stored.backend) if stored is not None else {"kind": "docker"}
    ctx.use(BackendChoice.of(chosen))
    target = empty_target(fleet, chosen, stored.settings if stored is not None else None)
    planned = plan_live(ctx, fleet, lambda _prior: target, Snapshot("empty", DESTROY_REF, None, subject=SUBJECT))
    kept = tuple(r for r in planned.plan.plan_risks if r.kind not in _ALLOWED)
    said = tuple(dataclasses.replace(c, reason=c.reason.replace(_SPEC_DELETE, DESTROY_REF, 1)) if c.kind == "bot" else c
                 for c in planned.plan.changes)  # no spec removed it: the destroy did
    return dataclasses.replace(planned, plan=dataclasses.replace(planned.plan, plan_risks=kept, changes=said))


def refusal(live_plan: LivePlan, *, force_open_trades: bool) -> str | None:
    """Why this destroy must not run, in one sentence, or None: a live-money bot whose open trades
    could not be read (its API did not answer, its process is not running) would be removed with
    whatever it holds, and nothing would manage those trades after it — unless ``force_open_trades``."""
    if force_open_trades:
        return None
    unknown = sorted(bot for bot in live_plan.live.bots if live_plan.open_trades.get(bot) is None and _live_money(live_plan, bot))
    if not unknown:
        return None
    return (f"refusing to destroy: live bot(s) {', '.join(unknown)} did not say whether they hold open trades (not running, or "
            "their API did not answer), so they cannot be drained first; start them and try again, or run it again with "
            "--force-open-trades to remove them with whatever they hold")


def _live_money(live_plan: LivePlan, bot: str) -> bool:
    running = live_plan.live.bots.get(bot)
    return running is not None and running.record is not None and not running.record.essence.dry_run


def archive_place(ctx: Context, live_plan: LivePlan) -> str:
    """Where a removed unit's files go, in words a user can follow: a path under the state dir for
    one Docker engine; on a swarm, each node agent's archive (the files live on the nodes)."""
    if live_plan.target.backend.get("kind", "docker") == "swarm":
        return f"each node's agent directory, under .archive/{live_plan.target.name}/"
    return str(Path(ctx.state_dir) / "archive" / live_plan.target.name) + "/"


def destroy(ctx: Context, live_plan: LivePlan, *, force_open_trades: bool = False) -> Destroyed:
    """Apply the destroy plan as a revision (``flow.apply_plan``, event ``destroy``): drained first
    unless ``force_open_trades``. Raises ApplyError for a ``refusal`` before anything is recorded or
    touched, and what apply raises."""
    refused = refusal(live_plan, force_open_trades=force_open_trades)
    if refused is not None:
        raise ApplyError(refused)
    place = archive_place(ctx, live_plan)
    outcome = apply_plan(ctx, live_plan, message=f"destroyed; runtime files and trade databases archived under {place}",
                         event="destroy", allow=_ALLOWED, drain=not force_open_trades)
    if not outcome.postponed and outcome.status.is_good:
        _retire(ctx, live_plan.target.name)
    return Destroyed(outcome, place)


def _retire(ctx: Context, fleet: str) -> None:
    """What a backend keeps for a fleet besides its units, gone once no unit is left: a swarm's node agents,
    their configs and secrets, and the network they held (``SwarmSite.retire``); one Docker engine keeps nothing
    more (the executor removed the network with the last container)."""
    retire: Callable[[], list[str]] | None = getattr(ctx.site(fleet), "retire", None)
    if retire is None:
        return
    for name in retire():
        ctx.progress(f"removed {name}")
