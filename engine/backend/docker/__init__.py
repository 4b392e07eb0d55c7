"""The Docker backend: one Docker engine, its containers, supervisord inside pool containers, and
the bots' files in runtime directories on this host, bind-mounted (``site``).

Registered as ``docker`` in ``engine.backend.registry``. Importing this package is cheap (the
Docker SDK is imported only by ``open_backend``): the no-op proof reaches ``noop`` through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.backend.docker.address import docker_address

if TYPE_CHECKING:
    from engine.backend.port import Backend
    from engine.backend.registry import BackendOptions

__all__ = ["open_backend", "target"]


def target(options: BackendOptions, settings: Mapping[str, Any]) -> str:
    """The engine's address (DOCKER_HOST / --docker-host, else the local socket), without connecting;
    ``kind: docker`` has no settings of its own."""
    return docker_address(options.docker_host)


def open_backend(options: BackendOptions, settings: Mapping[str, Any]) -> Backend:
    """The Docker engine at ``target(options)``, through the SDK, with supervisord over each pool's socket."""
    from engine.backend.docker.api import DockerEngine
    from engine.backend.docker.site import DockerBackend
    from engine.backend.docker.supervisor import connect_supervisor, states_of_many

    return DockerBackend(options.state_dir, DockerEngine(target(options, settings)), connect_supervisor, states_of_many)
