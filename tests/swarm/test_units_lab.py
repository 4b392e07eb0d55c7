"""The swarm units on the real lab (3 Docker-in-Docker nodes and a registry, tests/support/swarm_lab.py,
fixtures in tests/swarm/conftest.py): images pushed through the manager and run by digest, a unit's
service created on its node and listed, stopped and started by replicas, settings changed by hand
found and set back without replacing the task where Swarm allows it, and removed.

The node agent writes units' files on their nodes; here the test makes the two bind-mount sources
itself (``docker exec`` into the node), as the agent would before ``create``.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE, SwarmManager
from engine.backend.swarm.images import RegistryImages
from engine.backend.swarm.service import node_dir
from engine.backend.swarm.units import SwarmUnits
from engine.compile.container import MOUNTS, ContainerDefinition
from engine.naming import Labels, container_labels, network_name

if TYPE_CHECKING:
    from tests.support.swarm_lab import SwarmLab

pytestmark = [pytest.mark.swarm, pytest.mark.docker]

IMAGE = "fleetops/standin-bot:1"
FLEET = f"lab{secrets.token_hex(3)}"
UNIT = f"{FLEET}-standard-1"


def definition(image: str = IMAGE) -> ContainerDefinition:
    return ContainerDefinition(name=UNIT, image=image, command=("sh", "-c", "ls /fleet/etc /fleet/data && exec sleep 3600"),
                               labels=container_labels(FLEET, "standard", 1, "hash1", ("a", "b")), mounts=MOUNTS,
                               network=network_name(FLEET), user="0:0", environment={}, memory="64m", cpus=0.5, running=True)


def wait_for(what: Callable[[], str], done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what()}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def manager(lab: SwarmLab) -> Iterator[SwarmManager]:
    lab.load(IMAGE, nodes=[lab.manager.name])  # the manager's engine has the fleet's image, as an operator's would
    yield SwarmManager(lab.manager_url, environ={PLAIN_TCP_VARIABLE: "1"})


@pytest.fixture(scope="module")
def units(lab: SwarmLab, manager: SwarmManager) -> Iterator[SwarmUnits]:
    from tests.support.swarm_lab import host_client

    node = lab.workers[0]

    host_client().containers.get(node.name).exec_run(["mkdir", "-p", f"{node_dir(FLEET, UNIT)}/etc", f"{node_dir(FLEET, UNIT)}/data"])
    made = SwarmUnits(manager, FLEET, RegistryImages(manager, lab.registry))
    made.ensure_network()
    made.place({UNIT: str(lab.client().nodes.get(node.name).id)}, {"standard": ()})
    yield made
    for service in manager.services({Labels.FLEET: FLEET}):
        manager.remove_service(str(service["ID"]))
    network = manager.network(network_name(FLEET))
    if network is not None:
        wait_for(lambda: "the fleet network to go", lambda: _removed(lab, network["Id"]))


def _removed(lab: SwarmLab, network_id: str) -> bool:
    try:
        lab.client().networks.get(network_id).remove()
    except Exception:  # gone, or still in use by a stopping task: asked again
        return lab.client().api.networks(ids=[network_id]) == []
    return True


def running_task(lab: SwarmLab, service: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def one() -> bool:
        found[:] = [t for t in lab.client().api.tasks(filters={"service": service}) if t["Status"]["State"] == "running"]
        return len(found) == 1

    wait_for(lambda: f"one running task of {service}", one)
    return found[0]


def test_images_are_pushed_through_the_manager_once_and_pinned_by_the_registrys_digest(lab: SwarmLab, manager: SwarmManager) -> None:
    images = RegistryImages(manager, lab.registry)
    pinned = images.pinned(IMAGE)
    repository, digest = pinned.split("@")
    assert repository == f"{lab.registry}/fleetops/standin-bot"
    assert manager.registry_digest(f"{repository}:1") == digest  # what the registry holds under the tag
    pushes = manager.mutations
    again = RegistryImages(manager, lab.registry)
    assert again.known(IMAGE) == pinned and again.pinned(IMAGE) == pinned
    assert manager.mutations == pushes  # nothing pushed again
    assert manager.registry_digest(f"{repository}:never-pushed") is None


def test_a_unit_is_created_on_its_node_listed_stopped_started_and_has_no_drift(lab: SwarmLab, units: SwarmUnits) -> None:
    service_id = units.create(definition(), revision=3)
    task = running_task(lab, service_id)
    worker = lab.workers[0]
    assert task["NodeID"] == lab.client().nodes.get(worker.name).id
    assert [(u.name, u.state, u.ip) for u in units.units()] == [(UNIT, "running", None)]
    assert units.node_of(UNIT) == worker.name
    inspected = units.inspect([UNIT])[UNIT]
    assert units.settings_drift(definition(), inspected) is None, "what fleetops creates reads back as what it would create"
    assert inspected.settings.plain()["networks"] == [network_name(FLEET)]
    units.stop(UNIT)
    assert [u.state for u in units.units()] == ["exited"]
    units.start(UNIT)
    assert running_task(lab, service_id)["ID"] != task["ID"]
    assert [u.state for u in units.units()] == ["running"]
    assert "/fleet/etc:" in units.output(UNIT, 50)  # the task's own output, read through the manager


def edit_by_hand(lab: SwarmLab, change: Callable[[dict[str, Any]], None]) -> None:
    api = lab.client().api
    inspected = api.inspect_service(UNIT)
    spec = copy.deepcopy(inspected["Spec"])
    change(spec)
    api.update_service(inspected["ID"], inspected["Version"]["Index"], task_template=spec["TaskTemplate"], name=spec["Name"],
                       labels=spec.get("Labels"), mode=spec["Mode"], update_config=spec.get("UpdateConfig"),
                       rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"))


@pytest.mark.parametrize(("change", "field"), [
    (lambda spec: spec["Labels"].update({Labels.SPEC_HASH: "edited"}), "labels"),
    (lambda spec: spec["TaskTemplate"]["Placement"]["Constraints"].append("node.role == worker"), "placement"),  # its node still meets it
    (lambda spec: spec["UpdateConfig"].update({"Order": "start-first"}), "update_config"),
])
def test_settings_changed_by_hand_are_set_back_and_the_task_runs_on(lab: SwarmLab, units: SwarmUnits, change: Callable[[dict[str, Any]], None],
                                                                    field: str) -> None:
    """Swarm's own rule (swarmkit IsTaskDirty) on Docker 20.10: these changes, and setting them back, keep the task."""
    task = running_task(lab, UNIT)
    edit_by_hand(lab, change)
    inspected = units.inspect([UNIT])[UNIT]
    drift = units.settings_drift(definition(), inspected)
    assert drift is not None and (drift.fields, drift.in_place) == ([field], True)
    version = lab.client().api.inspect_service(UNIT)["Version"]["Index"]
    units.restore_settings(definition(), inspected)
    assert lab.client().api.inspect_service(UNIT)["Version"]["Index"] > version
    assert units.settings_drift(definition(), units.inspect([UNIT])[UNIT]) is None
    time.sleep(3)  # the orchestrator replaces a dirty task within ~1 s (tests/swarm/test_lab.py)
    assert running_task(lab, UNIT)["ID"] == task["ID"]


def test_a_limit_changed_by_hand_needs_an_update_which_replaces_the_task_on_the_same_node(lab: SwarmLab, units: SwarmUnits) -> None:
    task = running_task(lab, UNIT)
    edit_by_hand(lab, lambda spec: spec["TaskTemplate"]["Resources"]["Limits"].update({"MemoryBytes": 128 << 20}))
    replaced = running_task(lab, UNIT)
    wait_for(lambda: "the edited task to replace the old one", lambda: running_task(lab, UNIT)["ID"] != task["ID"])
    drift = units.settings_drift(definition(), units.inspect([UNIT])[UNIT])
    assert drift is not None and (drift.fields, drift.in_place) == (["memory"], False)
    units.update(definition(), revision=4)
    wait_for(lambda: "the update", lambda: units.settings_drift(definition(), units.inspect([UNIT])[UNIT]) is None)
    assert running_task(lab, UNIT)["NodeID"] == replaced["NodeID"]


def test_the_fleets_service_events_and_removal(lab: SwarmLab, units: SwarmUnits) -> None:
    since = time.time() - 300
    units.remove(UNIT)
    assert units.units() == []
    seen = [(e.name, e.action) for e in units.events(since=since, until=time.time() + 1)]
    assert (UNIT, "create") in seen and (UNIT, "update") in seen and seen[-1] == (UNIT, "destroy")
