"""The revision store: an embedded SQLite file under the state dir, plus the one-apply-at-a-time lock.

Called by apply, rollback, history and status. A revision is recorded ``pending`` before
Docker is touched and finalised after health checks, so an apply killed half-way leaves a
``pending`` row that the next run detects (and repairs by converging live state again).
Read-only commands (plan, status, history) open it with ``RevisionStore.open_readonly``, which
creates nothing: a state dir that was never applied to stays empty.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from engine.errors import StateError

__all__ = [
    "HEALTH_WAIT", "ROLLING_BACK", "Revision", "RevisionStatus", "RevisionStore", "apply_lock", "apply_lock_holder", "default_state_dir",
    "latest_status", "read_origin", "write_origin",
]


class RevisionStatus(str, Enum):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    INTERRUPTED = "interrupted"

    @property
    def is_good(self) -> bool:
        """Whether the fleet ran this revision healthily: a rollback target."""
        return self is RevisionStatus.APPLIED


@dataclass(frozen=True)
class Revision:
    number: int
    fleet: str
    commit: str | None
    ref: str | None
    dirty: bool
    status: RevisionStatus
    started_at: str
    finished_at: str | None
    message: str
    plan_json: str
    """The plan as stored: parsed only when asked for (``plan``), as it is the bulk of a revision
    and the no-op path that reads the current revision needs only its payload."""
    payload: dict[str, Any]
    details: dict[str, Any]
    """Why it failed, per bot: the health detail and the bot's last log lines (secrets masked)."""
    phase: str = ""
    """How far a pending apply got: "" executing, "health" (every change made), "rolling_back"
    (its health gate failed; ``message`` and ``details`` say why): what the next run finishes."""
    options: dict[str, Any] = field(default_factory=dict)
    """How its apply ran, for the run that finishes it if it was killed (``engine.resume``):
    ``rollback`` (False: ``--no-rollback``, ``rollback --to``), ``entries_stopped`` (bots its drain
    sent ``stopbuy``: paused until restarted or resumed)."""

    subject: str | None = None
    """The subject line of ``commit`` as the apply read it from git (None: no commit, or recorded before
    subjects were kept): what ``history`` shows beside the commit."""

    @functools.cached_property
    def plan(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.plan_json)
        return parsed

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds from start to finish (None while it runs, or when a timestamp does not parse)."""
        return duration_seconds(self.started_at, self.finished_at)

    def summary(self) -> dict[str, Any]:
        """The revision without its bulky plan and payload (history, status); ``subject`` and
        ``duration_seconds`` were added in issue 22 (null when unknown), the other keys are as they were."""
        return {
            "revision": self.number, "fleet": self.fleet, "commit": self.commit, "ref": self.ref, "dirty": self.dirty,
            "status": self.status.value, "started_at": self.started_at, "finished_at": self.finished_at,
            "message": self.message, "changes": len(self.plan.get("changes", [])), "failures": self.details,
            "subject": self.subject, "duration_seconds": self.duration_seconds,
        }


def duration_seconds(started_at: str | None, finished_at: str | None) -> int | None:
    """Whole seconds between two of the store's ISO timestamps (None if either is missing or does not parse)."""
    if not started_at or not finished_at:
        return None
    try:
        return max(int((dt.datetime.fromisoformat(finished_at) - dt.datetime.fromisoformat(started_at)).total_seconds()), 0)
    except (ValueError, TypeError):
        return None


STORE_FILE = "revisions.sqlite"
HEALTH_WAIT = "health"
"""Phase of a pending revision whose changes were all made: its health gate was running."""
ROLLING_BACK = "rolling_back"
"""Phase of a pending revision whose health gate failed: its rollback was running."""


def default_state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "fleetops"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_SCHEMA = """
create table if not exists revisions (
    number integer primary key,
    fleet text not null,
    commit_sha text,
    ref text,
    dirty integer not null,
    status text not null,
    started_at text not null,
    finished_at text,
    message text not null default '',
    plan text not null,
    payload text not null,
    details text not null default '{}'
)
"""
_COLUMNS = "number, fleet, commit_sha, ref, dirty, status, started_at, finished_at, message, plan, payload, details"
_PHASE = ", phase"
"""Read only from stores that have the column (written since interrupted applies are finished)."""
_OPTIONS = ", options"
"""Read only from stores that have the column (written since a killed apply's options are kept)."""
_SUBJECT = ", subject"
"""Read only from stores that have the column (written since history shows commit subjects)."""


class RevisionStore:
    """Revisions in SQLite. Rollback journal (not WAL), so a read-only open needs no side files."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STORE_FILE
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("pragma journal_mode=delete")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("pragma table_info(revisions)")}
        if "details" not in columns:  # a store written before failures were recorded per bot
            self._db.execute("alter table revisions add column details text not null default '{}'")
        if "phase" not in columns:  # a store written before a killed apply's phase was recorded
            self._db.execute("alter table revisions add column phase text not null default ''")
        if "options" not in columns:  # a store written before a killed apply's options were recorded
            self._db.execute("alter table revisions add column options text not null default '{}'")
        if "subject" not in columns:  # a store written before commit subjects were recorded
            self._db.execute("alter table revisions add column subject text")
        self._columns = _COLUMNS + _PHASE + _OPTIONS + _SUBJECT

    @classmethod
    def open_readonly(cls, state_dir: Path) -> RevisionStore | None:
        """The store if one exists (opened read-only), else None: reading never creates it."""
        path = state_dir / STORE_FILE
        if not path.is_file():
            return None
        store = cls.__new__(cls)
        store.path = path
        try:
            store._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30, check_same_thread=False)
            tables = store._db.execute("select name from sqlite_master where type = 'table' and name = 'revisions'").fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the revision store {path}: {exc}") from None
        if not tables:  # the watcher's journal was written first; no revision yet
            store.close()
            return None
        columns = {row[1] for row in store._db.execute("pragma table_info(revisions)")}
        store._columns = (_COLUMNS + (_PHASE if "phase" in columns else "") + (_OPTIONS if {"phase", "options"} <= columns else "")
                          + (_SUBJECT if {"phase", "options", "subject"} <= columns else ""))
        return store

    def close(self) -> None:
        self._db.close()

    def begin(self, fleet: str, commit: str | None, ref: str | None, dirty: bool, plan: dict[str, Any], payload: dict[str, Any],
              options: dict[str, Any] | None = None, subject: str | None = None) -> int:
        """Record a new pending revision and return its number (monotonic, never reused); ``subject``: the commit's subject line."""
        cursor = self._db.execute(
            "insert into revisions (fleet, commit_sha, ref, dirty, status, started_at, plan, payload, options, subject) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (fleet, commit, ref, int(dirty), RevisionStatus.PENDING.value, _now(), json.dumps(plan), json.dumps(payload),
             json.dumps(options or {}), subject),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def note(self, number: int, **options: Any) -> None:
        """Add to a pending revision's ``options`` (written before the step they describe is taken)."""
        merged = {**self.get(number).options, **options}
        self._db.execute("update revisions set options = ? where number = ? and status = ?",
                         (json.dumps(merged), number, RevisionStatus.PENDING.value))

    def finish(self, number: int, status: RevisionStatus, message: str = "", details: dict[str, Any] | None = None) -> None:
        self._db.execute("update revisions set status = ?, finished_at = ?, message = ?, details = ? where number = ?",
                         (status.value, _now(), message, json.dumps(details or {}), number))

    def set_phase(self, number: int, phase: str, message: str = "", details: dict[str, Any] | None = None) -> None:
        """Record how far a pending apply got (``Revision.phase``), so a killed one is finished from there."""
        self._db.execute("update revisions set phase = ?, message = ?, details = ? where number = ? and status = ?",
                         (phase, message, json.dumps(details or {}), number, RevisionStatus.PENDING.value))

    def pending(self) -> list[Revision]:
        """Revisions whose apply has not finished (or was killed), oldest first."""
        rows = self._db.execute(f"select {self._columns} from revisions where status = ? order by number", (RevisionStatus.PENDING.value,))
        return [_revision(r) for r in rows]

    def get(self, number: int) -> Revision:
        row = self._db.execute(f"select {self._columns} from revisions where number = ?", (number,)).fetchone()
        if row is None:
            raise StateError(f"revision {number} does not exist (see `fleetops history`)")
        return _revision(row)

    def all(self) -> list[Revision]:
        return [_revision(r) for r in self._db.execute(f"select {self._columns} from revisions order by number")]

    def latest(self, *, fleet: str | None = None, good_only: bool = False, before: int | None = None) -> Revision | None:
        """The newest revision matching every given condition (``before``: numbered below it)."""
        query = f"select {self._columns} from revisions"
        clauses: list[str] = []
        params: list[object] = []
        if fleet is not None:
            clauses.append("fleet = ?")
            params.append(fleet)
        if good_only:
            clauses.append("status = ?")
            params.append(RevisionStatus.APPLIED.value)
        if before is not None:
            clauses.append("number < ?")
            params.append(before)
        if clauses:
            query += " where " + " and ".join(clauses)
        row = self._db.execute(query + " order by number desc limit 1", params).fetchone()
        return _revision(row) if row else None

    def mark_interrupted(self) -> list[int]:
        """Pending revisions left by a killed apply: mark them so the next apply repairs live state."""
        numbers = [r[0] for r in self._db.execute("select number from revisions where status = ?", (RevisionStatus.PENDING.value,))]
        for number in numbers:
            self.finish(number, RevisionStatus.INTERRUPTED, "apply was interrupted; the next apply converged live state")
        return numbers


def _revision(row: tuple[Any, ...]) -> Revision:
    number, fleet, commit, ref, dirty, status, started, finished, message, plan, payload, details, *extra = row
    return Revision(number, fleet, commit, ref, bool(dirty), RevisionStatus(status), started, finished, message,
                    plan, json.loads(payload), json.loads(details or "{}"), extra[0] if extra else "",
                    json.loads(extra[1] or "{}") if len(extra) > 1 else {}, extra[2] if len(extra) > 2 else None)


@contextmanager
def apply_lock(state_dir: Path, *, wait: float = 0.0, waiting: Callable[[str], None] = lambda _holder: None) -> Iterator[None]:
    """Hold the state dir's apply lock; wait up to ``wait`` seconds for it, then fail naming the holder.

    The lock is an ``flock`` on ``apply.lock`` (released by the kernel when its holder dies, so a
    killed apply never leaves it stuck); the file names the holder's PID and start time.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "apply.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for as long as the lock is
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait:.0f} s" if wait else ""
                    raise StateError(f"another apply is running on {state_dir} (held by {holder}){waited}; "
                                     "wait for it to finish") from None
                if not told:
                    waiting(holder)
                    told = True
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {_now()}")
        handle.flush()
        yield
    finally:
        handle.close()


def apply_lock_holder(state_dir: Path) -> str | None:
    """Who holds the apply lock right now ("pid … since …"), or None when no live process does.

    Read-only: opens ``apply.lock`` only if it exists and releases the probe at once. A killed
    apply's lock is released by the kernel, so None means a pending revision is orphaned. Never
    call it while this process holds the lock (flock would conflict with our own descriptor).
    """
    try:
        handle = open(state_dir / "apply.lock")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def latest_status(state_dir: Path) -> tuple[int, str] | None:
    """The newest revision's number and status, read-only and cheap (the no-op proof's question);
    None when nothing was recorded. Raises ``sqlite3.Error`` as ``StateError``."""
    path = state_dir / STORE_FILE
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("select number, status from revisions order by number desc limit 1").fetchone()
    except sqlite3.Error as exc:
        raise StateError(f"cannot read the revision store {path}: {exc}") from None
    return (int(row[0]), str(row[1])) if row else None


_ORIGINS = "create table if not exists origins (origin text primary key, fleet text not null, updated_at text not null)"


def read_origin(state_dir: Path, origin: str) -> str | None:
    """The fleet a source was last applied as (``engine.live.identity``); None when not recorded."""
    path = state_dir / STORE_FILE
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        row = db.execute("select fleet from origins where origin = ?", (origin,)).fetchone()
    except sqlite3.OperationalError:  # written before fleet identities were recorded
        return None
    finally:
        db.close()
    return str(row[0]) if row else None


def write_origin(state_dir: Path, origin: str, fleet: str) -> None:
    """Record that a source is now applied as ``fleet``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(state_dir / STORE_FILE, isolation_level=None, timeout=30)
    try:
        db.execute(_ORIGINS)
        db.execute("insert into origins (origin, fleet, updated_at) values (?, ?, ?) "
                   "on conflict(origin) do update set fleet = excluded.fleet, updated_at = excluded.updated_at", (origin, fleet, _now()))
    finally:
        db.close()
