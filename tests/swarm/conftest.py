"""The Docker Swarm lab for every test under tests/swarm (marked ``swarm`` and ``docker`` by
tests/conftest.py): 3 Docker-in-Docker nodes (1 manager, 2 workers) and a registry, stood up once
when the first test asks for it and torn down after the last test of this package (tests/support/
swarm_lab.py). Warm it costs ~3 s to stand up and ~1 s to tear down (README, Development).

``FLEETOPS_SWARM_LAB=<prefix>`` runs the tests on a lab kept by ``scripts/swarm-lab up`` instead
(left standing afterwards): for iterating on swarm tests without standing a lab up each time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.support import swarm_lab
from tests.support.swarm_fleet import SwarmFleet, applied_to_lab
from tests.support.swarm_lab import SwarmLab


@pytest.fixture(scope="package")
def lab() -> Iterator[SwarmLab]:
    """The running lab; tests name what they create uniquely, or call ``lab.clear()`` for a fresh swarm."""
    subprocess.run([str(ROOT / "scripts" / "ensure-docker")], check=True)
    kept = os.environ.get("FLEETOPS_SWARM_LAB")
    if kept:
        found = swarm_lab.find(kept)
        if found is None:
            pytest.fail(f"FLEETOPS_SWARM_LAB={kept}, but no such lab runs here: start it with `scripts/swarm-lab up --prefix {kept}`")
        yield found
        found.close()
        return
    swarm_lab.build_images()
    running = swarm_lab.stand_up()
    try:
        yield running
    finally:
        running.close()
        swarm_lab.tear_down(running.prefix)


@pytest.fixture(scope="package")
def standin_image(lab: SwarmLab) -> str:
    """fleetops/standin-bot:1 (Python 3 and busybox: a server and a client) in the lab registry, as
    nodes pull it: ``<prefix>-registry:5000/fleetops/standin-bot@sha256:…``."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "standin"], check=True)
    return lab.push("fleetops/standin-bot:1")


@pytest.fixture(scope="module")
def fleet(lab: SwarmLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    """The test fleet (tests/support/swarm_fleet.py) committed for a cleared lab swarm, one per test module;
    a module that needs it otherwise defines its own ``fleet``."""
    yield from applied_to_lab(lab, tmp_path_factory)
