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
