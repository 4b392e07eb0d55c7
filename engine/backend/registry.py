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
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from engine.backend.values import BackendChoice
from engine.errors import DockerError
from engine.naming import BackendRef

if TYPE_CHECKING:
    from engine.backend.port import Backend

__all__ = ["REGISTERED", "UNAVAILABLE", "BackendOptions", "NoopCheck", "noop_check", "open_backend", "reference"]

REGISTERED: Mapping[str, str] = {
    "docker": "engine.backend.docker",
}
"""Backend kind → its package."""
UNAVAILABLE: Mapping[str, str] = {
    "swarm": "this fleetops cannot plan or apply a fleet on a swarm yet (`backend: kind: swarm`): validate, render and "
             "plan --against check its spec offline; remove `backend:` (or write `kind: docker`) to run it on the Docker "
             "engine at DOCKER_HOST",
}
"""Kinds a spec may name whose backend does not apply a fleet end to end yet → the refusal, said
wherever the fleet would be planned live or applied (the spec itself validates)."""

NoopCheck = Callable[[Path, str, str, Mapping[str, Any]], bool]
"""(state dir, target, fleet, the facts the backend's site wrote) → do they still hold."""


@dataclass(frozen=True)
class BackendOptions:
    """What the command line and the environment say about backends, whatever the fleet asks for."""

    state_dir: Path
    docker_host: str | None = None
    """DOCKER_HOST / --docker-host, already checked (``engine.backend.docker.address``)."""


def _package(kind: str) -> ModuleType:
    if kind in UNAVAILABLE and kind not in REGISTERED:
        raise DockerError(UNAVAILABLE[kind])
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

