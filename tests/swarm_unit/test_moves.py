"""Moves between nodes (``engine.backend.swarm.moves``) on the fake swarm, with a fake agent per node that keeps
each node's unit directories as dicts: what the plan says, the order a move runs in (never two copies, the data
before the start), and a move cut short that the next apply finishes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.backend.swarm.api import SwarmManager
from engine.backend.swarm.backend import SwarmBackend
from engine.backend.swarm.moves import Move, Stuck, shown
from engine.backend.swarm.site import SwarmSite
from engine.compile.container import container_definition
from engine.compile.desired import DesiredFleet, compile_fleet
from engine.errors import DockerError
from engine.plan.model import Action, Change, Risk
from engine.spec.load import load_fleet
from tests.support.repos import make_base_repo
from tests.swarm_unit.conftest import REGISTRY
from tests.swarm_unit.fake_sdk import FakeSwarm

POOL = "testfleet-standard-1"
BOTS = ("alpha-1", "alpha-2", "beta-1")


@dataclass
class FakeAgents:
    """Every node's agent: ``dirs[node][unit][bot]`` is a bot's data (``None``: a unit directory without it);
    ``timeline`` records each command and each service update, in order; ``fail`` makes one op fail once."""

    swarm: FakeSwarm
    dirs: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)
    archived: list[tuple[str, str, dict[str, bytes]]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    timeline: list[tuple[str, ...]] = field(default_factory=list)
    fail: set[tuple[str, str]] = field(default_factory=set)
    """(op, bot) that fails once, as an agent that lost its disk would."""
    silent: set[str] = field(default_factory=set)
    """Nodes whose agent has not connected."""
    lingering: set[str] = field(default_factory=set)
    """Nodes whose agent sees alpha-1 running whatever Swarm says of the task."""

    def nodes(self) -> list[str]:
        return sorted(n["Description"]["Hostname"] for n in self.swarm.nodes_ if n["Description"]["Hostname"] not in self.silent)

    def call(self, node: str, op: str, args: dict[str, Any], timeout: float = 0.0, blobs: tuple[str, ...] = ()) -> dict[str, Any]:
        unit, bot = args.get("unit") or args["units"][0], args.get("bot", "")
        self.timeline.append((op, node, *( (bot,) if bot else ())))
        assert not self.running_on(node, unit) or op not in ("export_bot_data", "import_bot_data", "archive_unit"), \
            f"{op} on {node} while {unit}'s task runs there"
        if (op, bot) in self.fail:
            self.fail.discard((op, bot))
            raise DockerError(f"the agent on node {node} failed {op} ({bot})")
        files = self.dirs.setdefault(node, {})
        if op == "processes":
            alive = {"alpha-1": ["RUNNING", 42, "", 0]} if node in self.lingering else {}
            return {"units": {unit: {"programs": alive}}}
        if op == "archive_unit":
            gone = files.pop(unit, None)
            if gone is not None:
                self.archived.append((node, unit, gone))
            return {"to": f"/var/lib/fleetops/.archive/{unit}" if gone is not None else None}
        if op == "export_bot_data":
            data = files.get(unit, {}).get(bot, b"")
            sha = hashlib.sha256(data).hexdigest()
            self.blobs[sha] = data
            return {"sha": sha, "size": len(data), "skipped": []}
        if op == "import_bot_data":
            files.setdefault(unit, {})[bot] = self.blobs[args["sha"]]
            return {"skipped": []}
        files.setdefault(unit, {})
        return {}

    def running_on(self, hostname: str, unit: str) -> bool:
        node_id = self.swarm.node(hostname)["ID"]
        service = next(s for s in self.swarm.services_.values() if s["Spec"]["Name"] == unit)
        return any(t["ServiceID"] == service["ID"] and t["NodeID"] == node_id and t["Status"]["State"] == "running" for t in self.swarm.tasks_)


@pytest.fixture
def fleet(tmp_path: Path) -> DesiredFleet:
    return compile_fleet(load_fleet(make_base_repo(tmp_path / "repo").working_dir).spec)


def site_on(swarm: FakeSwarm, manager: SwarmManager, state: Path, agents: FakeAgents) -> SwarmSite:
    """A fresh site (a new command) on the fake swarm, its channel answered by ``agents``."""
    site = SwarmBackend(state, manager, REGISTRY, SwarmSite).site("testfleet")
    assert isinstance(site, SwarmSite)
    site.channel.call = agents.call  # type: ignore[method-assign]
    site.channel.nodes = agents.nodes  # type: ignore[method-assign]
    site.agent_wait = 0.0
    original = swarm.update_service

    def update_service(service: str, version: int, task_template: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        pins = [c for c in (task_template or {}).get("Placement", {}).get("Constraints", []) if c.startswith("node.id")]
        agents.timeline.append(("update", str(kwargs.get("mode", {}).get("Replicated", {}).get("Replicas")), *pins))
        return original(service, version, task_template, **kwargs)

    swarm.update_service = update_service  # type: ignore[method-assign]
    return site


@pytest.fixture
def applied(swarm: FakeSwarm, manager: SwarmManager, tmp_path: Path, fleet: DesiredFleet) -> Iterator[tuple[SwarmSite, FakeAgents, DesiredFleet]]:
    """The test fleet's units created where a first plan placed them, each bot with trade data on its unit's node."""
    agents = FakeAgents(swarm)
    site = site_on(swarm, manager, tmp_path / "state", agents)
    prepared = site.prepare(fleet)
    site.ensure_network()
    for name, container in prepared.containers.items():
        site.create(container_definition(prepared, container), revision=1)
        agents.dirs.setdefault(site.placed[name], {})[name] = {bot: f"trades of {bot}".encode() for bot in container.bots}
    agents.timeline.clear()
    yield site, agents, fleet


def set_node(swarm: FakeSwarm, hostname: str, **fields: str) -> None:
    node = swarm.node(hostname)
    node["Spec"].update({k: v for k, v in fields.items() if k == "Availability"})
    node["Status"].update({k: v for k, v in fields.items() if k == "State"})


def move_of(site: SwarmSite, fleet: DesiredFleet) -> tuple[DesiredFleet, Move]:
    site.units()
    prepared = site.prepare(fleet)
    assert list(site.moves) == [POOL], (site.moves, site.stuck)
    return prepared, site.moves[POOL]


def test_a_paused_node_moves_its_unit_with_every_bots_data_stopped_first_started_last(
        applied: tuple[SwarmSite, FakeAgents, DesiredFleet], swarm: FakeSwarm) -> None:
    site, agents, fleet = applied
    source = site.placed[POOL]
    set_node(swarm, source, Availability="pause")
    prepared, move = move_of(site, fleet)
    assert (move.source, move.bots, move.why) == (source, tuple((b, fleet.bots[b].essence.uid) for b in BOTS), f"node {source} is paused")
    destination = move.destination
    assert destination != source and site.placed[POOL] == destination
    site.replace(container_definition(prepared, prepared.containers[POOL]), 2, lambda: agents.call(destination, "put_unit", {"unit": POOL}))
    dest_id = swarm.node(destination)["ID"]
    assert agents.timeline == [
        ("update", "0", f"node.id == {swarm.node(source)['ID']}"),  # stopped where it was: its task gone before anything else
        ("processes", source),  # and its agent sees none of its programs alive
        ("archive_unit", destination), ("put_unit", destination),
        *[step for bot in BOTS for step in (("export_bot_data", source, bot), ("import_bot_data", destination, bot))],
        ("update", "1", f"node.id == {dest_id}"),  # pinned to the new node and started, once its data is there
        ("archive_unit", source),
    ]
    assert agents.dirs[destination][POOL] == {bot: f"trades of {bot}".encode() for bot in BOTS}
    assert POOL not in agents.dirs[source] and agents.archived == [(source, POOL, agents.dirs[destination][POOL])]  # archived, not deleted
    assert agents.running_on(destination, POOL) and not agents.running_on(source, POOL)
    assert site.locate(POOL) == destination and site.moves == {}
    site.units()
    site.prepare(fleet)
    assert site.moves == {} and site.placed[POOL] == destination  # the next plan keeps it there


def test_a_move_cut_short_leaves_the_unit_stopped_on_its_old_node_with_its_data_and_the_next_apply_finishes_it(
        applied: tuple[SwarmSite, FakeAgents, DesiredFleet], swarm: FakeSwarm, manager: SwarmManager, tmp_path: Path) -> None:
    site, agents, fleet = applied
    source = site.placed[POOL]
    set_node(swarm, source, Availability="pause")
    prepared, move = move_of(site, fleet)
    agents.fail.add(("import_bot_data", "alpha-2"))
    definition = container_definition(prepared, prepared.containers[POOL])
    with pytest.raises(DockerError, match="failed import_bot_data"):
        site.replace(definition, 2, lambda: agents.call(move.destination, "put_unit", {"unit": POOL}))
    service = next(s for s in swarm.services_.values() if s["Spec"]["Name"] == POOL)
    assert f"node.id == {swarm.node(source)['ID']}" in service["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
    assert not agents.running_on(source, POOL) and not agents.running_on(move.destination, POOL)  # no copy runs anywhere
    assert agents.dirs[source][POOL] == {bot: f"trades of {bot}".encode() for bot in BOTS}  # the old node keeps everything
    agents.timeline.clear()
    again = site_on(swarm, manager, tmp_path / "state2", agents)  # the next apply: a new command
    prepared, retried = move_of(again, fleet)
    assert (retried.source, retried.destination) == (move.source, move.destination)
    again.replace(container_definition(prepared, prepared.containers[POOL]), 3,
                  lambda: agents.call(move.destination, "put_unit", {"unit": POOL}))
    assert agents.timeline[:2] == [("processes", source), ("archive_unit", move.destination)]  # stopped already; what the cut-short move left there set aside first
    assert agents.dirs[move.destination][POOL] == {bot: f"trades of {bot}".encode() for bot in BOTS}
    assert agents.running_on(move.destination, POOL) and POOL not in agents.dirs[source]


def test_nothing_moves_while_the_old_nodes_agent_is_silent_or_still_sees_a_bot_run(applied: tuple[SwarmSite, FakeAgents, DesiredFleet],
                                                                  swarm: FakeSwarm) -> None:
    site, agents, fleet = applied
    source = site.placed[POOL]
    set_node(swarm, source, Availability="pause")
    prepared, _move = move_of(site, fleet)
    agents.silent.add(source)
    with pytest.raises(DockerError, match=rf"^the fleetops agent of node {source} has not connected .* so no unit moves from or to it"):
        site.replace(container_definition(prepared, prepared.containers[POOL]), 2, lambda: None)
    assert agents.timeline == [] and agents.running_on(source, POOL)
    agents.silent.clear()
    agents.lingering.add(source)
    with pytest.raises(DockerError, match=rf"'s task ended, but node {source}'s agent still sees alpha-1 running there; nothing moved"):
        site.replace(container_definition(prepared, prepared.containers[POOL]), 2, lambda: None)
    assert [step[0] for step in agents.timeline] == ["update", "processes"] and POOL in agents.dirs[source]


def test_a_unit_on_a_drained_down_or_gone_node_stays_pinned_there_and_the_plan_says_why(
        applied: tuple[SwarmSite, FakeAgents, DesiredFleet], swarm: FakeSwarm) -> None:
    site, _agents, fleet = applied
    source = site.placed[POOL]
    for fields, words in (({"Availability": "drain"}, "the node is drained, so Swarm stopped every task on it"),
                          ({"State": "down"}, "the node is down: its bots show unreachable")):
        set_node(swarm, source, **fields)
        site.units()
        site.prepare(fleet)
        assert site.moves == {} and site.placed[POOL] == source and words in site.stuck[POOL].why
        set_node(swarm, source, Availability="active", State="ready")
    site.units()
    swarm.nodes_.remove(swarm.node(source))
    site.prepare(fleet)
    assert site.moves == {} and "the node left the swarm" in site.stuck[POOL].why and POOL not in site.placed.values()


def test_the_plan_shows_a_move_as_a_high_risk_replace_and_a_stuck_unit_as_nothing_done() -> None:
    move = Move(POOL, "w1", "id1", "w2", "id2", (("a", None), ("b", None)), "rebalanced")
    stuck = Stuck("testfleet-small-1", "w3", "id3", "the node is down: its bots show unreachable")
    changes = (Change(f"container/{POOL}", Action.REPLACE, "changed by hand (placement); recreates it (2 bots)", Risk.MEDIUM,
                      risk_notes=("restarts 2 bots",)),
               Change("container/testfleet-small-1", Action.START, "container is unreachable; starting it"),
               Change("bot/a", Action.RELOAD, "config changed"))
    held, moved, bot = shown(changes, {POOL: move}, {"testfleet-small-1": stuck})
    assert (moved.action, moved.risk) == (Action.REPLACE, Risk.HIGH)
    assert moved.reason == ("moves from node w1 to node w2 (rebalanced), carrying 2 bots' trade data: stopped first, started there once "
                            "its data is")
    assert (held.action, held.risk) == (Action.UPDATE, Risk.MEDIUM)
    assert held.reason == "stays on node w3: the node is down: its bots show unreachable; nothing is done to it"
    assert bot == changes[2]
    image = Change(f"container/{POOL}", Action.REPLACE, "image changed")
    assert shown((image,), {POOL: move}, {})[0].reason.endswith("; also image changed")


def test_tasks_a_unit_ran_on_its_old_node_are_not_restarts_on_its_new_one() -> None:
    """The move's stop may end the old task ``complete`` (a bot exiting 0 on SIGTERM): not a restart of the unit that
    started afresh on its new node, whose own failures still count (the health gate reads them)."""
    from engine.backend.swarm.tasks import task_view

    def task(task_id: str, node: str, state: str, created: str, desired: str = "shutdown") -> dict[str, Any]:
        return {"ID": task_id, "NodeID": node, "Status": {"State": state}, "DesiredState": desired, "CreatedAt": created}

    old = [task("t1", "A", "complete", "1"), task("t2", "A", "failed", "2")]
    assert task_view([*old, task("t3", "B", "running", "3", "running")], 1).restarts == 0
    assert task_view([*old, task("t3", "B", "failed", "3"), task("t4", "B", "running", "4", "running")], 1) == \
        task_view([task("t3", "B", "failed", "3"), task("t4", "B", "running", "4", "running")], 1)
    assert task_view([*old, task("t3", "A", "running", "3", "running")], 1).restarts == 2
