"""What the watcher records beside the revisions: each commit's fate, and each repair.

Used by the watcher (writes), ``fleetops history`` and the status endpoints (reads). It lives in
the state dir's SQLite file next to the revisions, in tables of its own, so a restarted watcher
still knows which commits are quarantined (and never retries them) and which were applied.
A commit's status is one of ``applied`` (or ``unchanged``: nothing to do), ``quarantined``
(failed validation or was rolled back; ``reason`` says why), ``superseded`` (a newer commit
was applied in its place) or ``failed`` (the apply raised; it is retried).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.live.store import STORE_FILE

__all__ = ["CommitRecord", "Journal", "RepairRecord", "with_quarantines"]

_SCHEMA = """
create table if not exists commits (
    sha text primary key, fleet text not null, branch text not null, status text not null,
    reason text not null default '', seen_at text not null, updated_at text not null, revision integer
);
create table if not exists repairs (
    id integer primary key, fleet text not null, revision integer, at text not null,
    actions text not null, result text not null
);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CommitRecord:
    sha: str
    fleet: str
    branch: str
    status: str
    reason: str
    seen_at: str
    updated_at: str
    revision: int | None


@dataclass(frozen=True)
class RepairRecord:
    id: int
    fleet: str
    revision: int | None
    at: str
    actions: list[str]
    result: str


class Journal:
    """Thread-safe: the watcher's threads share one connection behind a lock."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self._lock = threading.Lock()
        path = state_dir / STORE_FILE
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30, check_same_thread=False)
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self._db.executescript(_SCHEMA)

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Journal | None:
        """The journal if the watcher ever wrote one; reading creates nothing."""
        if not (state_dir / STORE_FILE).is_file():
            return None
        journal = cls(state_dir, readonly=True)
        try:
            journal._db.execute("select 1 from commits limit 1")
        except sqlite3.OperationalError:
            return None
        return journal

    def record(self, sha: str, fleet: str, branch: str, status: str, reason: str = "", revision: int | None = None) -> None:
        now = _now()
        with self._lock:
            self._execute(
                "insert into commits (sha, fleet, branch, status, reason, seen_at, updated_at, revision) values (?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict(sha) do update set status = excluded.status, reason = excluded.reason, "
                "updated_at = excluded.updated_at, revision = coalesce(excluded.revision, commits.revision)",
                (sha, fleet, branch, status, reason, now, now, revision),
            )

    def _execute(self, query: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(query, params)

    def get(self, sha: str) -> CommitRecord | None:
        with self._lock:
            row = self._execute("select * from commits where sha = ?", (sha,)).fetchone()
        return CommitRecord(*row) if row else None

    def commits(self, *, status: str | None = None, limit: int = 200) -> list[CommitRecord]:
        query = "select * from commits" + (" where status = ?" if status else "") + " order by updated_at desc, rowid desc limit ?"
        with self._lock:
            rows = self._execute(query, (status, limit) if status else (limit,)).fetchall()
        return [CommitRecord(*r) for r in rows]

    def quarantined(self) -> dict[str, str]:
        return {r.sha: r.reason for r in self.commits(status="quarantined", limit=10_000)}

    def record_repair(self, fleet: str, revision: int | None, actions: list[str], result: str) -> int:
        with self._lock:
            cursor = self._execute("insert into repairs (fleet, revision, at, actions, result) values (?, ?, ?, ?, ?)",
                                   (fleet, revision, _now(), json.dumps(actions), result))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def repairs(self, limit: int = 200) -> list[RepairRecord]:
        with self._lock:
            rows = self._execute("select * from repairs order by id desc limit ?", (limit,)).fetchall()
        return [RepairRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def close(self) -> None:
        self._db.close()


def with_quarantines(rows: list[dict[str, Any]], journal: Journal | None) -> list[dict[str, Any]]:
    """``fleetops history``'s revision rows plus a row (``revision: null``) for each commit the
    watcher quarantined before any revision was recorded for it (invalid specs, a plan-wide risk
    no trailer allowed), in time order."""
    if journal is None:
        return rows
    extra: list[dict[str, Any]] = [{"revision": None, "fleet": c.fleet, "commit": c.sha, "ref": c.branch, "dirty": False, "status": "quarantined",
              "started_at": c.seen_at, "finished_at": c.updated_at, "message": c.reason, "changes": 0, "failures": {}, "repairs": [],
              "subject": None, "duration_seconds": None}
             for c in journal.commits(status="quarantined", limit=10_000) if c.revision is None]
    return sorted(rows + extra, key=lambda r: (r["started_at"], r["revision"] is None, r["revision"] or 0))
