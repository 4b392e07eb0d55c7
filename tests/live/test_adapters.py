"""The real adapters turn failures into the right errors (no Docker engine needed here)."""

from __future__ import annotations

import pytest

from engine.backend.docker.api import DockerEngine
from engine.errors import DockerError


def test_an_unreachable_engine_is_an_error_not_a_missing_image() -> None:
    engine = DockerEngine("unix:///nonexistent/docker.sock")
    with pytest.raises(DockerError, match="cannot reach the Docker engine"):
        engine.image_exists("fleetops/base:1")
    assert engine.calls == 1 and engine.mutations == 0


def test_the_backend_a_fleet_names_is_opened_through_the_registry_only_when_a_stage_asks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The CLI's context connects nothing until a stage needs the backend; the fleet's ``backend:`` picks it."""
    from engine.backend.port import BackendChoice
    from engine.backend.registry import BackendOptions, noop_check, open_backend, reference
    from engine.context import Context
    from engine.live.adapters import RealConnector

    options = BackendOptions(tmp_path, "unix:///nonexistent/docker.sock")
    assert str(reference(BackendChoice("docker"), options)) == "docker at unix:///nonexistent/docker.sock"
    assert str(reference(BackendChoice("docker"), BackendOptions(tmp_path))) == "docker at unix:///var/run/docker.sock"
    with pytest.raises(DockerError, match=r"^a swarm fleet needs backend.registry"):
        open_backend(BackendChoice("swarm"), options)  # refused before anything connects
    swarm = BackendChoice.of({"kind": "swarm", "manager": "tcp://127.0.0.1:1", "registry": "10.0.0.5:5000"})
    assert str(reference(swarm, options)) == "swarm at tcp://127.0.0.1:1"
    with pytest.raises(DockerError, match="there is no 'kubernetes' backend in this fleetops"):
        reference(BackendChoice("kubernetes"), options)
    assert noop_check("swarm") is not None and noop_check("docker") is not None and noop_check("kubernetes") is None
    ctx = Context(tmp_path, RealConnector(options))
    assert str(ctx.backend_ref()) == "docker at unix:///nonexistent/docker.sock" and ctx._opened == {}  # nothing opened
    ctx.use(BackendChoice("docker"))
    with pytest.raises(DockerError, match="cannot reach the Docker engine at unix:///nonexistent/docker.sock"):
        ctx.backend.ping()
    assert list(ctx._opened) == [BackendChoice("docker")]


def test_a_backend_that_names_its_agents_gets_the_bots_apis_relayed_through_them(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A swarm's bots answer on an overlay network the controller is not on: probes and API calls go
    through the node agents' channels the backend names (``agents``); other backends speak HTTP."""
    from engine.backend.port import BackendChoice
    from engine.backend.registry import BackendOptions
    from engine.live import adapters
    from engine.live.probe import HttpProbe
    from engine.live.relay import RelayBotApi, RelayProbe

    asked: list[tuple[str, str, dict[str, object]]] = []

    class Channel:
        def call(self, node: str, op: str, args: dict[str, object], timeout: float = 0, blobs: tuple[str, ...] = ()) -> dict[str, object]:
            asked.append((node, op, args))
            return {"status": 200, "body_b64": "eyJzdGF0dXMiOiAicG9uZyJ9", "error": ""}  # {"status": "pong"}

    class Swarm:
        agents = {"crypto": Channel()}

    monkeypatch.setattr(adapters, "open_backend", lambda choice, options: Swarm() if choice.kind == "swarm" else object())
    connector = adapters.RealConnector(BackendOptions(tmp_path))
    ports = connector.connect(BackendChoice("swarm"))
    assert isinstance(ports.probe, RelayProbe) and isinstance(ports.bot_api, RelayBotApi)
    assert ports.probe.ping("crypto/node2/crypto-standard-1", 8081).ok
    assert asked == [("node2", "http", {"service": "crypto-standard-1", "port": 8081, "method": "GET", "path": "/api/v1/ping",
                                        "headers": {}, "timeout": 2.0})]
    assert isinstance(connector.connect(BackendChoice("docker")).probe, HttpProbe)
