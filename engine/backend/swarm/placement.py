"""Which node each unit of a swarm fleet runs on: pure, deterministic, and sticky.

Called when a swarm fleet is planned (the plan shows each unit's node, and apply pins each service
to it with ``node.id == …``). Inputs are plain values — the swarm's nodes as the manager lists them
(``Node.of``), each unit's demand (``Demand``: its pool's constraints, how many of its bots trade
each exchange, the node it runs on now) and the fleet's ``exchange_budget`` — so the same inputs
always give the same placement, whatever order they come in.

The rules, in order:
1. A unit keeps the node it runs on (its data is there: a local directory does not follow a task),
   unless asked to rebalance, or its node is paused or drained by the operator (paused: Swarm keeps
   its tasks, the node's agent among them, running, so the unit can move with its data —
   ``engine.backend.swarm.moves``), has left the swarm, no longer meets the pool's constraints, or
   would pass an exchange budget. A node that is down keeps its
   units whatever else holds, rebalancing included: they show as unreachable, their bots may still
   run there, and nothing replaces them elsewhere (never two copies of a bot) until the node answers
   again or the operator removes it from the swarm. So adding a node moves nothing unless asked.
2. Units to place are taken most constrained first (fewest eligible nodes, then most bots, then
   name), each onto the eligible node — active, ready, meeting every constraint, within every
   exchange budget — with the fewest bots, then the fewest units, then the node it ran on, then
   host name and ID.
3. A unit no node can take is ``Unplaced`` with a sentence and the spec value to blame (the pool's
   ``placement``, or ``backend.exchange_budget.<exchange>``); ``problems`` turns them into located
   errors. Budgets count every bot of a unit, enabled or not, so enabling a bot never moves it.

Constraint matching is swarmkit's (``manager/constraint``): values compared case-insensitively,
label names case-sensitively, a missing label read as "".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import Problem
from engine.spec.constraints import Constraint, parse_constraint

if TYPE_CHECKING:
    from engine.compile.desired import DesiredFleet
    from engine.spec.fleetspec import FleetSpec

__all__ = ["Demand", "Node", "Placement", "Unplaced", "demands_of", "matches", "place", "problems"]

Where = tuple[str, str, tuple[str | int, ...]]
"""(document kind, document name, key path) of the spec value a placement failure is blamed on."""


@dataclass(frozen=True)
class Node:
    """A swarm node as placement sees it (``GET /nodes``): its ID, host name, role, availability
    (``active``, ``pause``, ``drain``), state (``ready``, ``down``, …), labels and platform."""

    id: str
    hostname: str
    role: str = "worker"
    availability: str = "active"
    state: str = "ready"
    labels: Mapping[str, str] = field(default_factory=dict)
    engine_labels: Mapping[str, str] = field(default_factory=dict)
    os: str = "linux"
    arch: str = "x86_64"

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Node:
        """From one row of the manager's node list."""
        spec, description, status = document.get("Spec") or {}, document.get("Description") or {}, document.get("Status") or {}
        platform, engine = description.get("Platform") or {}, description.get("Engine") or {}
        return cls(str(document.get("ID", "")), str(description.get("Hostname", "")), str(spec.get("Role", "worker")),
                   str(spec.get("Availability", "active")), str(status.get("State", "unknown")),
                   {str(k): str(v) for k, v in (spec.get("Labels") or {}).items()},
                   {str(k): str(v) for k, v in (engine.get("Labels") or {}).items()},
                   str(platform.get("OS", "")), str(platform.get("Architecture", "")))

    @property
    def takes_new(self) -> bool:
        """Swarm schedules new tasks only on active, ready nodes."""
        return self.availability == "active" and self.state == "ready"


@dataclass(frozen=True)
class Demand:
    """One unit to place: its pool (None: a dedicated bot), the pool's constraints as written, bots per
    exchange, and the node ID it runs on now (None: not created yet)."""

    unit: str
    pool: str | None
    constraints: tuple[str, ...] = ()
    exchanges: Mapping[str, int] = field(default_factory=dict)
    prior: str | None = None

    @property
    def bots(self) -> int:
        return sum(self.exchanges.values())


@dataclass(frozen=True)
class Unplaced:
    unit: str
    reason: str
    where: Where


@dataclass(frozen=True)
class Placement:
    """Unit → node ID for every unit that could be placed; units that move (unit → (from, to)); and
    those no node can take."""

    nodes: dict[str, str]
    moved: dict[str, tuple[str, str]]
    unplaced: tuple[Unplaced, ...]


def matches(node: Node, constraints: Sequence[Constraint]) -> bool:
    """Whether ``node`` meets every constraint, as Swarm decides it."""
    for constraint in constraints:
        label = constraint.label
        value: str | None
        if label is not None:
            value = (node.labels if label[0] == "node.labels." else node.engine_labels).get(label[1], "")
        else:
            value = {"node.id": node.id, "node.hostname": node.hostname, "node.role": node.role,
                     "node.platform.os": node.os, "node.platform.arch": node.arch}.get(constraint.key.lower())
        if value is None:
            return False  # Swarm matches no other attribute (validation refuses them)
        if (value.lower() == constraint.value.lower()) != constraint.equal:
            return False
    return True


def place(demands: Sequence[Demand], nodes: Sequence[Node], budget: Mapping[str, int], *, fleet: str, rebalance: bool = False) -> Placement:
    """The node of every unit of ``demands`` on ``nodes`` within ``budget`` (exchange → bots per node),
    by the rules above; ``fleet`` names the document a budget failure is blamed on."""
    by_id = {node.id: node for node in sorted(nodes, key=lambda n: n.id)}
    parsed = {d.unit: tuple(parse_constraint(c) for c in d.constraints) for d in demands}
    bots: Counter[str] = Counter()
    units: Counter[str] = Counter()
    per_exchange: dict[str, Counter[str]] = {node_id: Counter() for node_id in by_id}
    chosen: dict[str, str] = {}
    unplaced: list[Unplaced] = []

    def fits(node_id: str, demand: Demand) -> bool:
        return all(per_exchange[node_id][exchange] + count <= budget[exchange]
                   for exchange, count in demand.exchanges.items() if exchange in budget)

    def take(node_id: str, demand: Demand) -> None:
        chosen[demand.unit] = node_id
        bots[node_id] += demand.bots
        units[node_id] += 1
        per_exchange[node_id].update(demand.exchanges)

    waiting: list[Demand] = []
    for demand in sorted(demands, key=lambda d: d.unit):
        over = next((e for e, count in sorted(demand.exchanges.items()) if e in budget and count > budget[e]), None)
        if over is not None:
            unplaced.append(Unplaced(demand.unit, f"unit {demand.unit} runs {demand.exchanges[over]} {over} bots, more than "
                                     f"exchange_budget allows on one node ({over}: {budget[over]}); raise the budget or give "
                                     f"{'pool ' + demand.pool if demand.pool else 'the bot'} fewer {over} bots per unit",
                                     ("Fleet", fleet, ("backend", "exchange_budget", over))))
            continue
        node = by_id.get(demand.prior or "")
        if node is not None and node.state != "ready":
            take(node.id, demand)  # unreachable: its bots may still run there, so no copy starts elsewhere
        elif (not rebalance and node is not None and node.availability == "active" and matches(node, parsed[demand.unit])
                and fits(node.id, demand)):
            take(node.id, demand)
        else:
            waiting.append(demand)
    eligible = {d.unit: [n for n in by_id.values() if n.takes_new and matches(n, parsed[d.unit])] for d in waiting}
    for demand in sorted(waiting, key=lambda d: (len(eligible[d.unit]), -d.bots, d.unit)):
        candidates = [n for n in eligible[demand.unit] if fits(n.id, demand)]
        if candidates:
            best = min(candidates, key=lambda n: (bots[n.id], units[n.id], n.id != demand.prior, n.hostname, n.id))
            take(best.id, demand)
        else:
            unplaced.append(_why(demand, eligible[demand.unit], per_exchange, budget, fleet))
    moved = {unit: (demand.prior, chosen[unit]) for demand in demands
             if (unit := demand.unit) in chosen and demand.prior is not None and demand.prior != chosen[unit]}
    return Placement(dict(sorted(chosen.items())), dict(sorted(moved.items())), tuple(sorted(unplaced, key=lambda u: u.unit)))


def _why(demand: Demand, eligible: list[Node], per_exchange: Mapping[str, Counter[str]], budget: Mapping[str, int], fleet: str) -> Unplaced:
    if not eligible:
        if demand.pool is not None and demand.constraints:
            return Unplaced(demand.unit, f"no active, ready node meets pool {demand.pool}'s placement "
                            f"({', '.join(demand.constraints)}) for unit {demand.unit}; label a node to match "
                            "(docker node update --label-add) or change the placement", ("Pool", demand.pool, ("placement",)))
        return Unplaced(demand.unit, f"the swarm has no active, ready node for unit {demand.unit}", ("Fleet", fleet, ("backend",)))
    full = sorted(e for e in demand.exchanges if e in budget and all(per_exchange[n.id][e] + demand.exchanges[e] > budget[e] for n in eligible))
    exchange = full[0] if full else sorted(e for e in demand.exchanges if e in budget)[0]
    where = f"pool {demand.pool}'s {len(eligible)} node(s)" if demand.pool is not None and demand.constraints else f"all {len(eligible)} node(s)"
    return Unplaced(demand.unit, f"unit {demand.unit} needs room for {demand.exchanges[exchange]} {exchange} bot(s), but {where} "
                    f"already run {exchange} bots up to exchange_budget ({exchange}: {budget[exchange]}); add a node, raise the "
                    "budget, or move bots to another exchange", ("Fleet", fleet, ("backend", "exchange_budget", exchange)))


def demands_of(fleet: DesiredFleet, priors: Mapping[str, str]) -> list[Demand]:
    """Each container of a compiled fleet as a demand: its pool's constraints (``PoolEssence.placement``),
    its bots per exchange, and ``priors`` (unit → the node ID its service is pinned to now)."""
    demands = []
    for name, container in sorted(fleet.containers.items()):
        pool = fleet.pools.get(container.pool) if container.pool is not None else None
        exchanges = Counter(fleet.bots[bot].essence.exchange for bot in container.bots if bot in fleet.bots)
        demands.append(Demand(name, container.pool, tuple(pool.placement) if pool is not None else (), dict(sorted(exchanges.items())),
                              priors.get(name)))
    return demands


def problems(spec: FleetSpec, unplaced: Sequence[Unplaced]) -> list[Problem]:
    """Located errors (file:line:col of the value to blame) for units no node can take."""
    found = []
    for item in unplaced:
        kind, name, loc = item.where
        document = spec.documents.get((kind, name))
        found.append(document.problem(loc, item.reason) if document is not None else Problem("fleet", 1, 1, item.reason))
    return found
