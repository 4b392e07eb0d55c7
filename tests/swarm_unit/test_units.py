"""The port's ``Units`` on Swarm services (``engine.backend.swarm.units``), against a fake swarm at the SDK seam:
what is created, how a unit's state is read from its task, start and stop as replicas, what a person
changed by hand and what can be set back without replacing the task."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from engine.backend.swarm.units import SwarmUnits
from engine.backend.swarm.waits import STOP_WAIT
from engine.errors import DockerError
from engine.naming import Labels
from tests.swarm_unit.conftest import FLEET, IMAGE, IMAGE_ID, REGISTRY, Clock, definition
from tests.swarm_unit.fake_sdk import FakeSwarm

W1 = "node2id"
W2 = "node3id"


def created(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm, **kwargs: object) -> tuple[SwarmUnits, str]:
    units = make_units()
    units.place({"crypto-standard-1": W1, "crypto-bot-solo": W2}, {"standard": ("node.labels.zone == eu",)})
    service_id = units.create(definition(**kwargs), revision=7)  # type: ignore[arg-type]
    return units, service_id


def task_ids(swarm: FakeSwarm, service_id: str) -> list[str]:
    return [t["ID"] for t in swarm.tasks_ if t["ServiceID"] == service_id and t["Status"]["State"] == "running"]


def edit_by_hand(swarm: FakeSwarm, service_id: str, change: Callable[[dict[str, object]], None]) -> None:
    """What ``docker service update`` by a person does: the stored spec sent back with one change."""
    stored = swarm.services_[service_id]
    spec = copy.deepcopy(stored["Spec"])
    change(spec)
    swarm.update_service(service_id, stored["Version"]["Index"], task_template=spec["TaskTemplate"], labels=spec["Labels"],
                         mode=spec["Mode"], update_config=spec.get("UpdateConfig"), rollback_config=spec.get("RollbackConfig"),
                         endpoint_spec=spec.get("EndpointSpec"))


def test_create_makes_one_pinned_replica_by_digest_with_stop_first_rollback_dnsrr_and_the_nodes_bind_mounts(
        make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, service_id = created(make_units, swarm)
    spec = swarm.services_[service_id]["Spec"]
    digest = swarm.registry[f"{REGISTRY}/fleetops/standin-bot:1"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == f"{REGISTRY}/fleetops/standin-bot@{digest}"
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    assert spec["TaskTemplate"]["Placement"] == {"Constraints": [f"node.id == {W1}", "node.labels.zone == eu"]}
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}
    assert spec["UpdateConfig"] == {"Parallelism": 1, "Order": "stop-first", "FailureAction": "rollback", "MaxFailureRatio": 0}
    assert spec["RollbackConfig"]["Order"] == "stop-first"
    assert container["Mounts"] == [
        {"Type": "bind", "Source": f"/var/lib/fleetops/{FLEET}/crypto-standard-1/etc", "Target": "/fleet/etc", "ReadOnly": True},
        {"Type": "bind", "Source": f"/var/lib/fleetops/{FLEET}/crypto-standard-1/data", "Target": "/fleet/data", "ReadOnly": False}]
    assert spec["Labels"][Labels.FLEET] == FLEET and spec["Labels"][Labels.REVISION] == "7"
    assert "Labels" not in container  # a container label change would replace the task
    assert container["Command"] == ["supervisord", "-n", "-c", "/fleet/etc/supervisord.conf"] and container.get("Args", []) == []
    assert spec["TaskTemplate"]["Resources"] == {"Limits": {"MemoryBytes": 512 << 20, "NanoCPUs": 500_000_000}}
    assert spec["TaskTemplate"]["ForceUpdate"] == 0
    assert [t["NodeID"] for t in swarm.tasks_] == [W1]
    assert units.node_of("crypto-standard-1") == "w1"


def test_create_refuses_a_unit_no_node_was_chosen_for(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units = make_units()
    with pytest.raises(DockerError, match="no node was chosen for crypto-standard-1: a swarm fleet's units are placed when it is planned"):
        units.create(definition(), revision=1)
    assert swarm.services_ == {}


def test_units_lists_the_fleets_services_with_their_tasks_state(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm,
                                                                 manager: object) -> None:
    units, pool_id = created(make_units, swarm)
    units.create(definition("crypto-bot-solo", pool=None, bots=("solo",), running=False), revision=7)
    other = make_units("other")
    other.place({"other-standard-1": W2}, {})
    other.create(definition("other-standard-1", fleet="other"), revision=1)
    listed = units.units()
    assert [(u.name, u.state, u.ip) for u in listed] == [("crypto-bot-solo", "exited", None), ("crypto-standard-1", "running", None)]
    assert listed[1].id == pool_id and listed[1].labels[Labels.POOL] == "standard"
    assert units.priors() == {"crypto-bot-solo": W2, "crypto-standard-1": W1}  # where each unit's files are: placement keeps them there
    swarm.kill_task("crypto-standard-1")  # its process died; Swarm's restart policy started another on the same node
    assert units.inspect(["crypto-standard-1"])["crypto-standard-1"].restart_count == 1
    swarm.node("w1")["Status"]["State"] = "down"
    assert [u.state for u in units.units()] == ["exited", "unreachable"]
    assert units.node_of("crypto-standard-1") == "w1"  # and nothing replaced it elsewhere
    assert len({t["NodeID"] for t in swarm.tasks_ if t["ServiceID"] == pool_id}) == 1


def test_stop_scales_to_zero_and_returns_once_the_task_ended_start_scales_back(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm,
                                                                               clock: Clock) -> None:
    units, service_id = created(make_units, swarm)
    first = task_ids(swarm, service_id)
    swarm.linger = 3
    version = swarm.services_[service_id]["Version"]["Index"]
    units.stop("crypto-standard-1")
    assert task_ids(swarm, service_id) == [] and clock.slept == 3
    assert swarm.services_[service_id]["Spec"]["Mode"] == {"Replicated": {"Replicas": 0}}
    assert swarm.services_[service_id]["Version"]["Index"] > version
    units.stop("crypto-standard-1")  # already stopped: no update
    assert swarm.calls.count("update_service") == 1
    units.start("crypto-standard-1")
    assert len(task_ids(swarm, service_id)) == 1 and task_ids(swarm, service_id) != first
    units.restart("crypto-standard-1")
    assert swarm.calls.count("update_service") == 4


def test_stop_gives_up_with_a_sentence_when_the_task_never_ends(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm, clock: Clock) -> None:
    units, _ = created(make_units, swarm)
    swarm.linger = 10**9
    with pytest.raises(DockerError, match=rf"service crypto-standard-1's task still runs {STOP_WAIT:.0f} s after fleetops asked Swarm to stop it; "
                                          rf"is its node \({W1}\) answering\?"):
        units.stop("crypto-standard-1")
    assert clock.now > STOP_WAIT


def test_remove_waits_for_the_task_of_the_removed_service(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm, clock: Clock) -> None:
    units, service_id = created(make_units, swarm)
    swarm.linger = 2
    units.remove("crypto-standard-1")
    assert swarm.services_ == {} and task_ids(swarm, service_id) == [] and clock.slept >= 1
    units.remove("crypto-standard-1")  # gone already: nothing to do
    assert units.units() == []


def test_a_fresh_unit_has_no_drift(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    inspected = units.inspect(["crypto-standard-1", "gone"])
    assert list(inspected) == ["crypto-standard-1"]
    assert units.settings_drift(definition(), inspected["crypto-standard-1"]) is None
    assert inspected["crypto-standard-1"].settings.plain()["networks"] == ["fleetops-crypto"]  # read back by name, stored by ID


@pytest.mark.parametrize(("change", "fields", "in_place"), [
    (lambda spec: spec["Labels"].update({Labels.SPEC_HASH: "edited", "owner": "me"}), ["labels"], True),
    (lambda spec: spec["UpdateConfig"].update({"Order": "start-first"}), ["update_config"], True),
    (lambda spec: spec["TaskTemplate"]["Placement"].update({"Constraints": ["node.labels.zone == eu"]}), ["placement"], True),
    (lambda spec: spec["TaskTemplate"]["Resources"]["Limits"].update({"MemoryBytes": 1 << 30}), ["memory"], False),
    (lambda spec: spec["TaskTemplate"]["ContainerSpec"].update({"Env": ["DEBUG=1"]}), ["environment"], False),
    (lambda spec: spec["TaskTemplate"]["RestartPolicy"].update({"Condition": "none"}), ["restart"], False),
])
def test_settings_changed_by_hand_are_found_and_set_back_without_replacing_the_task_when_swarm_allows(
        make_units: Callable[..., SwarmUnits], swarm: FakeSwarm, change: Callable[[dict[str, object]], None], fields: list[str],
        in_place: bool) -> None:
    units, service_id = created(make_units, swarm)
    edit_by_hand(swarm, service_id, change)
    task = task_ids(swarm, service_id)
    inspected = units.inspect(["crypto-standard-1"])["crypto-standard-1"]
    drift = units.settings_drift(definition(), inspected)
    assert drift is not None and (drift.fields, drift.in_place) == (fields, in_place)
    units.restore_settings(definition(), inspected)
    after = units.settings_drift(definition(), units.inspect(["crypto-standard-1"])["crypto-standard-1"])
    if in_place:
        assert after is None and task_ids(swarm, service_id) == task  # set back, the same task runs on
    else:
        assert after == drift  # left for an update: setting it back replaces the task
        units.update(definition(), revision=8)
        assert units.settings_drift(definition(), units.inspect(["crypto-standard-1"])["crypto-standard-1"]) is None
        assert task_ids(swarm, service_id) != task


def test_a_constraint_the_tasks_node_no_longer_meets_is_not_set_back_in_place(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    units.place({"crypto-standard-1": W2}, {"standard": ()})  # placed elsewhere now: a move, the agent's job first
    drift = units.settings_drift(definition(), units.inspect(["crypto-standard-1"])["crypto-standard-1"])
    assert drift is not None and drift.fields == ["placement"] and not drift.in_place


def test_labels_fleetops_lets_go_stale_are_kept_when_labels_are_set_back(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    """Bots join and leave a pool unit without touching it (the Docker backend's rule): their labels stay as applied."""
    units, service_id = created(make_units, swarm)
    edit_by_hand(swarm, service_id, lambda spec: spec["Labels"].update({Labels.SPEC_HASH: "edited"}))
    joined = definition(bots=("a", "b", "c"))
    units.restore_settings(joined, units.inspect(["crypto-standard-1"])["crypto-standard-1"])
    labels = swarm.services_[service_id]["Spec"]["Labels"]
    assert (labels[Labels.SPEC_HASH], labels[Labels.BOTS], labels[Labels.REVISION]) == ("hash1", "a,b", "7")


def test_an_update_changes_the_image_by_digest_and_never_forces(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, service_id = created(make_units, swarm)
    before = task_ids(swarm, service_id)
    swarm.images["sha256:" + "2" * 64] = {"Id": "sha256:" + "2" * 64, "RepoTags": ["fleetops/standin-bot:2"], "RepoDigests": []}
    units.update(definition(image="fleetops/standin-bot:2"), revision=8)
    spec = swarm.services_[service_id]["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == f"{REGISTRY}/fleetops/standin-bot@{swarm.registry[f'{REGISTRY}/fleetops/standin-bot:2']}"
    assert spec["Labels"][Labels.REVISION] == "8" and spec["TaskTemplate"]["ForceUpdate"] == 0  # never raised: it replaces every task
    assert task_ids(swarm, service_id) != before and [t["NodeID"] for t in swarm.tasks_ if t["Status"]["State"] == "running"] == [W1]


def test_replace_puts_the_files_then_updates_the_service_in_place_or_creates_it(make_units: Callable[..., SwarmUnits],
                                                                               swarm: FakeSwarm) -> None:
    """A pool-wide change (``Units.replace``, the executor's REPLACE) keeps the service and its ID: one update,
    the files put first; a unit whose service is gone is created."""
    units, service_id = created(make_units, swarm)
    order: list[str] = []
    swarm.images["sha256:" + "2" * 64] = {"Id": "sha256:" + "2" * 64, "RepoTags": ["fleetops/standin-bot:2"], "RepoDigests": []}
    version = swarm.services_[service_id]["Version"]["Index"]
    assert units.replace(definition(image="fleetops/standin-bot:2"), 9, lambda: order.append("files")) == service_id
    assert order == ["files"] and list(swarm.services_) == [service_id] and swarm.services_[service_id]["Version"]["Index"] > version
    assert swarm.services_[service_id]["Spec"]["Labels"][Labels.REVISION] == "9"
    units.remove("crypto-standard-1")
    units.place({"crypto-standard-1": W1}, {})
    new_id = units.replace(definition(), 10, lambda: order.append("files again"))
    assert new_id != service_id and order == ["files", "files again"] and list(swarm.services_) == [new_id]


def test_an_update_swarm_rolled_back_is_a_failure_not_a_success(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    """Promise 5's other half (doco-cd #1616 reported such rollbacks as successes): the new task failed and Swarm's
    ``failure_action: rollback`` put the old spec back; the update raises at once, naming Swarm's message."""
    units, service_id = created(make_units, swarm)
    swarm.images["sha256:" + "2" * 64] = {"Id": "sha256:" + "2" * 64, "RepoTags": ["fleetops/standin-bot:2"], "RepoDigests": []}
    update = swarm.update_service

    def rolled_back(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = update(*args, **kwargs)
        new = swarm._current(service_id)
        assert new is not None
        new["Status"]["State"], new["DesiredState"] = "failed", "shutdown"
        swarm.services_[service_id]["UpdateStatus"] = {"State": "rollback_completed", "Message": "rollback completed"}
        return answer
    swarm.update_service = rolled_back  # type: ignore[method-assign]
    with pytest.raises(DockerError, match=r"^Swarm rolled back the update of service crypto-standard-1 \(rollback_completed: rollback "
                                          r"completed\): the new task did not run; this apply failed$"):
        units.update(definition(image="fleetops/standin-bot:2"), revision=9)


def test_rename_is_refused_with_what_to_do(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    with pytest.raises(DockerError, match=r"^cannot rename service crypto-standard-1 to crypto-standard-2: Docker Swarm does not rename "
                                          r"services; remove it \(docker service rm crypto-standard-1\)"):
        units.rename("crypto-standard-1", "crypto-standard-2")
    assert "update_service" not in swarm.calls


def test_events_are_the_fleets_service_events_and_a_removal_is_a_destroy(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    other = make_units("other")
    other.place({"other-standard-1": W2}, {})
    other.create(definition("other-standard-1", fleet="other"), revision=1)
    units.stop("crypto-standard-1")
    units.units()
    swarm.remove_service("crypto-standard-1")  # by hand: the watcher hears it and repairs it
    assert [(e.name, e.action) for e in units.events()] == [("crypto-standard-1", "create"), ("crypto-standard-1", "update"),
                                                             ("crypto-standard-1", "destroy")]


def test_output_is_the_services_log_tail(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    swarm.logs["crypto-standard-1"] = b"".join(f"line {i}\n".encode() for i in range(10))
    assert units.output("crypto-standard-1", 3) == "line 7\nline 8\nline 9\n"


def test_the_network_is_the_fleets_attachable_overlay_made_once(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    make_units()
    make_units()
    assert [(n["Name"], n["Driver"], n["Attachable"], n["Labels"]) for n in swarm.networks_.values()] == [
        ("fleetops-crypto", "overlay", True, {Labels.FLEET: FLEET})]


def test_the_image_pushed_once_is_reused(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm) -> None:
    units, _ = created(make_units, swarm)
    units.place({"crypto-standard-2": W2}, {})
    units.create(definition("crypto-standard-2"), revision=7)
    assert swarm.calls.count("push") == 1
    assert swarm.images[IMAGE_ID]["RepoTags"] == [IMAGE, f"{REGISTRY}/fleetops/standin-bot:1"]
