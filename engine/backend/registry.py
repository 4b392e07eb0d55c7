"""Backends by kind: the one line a new backend adds, and how the engine opens one without importing it.

Called by the CLI and the watcher (through ``engine.live.adapters``) to open the backend a fleet
asks for (``backend: kind:`` in its Fleet document, contract §8; default ``docker``), and by the
no-op proof to check a backend's facts before anything heavy is imported. Registration is by
package name, imported only when that kind is used (as pyinfra finds its connectors by name), so
nothing above the port imports a concrete backend, and import-linter can hold that line.

A backend package provides, at its top level (cheap to import: no client library at import)::

    target(options: BackendOptions, settings: dict) -> str        where it would connect, without connecting
    open_backend(options: BackendOptions, settings: dict) -> Backend
    noop.holds(state_dir, target, fleet, facts) -> bool   the no-op proof's check (stdlib only)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from engine.backend.values import BackendChoice
from engine.errors import DockerError
from engine.naming import BackendRef

if TYPE_CHECKING:
    from engine.backend.port import Backend

__all__ = ["REGISTERED", "BackendOptions", "NoopCheck", "agent_routes", "noop_check", "open_backend", "reference"]

REGISTERED: Mapping[str, str] = {
    "docker": "engine.backend.docker",
    "swarm": "engine.backend.swarm",
}
"""Backend kind → its package."""
NoopCheck = Callable[[Path, str, str, Mapping[str, Any]], bool]
"""(state dir, target, fleet, the facts the backend's site wrote) → do they still hold."""


@dataclass(frozen=True)
class BackendOptions:
    """What the command line and the environment say about backends, whatever the fleet asks for."""

    state_dir: Path
    docker_host: str | None = None
    """DOCKER_HOST / --docker-host, already checked (``engine.backend.docker.address``)."""
    agents: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    """Fleet → its node agents' channel, shared with a server that already serves them (the watcher's:
    ``agent_routes``); None: a backend with node agents serves them itself for the length of the command."""


def agent_routes(agents: dict[str, Any], state_dir: Path) -> Any:
    """The ASGI app that serves the node agents of every fleet ``agents`` will hold (a backend fills it in
    as it opens fleets), for the watcher's server to mount at ``engine.naming.AGENT_PREFIX``; commands of
    other fleetops processes of ``state_dir`` (``fleetops status`` while the watcher runs) go through it."""
    token = importlib.import_module(f"{REGISTERED['swarm']}.forward").peer_token(state_dir, create=True)
    return importlib.import_module(f"{REGISTERED['swarm']}.routes").agent_app(agents, token)


def _package(kind: str) -> ModuleType:
    if kind not in REGISTERED:
        raise DockerError(f"there is no '{kind}' backend in this fleetops (known: {', '.join(sorted(REGISTERED))})")
    return importlib.import_module(REGISTERED[kind])


def reference(choice: BackendChoice, options: BackendOptions) -> BackendRef:
    """Which backend and target ``choice`` means here, without connecting to it."""
    return BackendRef(choice.kind, str(_package(choice.kind).target(options, choice.options)))


def open_backend(choice: BackendChoice, options: BackendOptions) -> Backend:
    """The backend ``choice`` names (default: the Docker engine at ``options.docker_host``), opened."""
    backend: Backend = _package(choice.kind).open_backend(options, choice.options)
    return backend


def noop_check(kind: str) -> NoopCheck | None:
    """The no-op proof's check of a backend's facts; None for a kind this fleetops does not know."""
    if kind not in REGISTERED:
        return None
    check: NoopCheck = importlib.import_module(f"{REGISTERED[kind]}.noop").holds
    return check

