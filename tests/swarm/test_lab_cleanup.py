"""The lab cleans up after itself and after killed runs, and removes nothing that is not its own."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import docker
import docker.errors
import docker.types
import pytest

from tests.support import swarm_lab
from tests.support.swarm_lab import LAB_LABEL, OWNER_LABEL, REGISTRY_IMAGE, SwarmLab


def exists(collection: object, name: str) -> bool:
    try:
        collection.get(name)  # type: ignore[attr-defined]
    except docker.errors.NotFound:
        return False
    return True


@pytest.fixture
def host() -> Iterator[docker.DockerClient]:
    client = swarm_lab.host_client()
    yield client
    client.close()


def test_leftovers_of_a_killed_run_go_and_live_kept_and_unlabelled_resources_stay(lab: SwarmLab, host: docker.DockerClient) -> None:
    """A killed test run leaves its lab behind; the next stand-up removes it, and only it."""
    sleeper = subprocess.Popen(["sleep", "60"])
    dead_owner = swarm_lab.owner_of(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    tag = secrets.token_hex(3)
    owners = {f"lefttest-dead-{tag}": dead_owner, f"lefttest-live-{tag}": swarm_lab.owner_of(os.getpid()), f"lefttest-kept-{tag}": None}
    for prefix, owner in owners.items():
        labels = {LAB_LABEL: prefix, **({OWNER_LABEL: owner} if owner else {})}
        host.networks.create(f"{prefix}-net", labels=labels)
        host.volumes.create(f"{prefix}-node1-docker", labels=labels)
        host.containers.create(REGISTRY_IMAGE, name=f"{prefix}-node1", labels=labels)
    dead = f"lefttest-dead-{tag}"
    stray = host.volumes.create(f"{dead}-stray")  # the dead lab's name, but not its label
    try:
        assert swarm_lab.labs(host)[dead] == f"left over (pid {dead_owner.split(':')[0]} gone)"
        assert dead in swarm_lab.remove_leftovers(host)
        for prefix in owners:
            kept = prefix != dead
            assert (exists(host.networks, f"{prefix}-net"), exists(host.volumes, f"{prefix}-node1-docker"),
                    exists(host.containers, f"{prefix}-node1")) == (kept, kept, kept), prefix
        assert exists(host.volumes, stray.name)
        assert exists(host.containers, f"{lab.prefix}-node1")  # the run's own lab is alive
    finally:
        for prefix in owners:
            swarm_lab.tear_down(prefix, host)
        stray.remove()


def test_clear_leaves_a_swarm_with_no_service_secret_config_container_network_or_node_label(lab: SwarmLab, standin_image: str) -> None:
    manager = lab.client()
    name = f"cleartest-{secrets.token_hex(3)}"
    lab.label_node(lab.workers[1].name, {"fleetops.cleartest": "yes"})
    manager.networks.create(name, driver="overlay", attachable=True)
    secret = manager.secrets.create(name=name, data=b"x")
    manager.configs.create(name=name, data=b"y")
    manager.services.create(standin_image, ["sleep", "600"], name=name, networks=[name],
                            secrets=[docker.types.SecretReference(secret.id, name)], stop_grace_period=10**9)
    lab.client(lab.workers[0].name).containers.run(standin_image, ["sleep", "600"], detach=True)
    lab.clear()
    assert manager.services.list() == []
    assert manager.secrets.list() == [] and manager.configs.list() == []
    assert [n.name for n in manager.networks.list(filters={"driver": "overlay"})] == ["ingress"]
    assert [n.attrs["Spec"].get("Labels") for n in manager.nodes.list()] == [{}, {}, {}]
    assert [lab.client(node.name).containers.list(all=True) for node in lab.nodes] == [[], [], []]
