"""Which fleet each repository was last applied as: one fleet identity per source.

Written by the flow when an apply begins (and by apply and the watcher when a full plan found
nothing to change); read by every live plan. A source is named by ``origin_of_path`` (the
repository's resolved directory, for ``fleetops apply``) or ``origin_of_remote`` (the watcher's
remote and branch). When the specs of a source carry another fleet name than the one recorded,
the plan is a rename, not a new fleet next to the old one (``engine.live.rename``): without this
record, changing ``name:`` in the Fleet document planned a second copy of every bot.

Kept in the state dir's SQLite file beside the revisions, in a table of its own (as the
watcher's journal is), through the revision store's module (``engine.live.store``: the SQLite
adapter). Reading never creates anything.
"""

from __future__ import annotations

from pathlib import Path

from engine.live.store import read_origin, write_origin

__all__ = ["last_fleet", "origin_of_path", "origin_of_remote", "remember_fleet"]

def origin_of_path(repo: str | Path) -> str:
    """A working tree (or repository) applied by hand: its resolved directory."""
    return f"path:{Path(repo).resolve()}"


def origin_of_remote(remote: str, branch: str) -> str:
    """A branch the watcher follows: the remote as the watcher resolved it, and the branch."""
    return f"remote:{remote}#{branch}"


def last_fleet(state_dir: Path, origin: str) -> str | None:
    """The fleet ``origin`` was last applied as; None when it never was (or nothing was recorded)."""
    return read_origin(state_dir, origin)


def remember_fleet(state_dir: Path, origin: str, fleet: str) -> None:
    """Record that ``origin`` is now applied as ``fleet``."""
    write_origin(state_dir, origin, fleet)
