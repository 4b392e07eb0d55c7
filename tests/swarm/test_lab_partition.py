"""A partitioned node, as the lab makes one (``SwarmLab.partition``): what the manager and this
machine see of it, and that ``heal`` brings it back. The backend's promise 3 (no bot runs twice,
even across a partition) and its ``unreachable`` state are tested on this."""

from __future__ import annotations

import time

import docker.errors
import pytest
import requests

from tests.support.swarm_lab import SwarmLab, wait_until


def state(lab: SwarmLab, node: str) -> str:
    return str(lab.client().nodes.get(node).attrs["Status"]["State"])


def test_a_partitioned_worker_goes_down_for_the_manager_and_comes_back_ready_when_healed(lab: SwarmLab) -> None:
    worker = lab.workers[-1].name
    start = time.monotonic()
    lab.partition(worker)
    try:
        with pytest.raises((requests.exceptions.ConnectionError, docker.errors.DockerException)):
            docker.DockerClient(base_url=f"tcp://{lab.node(worker).ip}:2375", version="1.41", timeout=2).ping()
        wait_until(lambda: f"the manager sees {worker} down (now {state(lab, worker)})", lambda: state(lab, worker) == "down", 60)
        print(f"partitioned worker down for the manager after {time.monotonic() - start:.1f} s")
    finally:
        lab.heal(worker)
    start = time.monotonic()
    wait_until(lambda: f"the manager sees {worker} ready (now {state(lab, worker)})", lambda: state(lab, worker) == "ready", 60)
    print(f"healed worker ready after {time.monotonic() - start:.1f} s")
    assert lab.client(worker).ping()
    assert [state(lab, n.name) for n in lab.nodes] == ["ready"] * len(lab.nodes)
