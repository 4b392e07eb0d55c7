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
