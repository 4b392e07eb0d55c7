"""The decisions of apply in one place: what counts as failed, and what to roll back to.

Called by the flow (apply, rollback) and the CLI's ``rollback``; the watcher will call it too.
Keeping them here means there is one answer to "which revision does a rollback restore?" — the
newest healthy revision of the same fleet recorded before the one being undone.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.compile.desired import DesiredFleet
from engine.compile.essence import FleetSettings
from engine.health.gate import BotHealth
from engine.health.status import HealthStatus
from engine.live.observe import LiveFleet
from engine.live.store import Revision, RevisionStatus, RevisionStore

__all__ = ["changed_bots", "current_revision", "rollback_refusal", "rollback_target", "running", "unfinished_revision", "unhealthy"]

_STARTS_BOT = frozenset({"create", "reload", "restart", "start", "move"})
_STARTS_CONTAINER = frozenset({"create", "replace", "start", "restart"})
_UNFINISHED = frozenset({RevisionStatus.PENDING, RevisionStatus.INTERRUPTED, RevisionStatus.FAILED})


def current_revision(store: RevisionStore | None, fleet: str) -> Revision | None:
    """The revision the fleet runs: its newest applied one (drift is repaired back to it)."""
    return store.latest(fleet=fleet, good_only=True) if store is not None else None


def rollback_target(store: RevisionStore, fleet: str, *, before: int | None) -> Revision | None:
    """The newest applied (healthy) revision of ``fleet`` numbered below ``before``."""
    return store.latest(fleet=fleet, good_only=True, before=before)


def unhealthy(health: dict[str, BotHealth]) -> list[BotHealth]:
    """The bots whose status is worse than healthy: any one of them fails the revision."""
    return [h for h in health.values() if h.status.worse_than(HealthStatus.HEALTHY)]


def rollback_refusal(settings: FleetSettings | None, requested: bool, target: Revision | None) -> str | None:
    """Why a failed revision must not be rolled back automatically, or None when it must be."""
    if not requested:
        return "rollback is off (--no-rollback)"
    if settings is not None and settings.health.rollback == "off":
        return "rollback is off (health.rollback: off)"
    if target is None:
        return "there is no earlier healthy revision"
    return None


def unfinished_revision(store: RevisionStore | None, fleet: str) -> Revision | None:
    """The newest revision after the running one that did not finish healthy (pending, interrupted,
    failed): its apply may have left some bots running it (``running``)."""
    if store is None:
        return None
    newest = store.latest(fleet=fleet)
    current = current_revision(store, fleet)
    if newest is None or newest.status not in _UNFINISHED or (current is not None and newest.number < current.number):
        return None
    return newest


def changed_bots(revision: Revision, target: DesiredFleet) -> set[str]:
    """The enabled bots a revision's plan (re)started: what its health gate checks."""
    bots: set[str] = set()
    for change in revision.plan.get("changes", []):
        kind, _, name = str(change.get("address", "")).partition("/")
        action = change.get("action")
        if kind == "bot" and action in _STARTS_BOT:
            bots.add(name)
        elif kind == "container" and action in _STARTS_CONTAINER and name in target.containers:
            bots.update(target.containers[name].bots)
    return {b for b in bots if b in target.bots and target.bots[b].essence.enabled}


def running(target: DesiredFleet, live: LiveFleet, bots: Iterable[str]) -> list[str]:
    """Of ``bots``, those that run what ``target`` gave them now (their record is its bot, where it placed it)."""
    found = []
    for name in sorted(bots):
        bot, wanted = live.bots.get(name), target.bots.get(name)
        if bot is not None and wanted is not None and bot.record is not None and bot.record.hash == wanted.hash \
                and bot.container == wanted.container:
            found.append(name)
    return found
