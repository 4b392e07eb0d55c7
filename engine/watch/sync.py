"""Sync status, as Argo CD gives it: is the fleet running its branch head?

Used by the watcher (``Watcher.sync``: the page's header, ``/api/status``, the metric
``fleetops_sync_info``, and its own check for applies made outside it) and by ``fleetops serve``
without a watcher (``sync_from_state``). Three answers, in Argo's words:

- ``Synced``: the live revision (the fleet's newest applied one, ``policy.current_revision``) was
  applied from the branch head's commit — or the watcher found the head's plan empty while that
  revision ran (a commit that changes nothing in the fleet) — and the last look saw no drift;
- ``OutOfSync``: the live revision came from another commit (an apply by hand from an unpushed or
  older commit, a head that is quarantined or not applied yet), from a working tree with
  uncommitted changes, or the live state drifts from it (a container stopped, a bot dead, a setting
  changed by hand) — ``reason`` says which;
- ``Unknown``: it cannot tell: no revision was applied, or the branch head is not known (no fetch
  yet, or no watcher follows a branch from this state dir).

``sync_info`` is pure; the callers bring the facts. The facts come from: the revision store (the
live revision, its commit and ``dirty``), the watcher's git mirror (the branch head), the watcher's
journal (a head whose plan changed nothing is recorded ``unchanged`` with the revision it was
found equal to), and the last self-heal pass (drift: the addresses its plan back to the live
revision still had).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from engine.live import policy
from engine.live.store import Revision, RevisionStore
from engine.watch.journal import Journal
from engine.watch.mirror import recorded_head

__all__ = ["Sync", "SyncInfo", "head_unchanged_at", "sync_from_state", "sync_info"]


class Sync(str, Enum):
    """Argo CD's sync statuses (``argocd_app_info{sync_status}``), spelled as Argo spells them."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class SyncInfo:
    """The fleet against its branch; every field None when unknown."""

    status: Sync
    reason: str
    """One sentence for people: why this status (empty when Synced with nothing to add)."""
    revision: int | None
    """The live revision's number (the fleet's newest applied revision)."""
    commit: str | None
    """The full SHA the live revision was applied from (None: applied from no commit)."""
    branch: str | None
    """The branch the watcher follows."""
    branch_head: str | None
    """That branch's head as last fetched (full SHA)."""
    drift: tuple[str, ...] = ()
    """Addresses (``container/x``, ``bot/y``) the last self-heal pass found drifting from the live revision."""

    @property
    def out_of_band(self) -> bool:
        """OutOfSync because the live revision is not the branch head's (not drift): what the
        watcher brings back by applying the head again."""
        return self.status is Sync.OUT_OF_SYNC and not self.drift and self.branch_head is not None

    def to_json(self) -> dict[str, Any]:
        """``{status, reason, revision, commit, branch, branch_head, drift}`` (``/api/status``'s ``sync``)."""
        return {"status": self.status.value, "reason": self.reason, "revision": self.revision, "commit": self.commit,
                "branch": self.branch, "branch_head": self.branch_head, "drift": list(self.drift)}

    def labels(self) -> dict[str, str]:
        """The labels of ``fleetops_sync_info`` (value 1): ``revision``, ``commit``, ``branch_head``,
        ``status``; an unknown one is the empty string, as Prometheus reads a missing label."""
        return {"revision": "" if self.revision is None else str(self.revision), "commit": self.commit or "",
                "branch_head": self.branch_head or "", "status": self.status.value}


def sync_info(live: Revision | None, branch_head: str | None, *, branch: str | None = None, head_unchanged_at: int | None = None,
              drift: Sequence[str] = ()) -> SyncInfo:
    """The fleet's sync status from its facts (pure).

    ``live``: the fleet's live revision (``policy.current_revision``), None when none was applied;
    ``branch_head``: the head the watcher follows (None: not known); ``head_unchanged_at``: the live
    revision number at which the watcher planned the head and found nothing to change (the journal's
    ``unchanged`` record), None otherwise; ``drift``: what the last self-heal pass saw drifting.
    """
    revision, commit = (live.number, live.commit) if live is not None else (None, None)

    def info(status: Sync, reason: str) -> SyncInfo:
        return SyncInfo(status, reason, revision, commit, branch, branch_head, tuple(drift))

    if live is None:
        return info(Sync.UNKNOWN, "no revision of this fleet was applied yet")
    if branch_head is None:
        where = f"branch {branch}" if branch else "a branch"
        return info(Sync.UNKNOWN, f"the head of {where} is not known (no watcher has fetched it from this state dir)")
    shown = f"{branch} ({branch_head[:12]})" if branch else branch_head[:12]
    if live.dirty:
        return info(Sync.OUT_OF_SYNC, f"revision {live.number} was applied from a working tree with uncommitted changes, "
                                      f"not from {shown}")
    if live.commit != branch_head and head_unchanged_at != live.number:
        source = f"commit {live.commit[:12]}" if live.commit else "no commit"
        return info(Sync.OUT_OF_SYNC, f"revision {live.number} was applied from {source}, not from the head of {shown}")
    if drift:
        more = f" (+{len(drift) - 3} more)" if len(drift) > 3 else ""
        return info(Sync.OUT_OF_SYNC, f"the live fleet drifts from revision {live.number}: {', '.join(drift[:3])}{more}")
    return info(Sync.SYNCED, "")


def head_unchanged_at(journal: Journal | None, head: str | None) -> int | None:
    """The live revision at which the watcher found ``head``'s plan empty (its journal record), or None."""
    if journal is None or head is None:
        return None
    record = journal.get(head)
    return record.revision if record is not None and record.status == "unchanged" else None


def sync_from_state(state_dir: Path, store: RevisionStore | None, fleet: str | None) -> SyncInfo:
    """The sync status without a watcher in this process (``fleetops serve``): read-only, no network.

    The branch and its head are what a watcher using this state dir last fetched (its journal names
    the branch, its mirror holds the head: ``mirror.recorded_head``); drift is not looked at here
    (an empty tuple), so a fleet that drifts while its revision is the head's reads Synced until a
    watcher's pass sees the drift. Unknown when no watcher ever fetched from this state dir.
    ``fleet`` None: the fleet of the store's newest revision.
    """
    if fleet is None and store is not None:  # the fleet status and the page show: the newest revision's
        newest = store.latest()
        fleet = newest.fleet if newest is not None else None
    live = policy.current_revision(store, fleet) if fleet is not None else None
    journal = Journal.open_readonly(state_dir)
    try:
        branch = next((c.branch for c in journal.commits(limit=50) if c.fleet == fleet), None) if journal is not None else None
        head = recorded_head(state_dir, branch) if branch is not None else None
        return sync_info(live, head, branch=branch, head_unchanged_at=head_unchanged_at(journal, head))
    finally:
        if journal is not None:
            journal.close()
