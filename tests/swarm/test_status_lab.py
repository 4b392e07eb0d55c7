"""``fleetops status`` of a swarm fleet on the real lab: each unit's node and its memory, read by the node's agent.

The test fleet (tests/support/swarm_fleet.py) applied by the CLI; ``status --format json`` is then a
second CLI process, which serves the agents for its own length (no watcher runs), asks each unit's
node agent for the memory of the unit's task by its container ID (the agent reads the node's cgroups),
and lists each unit's node. Both are checked against the lab itself: the node Swarm runs the task on,
and the task container's own memory use as the node's engine reports it (``docker stats``).
"""

from __future__ import annotations

import pytest

from tests.support.swarm_fleet import SwarmFleet

pytestmark = [pytest.mark.swarm, pytest.mark.docker]


def test_status_shows_each_units_node_and_the_memory_its_agent_reads(fleet: SwarmFleet) -> None:
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    containers = {c["name"]: c for c in fleet.status()["containers"]}
    assert set(containers) == {"testfleet-standard-1", "testfleet-small-1", "testfleet-bot-solo"}
    for name, container in containers.items():
        node = fleet.node_of(name)
        assert container["node"] == node, (name, container)
        task = next(c for c in fleet.lab.client(node).containers.list(filters={"label": f"com.docker.swarm.service.name={name}"}))
        stats = task.stats(stream=False)["memory_stats"]
        engine_says = stats["usage"] - stats.get("stats", {}).get("total_inactive_file", stats.get("stats", {}).get("inactive_file", 0))
        memory = container["memory"]
        assert isinstance(memory, int) and memory > 1 << 20, (name, container)  # a supervisord and Python bots: MiBs, not bytes
        assert abs(memory - engine_says) < 32 << 20, (name, memory, engine_says)  # read a moment apart; the same cgroup
    assert containers["testfleet-standard-1"]["memory_limit"] == "1g"


def test_destroy_removes_every_service_and_the_network_and_archives_each_units_files_on_its_node(fleet: SwarmFleet) -> None:
    """``fleetops destroy`` on a swarm (engine/destroy.py): the fleet's services, node agents and overlay network go; each unit's
    directory (configs, trade databases) is archived on the node it ran on; history has it; apply brings it back."""
    import json

    from engine.naming import Labels
    from tests.support.running_lab import host_client
    from tests.support.swarm_fleet import FLEET

    assert fleet.apply().code == 0
    nodes = {name: fleet.node_of(name) for name in fleet.services()}
    assert set(nodes) == {"testfleet-standard-1", "testfleet-small-1", "testfleet-bot-solo"}
    def archives(node: str, unit: str) -> list[str]:
        return host_client().containers.get(node).exec_run(
            ["find", f"/var/lib/fleetops/.archive/{FLEET}", "-maxdepth", "1", "-name", f"*unit-{unit}"]).output.decode().split()

    before = {unit: set(archives(node, unit)) for unit, node in nodes.items()}
    done = fleet.run("destroy", "--repo", str(fleet.root), "--yes")
    assert done.code == 0, done.out + done.err
    assert done.out.splitlines()[-1].startswith(f"fleet '{FLEET}' destroyed (revision ")
    assert f"archived under each node's agent directory, under .archive/{FLEET}/" in done.out
    assert fleet.services() == {}
    assert fleet.manager.networks.list(filters={"label": f"{Labels.FLEET}={FLEET}"}) == []
    agents = {"label": f"{Labels.PREFIX}agent={FLEET}"}  # the fleet's node agents, their code and credentials: gone too
    assert fleet.manager.services.list(filters=agents) == [] and fleet.manager.configs.list(filters=agents) == []
    assert fleet.manager.secrets.list(filters=agents) == []
    for unit, node in nodes.items():
        archived = set(archives(node, unit)) - before[unit]  # the lab is the module's: earlier tests archived units too
        assert len(archived) == 1, (unit, node, archived)
    rows = json.loads(fleet.run("history", "--format", "json").out)
    assert (rows[-1]["status"], rows[-1]["subject"]) == ("applied", "fleetops destroy")
    back = fleet.apply()
    assert back.code == 0, back.out + back.err
    assert set(fleet.services()) == set(nodes)
