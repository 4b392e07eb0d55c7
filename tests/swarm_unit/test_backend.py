"""The swarm as the port's ``Backend`` (``engine.backend.swarm.backend``), minus the site the lead composes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.backend.port import Site
from engine.backend.swarm.api import SwarmManager
from engine.backend.swarm.backend import SwarmBackend
from engine.backend.swarm.units import SwarmUnits
from engine.errors import DockerError
from tests.swarm_unit.conftest import IMAGE, IMAGE_ID, REGISTRY, definition
from tests.swarm_unit.fake_sdk import FakeSwarm


def no_site(backend: SwarmBackend, fleet: str, report: Callable[[str], None] | None) -> Site:
    raise AssertionError("not composed here")


def test_the_backend_lists_every_fleets_units_names_their_owners_and_reads_the_managers_images(
        make_units: Callable[..., SwarmUnits], swarm: FakeSwarm, manager: SwarmManager, tmp_path: Path) -> None:
    backend = SwarmBackend(tmp_path, manager, REGISTRY, no_site)
    assert str(backend.ref) == "swarm at tcp://127.0.0.1:2375"
    for fleet, unit, node in (("crypto", "crypto-standard-1", "node2id"), ("other", "other-bot-x", "node3id")):
        units = make_units(fleet)
        units.place({unit: node}, {})
        units.create(definition(unit, fleet=fleet, running=fleet == "crypto"), revision=1)
    swarm.create_service({"ContainerSpec": {"Image": "nginx"}}, name="someone-elses")
    assert [(u.name, u.labels["io.fleetops.fleet"], u.state) for u in backend.list_managed()] == [
        ("crypto-standard-1", "crypto", "running"), ("other-bot-x", "other", "exited")]
    assert backend.name_owners({"someone-elses", "crypto-standard-1", "free"}) == {"someone-elses": None, "crypto-standard-1": "crypto"}
    assert backend.image_exists(IMAGE) and backend.image_id(IMAGE) == IMAGE_ID and backend.image_id("nothing:1") is None
    (tmp_path / "runtime" / "crypto" / "crypto-standard-1").mkdir(parents=True)
    assert backend.recorded_fleets() == ["crypto"]
    calls = backend.calls
    backend.ping()
    assert backend.calls == calls + 1 and backend.mutations == manager.mutations
    swarm.swarm_state = {"LocalNodeState": "active", "ControlAvailable": False}
    with pytest.raises(DockerError, match="is a worker, not a swarm manager"):
        backend.ping()


def test_a_swarm_site_places_units_pins_images_and_refuses_a_fleet_that_does_not_fit(swarm: FakeSwarm, manager: SwarmManager,
                                                                                      tmp_path: Path) -> None:
    """``SwarmSite.prepare`` (what the live plan asks of a swarm before it diffs): every unit on a node (one per node
    here, by load), the image stamped by registry digest, and a budget no node meets is a SpecError naming the unit."""
    from engine.backend.swarm.site import SwarmSite
    from engine.compile.desired import compile_fleet
    from engine.errors import SpecError
    from engine.spec.load import load_fleet
    from tests.support.repos import make_base_repo

    spec = load_fleet(make_base_repo(tmp_path / "repo").working_dir).spec
    target = compile_fleet(spec)
    site = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite).site(spec.fleet.name)
    assert isinstance(site, SwarmSite)
    prepared = site.prepare(target)
    assert sorted(site.placed) == ["testfleet-bot-solo", "testfleet-small-1", "testfleet-standard-1"]
    assert len(set(site.placed.values())) == 3 and set(site.placed.values()) == {"mgr", "w1", "w2"}
    images = {c.essence.image for c in prepared.containers.values()}
    assert len(images) == 1 and images.pop().startswith(f"{REGISTRY}/fleetops/standin-bot@sha256:")
    assert all(prepared.containers[n].hash != target.containers[n].hash for n in target.containers)  # a new digest is a change
    assert site.locate("testfleet-small-1") == site.placed["testfleet-small-1"]
    crowded = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite, exchange_budget={"binance": 2}).site(spec.fleet.name)
    with pytest.raises(SpecError, match=r"unit testfleet-standard-1 runs 3 binance bots, more than exchange_budget allows on one node"):
        crowded.prepare(target)  # type: ignore[attr-defined]
    placed = site.placed["testfleet-standard-1"]
    node_id = next(n["ID"] for n in swarm.nodes_ if n["Description"]["Hostname"] == placed)
    site.ensure_network()  # type: ignore[attr-defined]
    site.create(definition("testfleet-standard-1", bots=("alpha-1", "alpha-2", "beta-1"), fleet="testfleet"), revision=1)  # type: ignore[attr-defined]
    next(n for n in swarm.nodes_ if n["ID"] == node_id)["Spec"]["Availability"] = "drain"
    site.units()
    site.prepare(target)  # type: ignore[attr-defined]
    assert site.moves == {} and site.placed["testfleet-standard-1"] == placed  # its data cannot leave a drained node: it stays (test_moves)


def test_a_swarm_units_memory_is_asked_of_its_nodes_agent_by_its_tasks_container(swarm: FakeSwarm, manager: SwarmManager,
                                                                                    tmp_path: Path) -> None:
    """``SwarmSite.memory_of`` (status, the page): the unit's node's agent is asked ``memory`` for the container its
    running task has on that node (the agent reads the node's cgroups by it: tests/agent); nothing is asked for a
    stopped unit, and an agent that does not answer is memory unknown, not an error."""
    from engine.backend.swarm.site import SwarmSite
    from engine.errors import FleetopsError

    site = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite).site("crypto")
    assert isinstance(site, SwarmSite)
    node_id = next(n["ID"] for n in swarm.nodes_ if n["Description"]["Hostname"] == "w1")
    site.place({"crypto-standard-1": node_id, "crypto-small-1": node_id}, {})
    site.ensure_network()
    site.create(definition("crypto-standard-1"), revision=1)
    site.create(definition("crypto-small-1", running=False), revision=1)
    asked: list[tuple[str, str, dict[str, object]]] = []
    answer: dict[str, object] = {"memory": {"crypto-standard-1": 123_456_789}}

    def call(node: str, op: str, args: dict[str, object], timeout: float) -> dict[str, object]:
        asked.append((node, op, args))
        if isinstance(answer, Exception):
            raise answer
        return answer

    site.channel.call = call  # type: ignore[method-assign]
    listed = {u.name: u for u in site.units()}
    task = next(t for t in swarm.tasks_ if t["ServiceID"] == listed["crypto-standard-1"].id and t["Status"]["State"] == "running")
    assert site.memory_of(listed["crypto-standard-1"]) == 123_456_789
    assert asked == [("w1", "memory", {"units": {"crypto-standard-1": task["Status"]["ContainerStatus"]["ContainerID"]}})]
    assert site.memory_of(listed["crypto-small-1"]) is None and len(asked) == 1
    answer = FleetopsError("node w1's agent does not answer")  # type: ignore[assignment]
    assert site.memory_of(listed["crypto-standard-1"]) is None


def test_a_service_removed_by_hand_is_placed_again_on_the_node_its_files_are_on(swarm: FakeSwarm, manager: SwarmManager,
                                                                                 tmp_path: Path) -> None:
    """Pool small's service, which shared node mgr with solo's, is removed by hand (``docker service rm``): the next plan, in a
    new process (the watcher's next heal, a CLI apply), places it back on mgr, where its bots' files and trade data stayed,
    not on w2, which holds nothing and would win by load; a unit the fleet removes on purpose is forgotten."""
    from engine.backend.swarm.site import SwarmSite
    from engine.compile.desired import compile_fleet
    from engine.spec.load import load_fleet
    from tests.support.repos import make_base_repo

    spec = load_fleet(make_base_repo(tmp_path / "repo").working_dir).spec
    target = compile_fleet(spec)
    ids = {n["Description"]["Hostname"]: n["ID"] for n in swarm.nodes_}
    site = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite).site(spec.fleet.name)
    assert isinstance(site, SwarmSite)
    site.ensure_network()
    homes = {"testfleet-standard-1": "w1", "testfleet-small-1": "mgr", "testfleet-bot-solo": "mgr"}
    site.place({unit: ids[node] for unit, node in homes.items()}, {})
    for unit in homes:
        site.create(definition(unit, fleet="testfleet"), revision=1)
    site.prepare(target)
    assert site.placed == homes  # each keeps its node

    swarm.remove_service("testfleet-small-1")
    again = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite).site(spec.fleet.name)
    again.prepare(target)  # type: ignore[attr-defined]
    assert again.placed == homes  # type: ignore[attr-defined]
    fresh = SwarmBackend(tmp_path / "other-state", manager, REGISTRY, SwarmSite).site(spec.fleet.name)
    fresh.prepare(target)  # type: ignore[attr-defined]
    assert fresh.placed["testfleet-small-1"] == "w2"  # type: ignore[attr-defined]  # without the memory: by load, away from its data

    again.remove("testfleet-bot-solo")
    assert "testfleet-bot-solo" not in again.homes.read()  # type: ignore[attr-defined]
    assert again.homes.read()["testfleet-small-1"] == ids["mgr"]  # type: ignore[attr-defined]


def test_a_pool_unit_with_a_home_is_created_only_once_its_old_tasks_supervisord_is_gone(swarm: FakeSwarm, manager: SwarmManager,
                                                                                          tmp_path: Path) -> None:
    """A service removed by hand leaves its task stopping on the node: its supervisord still answers on the unit's socket. The
    unit's new service is created only once it no longer does (asked through the agent); one that never goes is refused."""
    from engine.backend.swarm.site import SwarmSite
    from engine.errors import SupervisorError

    answers: list[object] = [{"a": "RUNNING"}, {"a": "STOPPING"}, SupervisorError("no such file: supervisor.sock")]

    class Agent:
        def processes(self, units: list[str], timeout: float = 1.0) -> dict[str, object]:
            return {units[0]: answers.pop(0) if len(answers) > 1 else answers[0]}

    site = SwarmBackend(tmp_path / "state", manager, REGISTRY, SwarmSite).site("crypto")
    assert isinstance(site, SwarmSite)
    site.bots = Agent()  # type: ignore[assignment]
    site.ensure_network()
    node = swarm.nodes_[1]["ID"]
    site.place({"crypto-standard-1": node}, {})
    site.homes.merged({"crypto-standard-1": node})
    slept: list[float] = []
    site.await_gone = lambda unit, sleep=slept.append: SwarmSite.await_gone(site, unit, 30.0, sleep)  # type: ignore[method-assign]
    site.create(definition("crypto-standard-1"), revision=2)
    assert slept == [0.5, 0.5] and [s["Spec"]["Name"] for s in swarm.services()] == ["crypto-standard-1"]

    answers[:] = [{"b": "RUNNING"}]
    site.homes.merged({"crypto-standard-2": node})
    site.place({"crypto-standard-2": node}, {})
    with pytest.raises(DockerError, match=r"^unit crypto-standard-2: a task of its removed service still runs its bots on node "
                                          r"\S+ after 0 s; not starting a second copy"):
        SwarmSite.await_gone(site, "crypto-standard-2", 0.0, slept.append)
    fresh = definition("crypto-other-1")
    site.place({"crypto-other-1": node}, {})
    answers[:] = [{"c": "RUNNING"}]  # a unit without a home is not asked: it never ran anywhere
    site.create(fresh, revision=2)
    assert len(swarm.services()) == 2
