"""The watcher over real HTTP: webhooks wake a fetch, nothing else does; health, metrics, status, token."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.errors import FleetopsError
from engine.watch.server import HttpServer, check_listen, create_app
from tests.watch.conftest import Origin, RunningWatcher

SECRET = b"hook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(origin: Origin, watching) -> Iterator[tuple[RunningWatcher, str]]:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching(interval=120.0)
    port = free_port()
    server = HttpServer(create_app(w.watcher, secret=SECRET, branch="main", token="ui-token"), "127.0.0.1", port)
    server.start()
    yield w, f"http://127.0.0.1:{port}"
    server.stop()


def push_event(body: dict[str, object], secret: bytes = SECRET, delivery: str = "d1") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
                 "X-Hub-Signature-256": "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()}


def test_a_signed_push_is_applied_at_once_and_bad_ones_trigger_nothing(origin: Origin, served: tuple[RunningWatcher, str]) -> None:
    w, url = served
    w.until(lambda: w.applied() is not None, what="the first apply")
    new = origin.push("tighten", origin.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09"))
    fetches = w.watcher.fetches
    for body, headers, status in [
        (*push_event({"ref": "refs/heads/main"}, secret=b"wrong"), 401),
        (b"x" * (1 << 20) + b"x", {"X-Hub-Signature-256": "sha256=00"}, 413),
        (*push_event({"ref": "refs/heads/other"}, delivery="d0"), 202),
    ]:
        assert httpx.post(f"{url}/hooks/git", content=body, headers=headers).status_code == status
    time.sleep(0.5)
    assert w.watcher.fetches == fetches and w.applied() != new  # none of them fetched (the poll interval is 120 s)
    body, headers = push_event({"ref": "refs/heads/main", "after": "0" * 40})  # the claimed SHA is never used
    started = time.monotonic()
    assert httpx.post(f"{url}/hooks/git", content=body, headers=headers).status_code == 202
    w.until(lambda: w.applied() == new, timeout=10, what="the webhook-triggered apply")
    assert time.monotonic() - started < 10
    assert httpx.post(f"{url}/hooks/git", content=body, headers=headers).json()["result"] == "duplicate delivery ignored"


def test_health_metrics_and_status(served: tuple[RunningWatcher, str]) -> None:
    w, url = served
    w.until(lambda: w.applied() is not None and w.watcher.view is not None, what="apply and a heal")
    auth = {"Authorization": "Bearer ui-token"}
    assert httpx.get(f"{url}/healthz").json()["ok"] is True  # open: liveness probes carry no token
    assert httpx.get(f"{url}/metrics").status_code == 401 and httpx.get(f"{url}/api/status").status_code == 401
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics", headers=auth).text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("fleetops_applies_total", (("result", "applied"),))] == 1
    assert samples[("fleetops_revision", ())] == 1
    assert samples[("fleetops_bots", (("state", "running"),))] == 5
    assert samples[("fleetops_bot_health", (("status", "healthy"),))] == 5 and samples[("fleetops_bot_health", (("status", "failed"),))] == 0
    assert samples[("fleetops_pool_bots", (("pool", "standard"),))] == 3
    assert samples[("fleetops_pool_capacity", (("pool", "standard"),))] == 3
    assert samples[("fleetops_quarantined_commits", ())] == 0
    assert samples[("fleetops_last_fetch_timestamp_seconds", ())] > time.time() - 60
    assert "fleetops_apply_duration_seconds" in families and "fleetops_commit_to_healthy_seconds" in families
    status = httpx.get(f"{url}/api/status", headers=auth).json()
    assert status["fleet"] == "testfleet" and status["queue"]["applied"] == w.applied()
    pools = {c["name"]: [b["name"] for b in c["bots"]] for c in status["containers"]}
    assert pools["testfleet-standard-1"] == ["alpha-1", "alpha-2", "beta-1"]
    assert {b["health"]["status"] for c in status["containers"] for b in c["bots"]} == {"healthy"}


def test_a_public_address_needs_a_token() -> None:
    with pytest.raises(FleetopsError, match="refusing to listen on 0.0.0.0 without a token"):
        check_listen("0.0.0.0", None)
    check_listen("0.0.0.0", "t")
    check_listen("127.0.0.1", None)
    check_listen("::1", None)


def test_node_agents_reach_their_routes_with_their_own_credential_past_the_ui_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.backend.swarm.channel import AgentChannel
    from engine.backend.swarm.credentials import Credentials
    from engine.backend.swarm.routes import agent_app

    channel = AgentChannel("testfleet", Credentials(tmp_path / "agents"))
    credential = channel.credentials.issue("node1")
    port = free_port()
    server = HttpServer(create_app(None, secret=None, branch="", token="ui-token", agents=agent_app({"testfleet": channel})), "127.0.0.1", port)
    server.start()
    try:
        polls = f"http://127.0.0.1:{port}/agent/v1/testfleet/node1/commands?wait=0"
        assert httpx.get(polls, headers={"Authorization": f"Bearer {credential}"}).json() == {"commands": []}
        assert httpx.get(polls, headers={"Authorization": "Bearer ui-token"}).status_code == 401  # the UI token is no agent's
        assert httpx.get(polls).json() == {"error": "this node's credential is not accepted"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"Bearer {credential}"}).status_code == 401
        assert channel.nodes() == ["node1"]
    finally:
        server.stop()


def test_the_watchers_server_serves_the_agents_of_the_swarm_fleets_its_backends_open(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A watcher with --listen serves the node agents itself (engine.watch.runner): the swarm backend it opens later
    puts each fleet's channel into the shared mapping and starts no server of its own on backend.controller."""
    from engine.backend.registry import BackendOptions
    from engine.backend.values import BackendChoice
    from engine.context import Context
    from engine.live.adapters import RealConnector
    from engine.watch.runner import _serve_agents

    agents: dict[str, object] = {}
    ctx = Context(tmp_path, RealConnector(BackendOptions(tmp_path)))
    app = _serve_agents(ctx, agents)
    port = free_port()
    ctx.use(BackendChoice.of({"kind": "swarm", "manager": "tcp://127.0.0.1:1", "registry": "r:5000", "controller": f"http://127.0.0.1:{port}"}))
    ctx.site("testfleet")
    assert list(agents) == ["testfleet"] and ctx.backend._server is None  # type: ignore[attr-defined]
    credential = agents["testfleet"].credentials.issue("node1")  # type: ignore[attr-defined]
    server = HttpServer(create_app(None, secret=None, branch="", token="ui-token", agents=app), "127.0.0.1", port)
    server.start()
    try:
        polls = f"http://127.0.0.1:{port}/agent/v1/testfleet/node1/commands?wait=0"
        assert httpx.get(polls, headers={"Authorization": f"Bearer {credential}"}).json() == {"commands": []}
    finally:
        server.stop()
