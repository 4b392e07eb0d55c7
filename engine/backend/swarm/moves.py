"""A unit that changes node, with its bots' trade data: planned from the placement, executed as the port's ``replace``.

Placement (``engine.backend.swarm.placement``) keeps a unit on its node unless asked to rebalance,
or the node is drained, paused, left the swarm, no longer meets the pool's constraints or passes
an exchange budget. A unit's files, its bots' trade databases among them, live on its node's disk
(a local directory does not follow a task: SWARM.md), so a unit that changes node is a *move*:

1. the plan shows it as a replace of the unit, high risk: "moves from node A to node B, carrying N
   bots' trade data" (``Move.sentence``); the flow drains its bots first, as for any replace;
2. ``execute`` (the swarm site's ``replace``): the service is scaled to 0 and the call returns only
   once no task of it runs — every bot of the unit stopped on A, so there are never two copies;
   the new node's directory for the unit is archived if an earlier, cut-short move left one; the
   unit's files are written on B; each bot's data is exported by A's agent and imported by B's;
   only then is the service pinned to B (one update, its ID kept) and started; A's directory is
   archived last (moved aside, never deleted).

A failure anywhere before the pin changes leaves the service pinned to A and scaled to 0, A's data
where it was: the next apply plans the same move and does it again from the start. A failure after
leaves the unit running on B, A's directory not yet archived (a later move back to A archives it
first). A unit whose node cannot give its data cannot move (``Stuck``): a node that is down (its
bots may still run there: shown unreachable, nothing started elsewhere), drained (Swarm stopped
every task on it, the node's agent too, so nothing can read its disk) or gone from the swarm. It
stays pinned to its node, and the plan says why and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.backend.swarm.placement import Demand, Node, matches
from engine.errors import DockerError, FleetopsError
from engine.plan.model import Action, Change, Risk
from engine.spec.constraints import parse_constraint

if TYPE_CHECKING:
    from engine.compile.container import ContainerDefinition

__all__ = ["Move", "MovingSite", "Stuck", "execute", "moves_of", "shown", "unreachable"]


@dataclass(frozen=True)
class Move:
    """``unit`` goes from node ``source`` to ``destination`` (host names; IDs ``source_id``, ``destination_id``),
    carrying its ``bots`` (bot → uid that owns its files, None: leave them) data; ``why`` in words."""

    unit: str
    source: str
    source_id: str
    destination: str
    destination_id: str
    bots: tuple[tuple[str, int | None], ...]
    why: str

    def sentence(self) -> str:
        count = len(self.bots)
        whose = "bot's" if count == 1 else "bots'"
        return (f"moves from node {self.source} to node {self.destination} ({self.why}), carrying {count} {whose} trade data: "
                "stopped first, started there once its data is")


@dataclass(frozen=True)
class Stuck:
    """``unit`` should leave node ``node`` (host name, ID ``node_id``) but cannot take its data along: ``why``."""

    unit: str
    node: str
    node_id: str
    why: str

    def sentence(self) -> str:
        return f"stays on node {self.node}: {self.why}"


def moves_of(moved: Mapping[str, tuple[str, str]], demands: Sequence[Demand], nodes: Sequence[Node], bots: Mapping[str, Sequence[str]],
             uids: Mapping[str, int | None], *, rebalance: bool) -> tuple[dict[str, Move], dict[str, Stuck]]:
    """The placement's moves (unit → (node ID from, node ID to)) as ``Move``s, or ``Stuck`` where the old node
    cannot give the unit's data; ``bots``: unit → its bots in the target, ``uids``: bot → its uid."""
    by_id = {node.id: node for node in nodes}
    demand_of = {d.unit: d for d in demands}
    found: dict[str, Move] = {}
    stuck: dict[str, Stuck] = {}
    for unit, (old, new) in sorted(moved.items()):
        source, destination = by_id.get(old), by_id.get(new)
        if source is None:
            stuck[unit] = Stuck(unit, old, old, f"the node left the swarm, and its bots' trade data with it; copy their "
                                f"data/bots/<bot> directories to the new node by hand, or remove the service (docker service rm {unit}) "
                                "to start them anew without it")
            continue
        if source.availability == "drain":
            stuck[unit] = Stuck(unit, source.hostname, old, "the node is drained, so Swarm stopped every task on it, the fleetops agent "
                                "too, and nothing can read its bots' trade data there; to move them with it, set it active and then paused "
                                f"(docker node update --availability active {source.hostname}, then --availability pause) and apply: "
                                "fleetops moves a paused node's units with their data; drain it once they have left")
            continue
        demand = demand_of[unit]
        why = _why(source, demand, rebalance)
        found[unit] = Move(unit, source.hostname, old, destination.hostname if destination is not None else new, new,
                           tuple((bot, uids.get(bot)) for bot in bots.get(unit, ())), why)
    return found, stuck


def unreachable(placed: Mapping[str, str], demands: Sequence[Demand], nodes: Sequence[Node]) -> dict[str, Stuck]:
    """Units the placement keeps on a node that does not answer (``placed``: unit → node ID): their bots may still
    run there, so nothing starts them elsewhere (contract §8)."""
    by_id = {node.id: node for node in nodes}
    found = {}
    for demand in demands:
        node = by_id.get(placed.get(demand.unit, ""))
        if node is not None and node.id == demand.prior and node.state != "ready":
            found[demand.unit] = Stuck(demand.unit, node.hostname, node.id, f"the node is {node.state}: its bots show unreachable and may "
                                       "still run there, so nothing starts them elsewhere until it answers again or is removed from the "
                                       f"swarm (docker node rm {node.hostname})")
    return found


def shown(changes: tuple[Change, ...], moving: Mapping[str, Move], stuck: Mapping[str, Stuck]) -> tuple[Change, ...]:
    """The plan's changes with every move a replace of its unit, high risk, saying where from and to and what it carries
    (a spec change of the unit said too), and every stuck unit's change (a drift repair that would start or restart it
    where it cannot run) a note that nothing is done to it, saying why."""
    by_address = {c.address: c for c in changes}
    for unit, move in sorted(moving.items()):
        address = f"container/{unit}"
        before = by_address.get(address)
        own = before.reason if before is not None and not before.reason.startswith("changed by hand (placement)") else ""
        count = len(move.bots)
        by_address[address] = Change(address, Action.REPLACE, move.sentence() + (f"; also {own}" if own else ""), Risk.HIGH,
                                     before.diff if before is not None else (),
                                     (*(before.risk_notes if before is not None else ()), f"stops {count} bot{'s' * (count != 1)} while "
                                      "their data travels"))
    for unit, held in sorted(stuck.items()):
        address = f"container/{unit}"
        before = by_address.get(address)
        if before is None or before.action in (Action.START, Action.RESTART):
            by_address[address] = Change(address, Action.UPDATE, f"{held.sentence()}; nothing is done to it", Risk.MEDIUM,
                                         risk_notes=("its bots are not running where fleetops can see them",))
        else:
            by_address[address] = Change(address, before.action, f"{before.reason}; {held.sentence()}", max(before.risk, Risk.MEDIUM),
                                         before.diff, (*before.risk_notes, "its bots are not running where fleetops can see them"))
    return tuple(sorted(by_address.values(), key=Change.sort_key))


def _none_left(site: MovingSite, unit: str, node: str) -> None:
    """Swarm says the unit's task ended; its node's agent must see none of its programs alive either."""
    tables = site.call_node(node, "processes", {"units": [unit]}).get("units")
    entry = tables.get(unit) if isinstance(tables, dict) else None
    programs = entry.get("programs") if isinstance(entry, dict) else None
    alive = sorted(str(name) for name, row in (programs or {}).items()
                   if isinstance(row, list) and row and row[0] in ("RUNNING", "STARTING", "BACKOFF", "STOPPING"))
    if alive:
        raise DockerError(f"{unit}'s task ended, but node {node}'s agent still sees {', '.join(alive)} running there; nothing moved: "
                          "apply again once they have stopped")


def _why(node: Node, demand: Demand, rebalance: bool) -> str:
    if node.availability == "pause":
        return f"node {node.hostname} is paused"
    if not matches(node, tuple(parse_constraint(c) for c in demand.constraints)):
        return f"node {node.hostname} no longer meets pool {demand.pool}'s placement"
    return "rebalanced" if rebalance else f"node {node.hostname} is over an exchange budget"


class MovingSite(Protocol):
    """What a move needs of the swarm site: its units, and its agents by node (host name)."""

    def await_agent(self, node: str) -> None:
        """Return once ``node``'s agent answers this controller; DockerError when it does not in time."""
        ...
    def stop(self, name: str) -> None: ...
    def update(self, definition: ContainerDefinition, revision: int) -> None: ...
    def call_node(self, node: str, op: str, args: dict[str, object]) -> dict[str, object]: ...
    def carry_across(self, unit: str, bot: str, source: str, destination: str, uid: int | None) -> tuple[int, list[str]]: ...
    def writing_on(self, unit: str, node: str | None) -> None:
        """While set, the unit's files are written on ``node`` (None: where its service is)."""
        ...


def execute(site: MovingSite, move: Move, definition: ContainerDefinition, revision: int, put_files: Callable[[], None],
            progress: Callable[[str], None]) -> None:
    """Move ``move.unit`` as the module says; raises what the site raises, leaving a state the next apply finishes."""
    unit = move.unit
    site.await_agent(move.source)  # nothing is stopped unless the old node can give the data
    site.await_agent(move.destination)
    progress(f"moving {unit} from node {move.source} to node {move.destination}: stopping it on {move.source}")
    site.stop(unit)  # returns once no task of it runs: never two copies of its bots
    _none_left(site, unit, move.source)
    stale = site.call_node(move.destination, "archive_unit", {"unit": unit}).get("to")
    if stale:
        progress(f"{unit}'s files left on node {move.destination} by an earlier move were archived to {stale}")
    site.writing_on(unit, move.destination)
    try:
        put_files()
        for bot, uid in move.bots:
            size, skipped = site.carry_across(unit, bot, move.source, move.destination, uid)
            progress(f"carried {bot}'s trade data from node {move.source} to node {move.destination} ({size} bytes)")
            for what in skipped:
                progress(f"move of {bot}: not copied (not a regular file or directory): {what}")
        site.update(definition, revision)  # pinned to the new node, started there
    finally:
        site.writing_on(unit, None)
    try:
        archived = site.call_node(move.source, "archive_unit", {"unit": unit}).get("to")
    except FleetopsError as exc:  # the unit runs on its new node: its old directory stays where it was, not lost
        progress(f"moved {unit} to node {move.destination}; its old directory on node {move.source} stays there ({exc})")
        return
    progress(f"moved {unit} to node {move.destination}; its directory on node {move.source} is archived to {archived}")
