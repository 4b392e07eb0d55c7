"""The swarm backend (contract §8): units are services pinned to nodes (``units``, ``service``,
``placement``, ``images`` over the manager's API, ``api``); bots' files and processes are driven by a
node agent on each node (``engine.agent``) over a channel the controller serves.

Importing this package is cheap (the Docker SDK is imported only when a backend is opened): the
no-op proof reaches ``noop`` through it. Registered in ``engine.backend.registry`` as ``swarm``;
``open_backend`` composes each fleet's site (``engine.backend.swarm.site``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.backend.docker.address import docker_address
from engine.errors import DockerError

if TYPE_CHECKING:
    from engine.backend.port import Backend
    from engine.backend.registry import BackendOptions

__all__ = ["open_backend", "target"]


def target(options: BackendOptions, settings: Mapping[str, Any]) -> str:
    """The manager's address: ``backend.manager`` when the fleet names one, else DOCKER_HOST / --docker-host
    (a CLI run on a manager), without connecting. DockerError for a malformed one."""
    manager = settings.get("manager")
    if manager:
        return docker_address(str(manager), "backend.manager")
    return docker_address(options.docker_host)


def open_backend(options: BackendOptions, settings: Mapping[str, Any]) -> Backend:
    """The swarm behind ``target``: a ``SwarmBackend`` whose fleets are ``SwarmSite``s (services, bots through
    node agents, records under the state dir). DockerError when the fleet names no registry (its nodes
    pull the fleet's images from it)."""
    from engine.backend.swarm.api import SwarmManager
    from engine.backend.swarm.backend import SwarmBackend
    from engine.backend.swarm.site import SwarmSite

    registry = settings.get("registry")
    if not registry:
        raise DockerError("a swarm fleet needs backend.registry (HOST:PORT of the registry its nodes pull the fleet's images from)")
    controller = settings.get("controller")
    return SwarmBackend(options.state_dir, SwarmManager(target(options, settings)), str(registry), SwarmSite,
                        controller=str(controller) if controller else None,
                        exchange_budget={str(k): int(v) for k, v in (settings.get("exchange_budget") or {}).items()},
                        agents=options.agents)
