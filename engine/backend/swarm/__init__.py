"""The swarm backend (contract §8): units are services pinned to nodes (``units``, ``service``,
``placement``, ``images`` over the manager's API, ``api``); bots' files and processes are driven by a
node agent on each node (``engine.agent``) over a channel the controller serves.

Importing this package is cheap (the Docker SDK is imported only when a backend is opened): the
no-op proof reaches ``noop`` through it. Not registered in ``engine.backend.registry`` yet: the
registry refuses a swarm fleet's live plan and apply (``UNAVAILABLE``) until its site is composed
from these units and the agent's bots and files, and so does ``open_backend`` here.
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
    """Refused until the swarm site is composed (the lead's: ``SwarmBackend`` with a site of ``SwarmUnits``
    and the agent's bots and files); says what to do instead."""
    from engine.backend.registry import UNAVAILABLE

    raise DockerError(UNAVAILABLE["swarm"])
