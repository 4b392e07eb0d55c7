"""The live fleet as people read it: one typed view for ``status``, ``wallets``, the page and the metrics.

``fleet_view`` is the one place that decides a bot's state for people (running, failing, stopped,
disabled, unknown) and groups containers → bots with each pool's use of its slots, from what
``observe`` saw and the revision that runs; so the terminal, the JSON documents, the status page
and the watcher's metrics agree. What a consumer asks the bots itself it adds to the same view
(``with_looks``): a health verdict per bot (``engine.health``), the figures their APIs gave.
Frozen dataclasses; ``to_json`` gives the documents ``status --format json``, the watcher's
``/api/status`` and the page's ``/api/fleet`` serve — the keys they had when this was a dict, and
``health`` ({status, detail}, or null when not looked at) per bot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.backend.port import RUNNING_STATES
from engine.compile.payload import fleet_from_payload
from engine.ftapi import LoopHealth
from engine.health.status import Verdict
from engine.live.observe import LiveBot, LiveFleet
from engine.live.store import Revision
from engine.naming import Labels

__all__ = ["BOT_STATES", "BotFigures", "BotView", "ContainerView", "FleetView", "bot_state", "fleet_view"]

BOT_STATES = ("running", "failing", "stopped", "disabled", "unknown")
"""A bot's state for people (and the ``state`` label of ``fleetops_bots``)."""


@dataclass(frozen=True)
class BotFigures:
    """What a bot's own API says about its trading (each None when it did not say: ``engine.ftapi``)."""

    loop: LoopHealth | None = None
    """Its ``/api/v1/health`` answer: when it started and when its loop last ran."""
    open_trades: int | None = None
    profit: float | None = None
    """Realised and unrealised profit in the stake currency (``profit_all_coin``)."""
    profit_pct: float | None = None
    realised: float | None = None
    """Closed trades' profit in the stake currency (``profit_closed_coin``)."""
    equity: float | None = None
    """Its balance in the stake currency (``/api/v1/balance`` ``total``)."""
    fetched_at: float = 0.0
    max_open_trades: int | None = None
    stake_used: float | None = None
    """Stake its open trades hold, in the stake currency (``/api/v1/count`` ``total_stake``)."""
    closed_trades: int | None = None
    profit_ratio: float | None = None
    """``profit_all_ratio``: 0.05 = 5 %."""
    drawdown: float | None = None
    """The account's drawdown from its high now, a ratio (``current_drawdown``)."""
    strategy_errors: int | None = None
    """Strategy error lines in its log since it started (``engine.health.strategy_errors``), of the last lines read."""
    restarts: int = 0
    """Process restarts seen since this process of fleetops first asked it (its ``bot_startup_ts`` changed)."""

    @property
    def up(self) -> bool:
        """Its API answered the last ``/api/v1/health`` asked."""
        return self.loop is not None and self.loop.answered

    @property
    def unrealised(self) -> float | None:
        """Open trades' profit in the stake currency (all minus closed)."""
        return self.profit - self.realised if self.profit is not None and self.realised is not None else None

    @property
    def last_loop(self) -> float | None:
        """Unix time of its last trading-loop iteration (FreqTrade's ``last_process_ts``)."""
        return self.loop.last_loop if self.loop is not None and self.loop.answered else None


@dataclass(frozen=True)
class BotView:
    name: str
    container: str
    pool: str | None
    state: str
    """One of ``BOT_STATES``."""
    process: str | None
    pid: int | None
    port: int | None
    strategy: str | None
    exchange: str | None
    pairs: tuple[str, ...]
    allocation: float | None
    currency: str | None
    record: str
    """``ok``, or ``unreadable: <why>``."""
    failing: str | None
    """Why the watcher's flap guard stopped it, when it did."""
    health: Verdict | None = None
    figures: BotFigures | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "process": self.process, "pid": self.pid, "port": self.port,
                "strategy": self.strategy, "exchange": self.exchange, "pairs": list(self.pairs), "allocation": self.allocation,
                "currency": self.currency, "record": self.record, "failing": self.failing,
                "health": self.health.to_json() if self.health is not None else None}


@dataclass(frozen=True)
class ContainerView:
    name: str
    id: str
    pool: str | None
    state: str
    ip: str | None
    capacity: int
    supervisor: str | None
    """Why its supervisord did not answer, when it did not."""
    bots: tuple[BotView, ...]
    renamed_by_hand: str | None = None
    """The name a person gave it (``docker rename``): the next apply renames it back (``engine.live.ownership``)."""
    node: str | None = None
    """The node it runs on (a swarm's; None on one Docker host: then the JSON has no ``node``)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pool": self.pool, "state": self.state, "ip": self.ip, "capacity": self.capacity,
                "supervisor": self.supervisor, "renamed_by_hand": self.renamed_by_hand, **({"node": self.node} if self.node else {}),
                "bots": [b.to_json() for b in self.bots]}


@dataclass(frozen=True)
class FleetView:
    fleet: str
    containers: tuple[ContainerView, ...]
    revision: dict[str, Any] | None
    """The running revision's summary (``Revision.summary()``), None when none is recorded."""
    pool_capacity: dict[str, int]
    """Pool → bot slots of its containers (from the running revision's pools)."""

    @property
    def bots(self) -> Iterator[BotView]:
        for container in self.containers:
            yield from container.bots

    @property
    def bot_states(self) -> dict[str, int]:
        """State → how many bots are in it (only states some bot is in)."""
        counts: dict[str, int] = {}
        for bot in self.bots:
            counts[bot.state] = counts.get(bot.state, 0) + 1
        return counts

    @property
    def health_counts(self) -> dict[str, int]:
        """Health status → how many bots were looked at and found so."""
        counts: dict[str, int] = {}
        for bot in self.bots:
            if bot.health is not None:
                counts[bot.health.status.value] = counts.get(bot.health.status.value, 0) + 1
        return counts

    @property
    def node_bots(self) -> dict[str, dict[str, int]]:
        """Node → bot state → how many of its bots are in it (a swarm's nodes; empty on one Docker host)."""
        counts: dict[str, dict[str, int]] = {}
        for container in self.containers:
            if container.node:
                states = counts.setdefault(container.node, {})
                for bot in container.bots:
                    states[bot.state] = states.get(bot.state, 0) + 1
        return counts

    @property
    def pool_bots(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for container in self.containers:
            if container.pool is not None:
                counts[container.pool] = counts.get(container.pool, 0) + len(container.bots)
        return counts

    def map_bots(self, change: Callable[[BotView], BotView]) -> FleetView:
        containers = tuple(dataclasses.replace(c, bots=tuple(change(b) for b in c.bots)) for c in self.containers)
        return dataclasses.replace(self, containers=containers)

    def with_looks(self, health: Mapping[str, Verdict | None], figures: Mapping[str, BotFigures | None] | None = None) -> FleetView:
        """The view with each bot's health verdict and, when given, its figures (bots not named keep theirs)."""
        figures = figures or {}
        return self.map_bots(lambda b: dataclasses.replace(b, health=health.get(b.name, b.health), figures=figures.get(b.name, b.figures)))

    def to_json(self) -> dict[str, Any]:
        """What ``summarize`` gave: containers (with their bots), the counts, the running revision."""
        return {"containers": [c.to_json() for c in self.containers], "bot_states": self.bot_states, "pool_bots": self.pool_bots,
                "pool_capacity": self.pool_capacity, "revision": self.revision}


def bot_state(bot: LiveBot, failing: Mapping[str, str]) -> str:
    if not bot.enabled:
        return "disabled"
    if bot.name in failing:
        return "failing"
    if bot.process is None:
        return "unknown"
    return "running" if bot.process in RUNNING_STATES else "stopped"


def fleet_view(live: LiveFleet, revision: Revision | None, failing: Mapping[str, str] | None = None) -> FleetView:
    """Containers → bots with their states, and each pool's slots (capacities from ``revision``)."""
    failing = failing or {}
    capacity_of: dict[str, int] = {}
    if revision is not None:
        capacity_of = {name: pool.capacity for name, pool in fleet_from_payload(revision.payload).pools.items()}
    containers = []
    pool_capacity: dict[str, int] = {}
    for c in live.containers.values():
        pool = c.labels.get(Labels.POOL) or None
        bots = tuple(_bot_view(b, pool, failing) for b in sorted((b for b in live.bots.values() if b.container == c.name),
                                                                    key=lambda b: b.name))
        if pool is not None:
            pool_capacity[pool] = pool_capacity.get(pool, 0) + capacity_of.get(pool, 0)
        containers.append(ContainerView(c.name, c.id, pool, c.state, c.ip, capacity_of.get(pool, 1) if pool else 1,
                                        live.unanswered.get(c.name), bots, live.renamed.get(c.name), c.node))
    return FleetView(live.fleet, tuple(containers), revision.summary() if revision else None, pool_capacity)


def _bot_view(b: LiveBot, pool: str | None, failing: Mapping[str, str]) -> BotView:
    essence = b.record.essence if b.record is not None else None
    return BotView(
        name=b.name, container=b.container, pool=pool, state=bot_state(b, failing), process=b.process, pid=b.pid,
        port=b.record.placement.port if b.record is not None else None,
        strategy=essence.strategy if essence else None, exchange=essence.exchange if essence else None,
        pairs=tuple(essence.pairs) if essence else (), allocation=essence.allocation if essence else None,
        currency=essence.currency if essence else None, record="ok" if b.record else f"unreadable: {b.unreadable}",
        failing=failing.get(b.name))
