"""The node agent as a swarm node runs it, on the real Docker engine (no swarm needed for this part).

The agent runs in a container of the fleet image (``fleetops/base:1``: Debian's python3 and
supervisor, nothing else) on ``agent.pyz``, with the node's root bind-mounted at
``/var/lib/fleetops``, its credential as a file under ``/run/secrets`` and the host's cgroup tree,
as ``agent_spec`` describes its service; a pool unit's task is another container of the same
image running supervisord on the conf the agent wrote, binding its socket at
``/fleet/data/supervisor.sock`` as in every pool. The controller's channel and routes run in
this process. So: the image's own interpreter runs the agent, the agent reaches a supervisord
whose socket a task bound, and reads a task's memory from the node's cgroups.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from engine.backend.port import UnitFiles
from engine.backend.swarm.agent_spec import AGENT_ROOT, CGROUP_MOUNT, CODE_PATH
from engine.backend.swarm.bots import SwarmBots
from engine.backend.swarm.channel import AgentChannel
from engine.backend.swarm.credentials import Credentials, credentials_dir
from engine.backend.swarm.routes import AgentServer
from engine.naming import Labels
from tests.integration.conftest import FLEET, remove_fleet
from tests.support.agent_node import wait_for, write_agent_zip

IMAGE = "fleetops/base:1"
UNIT = f"{FLEET}-pool-1"
SLEEPER = "python3 -u -c \"import os, time; print('started', os.getpid(), flush=True); time.sleep(3600)\""


def pool_conf(programs: list[str]) -> bytes:
    """A pool's supervisord.conf with the paths a task sees (/fleet/etc, /fleet/data)."""
    head = ("[unix_http_server]\nfile=/fleet/data/supervisor.sock\nchmod=0700\n\n[supervisord]\nnodaemon=true\n"
            "logfile=/fleet/data/supervisord.log\npidfile=/tmp/supervisord.pid\nchildlogdir=/tmp\n\n"
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n")
    return (head + "".join(f"\n[program:{p}]\ncommand={SLEEPER}\ndirectory=/fleet/data/bots/{p}\nautostart=true\nstartsecs=0\n"
                           f"stopwaitsecs=5\nredirect_stderr=true\nstdout_logfile=/fleet/data/bots/{p}/bot.log\n" for p in programs)).encode()


@pytest.fixture
def node_root(docker_api: docker.APIClient) -> Iterator[Path]:
    remove_fleet(docker_api, FLEET)
    with tempfile.TemporaryDirectory(prefix="agent-node-") as base:
        yield Path(base)
    remove_fleet(docker_api, FLEET)


def test_the_agent_runs_on_the_fleet_images_python_and_drives_a_tasks_supervisord(docker_api: docker.APIClient, node_root: Path) -> None:
    client = docker.DockerClient(version="1.41")
    channel = AgentChannel(FLEET, Credentials(credentials_dir(node_root / "state", FLEET)))
    (node_root / "root").mkdir()
    secret = node_root / "credential"
    secret.write_text(channel.credentials.issue("node1"))
    labels = {Labels.FLEET: FLEET}
    with AgentServer({FLEET: channel}, "127.0.0.1", 0) as server:
        agent = client.containers.run(
            IMAGE, ["python3", CODE_PATH, "--controller", f"http://127.0.0.1:{server.port}", "--fleet", FLEET, "--node", "node1",
                    "--credential-file", "/run/secrets/credential", "--root", AGENT_ROOT, "--cgroup-root", CGROUP_MOUNT, "--heartbeat", "0.5"],
            name=f"{FLEET}-agent-node1", detach=True, network_mode="host", labels=labels,
            volumes={str(node_root / "root"): {"bind": AGENT_ROOT, "mode": "rw"},
                     str(write_agent_zip(node_root)): {"bind": CODE_PATH, "mode": "ro"},
                     str(secret): {"bind": "/run/secrets/credential", "mode": "ro"},
                     "/sys/fs/cgroup": {"bind": CGROUP_MOUNT, "mode": "ro"}})
        wait_for("the agent to connect", lambda: "node1" in channel.nodes(), timeout=30)
        bots = SwarmBots(channel, lambda unit: "node1", dedicated=None)  # type: ignore[arg-type]
        bots.put_unit(UNIT, UnitFiles(pool_conf(["alpha", "beta"]), {"alpha": None, "beta": None}))
        unit_dir = node_root / "root" / FLEET / UNIT
        task = client.containers.run(IMAGE, ["supervisord", "-c", "/fleet/etc/supervisord.conf"], name=UNIT, detach=True, labels=labels,
                                     volumes={str(unit_dir / "etc"): {"bind": "/fleet/etc", "mode": "ro"},
                                              str(unit_dir / "data"): {"bind": "/fleet/data", "mode": "rw"}})

        def running() -> bool:
            table = bots.processes([UNIT])[UNIT]
            return isinstance(table, dict) and len(table) == 2 and all(p.state == "RUNNING" for p in table.values())
        wait_for("both programs running in the task", running, timeout=30)
        before = bots.processes([UNIT])[UNIT]
        bots.restart_bot(UNIT, "alpha", dedicated=False)
        after = bots.processes([UNIT])[UNIT]
        assert after["alpha"].pid != before["alpha"].pid and after["beta"] == before["beta"]  # type: ignore[index]
        bots.stop_bot(UNIT, "alpha", dedicated=False)
        assert bots.processes([UNIT])[UNIT]["alpha"].state == "STOPPED"  # type: ignore[index]
        assert "started" in bots.bot_log(UNIT, "beta")

        task.reload()
        used = bots.memory({UNIT: task.id, "testfleet-pool-9": None})
        assert isinstance(used[UNIT], int) and used[UNIT] > 1 << 20 and used["testfleet-pool-9"] is None  # type: ignore[operator]
        agent.reload()
        assert agent.status == "running" and secret.read_text() not in agent.logs().decode()
