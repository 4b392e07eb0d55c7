"""Where a fleet lives, for one command or one watcher: the ``Context`` every stage is given.

Kept apart from the pipeline (``engine.flow``) so that the readers — ``status``, ``wallets``, the
status page, the watcher's loop — get a context without importing the apply pipeline. Cheap to
make: nothing is connected, and nothing heavy imported, until a stage asks (the no-op proof
answers before any of it).

A context reaches the outside world through ``Ports``: either given outright (tests: the fakes,
whatever the fleet asks for), or opened by a ``Connector`` for the backend the fleet's own
``backend:`` names (the CLI and the watcher; ``engine.live.adapters``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.backend.values import BackendChoice
from engine.live.ports import Ports
from engine.naming import BackendRef

if TYPE_CHECKING:
    from engine.backend.port import Backend, Site
    from engine.check import CheckSettings
    from engine.compile.desired import DesiredFleet
    from engine.live.materials import Materials
    from engine.live.store import Revision, RevisionStore
    from engine.spec.load import ParseCache

__all__ = ["Connector", "Context"]


class Connector(Protocol):
    """Opens the outside world for a backend choice (``engine.live.adapters.RealConnector``)."""

    def reference(self, choice: BackendChoice) -> BackendRef:
        """Which backend and target ``choice`` means, without connecting."""
        ...
    def connect(self, choice: BackendChoice) -> Ports: ...


@dataclass
class Context:
    """Where a fleet lives: its state dir (revisions, records, key), the ports, and progress."""

    state_dir: Path
    connector: Ports | Connector
    """The ports (fixed: used whatever the fleet asks for), or what opens them by the fleet's backend."""
    progress: Callable[[str], None] = lambda _line: None
    environ: Mapping[str, str] | None = None
    drain_wait: float | None = None
    """Caps every bot's drain_timeout (the watcher's self-heal does not wait on trades)."""
    freqtrade_check: CheckSettings | Callable[[], CheckSettings] | None = None
    """Plans of specs go through the FreqTrade check (engine.check) with these settings (or what
    makes them, when first needed: they import the check); None: not checked."""
    proofs: bool = False
    """Answer an unchanged working tree from the no-op proof, and write one after a plan that found
    nothing to do (``engine.live.noop_proof``): the CLI's, unless FLEETOPS_FULL_PLAN is set."""
    choice: BackendChoice = field(default_factory=BackendChoice)
    """The backend the fleet asks for (``use``): what ``ports`` opens."""
    _parse_cache: ParseCache | None = field(default=None, init=False, repr=False)
    _opened: dict[BackendChoice, Ports] = field(default_factory=dict, init=False, repr=False)
    _store: RevisionStore | None = field(default=None, init=False, repr=False)
    _stored_fleets: dict[tuple[int, str], DesiredFleet] = field(default_factory=dict, init=False, repr=False)

    def check_settings(self) -> CheckSettings | None:
        """The FreqTrade check's settings, made on first use; None: plans are not checked."""
        if callable(self.freqtrade_check):
            self.freqtrade_check = self.freqtrade_check()
        return self.freqtrade_check

    def use(self, choice: BackendChoice) -> None:
        """Reach the backend ``choice`` names from now on (a fleet's ``backend:``; a stored revision's)."""
        self.choice = choice

    @property
    def ports(self) -> Ports:
        """The outside world for the current backend choice, opened on first use."""
        if isinstance(self.connector, Ports):
            return self.connector
        if self.choice not in self._opened:
            self._opened[self.choice] = self.connector.connect(self.choice)
        return self._opened[self.choice]

    @property
    def backend(self) -> Backend:
        return self.ports.backend

    def backend_ref(self, choice: BackendChoice | None = None) -> BackendRef:
        """Which backend and target ``choice`` (default: the current one) means here, without connecting."""
        if isinstance(self.connector, Ports):
            return self.connector.backend.ref
        return self.connector.reference(choice or self.choice)

    def site(self, fleet: str) -> Site:
        """``fleet`` on the current backend (what the backend does on its own is reported as progress)."""
        return self.backend.site(fleet, self.progress)

    def materials(self, fleet: str, *, writable: bool = False) -> Materials:
        """What ``fleet``'s bots are given, rendered; ``writable``: with secrets (creates the state dir's key)."""
        from engine.live.materials import Materials
        from engine.live.secret_values import load_key, load_or_create_key

        key = load_or_create_key(self.state_dir) if writable else load_key(self.state_dir)
        return Materials(fleet, key, self.environ_now())

    @property
    def parse_cache(self) -> ParseCache:
        """Parsed spec files for this context's life (a watcher's: bounded, see ParseCache)."""
        if self._parse_cache is None:
            from engine.spec.load import ParseCache

            self._parse_cache = ParseCache()
        return self._parse_cache

    def stored_fleet(self, revision: Revision) -> DesiredFleet:
        """A revision's desired fleet, parsed once per context: a revision's payload never changes
        after it is recorded, and a watcher reads the running one on every resync."""
        from engine.compile.payload import fleet_from_payload

        key = (revision.number, revision.started_at)
        if key not in self._stored_fleets:
            if len(self._stored_fleets) >= 4:
                self._stored_fleets.pop(next(iter(self._stored_fleets)))
            self._stored_fleets[key] = fleet_from_payload(revision.payload)
        return self._stored_fleets[key]

    def store(self) -> RevisionStore:
        """The revision store, created on first write."""
        from engine.live.store import RevisionStore

        if self._store is None:
            self._store = RevisionStore(self.state_dir)
        return self._store

    def read_store(self) -> RevisionStore | None:
        """The store for reading; None when nothing was ever applied (reading creates nothing)."""
        from engine.live.store import RevisionStore

        return self._store if self._store is not None else RevisionStore.open_readonly(self.state_dir)

    def environ_now(self) -> Mapping[str, str]:
        """Where secret references are resolved: the given environment, else the process's."""
        return self.environ if self.environ is not None else os.environ
