"""One snapshot of the fleet for every page and event stream, rebuilt in the background.

Used by ``engine.web.pages``. Every ``every`` seconds (and at once when poked) it observes the
fleet — one Docker list, one supervisord call per pool container, cgroup files for memory —,
joins the revision store, the watcher's state when there is one, and the bots' own figures, and
publishes the result with a version number that changes only when the content does. Pages and
event streams read the snapshot; nothing a client does reaches Docker or a bot.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from engine.context import Context
from engine.live import policy
from engine.live.observe import observe
from engine.status import other_fleets, summarize
from engine.web.figures import FigureCache

__all__ = ["Refresher"]

HISTORY = 50


class Refresher:
    def __init__(self, ctx: Context, figures: FigureCache, *, watcher: Callable[[], dict[str, Any]] | None = None,
                 every: float = 1.0) -> None:
        self.ctx = ctx
        self.figures = figures
        self.watcher = watcher
        self.every = every
        self.snapshot: dict[str, Any] = {"fleet": None, "bots": [], "containers": [], "revisions": [], "counts": {}}
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
                self._publish({**self.snapshot, "error": f"{type(exc).__name__}: {exc}"})

    def refresh(self) -> None:
        self.builds += 1
        watch = self.watcher() if self.watcher else {}
        store = self.ctx.read_store()
        latest = store.latest() if store is not None else None
        fleet = watch.get("fleet") or (latest.fleet if latest else None)
        snapshot: dict[str, Any] = {"fleet": fleet, "watch": watch or None, "error": None}
        if fleet is None:
            self._publish({**snapshot, "bots": [], "containers": [], "revisions": [], "counts": {}})
            return
        site = self.ctx.site(fleet)
        live = observe(site)
        current = policy.current_revision(store, fleet)
        summary = summarize(live, current, watch.get("failing") or {})
        bots, containers = [], []
        targets = {}
        for c in summary["containers"]:
            containers.append({"name": c["name"], "pool": c["pool"], "state": c["state"], "capacity": c["capacity"],
                               "bots": len(c["bots"]), "supervisor": c["supervisor"],
                               "memory": site.memory_of(live.containers[c["name"]]) if c["state"] == "running" else None})
            for b in c["bots"]:
                if c["ip"] and b["port"] and b["state"] == "running":
                    targets[b["name"]] = (c["ip"], b["port"])
                figures = self.figures.get(b["name"])
                bots.append({**b, "container": c["name"], "pool": c["pool"],
                             "last_loop": figures.last_loop if figures else None,
                             "open_trades": figures.open_trades if figures else None,
                             "profit": figures.profit if figures else None,
                             "profit_pct": figures.profit_pct if figures else None})
        self.figures.refresh(fleet, targets)
        others = [{"fleet": o["fleet"], "counts": o["bot_states"],
                   "containers": [{"name": c["name"], "state": c["state"], "bots": [{"name": b["name"], "state": b["state"]} for b in c["bots"]]}
                                  for c in o["containers"]]}
                  for o in other_fleets(self.ctx, fleet)]
        revisions = store.all()[-HISTORY:] if store is not None else []
        pending = next((r for r in reversed(revisions) if r.status.value == "pending"), None)
        self._publish({
            **snapshot, "bots": bots, "containers": containers, "counts": summary["bot_states"], "other_fleets": others,
            "revision": current.summary() if current else None,
            "latest": latest.summary() if latest else None,
            "applying": pending.summary() if pending else None,
            "revisions": [{**r.summary(), "plan": r.plan} for r in reversed(revisions)],
        })

    def _publish(self, snapshot: dict[str, Any]) -> None:
        digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()
        with self._changed:
            self.snapshot = snapshot
            if digest != self._digest:
                self._digest = digest
                self.version += 1
                self._changed.notify_all()
