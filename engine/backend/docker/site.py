"""The backend port on one Docker engine: containers, supervisord in pool containers, runtime directories.

Opened by ``engine.backend.docker.open_backend`` (the registry) for the CLI and the watcher; the
in-memory Docker of the unit tests plugs in below it (``DockerApi``, ``SupervisorFactory``), so
this module runs under the fakes too. What the port leaves to the backend, Docker does here:

- a pool unit is a container running ``supervisord``, which fleetops reaches through the socket
  in its bind-mounted ``data/`` directory (``engine.backend.docker.supervisor``); a dedicated unit
  is a container whose main process is the bot, so starting, stopping or restarting that bot is
  the container's;
- files go into ``<state>/runtime/<fleet>/<container>/`` on this host (``Runtime``), which the
  container mounts; records beside them, never mounted;
- a bot answers at its container's address on the fleet's bridge network, on its own port;
- settings changed by hand are Docker's (``docker update``, networks; ``engine.backend.docker.settings``);
- memory use is read from the container's cgroup files (``engine.backend.docker.cgroup``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.backend.docker import foreign, noop
from engine.backend.docker.api import DockerEngine
from engine.backend.docker.cgroup import container_cpu_seconds, container_memory
from engine.backend.docker.inspect import ContainerSettings
from engine.backend.docker.protocols import BulkStates, DockerApi, SupervisorFactory, SupervisorPort
from engine.backend.docker.runtime import Runtime, recorded_fleets
from engine.backend.docker.settings import expected_settings, settings_drift
from engine.backend.port import (
    PROCESS_TIMEOUT,
    Address,
    BackendRef,
    BotFiles,
    ForeignContainer,
    ImageFacts,
    ListedUnit,
    LogMark,
    ProcessTables,
    SettingsDrift,
    UnitEvent,
    UnitFiles,
    UnitInspect,
    UnitSeen,
)
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.backend.unit_events import follow
from engine.compile.container import ContainerDefinition
from engine.errors import DockerError, SupervisorError, SupervisorRefused
from engine.naming import Labels, network_name

__all__ = ["DockerBackend", "DockerSite"]

SUPERVISOR_CALL_TIMEOUT = 30.0
"""Seconds a supervisord call that changes something may take (a stop waits for the process)."""


class DockerBackend:
    """One Docker engine (``api``) and the supervisords in its pool containers, for the fleets of ``state_dir``."""

    def __init__(self, state_dir: Path, api: DockerApi, supervisor: SupervisorFactory, bulk_states: BulkStates | None = None) -> None:
        self.state_dir = state_dir
        self.api = api
        self.supervisor = supervisor
        self.bulk_states = bulk_states
        self.ref = BackendRef("docker", api.base_url)

    @property
    def calls(self) -> int:
        return self.api.calls

    @property
    def mutations(self) -> int:
        return self.api.mutations

    def ping(self) -> None:
        self.api.ping()

    def site(self, fleet: str, report: Callable[[str], None] | None = None) -> DockerSite:
        return DockerSite(self, fleet, report)

    def recorded_fleets(self) -> list[str]:
        """Fleets with a container directory under ``<state>/runtime/`` (no Docker call)."""
        return recorded_fleets(self.state_dir)

    def list_managed(self) -> list[ListedUnit]:
        return self.api.list_managed()

    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        return self.api.name_owners(names)

    def image_exists(self, image: str) -> bool:
        return self.api.image_exists(image)

    def image_id(self, image: str) -> str | None:
        return self.api.image_id(image)

    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        return self.api.image_facts(image, executables)


class DockerSite:
    """One fleet on the Docker engine: its containers, their supervisords, its runtime directories."""

    def __init__(self, backend: DockerBackend, fleet: str, report: Callable[[str], None] | None = None) -> None:
        self.backend = backend
        self.fleet = fleet
        self.api = backend.api
        self.runtime = Runtime(backend.state_dir, fleet, report or (lambda _line: None))

    def _supervisor(self, unit: str, timeout: float = SUPERVISOR_CALL_TIMEOUT) -> SupervisorPort:
        return self.backend.supervisor(unit, self.runtime.data_dir(unit), timeout)

    # -- units ------------------------------------------------------------------------------

    def units(self) -> list[ListedUnit]:
        return self.api.list_fleet(self.fleet, network_name(self.fleet))

    def inspect(self, names: list[str]) -> dict[str, UnitInspect]:
        return self.api.inspect_many(names)

    def ensure_network(self) -> None:
        self.api.ensure_network(network_name(self.fleet), {Labels.FLEET: self.fleet})

    def remove_network(self) -> None:
        self.api.remove_network(network_name(self.fleet), {Labels.FLEET: self.fleet})

    def create(self, definition: ContainerDefinition, revision: int) -> str:
        return self.api.create_and_start(definition, self.runtime.container_dir(definition.name), revision)

    def replace(self, definition: ContainerDefinition, revision: int, put_files: Callable[[], None]) -> str:
        self.api.remove(definition.name)
        put_files()
        return self.create(definition, revision)

    def start(self, name: str) -> None:
        self.api.start(name)

    def unpause(self, name: str) -> None:
        self.api.unpause(name)

    def stop(self, name: str) -> None:
        self.api.stop(name)

    def restart(self, name: str) -> None:
        self.api.restart(name)

    def remove(self, name: str) -> None:
        self.api.remove(name)

    def rename(self, name: str, new_name: str) -> None:
        self.api.rename(name, new_name)

    def settings_drift(self, definition: ContainerDefinition, inspected: UnitInspect) -> SettingsDrift | None:
        return settings_drift(_container_settings(inspected), expected_settings(definition, self.runtime.container_dir(definition.name)))

    def restore_settings(self, definition: ContainerDefinition, inspected: UnitInspect) -> None:
        live = _container_settings(inspected)
        want = expected_settings(definition, self.runtime.container_dir(definition.name))
        name = definition.name
        if (live.memory, live.nano_cpus, live.restart) != (want.memory, want.nano_cpus, want.restart):
            self.api.update_settings(name, memory=want.memory or None, nano_cpus=want.nano_cpus or None, restart=want.restart)
        for network in sorted(set(live.networks) - set(want.networks)):
            self.api.disconnect_network(network, name)
        for network in sorted(set(want.networks) - set(live.networks)):
            self.api.connect_network(network, name)

    def foreign(self, inspected: Mapping[str, UnitInspect], recorded: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, info in sorted(inspected.items()):
            if name in recorded:
                continue
            mine = self.runtime.container_dir(name).resolve()
            sources = [Path(bind.split(":", 1)[0]) for bind in _container_settings(info).binds]
            if not sources or any(source.resolve().is_relative_to(mine) for source in sources):
                continue
            source = sources[0]  # <state>/runtime/<fleet>/<container>/etc
            found[name] = str(source.parents[3] if len(source.parents) > 3 and source.parents[2].name == "runtime" else source.parent)
        return found

    def output(self, name: str, lines: int, since: float | None = None) -> str:
        return self.api.logs(name, lines, since=since)

    def memory_of(self, unit: ListedUnit) -> int | None:
        return container_memory(unit.id)

    def cpu_seconds_of(self, unit: ListedUnit) -> float | None:
        return container_cpu_seconds(unit.id)

    def events(self) -> Iterator[UnitEvent]:
        """Docker's container events of the fleet, and its pool bots' process exits from their supervisords."""
        return follow(lambda: self.api.events(self.fleet), self._running_pools, lambda units: self.processes(units, timeout=2.0))

    def _running_pools(self) -> list[str]:
        return [u.name for u in self.units() if u.running and u.labels.get(Labels.ROLE) == "pool"]

    # -- bots -------------------------------------------------------------------------------

    def processes(self, units: list[str], timeout: float = PROCESS_TIMEOUT) -> ProcessTables:
        data_dirs = {unit: self.runtime.data_dir(unit) for unit in units}
        if self.backend.bulk_states is not None:
            return self.backend.bulk_states(data_dirs, timeout)
        found: ProcessTables = {}
        for unit in units:
            try:
                found[unit] = self._supervisor(unit, timeout).states()
            except SupervisorError as exc:
                found[unit] = exc
        return found

    def reconcile(self, unit: str, files: UnitFiles) -> tuple[list[str], list[str], list[str]]:
        self.runtime.write_unit(unit, files)
        supervisor = self._supervisor(unit)
        supervisor.wait_ready()
        return supervisor.update()

    def start_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.api.start(unit)
            return
        try:
            self._supervisor(unit).start(bot)
        except SupervisorRefused as exc:
            if "ALREADY_STARTED" not in str(exc):
                raise

    def stop_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.api.stop(unit)
        else:
            self._supervisor(unit).stop(bot)

    def restart_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.api.restart(unit)
        else:
            self._supervisor(unit).restart(bot)

    def address_of(self, unit: ListedUnit, port: int) -> Address | None:
        return (unit.ip, port) if unit.ip else None

    # -- files ------------------------------------------------------------------------------

    def put_bot(self, unit: str, bot: str, files: BotFiles) -> None:
        self.runtime.write_bot(unit, bot, files)

    def put_unit(self, unit: str, files: UnitFiles) -> None:
        self.runtime.write_unit(unit, files)

    def keep_only(self, unit: str, bots: tuple[str, ...]) -> None:
        self.runtime.keep_only(unit, bots)

    def carry_bot_data(self, bot: str, from_unit: str, to_unit: str, uid: int | None) -> list[str]:
        return self.runtime.carry_bot_data(bot, from_unit, to_unit, uid)

    # -- takeovers (engine.backend.port.Takeovers) ---------------------------------------------

    def _engine(self) -> DockerEngine:
        if not isinstance(self.api, DockerEngine):
            raise DockerError("taking over a container needs a Docker engine connection")
        return self.api

    def compose_container(self, project: str, service: str) -> ForeignContainer | None:
        return foreign.find_compose_container(self._engine(), project, service)

    def foreign_container(self, ref: str) -> ForeignContainer | None:
        return foreign.inspect_foreign(self._engine(), ref)

    def stop_foreign(self, ref: str, timeout: int) -> None:
        foreign.stop_foreign(self._engine(), ref, timeout)

    def carry_in(self, ref: str, path: str, unit: str, bot: str, name: str, uid: int | None) -> int:
        chunks = foreign.copy_out(self._engine(), ref, path)
        return -1 if chunks is None else self.runtime.import_bot_file(unit, bot, name, chunks, uid)

    def archive_bot(self, unit: str, bot: str) -> None:
        self.runtime.archive_bot(unit, bot)

    def archive_unit(self, unit: str) -> None:
        self.runtime.archive_container(unit)

    def bot_log_mark(self, unit: str, bot: str) -> LogMark:
        return self.runtime.log_mark(unit, bot)

    def bot_log(self, unit: str, bot: str, after: LogMark | None = None) -> str:
        return self.runtime.tail_log(unit, bot, after=after)

    def follow_bot_log(self, unit: str, bot: str, *, dedicated: bool, poll: float = 0.5) -> Iterator[str]:
        if dedicated:
            return self.api.follow_logs(unit, time.time())
        return self._follow_file(unit, bot, self.runtime.log_mark(unit, bot), poll)

    def _follow_file(self, unit: str, bot: str, mark: LogMark, poll: float) -> Iterator[str]:
        """A pool bot's ``bot.log`` (a file supervisord appends to, bind-mounted here) read on from ``mark``."""
        pending = b""
        while True:
            data, mark = self.runtime.read_log_after(unit, bot, mark)
            pending += data
            *lines, pending = pending.split(b"\n")
            yield from (line.decode("utf-8", "replace") for line in lines)
            if not data:
                time.sleep(poll)

    def unit_log_mark(self, unit: str) -> LogMark:
        return self.runtime.supervisord_mark(unit)

    def unit_log(self, unit: str, after: LogMark | None = None) -> str:
        return self.runtime.supervisord_log(unit, after=after)

    def adopt(self, fleet: str, unit: str) -> None:
        self.runtime.adopt(fleet, unit)

    # -- records ----------------------------------------------------------------------------

    def record_unit(self, unit: str, record: AppliedContainer) -> None:
        self.runtime.record_container(unit, record)

    def record_bot(self, unit: str, bot: str, record: AppliedBot) -> None:
        self.runtime.record_bot(unit, bot, record)

    def unit_record(self, unit: str) -> AppliedContainer | Unreadable | None:
        return self.runtime.read_container_record(unit)

    def bot_records(self, unit: str) -> dict[str, AppliedBot | Unreadable]:
        return self.runtime.read_bot_records(unit)

    # -- the no-op proof --------------------------------------------------------------------

    def noop_facts(self, seen: Mapping[str, UnitSeen]) -> dict[str, Any]:
        return noop.facts(self.backend.state_dir, self.fleet, seen)


def _container_settings(inspected: UnitInspect) -> ContainerSettings:
    """The settings this backend's inspect read (``parse_inspect``): Docker's own terms."""
    if not isinstance(inspected.settings, ContainerSettings):
        raise DockerError(f"internal: a unit inspected by another backend ({type(inspected.settings).__name__})")
    return inspected.settings
