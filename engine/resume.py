"""A killed apply is finished by the next run: its health gate, and its rollback, are not skipped.

Called by ``fleetops apply`` and the watcher (apply and self-heal) while they hold the apply
lock, before they plan; ``plan`` only describes what the next apply will do (``pending_note``).
An apply records its revision ``pending`` before touching Docker and notes how far it got
(``Revision.phase``). One that was SIGKILLed leaves that row behind, and the bots it had changed
already run the new revision — a strategy that raises every candle included — while the next
plan, comparing specs with those bots, would say "No changes". So the next run:

- resumes the entries of bots its drain had paused (``stopbuy``) that were never restarted: they
  would otherwise keep their open trades and open no new one, for good;
- marks the revision interrupted, finds the bots its plan (re)started that now run what it gave
  them, and runs the health gate on them, exactly as the killed apply would have;
- unhealthy: rolls back to the newest healthy revision before it, as the apply would have (exit
  3; the revision is ``rolled_back``) — unless that apply ran without rollback (``--no-rollback``,
  ``rollback --to``): then it is ``failed`` and left in place, as it would have been;
  a rollback the killed apply had begun is finished;
- healthy, and the fleet runs the whole revision (its plan against live is empty): records it
  ``applied`` — every change was made and checked, only the verdict was missing, and ``status``
  must name the revision that runs;
- healthy, but part of it was never made: it stays ``interrupted`` (no verdict on changes that
  were not made); the apply that found it converges from what runs and records its own revision.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.context import Context
from engine.errors import ApplyError, HealthError
from engine.flow import check_health, gate, plan_revision, roll_back
from engine.health.gate import BotHealth
from engine.live import policy
from engine.live.drain import resume_entries
from engine.live.observe import observe
from engine.live.store import ROLLING_BACK, Revision, RevisionStatus, apply_lock_holder

__all__ = ["Finished", "finish_before_apply", "finish_interrupted", "pending_note"]


@dataclass(frozen=True)
class Finished:
    """How the next run finished a killed apply's revision."""

    revision: Revision
    status: RevisionStatus
    message: str
    health: dict[str, BotHealth]

    @property
    def failed(self) -> bool:
        """Its health gate failed: rolled back (exit 3), or failed where rollback is off (exit 1)."""
        return self.status in (RevisionStatus.ROLLED_BACK, RevisionStatus.FAILED)


def finish_interrupted(ctx: Context, *, rollback: bool = True) -> Finished | None:
    """Finish the revision a killed apply left pending (the caller holds the apply lock), or None."""
    existing = ctx.read_store()
    pending = existing.pending() if existing is not None else []
    if not pending:
        return None
    store = ctx.store()
    for older in pending[:-1]:  # one lock, one apply at a time: more than one means older kills
        store.finish(older.number, RevisionStatus.INTERRUPTED, "apply was interrupted; a later apply ran after it")
    revision = pending[-1]
    number, target = revision.number, ctx.stored_fleet(revision)
    rollback = rollback and revision.options.get("rollback", True) is not False  # as that apply would have: --no-rollback, rollback --to
    paused = revision.options.get("entries_stopped") or []
    if paused:  # its drain paused them; a restart would have resumed them, nothing else will
        resume_entries(ctx.ports.bot_api, observe(ctx.site(target.name)), paused, ctx.progress)
    if revision.phase == ROLLING_BACK:
        ctx.progress(f"revision {number} was interrupted while it rolled back ({revision.message}); finishing the rollback")
        outcome = roll_back(ctx, number, target, True, f"{revision.message} (rollback finished after an interruption)", {},
                            revision.details)
        return Finished(store.get(number), outcome.status, outcome.message, outcome.health)
    live = observe(ctx.site(target.name))
    changed = policy.running(target, live, policy.changed_bots(revision, target))
    if not changed:
        message = "apply was interrupted before it changed any bot; the next apply converged from what runs"
        store.finish(number, RevisionStatus.INTERRUPTED, message)
        ctx.progress(f"revision {number} was interrupted (its apply stopped before it changed any bot)")
        return Finished(store.get(number), RevisionStatus.INTERRUPTED, message, {})
    ctx.progress(f"revision {number} was interrupted (its apply stopped part-way); checking the {len(changed)} bot(s) it changed: "
                 + ", ".join(changed))
    health = check_health(ctx, target, set(changed))
    failed = gate(ctx, number, target, health, rollback=rollback, why="interrupted, then ")
    if failed is not None:
        return Finished(store.get(number), failed.status, failed.message, health)
    if not plan_revision(ctx, revision).plan.has_changes:
        message = f"interrupted after every change was made; the next run checked its {len(changed)} changed bot(s): healthy"
        store.finish(number, RevisionStatus.APPLIED, message)
        ctx.progress(f"revision {number} was {message}")
        return Finished(store.get(number), RevisionStatus.APPLIED, f"revision {number} applied ({message})", health)
    message = (f"apply was interrupted part-way; the {len(changed)} bot(s) it had changed are healthy "
               f"({', '.join(changed)}); the next apply converged from what runs")
    store.finish(number, RevisionStatus.INTERRUPTED, message)
    ctx.progress(f"revision {number} was interrupted part-way; the bot(s) it had changed are healthy; converging from what runs")
    return Finished(store.get(number), RevisionStatus.INTERRUPTED, message, health)


def finish_before_apply(ctx: Context, *, rollback: bool, stop: bool = True) -> None:
    """What ``apply`` and ``rollback`` do first, holding the lock: finish a killed apply's revision; when
    its health gate fails, this run ends as that apply would have (``stop``): HealthError (exit 3) once
    rolled back, ApplyError when rollback is off."""
    finished = finish_interrupted(ctx, rollback=rollback)
    if finished is None or not finished.failed or not stop:
        return
    raise (HealthError if finished.status is RevisionStatus.ROLLED_BACK else ApplyError)(finished.message)


def pending_note(ctx: Context) -> str | None:
    """What ``plan`` says about an unfinished revision (read-only: it changes and checks nothing)."""
    store = ctx.read_store()
    pending = store.pending() if store is not None else []
    if not pending:
        return None
    revision = pending[-1]
    holder = apply_lock_holder(ctx.state_dir)
    if holder is not None:
        return f"revision {revision.number} is being applied right now ({holder}); this plan may change when it finishes"
    target = ctx.stored_fleet(revision)
    previous = policy.rollback_target(store, target.name, before=revision.number) if store is not None else None
    back = f"roll back to revision {previous.number}" if previous is not None else "fail it (there is no earlier healthy revision)"
    if revision.options.get("rollback", True) is False:
        back = "mark it failed and leave it in place (it was applied without rollback)"
    if revision.phase == ROLLING_BACK:
        return f"revision {revision.number} was interrupted while it rolled back; the next apply first finishes that rollback ({back})"
    live = observe(ctx.site(target.name))
    changed = policy.running(target, live, policy.changed_bots(revision, target))
    if not changed:
        return f"revision {revision.number} was interrupted before it changed any bot; the next apply marks it interrupted"
    return (f"revision {revision.number} was interrupted part-way: {', '.join(changed)} run it unchecked; the next apply first "
            f"runs their health gate and, if they fail, will {back} and exit 3")
