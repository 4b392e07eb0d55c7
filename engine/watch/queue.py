"""Which commit to apply next: one at a time, the newest wins, nothing is dropped or applied twice.

Used by the daemon, fed by the poller (after each fetch) and drained by the apply loop. Rules:
- a head that is already applied, being applied, next in line, or quarantined is ignored
  (a webhook for such a commit does nothing);
- a new head while another waits replaces it (the waiting one is superseded);
- a new head during an apply waits and is taken the moment that apply ends (a running health
  wait is never extended by it);
- a commit whose apply raised (not a spec or health failure) is retried after a backoff.
Pure and thread-safe; the daemon records superseded and quarantined commits in the journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CommitQueue", "QueueView"]


@dataclass(frozen=True)
class QueueView:
    applied: str | None
    running: str | None
    waiting: str | None
    quarantined: dict[str, str]
    retry_at: float | None


@dataclass
class CommitQueue:
    applied: str | None = None
    quarantined: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _running: str | None = None
    _waiting: str | None = None
    _retry_at: float | None = None
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def offer(self, head: str) -> str | None:
        """A fetch found ``head``; returns the commit it supersedes, if one was waiting."""
        with self._lock:
            if head in (self.applied, self._running, self._waiting) or head in self.quarantined:
                return None
            superseded, self._waiting, self._retry_at = self._waiting, head, None
            self._seen.setdefault(head, self.clock())
            self._lock.notify_all()
            return superseded

    def take(self) -> str | None:
        """The commit to apply now, if any (none while one runs or a retry is backing off)."""
        with self._lock:
            if self._running is not None or self._waiting is None:
                return None
            if self._retry_at is not None and self.clock() < self._retry_at:
                return None
            self._running, self._waiting, self._retry_at = self._waiting, None, None
            return self._running

    def finish(self, sha: str, *, applied: bool = False, quarantine: str | None = None, retry_in: float | None = None) -> None:
        with self._lock:
            self._running = None
            if applied:
                self.applied = sha
                self._seen.pop(sha, None)
            elif quarantine is not None:
                self.quarantined[sha] = quarantine
                self._seen.pop(sha, None)
            elif retry_in is not None and self._waiting is None:
                self._waiting, self._retry_at = sha, self.clock() + retry_in
            self._lock.notify_all()

    def redo(self, sha: str) -> None:
        """Apply ``sha`` again although it was applied: the live fleet left it (an apply made outside the
        watcher). Nothing happens when it is not the applied commit, or another commit runs or waits."""
        with self._lock:
            if self.applied != sha or self._running is not None or self._waiting is not None:
                return
            self.applied, self._waiting, self._retry_at = None, sha, None
            self._seen.setdefault(sha, self.clock())
            self._lock.notify_all()

    def seen_at(self, sha: str) -> float | None:
        """When the commit was first seen (monotonic): commit-to-healthy is measured from here."""
        with self._lock:
            return self._seen.get(sha)

    def wait(self, timeout: float) -> None:
        """Block until something is offered or finished, or ``timeout`` passes."""
        with self._lock:
            self._lock.wait(timeout)

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def view(self) -> QueueView:
        with self._lock:
            return QueueView(self.applied, self._running, self._waiting, dict(self.quarantined), self._retry_at)
