"""The fleet's images in its registry, pinned by digest (``engine.backend.swarm.images``), through the manager."""

from __future__ import annotations

import git
import pytest

from engine.backend.swarm.api import SwarmManager
from engine.backend.swarm.images import RegistryImages, image_stamps, split_reference
from engine.compile.desired import compile_fleet, restamped
from engine.errors import DockerError
from engine.spec.load import load_fleet
from tests.swarm_unit.conftest import IMAGE, IMAGE_ID, REGISTRY
from tests.swarm_unit.fake_sdk import FakeSwarm

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("reference", "parts"), [
    ("fleetops/standin-bot:1", (None, "fleetops/standin-bot", "1", None)),
    ("freqtradeorg/freqtrade", (None, "freqtradeorg/freqtrade", None, None)),
    ("10.0.0.5:5000/a/b:2", ("10.0.0.5:5000", "a/b", "2", None)),
    ("localhost/x", ("localhost", "x", None, None)),
    (f"ghcr.io/o/x:3@{DIGEST}", ("ghcr.io", "o/x", "3", DIGEST)),
    (f"reg:5000/x@{DIGEST}", ("reg:5000", "x", None, DIGEST)),
])
def test_references_are_taken_apart_as_dockers_grammar_reads_them(reference: str, parts: tuple[str | None, ...]) -> None:
    name = split_reference(reference)
    assert (name.domain, name.path, name.tag, name.digest) == parts


def test_an_image_is_pushed_once_and_pinned_by_the_digest_the_registry_answered(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    images = RegistryImages(manager, REGISTRY)
    assert images.known(IMAGE) is None  # the plan's question: never pushed, so no digest yet, and nothing changed
    assert "push" not in swarm.calls and "tag" not in swarm.calls
    pinned = images.pinned(IMAGE)
    digest = swarm.registry[f"{REGISTRY}/fleetops/standin-bot:1"]
    assert pinned == f"{REGISTRY}/fleetops/standin-bot@{digest}"
    fresh = RegistryImages(manager, REGISTRY)  # the next plan and apply
    assert fresh.known(IMAGE) == pinned and fresh.pinned(IMAGE) == pinned
    assert swarm.calls.count("push") == 1


def test_a_rebuilt_image_under_the_same_tag_is_pushed_again_under_a_new_digest(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    first = RegistryImages(manager, REGISTRY).pinned(IMAGE)
    rebuilt = "sha256:" + "9" * 64
    swarm.images[IMAGE_ID]["RepoTags"].remove(IMAGE)
    swarm.images[rebuilt] = {"Id": rebuilt, "RepoTags": [IMAGE], "RepoDigests": []}
    images = RegistryImages(manager, REGISTRY)
    assert images.known(IMAGE) is None
    second = images.pinned(IMAGE)
    assert second != first and second.startswith(f"{REGISTRY}/fleetops/standin-bot@sha256:")


def test_a_wiped_registry_gets_the_image_again(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    pinned = RegistryImages(manager, REGISTRY).pinned(IMAGE)
    swarm.registry.clear()
    assert RegistryImages(manager, REGISTRY).pinned(IMAGE) == pinned
    assert swarm.calls.count("push") == 2


def test_an_image_already_in_the_registry_by_digest_is_used_as_written(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    reference = f"{REGISTRY}/fleetops/standin-bot@{DIGEST}"
    assert RegistryImages(manager, REGISTRY).pinned(reference) == reference
    assert swarm.calls == []
    swarm.registry[f"{REGISTRY}/other:2"] = DIGEST  # in the registry by tag only, not on the manager
    assert RegistryImages(manager, REGISTRY).pinned(f"{REGISTRY}/other:2") == f"{REGISTRY}/other@{DIGEST}"


def test_an_image_the_manager_does_not_have_is_a_sentence_saying_where_to_pull_it(swarm: FakeSwarm) -> None:
    images = RegistryImages(SwarmManager("tcp://127.0.0.1:2375", client=swarm), REGISTRY)
    with pytest.raises(DockerError, match=r"^image freqtradeorg/freqtrade:stable is not on the swarm manager at tcp://127.0.0.1:2375: pull "
                                          r"or build it there \(docker pull freqtradeorg/freqtrade:stable\), and fleetops pushes it to "
                                          r"10.0.0.5:5000 for every node$"):
        images.pinned("freqtradeorg/freqtrade:stable")


def test_a_registry_with_a_prefix_keeps_it(swarm: FakeSwarm) -> None:
    images = RegistryImages(SwarmManager("tcp://127.0.0.1:2375", client=swarm), f"{REGISTRY}/fleet")
    assert images.target("ghcr.io/o/x:3") == (f"{REGISTRY}/fleet/o/x", "3")
    assert images.pinned(IMAGE).startswith(f"{REGISTRY}/fleet/fleetops/standin-bot@sha256:")


def test_the_plan_shows_each_units_digest_through_the_stamps_restamped_takes(base_repo: git.Repo, swarm: FakeSwarm) -> None:
    """Pinned where the registry has the image; left as written (to be pushed at apply) where not yet."""
    fleet = compile_fleet(load_fleet(base_repo.working_dir).spec)
    images = RegistryImages(SwarmManager("tcp://127.0.0.1:2375", client=swarm), REGISTRY)
    assert image_stamps(fleet, images.known) == {}
    stamped = restamped(fleet, {}, image_stamps(fleet, images.pinned))
    digest = swarm.registry[f"{REGISTRY}/fleetops/standin-bot:1"]
    assert {c.essence.image for c in stamped.containers.values()} == {f"{REGISTRY}/fleetops/standin-bot@{digest}"}
    assert all(stamped.containers[n].hash != fleet.containers[n].hash for n in fleet.containers)
    assert image_stamps(stamped, RegistryImages(SwarmManager("tcp://127.0.0.1:2375", client=swarm), REGISTRY).known) == {}
