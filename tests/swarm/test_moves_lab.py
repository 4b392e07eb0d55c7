"""Moves between nodes, and promises 3 and 4, on the real lab (Docker-in-Docker nodes and a registry): the CLI
applies the test fleet (tests/support/swarm_fleet.py) while a sampler reads every node's process table from
this machine (tests/support/process_sampler.py) many times a second, from the first apply to the last.

- promise 4: placement is deterministic and shown in the plan; a node that joins moves nothing (no task,
  no service spec changes, the plan says "No changes") unless ``--rebalance``;
- moves: a unit whose node no longer meets its pool's placement, and one that ``--rebalance`` moves, and one
  off a paused node, each stopped on its old node, carried, started on the new one — each bot's trade
  database (an sqlite file with a marker written beforehand) comes along, the old directory archived;
- a node the operator drains: Swarm stops its tasks, the agent too; fleetops starts nothing elsewhere and
  the plan says why and what to do (set it active, pause it, apply: then it moves with its data);
- a partitioned node: its units stay where they are, shown as not answering, until it heals;
- promise 3: through all of it, no bot has a process on two nodes in any pass of the sampler (≥ 10 Hz).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker.errors
import git
import pytest

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE, SwarmManager
from engine.backend.swarm.images import RegistryImages
from engine.backend.swarm.units import SwarmUnits
from tests.support.process_sampler import ProcessSampler
from tests.support.repos import commit, edit
from tests.support.running_lab import host_client, log, wait_until
from tests.support.swarm_fleet import FLEET, SwarmFleet, applied_to_lab
from tests.support.swarm_lab import add_worker, remove_worker

if TYPE_CHECKING:
    from tests.support.swarm_lab import SwarmLab

pytestmark = [pytest.mark.swarm, pytest.mark.docker]

UNITS = {"testfleet-standard-1": ("alpha-1", "alpha-2", "beta-1"), "testfleet-small-1": ("euro-1",), "testfleet-bot-solo": ("solo",)}
ROOT = "/var/lib/fleetops"
BIG = 64 << 20
figures: dict[str, Any] = {}


@pytest.fixture(scope="module")
def fleet(lab: SwarmLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    """The test fleet on the lab; afterwards the lab as the other tests expect it: the nodes it had, every one active."""
    before = [n.name for n in lab.nodes]
    try:
        yield from applied_to_lab(lab, tmp_path_factory)
    finally:
        for node in [n.name for n in lab.nodes if n.name not in before]:
            remove_worker(lab, node)
        for node in lab.nodes:
            set_availability(lab, node.name, "active")


@pytest.fixture(scope="module")
def sampler(lab: SwarmLab, fleet: SwarmFleet) -> Iterator[ProcessSampler]:
    host = host_client()
    watching = ProcessSampler({node.name: host.containers.get(node.name).id for node in lab.nodes}).start()
    yield watching
    watching.stop()


def set_availability(lab: SwarmLab, node: str, availability: str) -> None:
    def update() -> bool:
        swarm_node = lab.client().nodes.get(node)
        spec = swarm_node.attrs["Spec"]
        if spec["Availability"] == availability:
            return True
        try:
            swarm_node.update({**spec, "Availability": availability})
        except docker.errors.APIError as exc:
            if "out of sequence" in str(exc):
                return False
            raise
        return True

    wait_until(lambda: f"node {node} is {availability}", update, 30)


def data_dir(unit: str, bot: str) -> str:
    return f"{ROOT}/{FLEET}/{unit}/data/bots/{bot}"


def put_marker(node: str, unit: str, bot: str, text: str, size: int = 0) -> None:
    """A trade database (sqlite: table ``marker``, and ``size`` bytes of padding) in the bot's data directory on ``node``'s disk."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tradesv3.sqlite"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE marker (text TEXT)")
            db.execute("INSERT INTO marker VALUES (?)", (text,))
            db.execute("CREATE TABLE padding (data BLOB)")
            for _ in range(size >> 20):
                db.execute("INSERT INTO padding VALUES (randomblob(1048576))")
        db.close()
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w") as tar:
            tar.add(path, arcname="tradesv3.sqlite")
    assert host_client().containers.get(node).put_archive(data_dir(unit, bot), packed.getvalue())


def marker_at(node: str, path: str) -> str | None:
    """The marker in the trade database at ``path`` on ``node``'s disk (None: no such file)."""
    try:
        stream, _ = host_client().containers.get(node).get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar, tempfile.TemporaryDirectory() as scratch:
        member = tar.getmembers()[0]
        source = tar.extractfile(member)
        assert source is not None
        (Path(scratch) / "db").write_bytes(source.read())
        with sqlite3.connect(Path(scratch) / "db") as db:
            row = db.execute("SELECT text FROM marker").fetchone()
        db.close()
    return str(row[0])


def archived_markers(node: str, unit: str) -> dict[str, str | None]:
    """Bot → the marker in its trade database as archived on ``node`` from ``unit``'s directory."""
    found = host_client().containers.get(node).exec_run(
        ["find", f"{ROOT}/.archive/{FLEET}", "-path", f"*unit-{unit}/unit/data/bots/*/tradesv3.sqlite"]).output.decode().split()
    return {path.split("/")[-2]: marker_at(node, path) for path in found}


def expect_carried(fleet: SwarmFleet, unit: str, old: str) -> str:
    """``unit`` runs on another node than ``old``, every bot of it with the marker written on ``old``, which archived its copy."""
    new = fleet.node_of(unit)
    assert new != old
    bots = UNITS[unit]
    assert {bot: marker_at(new, f"{data_dir(unit, bot)}/tradesv3.sqlite") for bot in bots} == {bot: f"{bot} on {old}" for bot in bots}
    assert archived_markers(old, unit) == {bot: f"{bot} on {old}" for bot in bots}
    assert marker_at(old, f"{data_dir(unit, bots[0])}/tradesv3.sqlite") is None
    return new


def mark_every_bot(fleet: SwarmFleet) -> None:
    """Every bot's trade database marked with its node; alpha-1's 64 MiB, as a bot's that traded for a while."""
    for unit, bots in UNITS.items():
        node = fleet.node_of(unit)
        for bot in bots:
            put_marker(node, unit, bot, f"{bot} on {node}", BIG if bot == "alpha-1" else 0)


def shown(result: Any) -> None:
    """The plan's lines about nodes, for the reader of ``-s`` output."""
    for line in result.out.splitlines():
        if "moves from node" in line or "stays on node" in line:
            print(line)


def carried(output: str) -> dict[str, int]:
    """Bot → bytes of trade data the apply's progress says it carried between nodes."""
    return {bot: int(size) for bot, size in re.findall(r"carried (\S+)'s trade data from node \S+ to node \S+ \((\d+) bytes\)", output)}


def downtime(sampler: ProcessSampler, unit: str, old: str, new: str) -> float:
    """Seconds the unit's bots ran nowhere while it moved from ``old`` to ``new``, as the sampler saw them (the longest of its bots)."""
    gaps = [sampler.gap(bot, old, new) for bot in UNITS[unit]]
    assert all(g is not None for g in gaps), (unit, sampler.transitions)
    return max(g for g in gaps if g is not None)


def running_everywhere(fleet: SwarmFleet, within: float = 0.0) -> None:
    """Every bot running, as ``status`` tells (``within``: seconds to wait for it, as Swarm restarts a task on its own)."""
    def states() -> dict[str, str]:
        return {b["name"]: b["state"] for c in fleet.status()["containers"] for b in c["bots"]}

    wanted = dict.fromkeys(("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"), "running")
    if within:
        wait_until(lambda: f"every bot runs ({states()})", lambda: states() == wanted, within)
    assert states() == wanted


def settled_on(fleet: SwarmFleet, unit: str) -> str | None:
    """The node of ``unit``'s one running task, None while it has none or two (Swarm replacing it)."""
    try:
        return fleet.node_of(unit)
    except AssertionError:
        return None


def placement_shown(fleet: SwarmFleet) -> dict[str, str]:
    result = fleet.run("plan", "--repo", str(fleet.root), "--format", "json")
    assert result.code in (0, 2), result.err
    plan = json.loads(result.out)
    return {c["address"]: re.sub(r".*; on node ", "", c["reason"]) for c in plan["changes"] if c["address"].startswith("container/")}


def test_placement_is_deterministic_shown_in_the_plan_and_where_units_run(fleet: SwarmFleet, sampler: ProcessSampler) -> None:
    """Promise 4, first half: two plans of the same fleet on the same swarm place every unit on the same node,
    say so, and the apply runs each unit there; each bot then carries a trade database with a marker."""
    first, second = placement_shown(fleet), placement_shown(fleet)
    assert first == second and set(first) == {f"container/{unit}" for unit in UNITS}, (first, second)
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    assert {f"container/{unit}": fleet.node_of(unit) for unit in UNITS} == first
    running_everywhere(fleet)
    mark_every_bot(fleet)
    wait_until(lambda: f"the sampler sees every bot ({sampler.seen})", lambda: set(sampler.seen) >= {b for bots in UNITS.values() for b in bots}, 10)
    assert sampler.doubled == []


def test_a_node_that_joins_moves_nothing_unless_asked(lab: SwarmLab, fleet: SwarmFleet, sampler: ProcessSampler) -> None:
    """Promise 4: a fresh worker joins; the plan says no changes, and an apply changes no task and no service spec."""
    before = (fleet.tasks(), fleet.services())
    node = add_worker(lab)
    host_client().containers.get(node.name).exec_run(["mkdir", "-p", ROOT])
    sampler.watch([(node.name, host_client().containers.get(node.name).id)])
    result = fleet.run("plan", "--repo", str(fleet.root), "--format", "json")
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["changes"] == []
    result = fleet.apply()
    assert result.code == 0 and "No changes" in result.out, result.out + result.err
    assert (fleet.tasks(), fleet.services()) == before
    assert sampler.doubled == []


def test_units_whose_node_no_longer_meets_their_pools_placement_move_with_their_trade_data(lab: SwarmLab, fleet: SwarmFleet,
                                                                                         sampler: ProcessSampler) -> None:
    """Pools standard and small now want ``zone == eu``, which only the new node has: both units move there, each
    bot's trade database along, the plan says so (high risk), the old directories are archived."""
    new = lab.nodes[-1].name
    lab.label_node(new, {"zone": "eu"})
    old = {unit: fleet.node_of(unit) for unit in ("testfleet-standard-1", "testfleet-small-1")}
    pools = fleet.root / "fleet" / "pools.yaml"
    for pool in ("standard", "small"):
        edit(pools, f"name: {pool}\n", f"name: {pool}\nplacement: [\"node.labels.zone == eu\"]\n")
    commit(git.Repo(fleet.root), "pools standard and small in zone eu")
    start = time.monotonic()
    result = fleet.apply()
    figures["apply moving 2 units (4 bots)"] = round(time.monotonic() - start, 1)
    assert result.code == 0, result.out + result.err
    shown(result)
    figures["trade data carried (bytes per bot)"] = carried(result.err)
    assert set(carried(result.err)) == {*UNITS["testfleet-standard-1"], *UNITS["testfleet-small-1"]}, result.err
    assert carried(result.err)["alpha-1"] > BIG
    for unit, node in old.items():
        bots = len(UNITS[unit])
        pool = unit.split("-")[1]
        assert re.search(rf"container/{unit} replace  \(moves from node {node} to node {new} \(node {node} no longer meets pool "
                         rf"{pool}'s placement\), carrying {bots} (?:bot's|bots') trade data", result.out), result.out
        assert expect_carried(fleet, unit, node) == new
        figures[f"{unit} bots down while moving (s)"] = round(downtime(sampler, unit, node, new), 1)
    assert re.search(r"container/testfleet-standard-1 replace  \(moves from .*\[high risk: .*stops 3 bots while their data travels\]",
                     result.out), result.out
    running_everywhere(fleet)
    mark_every_bot(fleet)
    assert sampler.doubled == []


def test_rebalance_alone_moves_a_unit_and_carries_its_data(lab: SwarmLab, fleet: SwarmFleet, sampler: ProcessSampler) -> None:
    """Pool small may run anywhere again: a plain apply keeps it beside standard; ``--rebalance`` moves it to an empty node."""
    unit = "testfleet-small-1"
    edit(fleet.root / "fleet" / "pools.yaml", "name: small\nplacement: [\"node.labels.zone == eu\"]\n", "name: small\n")
    commit(git.Repo(fleet.root), "pool small anywhere")
    old = fleet.node_of(unit)
    before = fleet.tasks()[unit]
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    assert fleet.node_of(unit) == old and fleet.tasks()[unit] == before  # placement is sticky
    start = time.monotonic()
    result = fleet.apply("--rebalance")
    figures["apply --rebalance moving 1 unit (1 bot)"] = round(time.monotonic() - start, 1)
    assert result.code == 0, result.out + result.err
    assert set(carried(result.err)) == {"euro-1"}, result.err
    assert re.search(rf"container/{unit} replace  \(moves from node {old} to node \S+ \(rebalanced\), carrying 1 bot's trade data",
                     result.out), result.out
    moved_to = expect_carried(fleet, unit, old)
    figures[f"{unit} bot down while rebalanced (s)"] = round(downtime(sampler, unit, old, moved_to), 1)
    running_everywhere(fleet)
    mark_every_bot(fleet)
    assert sampler.doubled == []


def test_a_drained_node_keeps_its_unit_until_paused_then_it_moves_with_its_data(lab: SwarmLab, fleet: SwarmFleet,
                                                                                sampler: ProcessSampler) -> None:
    """The operator drains solo's node: Swarm stops its task (and the node's agent); the apply starts it nowhere else and
    says why. Active again, then paused: the apply moves solo off it with its trade data."""
    unit = "testfleet-bot-solo"
    node = fleet.node_of(unit)
    pin = fleet.services()[unit]["constraints"]
    set_availability(lab, node, "drain")
    wait_until(lambda: f"{unit}'s task ended on drained {node}",
               lambda: not [t for t in fleet.manager.api.tasks(filters={"service": unit}) if t["Status"]["State"] == "running"], 60)
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    shown(result)
    assert re.search(rf"container/{unit} update  \(stays on node {node}: the node is drained, so Swarm stopped every task on it", result.out), \
        result.out
    assert fleet.services()[unit]["constraints"] == pin
    assert not [t for t in fleet.manager.api.tasks(filters={"service": unit}) if t["Status"]["State"] == "running"]
    assert "solo" not in _now(sampler)  # stopped by Swarm's drain, and started nowhere else
    set_availability(lab, node, "active")
    wait_until(lambda: f"{unit} runs again on {node}", lambda: settled_on(fleet, unit) == node, 60)
    set_availability(lab, node, "pause")
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    assert re.search(rf"container/{unit} replace  \(moves from node {node} to node \S+ \(node {node} is paused\)", result.out), result.out
    moved_to = expect_carried(fleet, unit, node)
    figures[f"{unit} bot down while moving (s)"] = round(downtime(sampler, unit, node, moved_to), 1)
    set_availability(lab, node, "active")
    running_everywhere(fleet)
    assert sampler.doubled == []


def test_a_partitioned_node_keeps_its_units_and_nothing_starts_them_elsewhere(lab: SwarmLab, fleet: SwarmFleet,
                                                                              sampler: ProcessSampler) -> None:
    """The node running pool standard is cut off: the manager sees it down; an apply replaces nothing and says why; its bots
    keep running there (the sampler still sees them, and nowhere else); healed, the next apply finds it as it was."""
    unit = "testfleet-standard-1"
    node = fleet.node_of(unit)
    services = fleet.services()
    lab.partition(node)
    try:
        wait_until(lambda: f"the manager sees {node} down",
                   lambda: lab.client().nodes.get(node).attrs["Status"]["State"] == "down", 60)
        result = fleet.apply()
        assert result.code == 0, result.out + result.err
        shown(result)
        assert re.search(rf"container/{unit} update  \(stays on node {node}: the node is down: its bots show unreachable", result.out), \
            result.out
        assert fleet.services() == services
        assert {b for b, where in _now(sampler).items() if node in where} >= set(UNITS[unit])  # still running there, cut off
    finally:
        lab.heal(node)
    # Swarm replaced the task while the node was down; on rejoin it starts the replacement beside the old task, which
    # the node has not stopped yet, and the replacement fails (its supervisord finds the old one's socket in use).
    # A start in that window returns once the old task stopped and a task runs that stays (engine.backend.swarm.tasks).
    manager = SwarmManager(lab.manager_url, environ={PLAIN_TCP_VARIABLE: "1"})
    units = SwarmUnits(manager, FLEET, RegistryImages(manager, lab.registry))
    wait_until(lambda: f"Swarm starting a replacement of {unit}'s task on {node}", lambda: _replacing(fleet, unit), 60)
    units.start(unit)
    started = fleet.tasks()[unit]
    for _ in range(10):
        inspected = units.inspect([unit])[unit]
        assert (inspected.state, inspected.restart_count, fleet.tasks()[unit]) == ("running", 0, started)
        time.sleep(0.5)
    wait_until(lambda: f"the manager sees {node} ready", lambda: lab.client().nodes.get(node).attrs["Status"]["State"] == "ready", 60)
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    wait_until(lambda: f"{unit} runs on {node} again", lambda: settled_on(fleet, unit) == node, 60)
    assert fleet.services()[unit] == services[unit]
    running_everywhere(fleet, within=60)
    assert sampler.doubled == []


def _replacing(fleet: SwarmFleet, unit: str) -> bool:
    """Whether a task Swarm wants stopped still runs while a newer one waits or starts, none of them failed yet."""
    tasks = fleet.manager.api.tasks(filters={"service": unit})
    old = [t for t in tasks if t["DesiredState"] == "shutdown" and t["Status"]["State"] == "running"]
    return bool(old) and not any(t["Status"]["State"] == "failed" and t["CreatedAt"][:19] > old[0]["CreatedAt"][:19] for t in tasks)


def _now(sampler: ProcessSampler) -> dict[str, set[str]]:
    from tests.support.process_sampler import bots_by_node

    return bots_by_node(sampler.nodes)


def test_no_bot_ran_on_two_nodes_in_any_sample(sampler: ProcessSampler) -> None:
    """Promise 3, the verdict: the sampler watched every node at ≥ 10 passes a second, never more than 0.5 s apart, and
    no pass saw a bot on two nodes."""
    sampler.stop()
    figures.update({"sampling rate (Hz)": round(sampler.rate, 1), "longest gap between passes (s)": round(sampler.longest_gap, 3),
                    "passes": sampler.passes})
    log(f"moves lab figures: {json.dumps(figures)}")
    print(json.dumps(figures, indent=1))
    assert sampler.doubled == []
    assert sampler.rate >= 10 and sampler.longest_gap < 0.5, figures
    assert all(len(nodes) >= 1 for nodes in sampler.seen.values()) and len(sampler.seen) == 5
