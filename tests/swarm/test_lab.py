"""The Swarm facts the swarm backend (issue 19) is designed on, checked on the real lab (3 Docker-in-
Docker nodes and a registry, tests/support/swarm_lab.py); each test says which decision leans on it.

One service serves the tests of this module, as a pool's service would be: one replica of an image
from the lab registry pinned by digest, placed by a node label on the first worker, ``endpoint_mode:
dnsrr`` (this kernel has no IPVS), on an attachable overlay network, with a Swarm secret.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.types
import pytest

from tests.support import swarm_lab
from tests.support.swarm_lab import LabNode, SwarmLab, remove_eventually, wait_until

UNIQUE = secrets.token_hex(3)
NAME = f"labtest-{UNIQUE}"
PLACEMENT_LABEL = "fleetops.labtest"
# A one-line web server answering with $TOKEN: proof that an answer came from this service's task.
SERVER = 'mkdir -p /tmp/www && echo "$TOKEN" > /tmp/www/index.html && cd /tmp/www && exec python3 -m http.server 8080'


@dataclass(frozen=True)
class Pinned:
    service_id: str
    token: str
    secret: str  # the secret's name; its value is `secret_value`
    secret_value: str
    network: str
    node: LabNode  # where the placement constraint puts it
    other: LabNode  # a node where it must not run


def running_tasks(lab: SwarmLab, service_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = lab.client().api.tasks(filters={"service": service_id})
    return [t for t in tasks if t["Status"]["State"] == "running"]


def the_running_task(lab: SwarmLab, service_id: str, not_id: str = "", timeout: float = 60) -> dict[str, Any]:
    """The service's one running task (other than ``not_id``), once there is exactly one."""
    found: list[dict[str, Any]] = []

    def one() -> bool:
        found[:] = [t for t in running_tasks(lab, service_id) if t["ID"] != not_id]
        return len(found) == 1

    wait_until(lambda: f"one running task of service {service_id} (now {len(found)})", one, timeout)
    return found[0]


def node_id(lab: SwarmLab, hostname: str) -> str:
    return str(lab.client().nodes.get(hostname).id)


@pytest.fixture(scope="module")
def pinned(lab: SwarmLab, standin_image: str) -> Iterator[Pinned]:
    manager = lab.client()
    node, other = lab.workers
    lab.label_node(node.name, {PLACEMENT_LABEL: UNIQUE})
    network = manager.networks.create(NAME, driver="overlay", attachable=True)
    value = secrets.token_urlsafe(24)
    secret = manager.secrets.create(name=NAME, data=value.encode())
    token = f"answer-{UNIQUE}"
    start = time.monotonic()
    service = manager.services.create(
        standin_image, ["sh", "-c", SERVER], name=NAME, env=[f"TOKEN={token}"], networks=[NAME],
        constraints=[f"node.labels.{PLACEMENT_LABEL} == {UNIQUE}"], endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        secrets=[docker.types.SecretReference(secret.id, NAME, uid="1000", gid="1000", mode=0o400)],
        stop_grace_period=10**9,  # python3 as PID 1 ignores SIGTERM: do not wait Docker's default 10 s
    )
    the_running_task(lab, service.id)
    print(f"service {NAME} running after {time.monotonic() - start:.1f} s")
    yield Pinned(service.id, token, NAME, value, NAME, node, other)
    try:
        service.remove()
    except docker.errors.NotFound:
        pass
    remove_eventually(secret)
    remove_eventually(network)
    lab.label_node(node.name, {PLACEMENT_LABEL: None})


def test_three_nodes_are_ready_one_manager_and_workers_refuse_cluster_calls(lab: SwarmLab) -> None:
    """The backend talks to a manager only (CONTRACT.md §8 ``manager:``); workers pull from the registry."""
    nodes = lab.client().nodes.list()
    seen = sorted((n.attrs["Description"]["Hostname"], n.attrs["Spec"]["Role"], n.attrs["Status"]["State"], n.attrs["Spec"]["Availability"])
                  for n in nodes)
    assert seen == [(n.name, n.role, "ready", "active") for n in lab.nodes]
    assert [n.attrs["Description"]["Hostname"] for n in nodes if n.attrs.get("ManagerStatus", {}).get("Leader")] == [lab.manager.name]
    for worker in lab.workers:
        with pytest.raises(docker.errors.APIError, match="not a swarm manager"):
            lab.client(worker.name).services.list()
        assert lab.client(worker.name).info()["RegistryConfig"]["IndexConfigs"][lab.registry]["Secure"] is False


def test_an_image_pinned_by_digest_runs_where_the_node_label_says_and_answers_on_tasks_dns_from_another_node(lab: SwarmLab, pinned: Pinned,
                                                                                                            standin_image: str) -> None:
    """Pools are services pinned to a node by placement, images by registry digest, reached by
    ``tasks.<service>`` (dnsrr: no IPVS here) over an overlay from any node."""
    task = the_running_task(lab, pinned.service_id)
    assert task["NodeID"] == node_id(lab, pinned.node.name)
    assert task["Spec"]["ContainerSpec"]["Image"] == standin_image
    assert lab.client().api.inspect_service(pinned.service_id)["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"
    # The node pulled it from the lab registry by that digest.
    assert standin_image in lab.client(pinned.node.name).images.get(standin_image).attrs["RepoDigests"]
    address = next(a["Addresses"][0].split("/")[0] for a in task["NetworksAttachments"] if a["Network"]["Spec"]["Name"] == pinned.network)
    probe = f"nslookup tasks.{NAME} | grep -A9 '^Name:' | grep Address; wget -qO- http://tasks.{NAME}:8080/"
    out = lab.client(pinned.other.name).containers.run(standin_image, ["sh", "-c", probe], network=pinned.network, remove=True).decode()
    assert out.splitlines() == [f"Address: {address}", pinned.token]


def update_stored_spec(lab: SwarmLab, service_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    """A service update that sends the stored spec back with only ``change`` applied: the spec as
    inspected without Docker's defaults filled in, every other field verbatim."""
    api = lab.client().api
    inspected = api.inspect_service(service_id)
    spec = inspected["Spec"]
    change(spec)
    api.update_service(service_id, inspected["Version"]["Index"], task_template=spec["TaskTemplate"], name=spec["Name"], labels=spec.get("Labels"),
                       mode=spec["Mode"], update_config=spec.get("UpdateConfig"), rollback_config=spec.get("RollbackConfig"),
                       endpoint_spec=spec.get("EndpointSpec"))


def test_a_service_label_update_keeps_the_task_and_a_task_template_change_replaces_it(lab: SwarmLab, pinned: Pinned) -> None:
    """The backend keeps revision and spec hash on service labels because writing them replaces no
    task (bots keep running), provided the rest of the spec goes back as stored. The same labels on
    the task template's containers replace the task, and so does the SDK's own ``Service.update(labels=…,
    fetch_current_spec=True)``: it reads the spec with Docker's defaults inserted (RestartPolicy,
    Resources, Placement, DNSConfig) and sends them back as a task template change."""
    api = lab.client().api
    task = the_running_task(lab, pinned.service_id)
    version = api.inspect_service(pinned.service_id)["Version"]["Index"]
    update_stored_spec(lab, pinned.service_id, lambda spec: spec.update(Labels={"fleetops.revision": "2", "fleetops.spec-hash": UNIQUE}))
    updated = api.inspect_service(pinned.service_id)
    assert updated["Version"]["Index"] > version
    assert updated["Spec"]["Labels"] == {"fleetops.revision": "2", "fleetops.spec-hash": UNIQUE}
    deadline = time.monotonic() + 3  # the orchestrator replaces a task within ~1 s of a task template change (below)
    while time.monotonic() < deadline:
        tasks = api.tasks(filters={"service": pinned.service_id})
        assert [(t["ID"], t["Status"]["State"], t["DesiredState"]) for t in tasks] == [(task["ID"], "running", "running")]
        time.sleep(0.25)

    start = time.monotonic()
    update_stored_spec(lab, pinned.service_id, lambda spec: spec["TaskTemplate"]["ContainerSpec"].update(Labels={"fleetops.revision": "3"}))
    replacement = the_running_task(lab, pinned.service_id, not_id=task["ID"])
    print(f"container label update: new task running after {time.monotonic() - start:.1f} s")
    assert replacement["NodeID"] == task["NodeID"]  # the update kept the placement
    assert api.tasks(filters={"id": task["ID"]})[0]["DesiredState"] == "shutdown"

    service = lab.client().services.get(pinned.service_id)
    service.update(labels={"fleetops.revision": "4"}, fetch_current_spec=True)
    the_running_task(lab, pinned.service_id, not_id=replacement["ID"])


def test_a_secret_is_a_file_under_run_secrets_in_the_task_and_nowhere_in_the_specs(lab: SwarmLab, pinned: Pinned) -> None:
    """Per-node agent credentials are delivered as Swarm secrets: a file owned by the bot user,
    mode 0400, whose value no service, task or secret inspection shows."""
    task = the_running_task(lab, pinned.service_id)
    container = lab.client(pinned.node.name).containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    path = f"/run/secrets/{pinned.secret}"
    code, out = container.exec_run(["sh", "-c", f"cat {path}; echo; stat -c '%u:%g %a' {path}"])
    assert (code, out.decode().splitlines()) == (0, [pinned.secret_value, "1000:1000 400"])
    manager = lab.client()
    inspected = [manager.api.inspect_service(pinned.service_id), task, manager.secrets.get(pinned.secret).attrs]
    assert pinned.secret_value not in json.dumps(inspected)


def test_load_copies_a_host_image_into_a_node_engine_under_its_name(lab: SwarmLab, standin_image: str) -> None:
    """What a manager that built or pulled an image itself looks like: the backend pushes the fleet's
    images to the registry from its own engine (the manager's, on the lab). Only the nodes named get it."""
    host = swarm_lab.host_client()
    image = host.images.get("fleetops/standin-bot:1")
    lab.load("fleetops/standin-bot:1", [lab.manager.name], host)
    assert lab.client().images.get("fleetops/standin-bot:1").id == image.id
    with pytest.raises(docker.errors.ImageNotFound):
        lab.client(lab.workers[0].name).images.get("fleetops/standin-bot:1")
