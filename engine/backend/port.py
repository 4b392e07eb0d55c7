"""The backend port: where a fleet's bots run, as the rest of the engine sees it.

Everything above this module — observe, plan, the executor, the health gate, the watcher, status —
reaches the place bots run only through these protocols, in the spirit of pyinfra's connector
(``connect``, ``run``, ``put_file``, ``get_file``, registered by name): nothing above assumes that
the target's disk is this host's disk, that a bot's process manager answers on a local socket, or
how a bot's address is made. ``engine.backend.docker`` implements it for one Docker engine (files in
runtime directories bind-mounted into the containers, supervisord reached through its socket in
them); a Swarm backend (services, files pulled by a node agent, no exec) implements the same.

The words, at the level the engine thinks in:

- a **unit** runs bots: a container today, a service later. A *pool* unit runs many bots under a
  process manager (supervisord), a *dedicated* unit is one bot. Units are listed per fleet (only
  what carries the fleet label: nothing else is ever touched), created from the one
  ``ContainerDefinition`` that render and apply share, started, stopped, removed; their settings
  (what a person can change by hand) are compared with what the backend would create and set
  back;
- a **bot** is a program in a unit: its process state, start / stop / restart of one bot (pool
  or dedicated, the backend hides which), and ``address_of`` — where its API answers;
- **files**: a bot's files (config, secrets, pinned strategy) and a pool unit's own (its process
  manager's config, the preloader) are *put* by the engine, which rendered them; **records** of
  what was applied, bots' logs from a mark, a moving bot's data and archives are *got* back;
- **no-op facts**: what the no-op proof (``engine.live.noop_proof``) fingerprints so that the next
  plan can say "No changes" without compiling; each backend package has a ``noop`` module that
  checks them again cheaply (stdlib only), registered with the backend (``engine.backend.registry``).

A ``Backend`` is one connection (one engine, one swarm); ``Backend.site(fleet)`` is that fleet on
it. Errors: ``DockerError`` for the unit layer, ``SupervisorError`` (``SupervisorRefused`` when it
gave a reason) for the bot layer, raised with one-line messages that say what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from engine.backend.values import (
    DEFAULT_BACKEND,
    PROCESS_TIMEOUT,
    RUNNING_STATES,
    BackendChoice,
    ProcessInfo,
    ProcessTables,
    UnitInspect,
    UnitSettings,
)
from engine.naming import BackendRef

if TYPE_CHECKING:  # kept out of the import: the no-op proof and status read units without loading the compiler
    from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
    from engine.compile.container import ContainerDefinition
    from engine.plan.model import FieldDiff

__all__ = [
    "DEFAULT_BACKEND",
    "PROCESS_TIMEOUT",
    "RUNNING_STATES",
    "Address",
    "Backend",
    "BackendChoice",
    "BackendRef",
    "BotFiles",
    "Bots",
    "Files",
    "ForeignContainer",
    "ImageFacts",
    "ListedUnit",
    "LogMark",
    "ProcessInfo",
    "ProcessTables",
    "Records",
    "SettingsDrift",
    "Site",
    "Takeovers",
    "UnitEvent",
    "UnitFiles",
    "UnitInspect",
    "UnitSeen",
    "UnitSettings",
    "Units",
]

Address = tuple[str, int]
"""(host, port) where a bot's API answers."""
LogMark = tuple[int, int]
"""Where a log ended, as (inode, size): the lines after it are the next run's (logs are appended to)."""


@dataclass(frozen=True)
class ListedUnit:
    """One unit as the backend's list call shows it: id, name, labels, state and its address on
    the fleet's network (None when it has none: not running)."""

    id: str
    name: str
    labels: dict[str, str]
    state: str
    ip: str | None
    node: str | None = None
    """The node it runs on, where the backend has several (a swarm's host name); None on one host."""

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class SettingsDrift:
    """How one unit's settings differ from what the backend would create, field by field."""

    diff: tuple[FieldDiff, ...]
    in_place: bool
    """True when the backend can set every field back without restarting the unit's bots."""

    @property
    def fields(self) -> list[str]:
        return [d.path for d in self.diff]


@dataclass(frozen=True)
class UnitEvent:
    """A managed unit, or a bot in a pool unit, changed state behind fleetops' back (or as a result of its own calls)."""

    name: str
    """The unit."""
    action: str
    """The unit's ``die``, ``stop``, ``destroy``, ``start``, ``oom`` …, or ``exit``: the process of ``bot``
    in the pool unit ``name`` ended (killed, crashed, or stopped by a call), seen by its process manager."""
    bot: str | None = None
    """The bot whose process exited (``exit`` only)."""
    pid: int | None = None
    """The pid of the process that exited (``exit`` only): each exit is counted once, however it is seen."""


@dataclass(frozen=True)
class ImageFacts:
    """What an image holds that decides whether it can run what fleetops renders (``engine.live.images``)."""

    id: str
    users: dict[str, int]
    """User name → uid, from the image's /etc/passwd."""
    found: dict[str, str | None]
    """Executable asked for → where the image's PATH finds it (a regular executable file), or None."""


@dataclass(frozen=True)
class BotFiles:
    """Everything one bot reads, as the engine rendered it: put into its unit by ``Files.put_bot``."""

    config: bytes
    """config.json (no secrets)."""
    secrets: bytes
    """secrets.json: readable by the bot's user alone."""
    strategy: tuple[str, bytes]
    """The pinned strategy: file name, content. Any other strategy file of the bot is removed."""
    uid: int | None
    """The bot's user, which owns its files when fleetops may give them (None: leave them)."""


@dataclass(frozen=True)
class UnitFiles:
    """A pool unit's own files: its process manager's config and, for preloaded pools, the
    preloader; plus the bots it names, each of which gets a data directory owned by its user."""

    conf: bytes
    bots: Mapping[str, int | None]
    """Bot → its uid (its data directory's owner)."""
    preload: Mapping[str, bytes] = field(default_factory=dict)
    """File name → content of the preloader (empty: the pool is not preloaded)."""
    preload_uid: int | None = None


@dataclass(frozen=True)
class UnitSeen:
    """A unit as a no-changes plan saw it: what the no-op proof asks the backend to fingerprint."""

    listed: ListedUnit
    inspected: UnitInspect
    enabled_bots: tuple[str, ...]
    """The enabled bots of a pool unit: their processes must be running for "No changes" to hold."""


class Units(Protocol):
    """The units of one fleet."""

    def units(self) -> list[ListedUnit]:
        """Every unit labelled for the fleet, running or not: one list call."""
        ...
    def inspect(self, names: list[str]) -> dict[str, UnitInspect]:
        """Each named unit's settings and restarts, asked in parallel; one that vanished meanwhile is left out."""
        ...
    def ensure_network(self) -> None: ...
    def remove_network(self) -> None:
        """Remove the fleet's network (only one carrying its fleet label): called once its last unit is gone.
        Raises ``DockerError`` when the backend refuses (a container attached by hand still uses it)."""
        ...
    def create(self, definition: ContainerDefinition, revision: int) -> str:
        """Create the unit from ``definition`` (its files are put first) and start it when it should run; its id."""
        ...
    def replace(self, definition: ContainerDefinition, revision: int, put_files: Callable[[], None]) -> str:
        """Bring an existing unit to ``definition`` where only a new unit will do (its image, limits, mounts):
        ``put_files`` puts its own files when the backend is ready for them. Docker removes the container,
        puts the files and creates it again; a swarm puts the files and updates the service in place
        (one task replaced, the service's ID kept). Its id."""
        ...
    def start(self, name: str) -> None: ...
    def unpause(self, name: str) -> None:
        """A unit paused by hand goes on where it was (``start`` refuses a paused Docker container)."""
        ...
    def stop(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...
    def remove(self, name: str) -> None: ...
    def rename(self, name: str, new_name: str) -> None:
        """A unit renamed by hand gets its own name back; it keeps running, with everything in it."""
        ...
    def settings_drift(self, definition: ContainerDefinition, inspected: UnitInspect) -> SettingsDrift | None:
        """None when ``inspected`` is what the backend would create from ``definition``."""
        ...
    def restore_settings(self, definition: ContainerDefinition, inspected: UnitInspect) -> None:
        """Set back in place what ``settings_drift`` calls in-place (limits, restart policy, networks)."""
        ...
    def foreign(self, inspected: Mapping[str, UnitInspect], recorded: set[str]) -> dict[str, str]:
        """Units of this fleet that another controller applied (for Docker: another state dir, whose
        runtime files they mount), unit → that controller as a user names it (a path); ``recorded``:
        the units this controller keeps a record of (a state dir moved to another path keeps its
        records: its units are its own, and their mounts drift)."""
        ...
    def output(self, name: str, lines: int, since: float | None = None) -> str:
        """The unit's own output (a dedicated bot's log, a pool's process manager), only what it
        wrote after ``since`` (seconds since the epoch) when given; its last ``lines`` lines."""
        ...
    def memory_of(self, unit: ListedUnit) -> int | None:
        """Bytes of memory the unit uses now (None when unknown)."""
        ...
    def cpu_seconds_of(self, unit: ListedUnit) -> float | None:
        """CPU seconds the unit used since it started (a counter; None when unknown)."""
        ...
    def events(self) -> Iterator[UnitEvent]:
        """The fleet's unit events and its pool bots' process exits as they happen (within about a
        second: ``engine.backend.unit_events``); blocks between them; ends, or raises ``DockerError``,
        when the backend hangs up (the caller follows again)."""
        ...


class Bots(Protocol):
    """The bots (programs) of one fleet's units. ``dedicated`` says the unit is the bot."""

    def processes(self, units: list[str], timeout: float = PROCESS_TIMEOUT) -> ProcessTables:
        """Each pool unit's process table, all asked at once."""
        ...
    def reconcile(self, unit: str, files: UnitFiles) -> tuple[list[str], list[str], list[str]]:
        """Put a pool unit's own files and bring its running programs to them, touching only the
        programs whose section changed: (added, changed, removed)."""
        ...
    def start_bot(self, unit: str, bot: str, *, dedicated: bool) -> None: ...
    def stop_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        """Stop one bot and return once its process is gone."""
        ...
    def restart_bot(self, unit: str, bot: str, *, dedicated: bool) -> None: ...
    def address_of(self, unit: ListedUnit, port: int) -> Address | None:
        """Where the bot listening on ``port`` in ``unit`` answers (None: the unit has no address)."""
        ...


class Files(Protocol):
    """Bots' and units' files, put by the engine and read back; no path is assumed above this."""

    def put_bot(self, unit: str, bot: str, files: BotFiles) -> None: ...
    def put_unit(self, unit: str, files: UnitFiles) -> None:
        """A pool unit's own files, before the unit is (re)created."""
        ...
    def keep_only(self, unit: str, bots: tuple[str, ...]) -> None:
        """Archive the files of every other bot left in the unit's files (a unit about to be recreated)."""
        ...
    def carry_bot_data(self, bot: str, from_unit: str, to_unit: str, uid: int | None) -> list[str]:
        """Copy a moving bot's trade databases and user data into its new unit; what was not copied."""
        ...
    def archive_bot(self, unit: str, bot: str) -> None: ...
    def archive_unit(self, unit: str) -> None: ...
    def bot_log_mark(self, unit: str, bot: str) -> LogMark: ...
    def bot_log(self, unit: str, bot: str, after: LogMark | None = None) -> str:
        """The end of a bot's log (empty when there is none); with ``after``, only what this run wrote."""
        ...
    def follow_bot_log(self, unit: str, bot: str, *, dedicated: bool, poll: float = 0.5) -> Iterator[str]:
        """The lines a bot writes from the call on (its position is taken at once, before the first
        ``next``), as they come; blocks between them (polls every ``poll`` seconds where it must). A
        dedicated bot's is its unit's output, which ends when the unit stops; a pool bot's goes on.
        ``DockerError`` when the backend cannot follow (a swarm, for now)."""
        ...
    def unit_log_mark(self, unit: str) -> LogMark: ...
    def unit_log(self, unit: str, after: LogMark | None = None) -> str:
        """The end of a pool unit's process-manager log (spawn errors, exits)."""
        ...
    def adopt(self, fleet: str, unit: str) -> None:
        """Reach ``unit`` of ``fleet`` through this site: a rename moves its bots into this fleet's units."""
        ...


class Records(Protocol):
    """What was applied to each unit and bot: the controller's memory, parsed strictly when read."""

    def record_unit(self, unit: str, record: AppliedContainer) -> None: ...
    def record_bot(self, unit: str, bot: str, record: AppliedBot) -> None: ...
    def unit_record(self, unit: str) -> AppliedContainer | Unreadable | None: ...
    def bot_records(self, unit: str) -> dict[str, AppliedBot | Unreadable]: ...


class Site(Units, Bots, Files, Records, Protocol):
    """One fleet on a backend."""

    fleet: str

    def noop_facts(self, seen: Mapping[str, UnitSeen]) -> dict[str, Any]:
        """JSON data fingerprinting the fleet's units as a no-changes plan saw them, for the no-op
        proof; the backend's ``noop`` module checks them again (``holds``) without this object."""
        ...


@dataclass(frozen=True)
class ForeignContainer:
    """A container no fleet labelled (an adopted bot's old compose container), as the engine sees it."""

    id: str
    name: str
    running: bool


@runtime_checkable
class Takeovers(Protocol):
    """What a site offers to take over bots that ran outside fleetops (``engine.live.takeover``): the
    Docker site; a backend without it refuses takeovers. Touches only the container it is given."""

    def compose_container(self, project: str, service: str) -> ForeignContainer | None:
        """The container Docker Compose runs for ``project``'s ``service`` (running or not), or None."""
        ...
    def foreign_container(self, ref: str) -> ForeignContainer | None:
        """The container ``ref`` (an ID), or None when it no longer exists."""
        ...
    def stop_foreign(self, ref: str, timeout: int) -> None:
        """Stop it (SIGTERM, then SIGKILL after ``timeout`` s); never remove it."""
        ...
    def carry_in(self, ref: str, path: str, unit: str, bot: str, name: str, uid: int | None) -> int:
        """Copy the regular file ``path`` of container ``ref`` into ``bot``'s data directory in ``unit``
        as ``name``; its size in bytes, -1 when the container has no such file."""
        ...


class Backend(Protocol):
    """One place bots run: a Docker engine today. ``calls`` and ``mutations`` count its API calls."""

    ref: BackendRef

    @property
    def calls(self) -> int:
        """API calls made so far (benchmarks and tests show what a no-op costs)."""
        ...
    @property
    def mutations(self) -> int:
        """Calls that changed something."""
        ...
    def ping(self) -> None: ...
    def site(self, fleet: str, report: Callable[[str], None] | None = None) -> Site:
        """``fleet`` on this backend; ``report`` hears what the backend did on its own (a planted link set aside)."""
        ...
    def recorded_fleets(self) -> list[str]:
        """Every fleet this state dir keeps records of units for (``status`` shows the others that still run)."""
        ...
    def list_managed(self) -> list[ListedUnit]:
        """Every unit any fleet labelled (``ip`` unknown: None), running or not: one call."""
        ...
    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        """Of ``names``, those taken by a unit: name → its fleet label (None: unmanaged)."""
        ...
    def image_exists(self, image: str) -> bool: ...
    def image_id(self, image: str) -> str | None:
        """The image's ID, or None when the backend does not have it."""
        ...
    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        """Read the image's /etc/passwd and find ``executables`` on its PATH, without running it."""
        ...
