"""The swarm backend's no-op check (``engine.backend.swarm.noop``): facts from what the units saw, checked
again over the manager's local socket with the stdlib alone — here a unix-socket HTTP server answering
from the fake swarm, as dockerd answers ``GET /services``, ``/tasks`` and ``/nodes``."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.backend.port import UnitSeen
from engine.backend.swarm import noop
from engine.backend.swarm.units import SwarmUnits
from engine.naming import Labels
from tests.swarm_unit.conftest import FLEET, definition
from tests.swarm_unit.fake_sdk import FakeSwarm


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def socket_of(tmp_path: Path) -> Iterator[Callable[[FakeSwarm], str]]:
    servers: list[_Server] = []

    def serve(swarm: FakeSwarm) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                filters = json.loads(parse_qs(url.query).get("filters", ["{}"])[0])
                path = url.path.split("/", 2)[2]
                answer = {"services": lambda: swarm.services(filters or None), "tasks": lambda: swarm.tasks(filters or None),
                          "nodes": lambda: swarm.nodes()}[path]()
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

        path = str(tmp_path / f"docker{len(servers)}.sock")
        server = _Server(path, Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"unix://{path}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def proved(units: SwarmUnits, state_dir: Path, enabled: tuple[str, ...] = ()) -> dict[str, object]:
    listed = {u.name: u for u in units.units()}
    inspected = units.inspect(sorted(listed))
    seen = {name: UnitSeen(listed[name], inspected[name], enabled) for name in listed}
    return noop.facts(state_dir, FLEET, seen, units.observed())


def test_facts_hold_until_a_service_a_task_or_a_node_changes(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm,
                                                             socket_of: Callable[[FakeSwarm], str], tmp_path: Path) -> None:
    units = make_units()
    units.place({"crypto-bot-solo": "node2id"}, {})
    service_id = units.create(definition("crypto-bot-solo", pool=None, bots=("solo",)), revision=1)
    target = socket_of(swarm)
    facts = proved(units, tmp_path)
    assert noop.holds(tmp_path, target, FLEET, facts)
    swarm.services_[service_id]["Spec"]["Labels"][Labels.SPEC_HASH] = "edited"  # changed by hand…
    swarm.services_[service_id]["Version"]["Index"] += 1  # …which Swarm records as a new spec version
    assert not noop.holds(tmp_path, target, FLEET, facts)
    facts = proved(units, tmp_path)
    swarm.kill_task("crypto-bot-solo")  # the bot died and Swarm started another task
    assert not noop.holds(tmp_path, target, FLEET, facts)
    facts = proved(units, tmp_path)
    swarm.node("w1")["Status"]["State"] = "down"
    assert not noop.holds(tmp_path, target, FLEET, facts)
    swarm.node("w1")["Status"]["State"] = "ready"
    (tmp_path / "runtime" / FLEET / "crypto-bot-solo" / "records").mkdir(parents=True)
    assert not noop.holds(tmp_path, target, FLEET, facts)  # a record written since


def test_a_pool_with_enabled_bots_or_a_remote_manager_never_holds(make_units: Callable[..., SwarmUnits], swarm: FakeSwarm,
                                                                   socket_of: Callable[[FakeSwarm], str], tmp_path: Path) -> None:
    units = make_units()
    units.place({"crypto-standard-1": "node2id"}, {})
    units.create(definition(), revision=1)
    target = socket_of(swarm)
    assert noop.holds(tmp_path, target, FLEET, proved(units, tmp_path))
    assert not noop.holds(tmp_path, target, FLEET, proved(units, tmp_path, enabled=("a", "b")))  # only the agent knows they run
    assert not noop.holds(tmp_path, "tcp://127.0.0.1:2375", FLEET, proved(units, tmp_path))
    assert not noop.holds(tmp_path, "unix:///nonexistent/docker.sock", FLEET, proved(units, tmp_path))
