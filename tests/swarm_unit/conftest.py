"""The swarm backend's unit tests run against a small swarm behind the SDK's method names (``fake_sdk``):
the real ``engine.backend.swarm.api`` adapter on top, so what is tested is the backend's own code."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.backend.swarm.api import SwarmManager
from engine.backend.swarm.images import RegistryImages
from engine.backend.swarm.units import SwarmUnits
from engine.compile.container import MOUNTS, ContainerDefinition
from engine.naming import container_labels, network_name
from tests.swarm_unit.fake_sdk import FakeSwarm

FLEET = "crypto"
REGISTRY = "10.0.0.5:5000"
IMAGE = "fleetops/standin-bot:1"
IMAGE_ID = "sha256:" + "1" * 64


def definition(name: str = "crypto-standard-1", *, pool: str | None = "standard", bots: tuple[str, ...] = ("a", "b"),
               running: bool = True, image: str = IMAGE, memory: str | None = "512m", cpus: float | None = 0.5,
               fleet: str = FLEET) -> ContainerDefinition:
    """A unit as compile makes it (``compile.container.container_definition``'s shape)."""
    return ContainerDefinition(name=name, image=image, command=("supervisord", "-n", "-c", "/fleet/etc/supervisord.conf"),
                               labels=container_labels(fleet, pool, 1, "hash1", bots), mounts=MOUNTS, network=network_name(fleet),
                               user="0:0", environment={}, memory=memory, cpus=cpus, running=running)


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1


@pytest.fixture
def swarm() -> FakeSwarm:
    fake = FakeSwarm.with_nodes("mgr", "w1", "w2", labels={"w1": {"zone": "eu"}})
    fake.images[IMAGE_ID] = {"Id": IMAGE_ID, "RepoTags": [IMAGE], "RepoDigests": []}
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(swarm: FakeSwarm) -> SwarmManager:
    return SwarmManager("tcp://127.0.0.1:2375", client=swarm)


@pytest.fixture
def make_units(manager: SwarmManager, clock: Clock) -> Callable[..., SwarmUnits]:
    def make(fleet: str = FLEET) -> SwarmUnits:
        units = SwarmUnits(manager, fleet, RegistryImages(manager, REGISTRY), sleep=clock.sleep, clock=clock)
        units.ensure_network()
        return units

    return make
