"""The plainest values of the backend port: stdlib only and cheap, because the no-op proof reads them
(with the backend's ``noop`` check) before anything heavy is imported. ``engine.backend.port``
re-exports them beside the protocols; import them from there unless import cost matters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import SupervisorError

__all__ = ["DEFAULT_BACKEND", "PROCESS_TIMEOUT", "RUNNING_STATES", "BackendChoice", "ProcessInfo", "ProcessTables", "UnitInspect", "UnitSettings"]

DEFAULT_BACKEND = "docker"
"""The kind a Fleet document without ``backend:`` runs on: the Docker engine at DOCKER_HOST / --docker-host."""


@dataclass(frozen=True)
class BackendChoice:
    """What a Fleet document asks for (``backend:``, contract §8): a kind, and that kind's own settings
    (a swarm's manager, registry, controller…; none for ``docker``)."""

    kind: str = DEFAULT_BACKEND
    settings: tuple[tuple[str, str], ...] = ()
    """Setting → its value as JSON text, sorted: hashable, so a context keeps one opened backend per choice."""

    @classmethod
    def of(cls, block: Mapping[str, Any]) -> BackendChoice:
        """From the ``backend`` block as plain data (``{"kind": "docker"}``), as a spec or a stored revision has it."""
        return cls(str(block.get("kind", DEFAULT_BACKEND)),
                   tuple(sorted((str(k), json.dumps(v, sort_keys=True)) for k, v in block.items() if k != "kind")))

    @property
    def options(self) -> dict[str, Any]:
        """The kind's settings as plain data (what its package's ``target`` and ``open_backend`` read)."""
        return {name: json.loads(value) for name, value in self.settings}

    def plain(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.options}


class UnitSettings(Protocol):
    """A unit's settings as the backend reads them back (Docker's inspect); opaque above the
    backend except as JSON data, which the no-op proof digests."""

    def plain(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class UnitInspect:
    """One unit inspected: its settings, its state, and how often the backend restarted it."""

    settings: UnitSettings
    state: str
    restart_count: int


RUNNING_STATES = frozenset({"RUNNING", "STARTING"})
"""Process states in which a bot counts as running (supervisord's names)."""
PROCESS_TIMEOUT = 5.0
"""Seconds to wait for a unit's process table while observing."""


@dataclass(frozen=True)
class ProcessInfo:
    """One bot's process: its state name (RUNNING, STARTING, BACKOFF, EXITED, FATAL…) and pid."""

    name: str
    state: str
    pid: int
    exit_status: int = 0
    spawnerr: str = ""
    """Why the process manager could not start it ("can't find command 'x'"), when it could not."""


ProcessTables = dict[str, "dict[str, ProcessInfo] | SupervisorError"]
"""Unit → its process table, or the error saying why its process manager did not answer."""
