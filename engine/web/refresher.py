"""One snapshot of the fleet for every page and event stream, rebuilt in the background.

Used by ``engine.web.pages``. Every ``every`` seconds (and at once when poked) it observes the
fleet — one Docker list, one supervisord call per pool container, cgroup files for memory —,
joins the revision store, the watcher's state when there is one, and the bots' own figures, and
publishes the result with a version number that changes only when the content does. Each bot's
health is one look with the checks of the fleet's ``health.check`` kind at what was observed
(its process, and the ``/api/v1/health`` answer the figures fetched): no request of its own.
Pages and event streams read the snapshot; nothing a client does reaches Docker or a bot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.backend.port import Site
from engine.backend.values import UnitInspect
from engine.compile.essence import WalletEssence
from engine.context import Context
from engine.fleetview import BotView, ContainerView, FleetView, fleet_view
from engine.health.table import DEFAULT_KIND
from engine.live import policy
from engine.live.health import look_at
from engine.live.observe import LiveFleet, observe
from engine.live.secret_values import load_key
from engine.status import other_fleets
from engine.web.detail import DetailCache
from engine.web.figures import FigureCache

__all__ = ["ContainerLimits", "PageSnapshot", "Refresher", "limits_of"]

HISTORY = 50


@dataclass(frozen=True)
class ContainerLimits:
    """A container's limits (None: none set, or the backend does not say)."""

    memory: int | None
    """Bytes."""
    cpus: float | None


def limits_of(inspected: UnitInspect | None) -> ContainerLimits:
    """From a unit's inspected settings as plain data (Docker's: ``memory`` bytes, ``nano_cpus``; 0 is no limit)."""
    plain = inspected.settings.plain() if inspected is not None else {}
    memory, nano = plain.get("memory"), plain.get("nano_cpus")
    return ContainerLimits(memory if isinstance(memory, int) and memory > 0 else None,
                           nano / 1e9 if isinstance(nano, int) and nano > 0 else None)


@dataclass(frozen=True)
class PageSnapshot:
    """What every page shows: the fleet's view (with health and figures), its containers' memory,
    other fleet names still running, and the revisions. ``watch`` is the watcher's own status
    document (``/api/status``) when a watcher serves the page."""

    fleet: str | None = None
    watch: Mapping[str, Any] | None = None
    error: str | None = None
    view: FleetView | None = None
    memory: Mapping[str, int | None] = field(default_factory=dict)
    """Container → bytes of memory it uses (None: not running, or not readable here)."""
    others: tuple[FleetView, ...] = ()
    revision: Mapping[str, Any] | None = None
    latest: Mapping[str, Any] | None = None
    applying: Mapping[str, Any] | None = None
    revisions: tuple[Mapping[str, Any], ...] = ()
    """Revision summaries, newest first, each with its stored plan."""
    sync: Mapping[str, Any] | None = None
    """The fleet against its branch head (``engine.watch.sync.SyncInfo.to_json``), None when unknown to this server."""
    cpu: Mapping[str, float | None] = field(default_factory=dict)
    """Container → CPU seconds it used since it started (None: not running, or not readable here)."""
    limits: Mapping[str, ContainerLimits] = field(default_factory=dict)
    """Container → its memory and CPU limits as the backend's inspect shows them."""
    wallets: Mapping[str, WalletEssence] = field(default_factory=dict)
    """The running revision's wallets (``engine.compile.desired``); each bot's is its essence's ``wallet``."""
    bot_wallets: Mapping[str, str] = field(default_factory=dict)
    """Bot → the wallet it draws on, in the running revision."""
    allocated: Mapping[str, float] = field(default_factory=dict)
    """Wallet → capital the running revision allocates to its bots."""
    taken_at: float = 0.0
    """Unix time the snapshot was built."""

    @property
    def bots(self) -> list[BotView]:
        return list(self.view.bots) if self.view is not None else []

    @property
    def containers(self) -> tuple[ContainerView, ...]:
        return self.view.containers if self.view is not None else ()

    @property
    def counts(self) -> dict[str, int]:
        return self.view.bot_states if self.view is not None else {}

    def to_json(self) -> dict[str, Any]:
        """``/api/fleet`` (without ``revisions``, which it leaves out) and what the version is a digest of."""
        return {
            "fleet": self.fleet, "watch": self.watch, "error": self.error,
            "bots": [{**b.to_json(), "container": b.container, "pool": b.pool,
                      "last_loop": b.figures.last_loop if b.figures else None,
                      "open_trades": b.figures.open_trades if b.figures else None,
                      "profit": b.figures.profit if b.figures else None,
                      "profit_pct": b.figures.profit_pct if b.figures else None} for b in self.bots],
            "containers": [{"name": c.name, "pool": c.pool, "state": c.state, "capacity": c.capacity, "bots": len(c.bots),
                            "supervisor": c.supervisor, "memory": self.memory.get(c.name)} for c in self.containers],
            "counts": self.counts,
            "other_fleets": [{"fleet": o.fleet, "counts": o.bot_states,
                              "containers": [{"name": c.name, "state": c.state, "bots": [{"name": b.name, "state": b.state} for b in c.bots]}
                                             for c in o.containers]} for o in self.others],
            "revision": self.revision, "latest": self.latest, "applying": self.applying, "sync": self.sync,
            "limits": {name: dataclasses.asdict(limit) for name, limit in self.limits.items()}, "revisions": list(self.revisions),
        }


class Refresher:
    def __init__(self, ctx: Context, figures: FigureCache, *, watcher: Callable[[], dict[str, Any]] | None = None,
                 every: float = 1.0, sync: Callable[[], Mapping[str, Any] | None] | None = None) -> None:
        """``watcher``: the watcher's status document (its ``sync`` key is used); ``sync``: where the sync
        status comes from without a watcher (``fleetops serve``)."""
        self.ctx = ctx
        self.figures = figures
        self.watcher = watcher
        self.sync = sync
        self.live: LiveFleet | None = None
        """The fleet as the last round observed it, with the site it was observed on (the per-bot page reads logs there)."""
        self.site: Site | None = None
        self.detail = DetailCache(figures.api.transport if figures.api is not None else None,
                                  key=lambda: load_key(ctx.state_dir), environ=ctx.environ_now)
        """Per-bot trades and log tail, read when a bot's page is asked for (``engine.web.detail``)."""
        self.every = every
        self.snapshot = PageSnapshot()
        self.version = 0
        self.builds = 0
        self._digest = ""
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleetops-refresher", daemon=True)
        self._changed = threading.Condition()

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()

    def poke(self) -> None:
        self._poke.set()

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until the version differs from ``version`` (or ``timeout``); the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout)
            return self.version

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poke.wait(self.every)
            self._poke.clear()
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - the page shows the error; the next round tries again
                self._publish(dataclasses.replace(self.snapshot, error=f"{type(exc).__name__}: {exc}"))

    def refresh(self) -> None:
        self.builds += 1
        watch = self.watcher() if self.watcher else {}
        store = self.ctx.read_store()
        latest = store.latest() if store is not None else None
        fleet = watch.get("fleet") or (latest.fleet if latest else None)
        if fleet is None:
            self._publish(PageSnapshot(watch=watch or None))
            return
        site = self.ctx.site(fleet)
        live = observe(site)
        self.live, self.site = live, site
        current = policy.current_revision(store, fleet)
        view = fleet_view(live, current, watch.get("failing") or {})
        targets = {b.name: where for b in view.bots if b.state == "running" and (where := live.address_of(b.name)) is not None}
        figures = {b.name: self.figures.get(b.name) for b in view.bots}
        self.figures.refresh(fleet, targets)
        desired = self.ctx.stored_fleet(current) if current is not None else None
        settings = desired.settings if desired is not None else None
        loops = {name: (f.loop, f.fetched_at) for name, f in figures.items() if f is not None and f.loop is not None}
        looks = look_at(live, settings.health.check if settings is not None else DEFAULT_KIND, loops=loops)
        view = view.with_looks({name: look.verdict for name, look in looks.items()}, figures)
        memory = {c.name: site.memory_of(live.containers[c.name]) if c.state == "running" else None for c in view.containers}
        cpu = {c.name: site.cpu_seconds_of(live.containers[c.name]) if c.state == "running" else None for c in view.containers}
        limits = {c.name: limits_of(live.inspected.get(c.name)) for c in view.containers}
        revisions = store.all()[-HISTORY:] if store is not None else []
        pending = next((r for r in reversed(revisions) if r.status.value == "pending"), None)
        self._publish(PageSnapshot(
            fleet=fleet, watch=watch or None, view=view, memory=memory, others=tuple(other_fleets(self.ctx, fleet)),
            revision=current.summary() if current else None, latest=latest.summary() if latest else None,
            applying=pending.summary() if pending else None,
            revisions=tuple({**r.summary(), "plan": r.plan} for r in reversed(revisions)),
            sync=watch.get("sync") or (self.sync() if self.sync is not None else None),
            cpu=cpu, limits=limits, wallets=dict(desired.wallets) if desired is not None else {},
            bot_wallets={name: bot.essence.wallet for name, bot in desired.bots.items()} if desired is not None else {},
            allocated={name: desired.allocated(name) for name in desired.wallets} if desired is not None else {},
            taken_at=time.time(),
        ))

    def _publish(self, snapshot: PageSnapshot) -> None:
        digest = hashlib.sha256(json.dumps(snapshot.to_json(), sort_keys=True, default=str).encode()).hexdigest()
        with self._changed:
            self.snapshot = snapshot
            if digest != self._digest:
                self._digest = digest
                self.version += 1
                self._changed.notify_all()
