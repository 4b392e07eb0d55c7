"""Benchmark: the node agents on a real 3-node swarm lab (tests/support/swarm_lab.py, branch i19-lab).

Creates, as the Swarm backend will: the fleet's overlay network, one agent service per node from
``agent_spec`` (its code as a config, its credential as a secret, /var/lib/fleetops and the
cgroups bound, pinned by node id), the channel's server on the lab's gateway (the controller's
address as nodes reach it), and one pool service of two programs on node2 whose files the agent
wrote. Prints, in s or ms: the agents' connection after their services are created; a one-program
restart (and whether the neighbour's PID, the task and the service's spec version stayed); the
round trip of a command to a node across the lab network; a bot's ping relayed from another
node's agent across the overlay; how soon a partitioned node is unreachable, and how soon after
healing it answers commands again (its poll cut and made again on the heartbeat's word).
Usage: python benchmarks/agent_swarm.py   (under the shared Docker lock; ~40 s with images cached)
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker.types  # noqa: E402

from engine.backend.port import ListedUnit, UnitFiles  # noqa: E402
from engine.backend.swarm.agent_spec import agent_service  # noqa: E402
from engine.backend.swarm.bots import SwarmBots  # noqa: E402
from engine.backend.swarm.channel import AgentChannel  # noqa: E402
from engine.backend.swarm.credentials import Credentials  # noqa: E402
from engine.backend.swarm.routes import AgentServer  # noqa: E402
from engine.live.relay import RelayProbe  # noqa: E402
from tests.support import running_lab, swarm_lab  # noqa: E402

FLEET = "benchfleet"
IMAGE = "fleetops/base:1"
PONG = b"""import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Pong(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "pong"}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
HTTPServer(("0.0.0.0", int(sys.argv[1])), Pong).serve_forever()
"""


def pool_conf(programs: dict[str, int]) -> bytes:
    head = ("[unix_http_server]\nfile=/fleet/data/supervisor.sock\nchmod=0700\n\n[supervisord]\nnodaemon=true\n"
            "logfile=/fleet/data/supervisord.log\npidfile=/tmp/supervisord.pid\nchildlogdir=/tmp\n\n"
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n")
    return (head + "".join(f"\n[program:{name}]\ncommand=python3 -u /fleet/etc/preload/pong.py {port}\ndirectory=/fleet/data/bots/{name}\n"
                           f"autostart=true\nstartsecs=0\nstopwaitsecs=5\nredirect_stderr=true\nstdout_logfile=/fleet/data/bots/{name}/bot.log\n"
                           for name, port in programs.items())).encode()


def ms(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), sorted(times)[int(repeat * 0.95) - 1]


def since(start: float) -> str:
    return f"{time.monotonic() - start:.1f} s"


def main() -> int:
    swarm_lab.build_images()
    host = running_lab.host_client()
    lab = swarm_lab.stand_up()
    rows: list[tuple[str, str]] = []
    try:
        lab.load(IMAGE)
        manager = lab.client()
        for node in lab.nodes:  # Swarm refuses a bind whose source is missing: a node's one-time setup
            host.containers.get(node.name).exec_run(["mkdir", "-p", "/var/lib/fleetops"])
        manager.networks.create(f"fleetops-{FLEET}", driver="overlay", attachable=True)
        with socket.socket() as probe:
            probe.bind((lab.gateway, 0))
            port = probe.getsockname()[1]
        channel = AgentChannel(FLEET, Credentials(Path(tempfile.mkdtemp(prefix="agent-swarm-")) / "agents"))
        server = AgentServer({FLEET: channel}, lab.gateway, port)
        server.start()
        nodes = {n.attrs["Description"]["Hostname"]: n.id for n in manager.nodes.list()}
        start = time.monotonic()
        for hostname, node_id in nodes.items():
            spec = agent_service(FLEET, hostname, node_id, image=IMAGE, controller=f"http://{lab.gateway}:{port}",
                                 credential=channel.credentials.issue(hostname))
            found = manager.configs.list(filters={"name": spec.config_name})
            config = found[0] if found else manager.configs.create(name=spec.config_name, data=spec.config_data)
            secret = manager.secrets.create(name=spec.secret_name, data=spec.secret_data)
            arguments = spec.create_arguments()
            arguments.pop("mode")  # replicated, 1: the SDK's default
            arguments["endpoint_spec"] = docker.types.EndpointSpec(mode="dnsrr")
            arguments["restart_policy"] = docker.types.RestartPolicy(condition="any", delay=10**9)
            manager.services.create(**arguments,
                                    configs=[docker.types.ConfigReference(config.id, spec.config_name, filename=spec.config_target, mode=0o444)],
                                    secrets=[docker.types.SecretReference(secret.id, spec.secret_name, filename=spec.secret_target, mode=0o400)])
        running_lab.wait_until(lambda: f"agents connected: {channel.nodes()}", lambda: len(channel.nodes()) == len(nodes), 120)
        rows.append(("3 agent services created → all connected", since(start)))

        near, far = sorted(nodes)[1], sorted(nodes)[2]
        unit = f"{FLEET}-pool-1"
        bots = SwarmBots(channel, lambda _unit: near, dedicated=None)  # type: ignore[arg-type]
        bots.put_unit(unit, UnitFiles(pool_conf({"alpha": 8081, "beta": 8082}), {"alpha": 1000, "beta": 1000}, preload={"pong.py": PONG}))
        files = f"/var/lib/fleetops/{FLEET}/{unit}"
        manager.services.create(IMAGE, ["supervisord", "-c", "/fleet/etc/supervisord.conf"], name=unit, constraints=[f"node.id == {nodes[near]}"],
                                mounts=[f"{files}/etc:/fleet/etc:ro", f"{files}/data:/fleet/data:rw"], networks=[f"fleetops-{FLEET}"],
                                endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"))

        def both_running() -> bool:
            table = bots.processes([unit])[unit]
            return isinstance(table, dict) and len(table) == 2 and all(p.state == "RUNNING" for p in table.values())
        running_lab.wait_until(lambda: "both programs running", both_running, 120)
        service = manager.services.get(unit)
        tasks, version, before = [t["ID"] for t in service.tasks()], service.attrs["Version"]["Index"], bots.processes([unit])[unit]
        restart = ms(lambda: bots.restart_bot(unit, "alpha", dedicated=False), 1)[0]
        after = bots.processes([unit])[unit]
        service.reload()
        same = (after["beta"] == before["beta"], [t["ID"] for t in service.tasks()] == tasks, service.attrs["Version"]["Index"] == version)  # type: ignore[index]
        rows.append(("restart one program (beta's pid, task, spec version unchanged)", f"{restart:.0f} ms {same}"))
        rows.append(("command round trip to a node (median, p95 of 200)", "{:.2f} ms, {:.2f} ms".format(*ms(lambda: channel.call(far, "ping", {}), 200))))
        probe = RelayProbe({FLEET: channel})
        address = f"{FLEET}/{far}/{unit}"
        running_lab.wait_until(lambda: "alpha answering", lambda: probe.ping(address, 8081).ok, 30)
        rows.append(("bot ping relayed by another node's agent (median, p95 of 50)", "{:.2f} ms, {:.2f} ms".format(*ms(lambda: probe.ping(address, 8081), 50))))
        assert bots.address_of(ListedUnit("", unit, {}, "running", None), 8081) == (f"{FLEET}/{near}/{unit}", 8081)

        start = time.monotonic()
        lab.partition(near)
        running_lab.wait_until(lambda: "the partitioned node unreachable", lambda: channel.unreachable([near]) == {near}, 60)
        rows.append(("node partitioned → unreachable", since(start)))
        time.sleep(25)  # past a poll's wait: the server answers the node's open poll into the void
        lab.heal(near)
        start = time.monotonic()
        running_lab.wait_until(lambda: "commands answered again", lambda: isinstance(bots.processes([unit], timeout=2.0)[unit], dict), 60)
        rows.append(("partition of 35 s healed → commands answered again", since(start)))
        server.stop()
    finally:
        swarm_lab.tear_down(lab.prefix, host)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
