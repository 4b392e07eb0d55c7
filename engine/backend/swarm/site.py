"""One fleet on a swarm, as the backend port's ``Site``: services, bots through node agents, records at home.

Composed by ``engine.backend.swarm.open_backend`` (``SwarmBackend.site``) from the halves built
apart: the units are ``SwarmUnits`` (services pinned to nodes), bots and files are ``SwarmBots``
(commands to the agent of the unit's node over the fleet's ``AgentChannel``), and the records of
what was applied stay under the controller's state dir, in the Docker backend's layout
(``engine.backend.docker.runtime``: ``<state>/runtime/<fleet>/<unit>/records/``) — the
controller's memory, whatever the backend; the rest of that runtime directory stays empty here.

Before the live plan diffs, ``prepare`` does what only a swarm needs (called by
``engine.live.liveplan`` when a site has it): each unit is placed on a node
(``engine.backend.swarm.placement``: a unit keeps its node unless ``rebalance``; a fleet that does
not fit is a SpecError), the units' images are pushed to the registry and pinned by digest (the
plan shows the digest, a new digest behind the same tag is a change), and every node that can
take a unit gets its agent (``engine.backend.swarm.agents``), which the apply needs to write files.
A unit's node (``locate``) is its service's, else the one placed for it: a host name, as the
agents' channel names nodes. A unit placed on another node than its service's is a *move*
(``engine.backend.swarm.moves``): shown in the plan as a high-risk replace (``shown_changes``) and
executed by ``replace``, which carries its bots' trade data through the two nodes' agents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from engine.backend.docker.runtime import Runtime
from engine.backend.port import PROCESS_TIMEOUT, Address, BotFiles, ListedUnit, LogMark, ProcessTables, UnitFiles, UnitSeen
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.backend.swarm import moves, noop
from engine.backend.swarm.agents import AGENT_WAIT, ensure_agents, retire_agents
from engine.backend.swarm.bots import SwarmBots
from engine.backend.swarm.homes import Homes
from engine.backend.swarm.images import image_stamps
from engine.backend.swarm.placement import Node, demands_of, place
from engine.backend.swarm.service import STOP_GRACE_NS
from engine.backend.swarm.units import SwarmUnits
from engine.errors import DockerError, Problem, SpecError
from engine.naming import Labels, network_name

if TYPE_CHECKING:
    from engine.backend.swarm.backend import SwarmBackend
    from engine.compile.container import ContainerDefinition
    from engine.compile.desired import DesiredFleet
    from engine.plan.model import Change

__all__ = ["SwarmSite"]


class SwarmSite(SwarmUnits):
    """``fleet`` on ``backend``'s swarm: its services (inherited), its agents' bots and files, its records."""

    def __init__(self, backend: SwarmBackend, fleet: str, report: Callable[[str], None] | None = None) -> None:
        super().__init__(backend.manager, fleet, backend.images)
        self.backend = backend
        self.channel = backend.channel(fleet)
        self.bots = SwarmBots(self.channel, self.locate, self)
        self.report = report or (lambda _line: None)
        self.runtime = Runtime(backend.state_dir, fleet, self.report)
        self.placed: dict[str, str] = {}
        """Unit → the host name of the node the last ``prepare`` placed it on (what the plan shows)."""
        self.moves: dict[str, moves.Move] = {}
        """Units the last ``prepare`` moves to another node, with their bots' data."""
        self.stuck: dict[str, moves.Stuck] = {}
        """Units that stay on a node that cannot give their data (down, drained, gone), and why: the plan says so."""
        self._writing: dict[str, str] = {}
        self.agent_wait = AGENT_WAIT
        """Seconds a move waits for the agents of both its nodes to be heard."""
        self.homes = Homes(backend.state_dir, fleet)

    def locate(self, unit: str) -> str | None:
        """The host name of ``unit``'s node: where a move is writing it, else its service's (task, else pin), else the one placed for it."""
        return self._writing.get(unit) or self.node_of(unit)

    def priors(self) -> dict[str, str]:
        """Unit → its node ID: its service's pin, else the node the controller last saw it pinned to (``Homes``:
        a service removed by hand is created again where its files and trade data are)."""
        return self.homes.merged(super().priors())

    def remove(self, name: str) -> None:
        """Remove the service; a unit removed on purpose has no home any more (its directory is archived)."""
        super().remove(name)
        self.homes.forget(name)

    def retire(self) -> list[str]:
        """What the fleet keeps on the swarm besides its units, removed once none is left (``fleetops destroy``,
        after its plan archived every unit's files through these agents): each node's agent service (its task
        ended first), the agents' configs and secrets, then the fleet's network, which the agents held. The
        names removed; DockerError when Swarm refuses (a config still in use by a task that did not end)."""
        label = {Labels.PREFIX + "agent": self.fleet}
        removed = []
        for service in self.api.services(label):
            name = str(service["Spec"]["Name"])
            self.api.remove_service(str(service["ID"]))
            self.waits.ended(str(service["ID"]), name, "remove")
            node = str((service["Spec"].get("Labels") or {}).get(Labels.PREFIX + "node", ""))
            if node:
                self.channel.credentials.forget(node)
            removed.append(name)
        removed += retire_agents(self.api, self.channel, (), changed=True, existing=[])
        found = self.api.network(network_name(self.fleet))
        if found is not None and (found.get("Labels") or {}).get(Labels.FLEET) == self.fleet:
            self.api.remove_network(str(found["Id"]))
            removed.append(network_name(self.fleet))
        return removed

    def create(self, definition: ContainerDefinition, revision: int) -> str:
        """Create the unit's service (``SwarmUnits.create``); a pool unit that had a service before (a home) first
        waits until the old task's supervisord no longer answers on the node (``await_gone``)."""
        if definition.labels.get(Labels.ROLE) != "dedicated" and definition.name in self.homes.read():
            self.await_gone(definition.name)
        return super().create(definition, revision)

    def await_gone(self, unit: str, timeout: float = STOP_GRACE_NS / 1e9 + 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        """Return once no supervisord answers for pool ``unit`` on its node (asked through the agent every 0.5 s).

        A service removed by hand (``docker service rm``) leaves its task stopping on its node for up to its stop
        grace period (``STOP_GRACE_NS``), its supervisord still on the unit's socket and its bots still running. A
        new task started then shares the unit's directory with the old one: seen on the lab, its supervisord
        failed on the socket the old one held, and the bots could have run twice. DockerError when it still
        answers after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while isinstance(self.bots.processes([unit]).get(unit), dict):
            if time.monotonic() >= deadline:
                raise DockerError(f"unit {unit}: a task of its removed service still runs its bots on node {self.locate(unit)} "
                                  f"after {timeout:.0f} s; not starting a second copy (stop it on that node, then apply again)")
            sleep(0.5)

    # -- what a swarm plan needs first ------------------------------------------------------------

    def prepare(self, target: DesiredFleet, *, rebalance: bool = False) -> DesiredFleet:
        """Place ``target``'s units, pin their images by registry digest (pushing what the registry lacks)
        and make sure every node that can take a unit runs this fleet's agent; ``target`` with the
        digests stamped; units that change node are kept in ``moves`` (those that cannot, in ``stuck``).
        SpecError when a unit fits no node; DockerError from the swarm."""
        from engine.compile.desired import restamped

        if not self._last:
            self.units()
        nodes = [Node.of(document) for document in self.api.nodes()]
        budget = {str(k): int(v) for k, v in (self.backend.exchange_budget or {}).items()}
        demands = demands_of(target, self.priors())
        placement = place(demands, nodes, budget, fleet=self.fleet, rebalance=rebalance)
        if placement.unplaced:
            raise SpecError([Problem("fleet", 1, 1, item.reason) for item in placement.unplaced],
                            where=tuple((item.where[0], item.where[1], tuple(item.where[2]), item.reason) for item in placement.unplaced))
        hostnames = {node.id: node.hostname for node in nodes}
        uids = {name: bot.essence.uid for name, bot in target.bots.items()}
        self.moves, self.stuck = moves.moves_of(placement.moved, demands, nodes, {n: c.bots for n, c in target.containers.items()}, uids,
                                                rebalance=rebalance)
        self.stuck.update(moves.unreachable(placement.nodes, demands, nodes))
        chosen = {**placement.nodes, **{unit: held.node_id for unit, held in self.stuck.items()}}
        constraints = {name: tuple(pool.placement) for name, pool in target.pools.items()}
        self.place(chosen, constraints)
        self.placed = {unit: hostnames.get(node_id, node_id) for unit, node_id in chosen.items()}
        stamped = restamped(target, {}, image_stamps(target, self.images.pinned))
        if stamped.containers and self.backend.controller is not None:
            self.ensure_network()
            image = sorted(c.essence.image for c in stamped.containers.values())[0]
            ensure_agents(self.api, self.channel, [n for n in nodes if n.id in set(chosen.values())],
                          image=image, controller=self.backend.controller, members={n.hostname for n in nodes})
        return stamped

    def shown_changes(self, changes: tuple[Change, ...]) -> tuple[Change, ...]:
        """``changes`` with each move shown as a high-risk replace and each stuck unit's reason (``moves.shown``)."""
        return moves.shown(changes, self.moves, self.stuck)

    # -- moves --------------------------------------------------------------------------------------

    def replace(self, definition: ContainerDefinition, revision: int, put_files: Callable[[], None]) -> str:
        """A unit moving to another node goes with its bots' data (``moves.execute``); any other, as ``SwarmUnits.replace``."""
        move = self.moves.get(definition.name)
        if move is None:
            return super().replace(definition, revision, put_files)
        moves.execute(self, move, definition, revision, put_files, self.report)
        self._where[definition.name] = move.destination_id
        del self.moves[definition.name]
        return str(self._service(definition.name)["ID"])

    def await_agent(self, node: str) -> None:
        deadline = time.monotonic() + self.agent_wait
        while node not in self.channel.nodes():
            if time.monotonic() > deadline:
                raise DockerError(f"the fleetops agent of node {node} has not connected to {self.backend.controller} in {self.agent_wait:.0f} s, "
                                  "so no unit moves from or to it; `docker service ps` of its agent service shows why")
            time.sleep(0.2)

    def call_node(self, node: str, op: str, args: dict[str, object]) -> dict[str, object]:
        return self.channel.call(node, op, dict(args))

    def carry_across(self, unit: str, bot: str, source: str, destination: str, uid: int | None) -> tuple[int, list[str]]:
        return self.bots.carry_across(unit, bot, source, destination, uid)

    def writing_on(self, unit: str, node: str | None) -> None:
        if node is None:
            self._writing.pop(unit, None)
        else:
            self._writing[unit] = node

    # -- bots ---------------------------------------------------------------------------------------

    def processes(self, units: list[str], timeout: float = PROCESS_TIMEOUT) -> ProcessTables:
        return self.bots.processes(units, timeout)

    def reconcile(self, unit: str, files: UnitFiles) -> tuple[list[str], list[str], list[str]]:
        return self.bots.reconcile(unit, files)

    def start_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        self.bots.start_bot(unit, bot, dedicated=dedicated)

    def stop_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        self.bots.stop_bot(unit, bot, dedicated=dedicated)

    def restart_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        self.bots.restart_bot(unit, bot, dedicated=dedicated)

    def address_of(self, unit: ListedUnit, port: int) -> Address | None:
        return self.bots.address_of(unit, port)

    def memory_of(self, unit: ListedUnit) -> int | None:
        """Bytes ``unit``'s task uses now, read by its node's agent from the node's cgroups by the task's
        container ID (as the last listing showed it); None when it is not running, its node's agent does
        not answer, or the node's cgroups do not show it."""
        seen = self._last.get(unit.name)
        container = seen.view.container if seen is not None else ""
        if not unit.running or not container:
            return None
        return self.bots.memory({unit.name: container}).get(unit.name)

    # -- files --------------------------------------------------------------------------------------

    def put_bot(self, unit: str, bot: str, files: BotFiles) -> None:
        self.bots.put_bot(unit, bot, files)

    def put_unit(self, unit: str, files: UnitFiles) -> None:
        self.bots.put_unit(unit, files)

    def keep_only(self, unit: str, bots: tuple[str, ...]) -> None:
        self.bots.keep_only(unit, bots)

    def carry_bot_data(self, bot: str, from_unit: str, to_unit: str, uid: int | None) -> list[str]:
        return self.bots.carry_bot_data(bot, from_unit, to_unit, uid)

    def archive_bot(self, unit: str, bot: str) -> None:
        self.bots.archive_bot(unit, bot)

    def archive_unit(self, unit: str) -> None:
        self.bots.archive_unit(unit)

    def bot_log_mark(self, unit: str, bot: str) -> LogMark:
        return self.bots.bot_log_mark(unit, bot)

    def bot_log(self, unit: str, bot: str, after: LogMark | None = None) -> str:
        return self.bots.bot_log(unit, bot, after)

    def follow_bot_log(self, unit: str, bot: str, *, dedicated: bool, poll: float = 0.5) -> Iterator[str]:
        """Not on a swarm yet: its logs are read through the node agents, which answer one read at a time."""
        raise DockerError(f"following the log of {bot} is not supported on a swarm yet: run fleetops logs {bot} without --follow, "
                          "again when you need more")

    def unit_log_mark(self, unit: str) -> LogMark:
        return self.bots.unit_log_mark(unit)

    def unit_log(self, unit: str, after: LogMark | None = None) -> str:
        return self.bots.unit_log(unit, after)

    def adopt(self, fleet: str, unit: str) -> None:
        self.bots.adopt(fleet, unit)

    # -- records (the controller's, as Docker's) -----------------------------------------------------

    def record_unit(self, unit: str, record: AppliedContainer) -> None:
        self.runtime.record_container(unit, record)

    def record_bot(self, unit: str, bot: str, record: AppliedBot) -> None:
        self.runtime.record_bot(unit, bot, record)

    def unit_record(self, unit: str) -> AppliedContainer | Unreadable | None:
        return self.runtime.read_container_record(unit)

    def bot_records(self, unit: str) -> dict[str, AppliedBot | Unreadable]:
        return self.runtime.read_bot_records(unit)

    # -- the no-op proof ----------------------------------------------------------------------------

    def noop_facts(self, seen: Mapping[str, UnitSeen]) -> dict[str, Any]:
        return noop.facts(self.backend.state_dir, self.fleet, seen, self.observed())

