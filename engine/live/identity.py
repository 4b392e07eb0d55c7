"""Which fleet each repository was last applied as: one fleet identity per source.

Written by the flow when an apply begins (and by apply and the watcher when a full plan found
nothing to change); read by every live plan. A source is named by ``origin_of_path`` (the
repository's resolved directory, for ``fleetops apply``) or ``origin_of_remote`` (the watcher's
remote and branch). When the specs of a source carry another fleet name than the one recorded,
the plan is a rename, not a new fleet next to the old one (``engine.live.rename``): without this
record, changing ``name:`` in the Fleet document planned a second copy of every bot.

Kept in the state dir's SQLite file beside the revisions, in a table of its own (as the
watcher's journal is). Reading never creates anything.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from engine.live.store import STORE_FILE

__all__ = ["last_fleet", "origin_of_path", "origin_of_remote", "remember_fleet"]

_SCHEMA = "create table if not exists origins (origin text primary key, fleet text not null, updated_at text not null)"


def origin_of_path(repo: str | Path) -> str:
    """A working tree (or repository) applied by hand: its resolved directory."""
    return f"path:{Path(repo).resolve()}"


def origin_of_remote(remote: str, branch: str) -> str:
    """A branch the watcher follows: the remote as the watcher resolved it, and the branch."""
    return f"remote:{remote}#{branch}"


def last_fleet(state_dir: Path, origin: str) -> str | None:
    """The fleet ``origin`` was last applied as; None when it never was (or nothing was recorded)."""
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


def remember_fleet(state_dir: Path, origin: str, fleet: str) -> None:
    """Record that ``origin`` is now applied as ``fleet``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(state_dir / STORE_FILE, isolation_level=None, timeout=30)
    try:
        db.execute(_SCHEMA)
        db.execute("insert into origins (origin, fleet, updated_at) values (?, ?, ?) "
                   "on conflict(origin) do update set fleet = excluded.fleet, updated_at = excluded.updated_at",
                   (origin, fleet, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
    finally:
        db.close()
