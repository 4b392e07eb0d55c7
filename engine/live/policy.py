"""The decisions of apply in one place: what counts as failed, and what to roll back to.

Called by the flow (apply, rollback) and the CLI's ``rollback``; the watcher will call it too.
Keeping them here means there is one answer to "which revision does a rollback restore?" — the
newest healthy revision of the same fleet recorded before the one being undone.
"""

from __future__ import annotations

from engine.compile.essence import FleetSettings
from engine.live.health import BotHealth
from engine.live.store import Revision, RevisionStore

__all__ = ["current_revision", "rollback_refusal", "rollback_target", "unhealthy"]


def current_revision(store: RevisionStore | None, fleet: str) -> Revision | None:
    """The revision the fleet runs: its newest applied one (drift is repaired back to it)."""
    return store.latest(fleet=fleet, good_only=True) if store is not None else None


def rollback_target(store: RevisionStore, fleet: str, *, before: int | None) -> Revision | None:
    """The newest applied (healthy) revision of ``fleet`` numbered below ``before``."""
    return store.latest(fleet=fleet, good_only=True, before=before)


def unhealthy(health: dict[str, BotHealth]) -> list[BotHealth]:
    """The bots whose check failed: any one of them fails the revision."""
    return [h for h in health.values() if not h.healthy]


def rollback_refusal(settings: FleetSettings | None, requested: bool, target: Revision | None) -> str | None:
    """Why a failed revision must not be rolled back automatically, or None when it must be."""
    if not requested:
        return "rollback is off (--no-rollback)"
    if settings is not None and settings.health.rollback == "off":
        return "rollback is off (health.rollback: off)"
    if target is None:
        return "there is no earlier healthy revision"
    return None
