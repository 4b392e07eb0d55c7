"""Where a fleet lives, for one command or one watcher: the ``Context`` every stage is given.

Kept apart from the pipeline (``engine.flow``) so that the readers — ``status``, ``wallets``, the
status page, the watcher's loop — get a context without importing the apply pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.backend.docker.runtime import Runtime
from engine.check import CheckSettings
from engine.compile.desired import DesiredFleet
from engine.compile.payload import fleet_from_payload
from engine.live.ports import Ports
from engine.live.secret_values import load_or_create_key
from engine.live.store import Revision, RevisionStore
from engine.spec.load import ParseCache

__all__ = ["Context"]


@dataclass
class Context:
    """Where a fleet lives: its state dir (revisions, runtime dirs, key), the ports, and progress."""

    state_dir: Path
    ports: Ports
    progress: Callable[[str], None] = lambda _line: None
    environ: Mapping[str, str] | None = None
    parse_cache: ParseCache = field(default_factory=ParseCache)
    drain_wait: float | None = None
    """Caps every bot's drain_timeout (the watcher's self-heal does not wait on trades)."""
    freqtrade_check: CheckSettings | None = None
    """Plans of specs go through the FreqTrade check (engine.check) with these settings; None: not checked."""
    """Parsed spec files for this context's life (a watcher's: bounded, see ParseCache)."""
    _store: RevisionStore | None = field(default=None, init=False, repr=False)
    _stored_fleets: dict[tuple[int, str], DesiredFleet] = field(default_factory=dict, init=False, repr=False)

    def stored_fleet(self, revision: Revision) -> DesiredFleet:
        """A revision's desired fleet, parsed once per context: a revision's payload never changes
        after it is recorded, and a watcher reads the running one on every resync."""
        key = (revision.number, revision.started_at)
        if key not in self._stored_fleets:
            if len(self._stored_fleets) >= 4:
                self._stored_fleets.pop(next(iter(self._stored_fleets)))
            self._stored_fleets[key] = fleet_from_payload(revision.payload)
        return self._stored_fleets[key]

    def store(self) -> RevisionStore:
        """The revision store, created on first write."""
        if self._store is None:
            self._store = RevisionStore(self.state_dir)
        return self._store

    def read_store(self) -> RevisionStore | None:
        """The store for reading; None when nothing was ever applied (reading creates nothing)."""
        return self._store if self._store is not None else RevisionStore.open_readonly(self.state_dir)

    def environ_now(self) -> Mapping[str, str]:
        """Where secret references are resolved: the given environment, else the process's."""
        return self.environ if self.environ is not None else os.environ

    def runtime(self, fleet: str, *, writable: bool = False) -> Runtime:
        key = load_or_create_key(self.state_dir) if writable else None
        return Runtime(self.state_dir, fleet, key, self.environ, self.progress)
