"""The seams of the live half: small protocols for Docker, supervisord and a bot's API.

The engine's live modules (observe, executor, health, the flow) talk only to these; the real
adapters (``docker_api``, ``supervisor_ctl``, ``probe``) implement them against the outside
world, and ``engine.live.fakes`` implements them in memory, so apply, drift and rollback are
unit-tested in seconds while the Docker-backed tests keep proving the real adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.errors import SupervisorError
from engine.ftapi import BotApiPort, RawAnswer

if TYPE_CHECKING:  # kept out of the import: the no-op proof reads processes without loading the compiler
    from engine.compile.container import ContainerDefinition
    from engine.live.container_inspect import ContainerInspect

__all__ = [
    "RUNNING_STATES",
    "SUPERVISOR_TIMEOUT",
    "BotApiPort",
    "BulkStates",
    "ContainerEvent",
    "DockerPort",
    "ImageFacts",
    "ListedContainer",
    "Ports",
    "ProbeAnswer",
    "ProbePort",
    "ProcessInfo",
    "RawAnswer",
    "SupervisorFactory",
    "SupervisorPort",
]


@dataclass(frozen=True)
class ListedContainer:
    """One container as Docker's list call shows it."""

    id: str
    name: str
    labels: dict[str, str]
    state: str
    ip: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ImageFacts:
    """What an image holds that decides whether it can run what fleetops renders (``engine.live.images``)."""

    id: str
    users: dict[str, int]
    """User name → uid, from the image's /etc/passwd."""
    found: dict[str, str | None]
    """Executable asked for → where the image's PATH finds it (a regular executable file), or None."""


@dataclass(frozen=True)
class ContainerEvent:
    """A managed container changed state behind fleetops' back (or as a result of its own calls)."""

    name: str
    action: str
    """``die``, ``stop``, ``destroy``, ``start`` …"""


class DockerPort(Protocol):
    """The Docker engine, as much of it as fleetops uses. ``calls`` and ``mutations`` count API calls."""

    calls: int
    mutations: int

    def ping(self) -> None: ...
    def list_fleet(self, fleet: str, network: str) -> list[ListedContainer]: ...
    def list_managed(self) -> list[ListedContainer]:
        """Every container any fleet labelled (``ip`` unknown: None), running or not: one API call."""
        ...
    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        """Of ``names``, those taken by a container: name → its fleet label (None: unmanaged)."""
        ...
    def image_exists(self, image: str) -> bool: ...
    def image_id(self, image: str) -> str | None:
        """The image's ID, or None when it is not on the engine."""
        ...
    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        """Read the image's /etc/passwd and find ``executables`` on its PATH, without running it."""
        ...
    def ensure_network(self, name: str, labels: dict[str, str]) -> None: ...
    def create_and_start(self, definition: ContainerDefinition, runtime_dir: Path, revision: int) -> str: ...
    def start(self, name: str) -> None: ...
    def stop(self, name: str, timeout: int = 20) -> None: ...
    def restart(self, name: str, timeout: int = 20) -> None: ...
    def remove(self, name: str) -> None: ...
    def inspect_many(self, names: list[str]) -> dict[str, ContainerInspect]:
        """Each named container's settings and restarts, asked in parallel; one that vanished meanwhile is left out."""
        ...
    def update_settings(self, name: str, *, memory: int | None = None, nano_cpus: int | None = None, restart: str | None = None) -> None:
        """Set limits and restart policy in place (``docker update``): the container keeps running."""
        ...
    def connect_network(self, network: str, name: str) -> None: ...
    def disconnect_network(self, network: str, name: str) -> None: ...
    def logs(self, name: str, lines: int, since: float | None = None) -> str:
        """The last ``lines`` of a container's output (a dedicated bot's log, a pool's supervisord),
        only what it wrote after ``since`` (seconds since the epoch) when given."""
        ...
    def events(self, fleet: str) -> Iterator[ContainerEvent]:
        """Container events of ``fleet`` as they happen; blocks between them. Ends when the engine hangs up."""
        ...


RUNNING_STATES = frozenset({"RUNNING", "STARTING"})
"""supervisord states in which a bot's process counts as running."""
SUPERVISOR_TIMEOUT = 5.0
"""Seconds to wait for a supervisord's process table while observing."""


@dataclass(frozen=True)
class ProcessInfo:
    """One supervisord program: its state name (RUNNING, STARTING, BACKOFF, EXITED, FATAL…) and pid."""

    name: str
    state: str
    pid: int
    exit_status: int = 0
    spawnerr: str = ""
    """Why supervisord could not start it ("can't find command 'x'"), when it could not."""


class SupervisorPort(Protocol):
    """supervisord of one pool container."""

    def wait_ready(self, timeout: float = 30.0) -> None: ...
    def states(self) -> dict[str, ProcessInfo]: ...
    def update(self) -> tuple[list[str], list[str], list[str]]:
        """Re-read the conf and apply only what changed: (added, changed, removed)."""
        ...
    def restart(self, name: str) -> None: ...
    def start(self, name: str) -> None: ...
    def stop(self, name: str) -> None: ...


SupervisorFactory = Callable[[str, Path, float], SupervisorPort]
"""(container name, the container's host data directory, call timeout) → its supervisord."""
BulkStates = Callable[[dict[str, Path], float], "dict[str, dict[str, ProcessInfo] | SupervisorError]"]


@dataclass(frozen=True)
class ProbeAnswer:
    ok: bool
    detail: str


class ProbePort(Protocol):
    """A bot's own API, reached at its container's address."""

    def ping(self, address: str, port: int) -> ProbeAnswer: ...


@dataclass
class Ports:
    """Everything outside the engine that the live half talks to."""

    docker: DockerPort
    supervisor: SupervisorFactory
    probe: ProbePort
    bot_api: BotApiPort
    """The transport under ``engine.ftapi.FreqtradeApi``: raw answers, parsed there."""
    bulk_states: BulkStates | None = None
    """Every pool's process table in one go (the real adapter asks all supervisords at once);
    None: ``supervisor(...).states()`` one container after another."""

    def states_of(self, data_dirs: dict[str, Path], timeout: float) -> dict[str, dict[str, ProcessInfo] | SupervisorError]:
        """Container → its supervisord's process table, or the error saying why it did not answer."""
        if self.bulk_states is not None:
            return self.bulk_states(data_dirs, timeout)
        found: dict[str, dict[str, ProcessInfo] | SupervisorError] = {}
        for container, data_dir in data_dirs.items():
            try:
                found[container] = self.supervisor(container, data_dir, timeout).states()
            except SupervisorError as exc:
                found[container] = exc
        return found
