"""The manager's adapter (``engine.backend.swarm.api``): failures as one-line sentences, the plain-TCP
rule of contract §8, the manager check, and the swarm package's target (no SDK mocked: a fake
client at the SDK's method names, and the real SDK against addresses that do not answer)."""

from __future__ import annotations

import re
from pathlib import Path

import docker.errors
import pytest
import requests.exceptions

from engine.backend.registry import BackendOptions
from engine.backend.swarm import open_backend, target
from engine.backend.swarm.api import PLAIN_TCP_VARIABLE, SwarmManager, manager_client
from engine.errors import DockerError
from tests.swarm_unit.fake_sdk import FakeSwarm


def test_failures_are_one_line_sentences_and_no_such_answers_are_none(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    assert manager.service("nothing") is None and manager.image("nothing:1") is None
    swarm.fail["create_service"] = docker.errors.APIError("500", explanation="rpc error: code = InvalidArgument desc = bad\nmount")
    with pytest.raises(DockerError, match=r"^the swarm manager refused to create service x: rpc error: code = InvalidArgument desc = bad\\nmount$"):
        manager.create_service({"Name": "x", "TaskTemplate": {"ContainerSpec": {"Image": "a"}}})
    swarm.fail["services"] = requests.exceptions.ConnectionError("refused")
    with pytest.raises(DockerError, match=r"^cannot reach the swarm manager at tcp://127.0.0.1:2375 \(list services\); is its Docker engine "):
        manager.services()
    assert (manager.calls, manager.mutations) == (4, 1)


def test_an_unreachable_manager_is_said_so_through_the_real_sdk() -> None:
    manager = SwarmManager("unix:///nonexistent/docker.sock")
    with pytest.raises(DockerError, match=r"^cannot reach the swarm manager at unix:///nonexistent/docker.sock \(answer a ping\)"):
        manager.ping()


@pytest.mark.parametrize(("state", "said"), [
    ({"LocalNodeState": "active", "ControlAvailable": False}, "is a worker, not a swarm manager"),
    ({"LocalNodeState": "inactive", "ControlAvailable": False}, "is not in a swarm (inactive), not a swarm manager"),
])
def test_only_a_manager_of_an_active_swarm_will_do(swarm: FakeSwarm, state: dict[str, object], said: str) -> None:
    SwarmManager("tcp://127.0.0.1:2375", client=swarm).require_manager()
    swarm.swarm_state = state
    with pytest.raises(DockerError, match=f"^the Docker engine at tcp://127.0.0.1:2375 {re.escape(said)}; point backend.manager at a manager"):
        SwarmManager("tcp://127.0.0.1:2375", client=swarm).require_manager()


@pytest.mark.parametrize(("address", "environ", "refused"), [
    ("tcp://10.0.0.5:2375", {}, True),
    ("http://10.0.0.5:2375", {}, True),
    ("tcp://10.0.0.5:2375", {PLAIN_TCP_VARIABLE: "1"}, False),
    ("tcp://127.0.0.1:2375", {}, False),
    ("tcp://localhost:2375", {}, False),
    ("tcp://[::1]:2375", {}, False),
    ("unix:///var/run/docker.sock", {}, False),
])
def test_plain_tcp_to_another_host_is_refused_unless_a_lab_says_so(address: str, environ: dict[str, str], refused: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(variable, raising=False)
    if refused:
        with pytest.raises(DockerError, match=rf"^backend.manager {address} is plain TCP without TLS: whoever reaches it is root on every node"):
            manager_client(address, 5, environ)
    else:
        assert manager_client(address, 5, environ) is not None


def test_a_manager_over_tls_trusts_its_ca_pem_not_requests_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SWARM.md: a set REQUESTS_CA_BUNDLE overrides the SDK's ca_cert; the client must not read the environment."""
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = manager_client("tcp://10.0.0.5:2376", 5, {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert client.trust_env is False and client.verify == str(tmp_path / "ca.pem") and client.base_url == "https://10.0.0.5:2376"


def test_target_is_the_fleets_manager_else_docker_host_and_open_backend_needs_a_registry(tmp_path: Path) -> None:
    options = BackendOptions(tmp_path, "unix:///run/other.sock")
    assert target(options, {"manager": "tcp://10.0.0.5:2376", "registry": "r:5000"}) == "tcp://10.0.0.5:2376"
    assert target(options, {"registry": "r:5000"}) == "unix:///run/other.sock"
    with pytest.raises(DockerError, match=r"^backend.manager 'tcp://h' is not a Docker engine address: it has no port"):
        target(options, {"manager": "tcp://h"})
    with pytest.raises(DockerError, match=r"^a swarm fleet needs backend.registry \(HOST:PORT of the registry its nodes pull"):
        open_backend(options, {"manager": "tcp://127.0.0.1:1"})
    opened = open_backend(options, {"manager": "tcp://127.0.0.1:1", "registry": "r:5000", "controller": "http://127.0.0.1:9400"})
    assert str(opened.ref) == "swarm at tcp://127.0.0.1:1" and opened.calls == 0  # nothing asked of the manager yet


def test_a_push_error_names_the_registrys_answer_and_what_to_check(swarm: FakeSwarm) -> None:
    manager = SwarmManager("tcp://127.0.0.1:2375", client=swarm)
    swarm.push = lambda repository, **_: iter([{"status": "Pushing"}, {"errorDetail": {"message": "http: server gave HTTP response to HTTPS client"},  # type: ignore[method-assign]
                                                                      "error": "http: server gave HTTP response to HTTPS client"}])
    with pytest.raises(DockerError, match=r"^the swarm manager could not push r:5000/x:1: http: server gave HTTP response to HTTPS client; is the "
                                          r"registry up, and does the manager's engine trust it \(--insecure-registry for plain HTTP\)\?$"):
        manager.push("r:5000/x", "1")
