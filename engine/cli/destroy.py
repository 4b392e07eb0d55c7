"""``fleetops destroy`` on the terminal: which fleet, the plan, the question, the outcome.

Called by the command in ``engine.cli``; the work is ``engine.destroy``'s. Exit codes as for apply
(contract §3): 0 destroyed, or nothing there to destroy; 1 refused, not confirmed, or unfinished
(bots whose open trades did not close keep running: the message names them).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.cli.support import LOCK_WAIT, chosen_state_dir, command_context, finish_interrupted, waiting_for
from engine.errors import ApplyError, FleetopsError, SpecError
from engine.textsafe import one_line

__all__ = ["run_destroy"]


def _fleet_of(repo: str, fleet: str | None) -> tuple[str, dict[str, Any] | None]:
    """The fleet to destroy, and its backend when the specs name it: ``--fleet`` as given (the backend
    of its running revision), else the Fleet document of the specs in ``repo``."""
    if fleet is not None:
        return fleet, None
    from engine.spec.load import load_fleet

    try:
        loaded = load_fleet(repo, None)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        raise FleetopsError("the specs must load to name the fleet to destroy; fix them, or name it: fleetops destroy --fleet NAME") from None
    return loaded.spec.fleet.name, loaded.spec.fleet.backend.model_dump(mode="json")


def run_destroy(repo: str, fleet: str | None, *, yes: bool, force_open_trades: bool) -> None:
    """Plan the fleet's removal, show it, confirm (``yes`` skips the question; without a terminal it
    is required), destroy, and say where the files went."""
    from engine.destroy import destroy, plan_destroy
    from engine.live.store import apply_lock
    from engine.plan.text import plan_to_text

    name, backend = _fleet_of(repo, fleet)
    with apply_lock(chosen_state_dir(), wait=LOCK_WAIT, waiting=waiting_for):
        ctx = command_context()
        finish_interrupted(ctx, rollback=True)
        planned = plan_destroy(ctx, name, backend)
        click.echo(plan_to_text(planned.plan), nl=False)
        if not planned.plan.has_changes:
            click.echo(f"Nothing to destroy: fleet '{name}' has nothing on {ctx.backend_ref()}.")
            return
        bots = sum(1 for c in planned.plan.changes if c.kind == "bot")
        units = sum(1 for c in planned.plan.changes if c.kind == "container")
        click.echo(f"Destroy removes every container of fleet '{name}' ({units}), its {bots} bot(s) and its network; their runtime "
                   "files and trade databases are archived, never deleted. (The mass-delete guard does not apply: destroy is "
                   "the explicit request to delete every bot, confirmed here.)")
        if not yes:
            if not sys.stdin.isatty():
                raise FleetopsError("refusing to destroy without confirmation: stdin is not a terminal (pass --yes)")
            click.confirm(f"Destroy fleet '{name}'?", abort=True)
        done = destroy(ctx, planned, force_open_trades=force_open_trades)
    number = done.outcome.revision
    if done.postponed:
        waiting = "; ".join(f"{bot}: {why}" for bot, why in sorted(done.postponed.items()))
        raise ApplyError(f"fleet '{name}' is not destroyed yet (revision {number}): {waiting}; those bots keep running. Run destroy "
                         "again once their trades close, or with --force-open-trades to remove them with their trades open")
    if done.outcome.status.value != "applied":
        raise ApplyError(done.outcome.message)
    click.echo(one_line(f"fleet '{name}' destroyed (revision {number}); its runtime files and trade databases are archived under "
                        f"{done.archive}. `fleetops apply` creates it again; `fleetops rollback` restores the revision before."))
