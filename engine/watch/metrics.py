"""The watcher's Prometheus metrics: the only module that imports prometheus-client's collectors.

Used by the daemon (updates) and the server (``/metrics``). Each watcher has its own registry,
so tests can run several. Label values are bounded: results, bot states, health statuses
(``engine.health.status``), pool names, swarm node names and repair kinds from fixed sets, the specs or the swarm — never
commit SHAs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.registry import Collector

from engine.fleetview import BOT_STATES
from engine.health.status import HealthStatus

disable_created_metrics()  # type: ignore[no-untyped-call]  # the contract (§9): no ``*_created`` series; counters are read as rates

__all__ = ["QUARANTINE_REASONS", "WatchMetrics", "exposition_of"]

APPLY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600)
QUARANTINE_REASONS = ("invalid", "rolled_back", "failed", "mass_delete", "rename")
"""Why a commit was quarantined: its specs, its health, or a plan-wide risk no trailer allowed."""


class WatchMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.applies = Counter("fleetops_applies", "Applies by result", ["result"], registry=r)
        self.apply_duration = Histogram("fleetops_apply_duration_seconds", "Duration of an apply, health and rollback included",
                                        buckets=APPLY_BUCKETS, registry=r)
        self.commit_to_healthy = Histogram("fleetops_commit_to_healthy_seconds",
                                           "From first seeing a commit (fetch or webhook) to every changed bot healthy",
                                           buckets=APPLY_BUCKETS, registry=r)
        self.revision = Gauge("fleetops_revision", "The revision the fleet runs", registry=r)
        self.bots = Gauge("fleetops_bots", "Bots by state", ["state"], registry=r)
        self.bot_health = Gauge("fleetops_bot_health", "Enabled bots by health status (their process and container, as the last "
                                "self-heal pass saw them)", ["status"], registry=r)
        self.pool_bots = Gauge("fleetops_pool_bots", "Bots assigned to each pool", ["pool"], registry=r)
        self.pool_capacity = Gauge("fleetops_pool_capacity", "Bot slots of each pool's containers", ["pool"], registry=r)
        self.node_bots = Gauge("fleetops_node_bots", "Bots on each node of a swarm, by state (none on one Docker host)", ["node", "state"],
                               registry=r)
        self.repairs = Counter("fleetops_repairs", "Self-heal repairs by kind", ["kind"], registry=r)
        self.restarts = Counter("fleetops_bot_restarts_counted", "Restarts of each bot the flap guard counted, whoever made them, by "
                                "cause (process_exited, container_died, repair)", ["bot", "cause"], registry=r)
        self.quarantined = Gauge("fleetops_quarantined_commits", "Commits quarantined (failed validation or rolled back)", registry=r)
        self.quarantines = Counter("fleetops_quarantines", "Commits quarantined since start, by reason", ["reason"], registry=r)
        self.other_fleet_bots = Gauge("fleetops_other_fleet_bots",
                                      "Bots of other fleet names applied from this state dir that still have containers, by state",
                                      ["fleet", "state"], registry=r)
        self.fetch_errors = Counter("fleetops_fetch_errors", "Fetches of the fleet repository that failed", registry=r)
        self.last_fetch = Gauge("fleetops_last_fetch_timestamp_seconds", "Unix time of the last successful fetch", registry=r)
        for result in ("applied", "unchanged", "rolled_back", "failed", "invalid", "refused", "error"):
            self.applies.labels(result)
        for reason in QUARANTINE_REASONS:
            self.quarantines.labels(reason)
        for state in BOT_STATES:
            self.bots.labels(state)
        for status in HealthStatus:
            self.bot_health.labels(status.value)
        self._fleet: Callable[[], bytes] | None = None
        """The per-bot series' text (``add_collector``)."""

    def set_bots(self, counts: dict[str, int]) -> None:
        for state in BOT_STATES:
            self.bots.labels(state).set(counts.get(state, 0))

    def set_health(self, counts: dict[str, int]) -> None:
        """Health status → how many enabled bots have it (``FleetView.health_counts``)."""
        for status in HealthStatus:
            self.bot_health.labels(status.value).set(counts.get(status.value, 0))

    def set_pools(self, members: dict[str, int], capacity: dict[str, int]) -> None:
        for pool in set(members) | set(capacity):
            self.pool_bots.labels(pool).set(members.get(pool, 0))
            self.pool_capacity.labels(pool).set(capacity.get(pool, 0))

    def set_nodes(self, states: dict[str, dict[str, int]]) -> None:
        """Node → its bots by state (``FleetView.node_bots``); a node no bot runs on any more has no series."""
        self.node_bots.clear()
        for node, counts in states.items():
            for state in BOT_STATES:
                self.node_bots.labels(node, state).set(counts.get(state, 0))

    def set_other_fleets(self, states: dict[str, dict[str, int]]) -> None:
        """Fleet → its bots by state, for every other fleet name that still runs from this state dir."""
        self.other_fleet_bots.clear()
        for fleet, counts in states.items():
            for state in BOT_STATES:
                self.other_fleet_bots.labels(fleet, state).set(counts.get(state, 0))

    def add_collector(self, collector: Collector) -> None:
        """Per-bot series (``engine.watch.bot_metrics.FleetCollector``), once the page's refresher exists;
        rendered apart from the engine's own (``exposition_of``), whose counters a scrape sees at once."""
        self._fleet = exposition_of(collector)

    def exposition(self) -> bytes:
        engine = generate_latest(self.registry)
        return engine + self._fleet() if self._fleet is not None else engine


class _Rendered:
    """A registry's text, rendered at most once per ``max_age`` seconds: scrapers at the same moment
    share one render (the others wait for it), so ten scrapers cost what one does. While scrapes
    keep coming (the last within ``keep_warm`` seconds) a background thread renders it every
    ``max_age`` seconds, so a scrape is handed text at most twice ``max_age`` old instead of waiting
    for a 200-bot render; with ``keep_warm`` 0, the scrape that finds it stale renders it."""

    def __init__(self, registry: CollectorRegistry, max_age: float, clock: Callable[[], float], keep_warm: float) -> None:
        self.registry, self.max_age, self.clock, self.keep_warm = registry, max_age, clock, keep_warm
        self.renders = 0
        self._text = b""
        self._at = -math.inf
        self._scraped = -math.inf
        self._lock = threading.Lock()
        self._warm: threading.Thread | None = None

    def __call__(self) -> bytes:
        self._scraped = self.clock()
        with self._lock:
            if self._scraped - self._at >= self.max_age * (2 if self.keep_warm else 1):
                self._render()
            text = self._text
        if self.keep_warm and (self._warm is None or not self._warm.is_alive()):
            self._warm = threading.Thread(target=self._keep_warm, name="fleetops-metrics-render", daemon=True)
            self._warm.start()
        return text

    def _render(self) -> None:
        self._text = generate_latest(self.registry)
        self._at = self.clock()
        self.renders += 1

    def _keep_warm(self) -> None:
        while self.clock() - self._scraped < self.keep_warm:
            time.sleep(self.max_age)
            with self._lock:
                self._render()


def exposition_of(*collectors: Collector, max_age: float = 1.0, keep_warm: float = 120.0,
                  clock: Callable[[], float] = time.monotonic) -> Callable[[], bytes]:
    """``/metrics`` text of the collectors on a registry of their own (``_Rendered``: at most once per
    ``max_age`` seconds, kept warm in the background for ``keep_warm`` seconds after a scrape; the
    snapshot they read is rebuilt once a second, and a 200-bot exposition takes some 30 ms of CPU to
    format). ``fleetops serve``'s whole ``/metrics``; the watcher's per-bot part."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return _Rendered(registry, max_age, clock, keep_warm)
