"""One fleet on the fake backend: the port's ``Site`` (units and bots here, files and records in ``files``).

Part of ``engine.backend.fake`` (whose docstring says how the fake behaves).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backend.docker.inspect import UNCOMPARED_LABELS, ContainerSettings
from engine.backend.docker.settings import expected_settings, settings_drift
from engine.backend.fake.files import MemoryFiles
from engine.backend.port import (
    PROCESS_TIMEOUT,
    Address,
    ForeignContainer,
    ListedUnit,
    ProcessInfo,
    ProcessTables,
    SettingsDrift,
    UnitEvent,
    UnitFiles,
    UnitInspect,
    UnitSeen,
)
from engine.backend.unit_events import follow
from engine.compile.container import ContainerDefinition
from engine.errors import SupervisorError
from engine.naming import Labels

if TYPE_CHECKING:
    from engine.backend.fake.backend import FakeBackend, FakeUnit

__all__ = ["FakeSite", "sections"]

_SECTION = re.compile(r"^\[program:([^\]]+)\]\n(.*?)(?=^\[|\Z)", re.MULTILINE | re.DOTALL)


class FakeSite(MemoryFiles):
    """One fleet on the fake backend (the port's ``Site``)."""

    def __init__(self, backend: FakeBackend, fleet: str) -> None:
        self.backend = backend
        self.fleet = fleet

    # -- units ------------------------------------------------------------------------------

    def units(self) -> list[ListedUnit]:
        b = self.backend
        b._count("list")
        with b._lock:
            return sorted((ListedUnit(u.id, n, dict(u.labels), u.state, u.ip, u.node) for n, u in b.units.items()
                           if u.labels.get(Labels.FLEET) == self.fleet), key=lambda u: u.name)

    def inspect(self, names: list[str]) -> dict[str, UnitInspect]:
        found = {}
        for name in names:
            self.backend._count("inspect")
            unit = self.backend.units.get(name)
            if unit is not None:
                found[name] = UnitInspect(self._settings(unit), unit.state, unit.restarts)
        return found

    def _settings(self, unit: FakeUnit) -> ContainerSettings:
        """What the unit's settings read back as: what its definition creates, plus changes by hand."""
        created = expected_settings(unit.definition, _where(unit.definition.name))
        labels = tuple(sorted((k, v) for k, v in unit.labels.items() if k not in UNCOMPARED_LABELS))
        return dataclasses.replace(created, **{"labels": labels, **unit.by_hand})

    def ensure_network(self) -> None:
        self.backend._count("list-networks")
        name = f"fleetops-{self.fleet}"
        if name not in self.backend.networks:
            self.backend._count("create-network", name, mutates=True)
            self.backend.networks.add(name)

    def remove_network(self) -> None:
        name = f"fleetops-{self.fleet}"
        if name in self.backend.networks:
            self.backend._count("remove-network", name, mutates=True)
            self.backend.networks.discard(name)

    def create(self, definition: ContainerDefinition, revision: int) -> str:
        return self.backend.create(definition, revision)

    def replace(self, definition: ContainerDefinition, revision: int, put_files: Callable[[], None]) -> str:
        self.remove(definition.name)
        put_files()
        return self.create(definition, revision)

    def start(self, name: str) -> None:
        self.backend.start(name)

    def unpause(self, name: str) -> None:
        self.backend.unpause(name)

    def stop(self, name: str) -> None:
        self.backend.stop(name)

    def restart(self, name: str) -> None:
        self.backend.restart(name)

    # -- takeovers (the port's ``Takeovers``): units added with ``add_unmanaged``, files in ``foreign_files``

    def compose_container(self, project: str, service: str) -> ForeignContainer | None:
        for name, unit in sorted(self.backend.units.items()):
            if unit.labels.get("com.docker.compose.project") == project and unit.labels.get("com.docker.compose.service") == service:
                return ForeignContainer(unit.id, name, unit.state == "running")
        return None

    def _foreign(self, ref: str) -> str | None:
        return next((name for name, unit in self.backend.units.items() if unit.id == ref), None)

    def foreign_container(self, ref: str) -> ForeignContainer | None:
        self.backend._count("inspect")
        name = self._foreign(ref)
        return ForeignContainer(ref, name, self.backend.units[name].state == "running") if name is not None else None

    def stop_foreign(self, ref: str, timeout: int) -> None:
        name = self._foreign(ref)
        assert name is not None
        self.backend.stop(name)

    def carry_in(self, ref: str, path: str, unit: str, bot: str, name: str, uid: int | None) -> int:
        old = self._foreign(ref)
        self.backend._count("copy-out", f"{old}:{path}", mutates=True)
        content = self.backend.foreign_files.get((old or "", path))
        if content is None:
            return -1
        self.backend.data.setdefault((unit, bot), {})[name] = content
        return len(content)

    def remove(self, name: str) -> None:
        self.backend._count("remove", name, mutates=True, event="destroy")
        with self.backend._lock:
            self.backend.unit(name, "remove")
            del self.backend.units[name]

    def rename(self, name: str, new_name: str) -> None:
        self.backend.rename(name, new_name)

    def settings_drift(self, definition: ContainerDefinition, inspected: UnitInspect) -> SettingsDrift | None:
        assert isinstance(inspected.settings, ContainerSettings)
        return settings_drift(inspected.settings, expected_settings(definition, _where(definition.name)))

    def restore_settings(self, definition: ContainerDefinition, inspected: UnitInspect) -> None:
        assert isinstance(inspected.settings, ContainerSettings)
        live, want = inspected.settings, expected_settings(definition, _where(definition.name))
        unit, name = self.backend.unit(definition.name, "update"), definition.name
        if (live.memory, live.nano_cpus, live.restart) != (want.memory, want.nano_cpus, want.restart):
            self.backend._count("update", name, mutates=True)
            for key in ("memory", "nano_cpus", "restart"):
                unit.by_hand.pop(key, None)
        for _network in sorted(set(live.networks) - set(want.networks)):
            self.backend._count("disconnect", name, mutates=True)
        for _network in sorted(set(want.networks) - set(live.networks)):
            self.backend._count("connect", name, mutates=True)
        unit.by_hand.pop("networks", None)

    def foreign(self, inspected: Mapping[str, UnitInspect], recorded: set[str]) -> dict[str, str]:
        return {}  # one controller: the fake keeps every record in memory, whatever the state dir

    def output(self, name: str, lines: int, since: float | None = None) -> str:
        self.backend._count("logs")
        output = self.backend.unit(name, "read the log of").output
        return "\n".join([line for at, line in output if since is None or at >= since][-lines:])

    def memory_of(self, unit: ListedUnit) -> int | None:
        return self.backend.memory.get(unit.name)  # what the test set; nothing is measured here

    def cpu_seconds_of(self, unit: ListedUnit) -> float | None:
        return self.backend.cpu_seconds.get(unit.name)

    def events(self) -> Iterator[UnitEvent]:
        """As Docker's site: the backend's unit events and the pool bots' exits seen in their process tables."""
        return follow(self.backend.events, self._running_pools, self.processes, interval=self.backend.exit_poll)

    def _running_pools(self) -> list[str]:
        return [u.name for u in self.units() if u.running and u.labels.get(Labels.ROLE) == "pool"]

    # -- bots -------------------------------------------------------------------------------

    def _answering(self, unit: str, what: str) -> FakeUnit:
        found = self.backend.units.get(unit)
        if found is None:  # renamed by hand: its supervisord answers on the socket of the name fleetops gave it
            found = next((u for u in self.backend.units.values() if u.definition.name == unit), None)
        if unit in self.backend.unreachable or found is None or found.state != "running":
            raise SupervisorError(f"supervisord in {unit} did not answer ({what}): [Errno 111] Connection refused")
        return found

    def processes(self, units: list[str], timeout: float = PROCESS_TIMEOUT) -> ProcessTables:
        tables: ProcessTables = {}
        for name in units:
            try:
                unit = self._answering(name, "list its programs")
            except SupervisorError as exc:
                tables[name] = exc
                continue
            tables[name] = {n: ProcessInfo(n, s, unit.pids.get(n, 0), spawnerr=unit.spawnerr.get(n, "")) for n, s in unit.programs.items()}
        return tables

    def reconcile(self, unit: str, files: UnitFiles) -> tuple[list[str], list[str], list[str]]:
        b = self.backend
        b.unit_files[unit] = files
        found = self._answering(unit, "re-read its config")
        with b._lock:
            b._mutate(None)  # one call to supervisord; logged per program it touched, below
            wanted = sections(files)
            added = sorted(set(wanted) - set(found.sections))
            removed = sorted(set(found.sections) - set(wanted))
            changed = sorted(n for n in set(wanted) & set(found.sections) if wanted[n] != found.sections[n])
            for name in removed:
                found.programs.pop(name, None)
                found.running.pop(name, None)
            for name in added + changed:
                found.programs[name] = b._spawn(found, name) if "autostart=true" in wanted[name] else "STOPPED"
                found.pids[name] = next(b._pids)
            found.sections = wanted
            b.log.extend(f"supervisor {unit} {verb} {n}" for verb, names in (("add", added), ("change", changed), ("remove", removed))
                         for n in names)
        return added, changed, removed

    def start_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.backend.start(unit)
        else:
            self.restart_bot(unit, bot, dedicated=False)

    def stop_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.backend.stop(unit)
            return
        found = self._answering(unit, f"stop {bot}")
        with self.backend._lock:
            self.backend._mutate(f"supervisor {unit} stop {bot}")
            found.programs[bot] = "STOPPED"
            found.running.pop(bot, None)

    def restart_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        """Two calls, as supervisord's: stop, then start (a process can die between them)."""
        if dedicated:
            self.backend.restart(unit)
            return
        b = self.backend
        found = self._answering(unit, f"restart {bot}")
        with b._lock:
            b._mutate(None)  # stop
            found.programs[bot] = "STOPPED"
            found.running.pop(bot, None)
            b._mutate(f"supervisor {unit} restart {bot}")  # start
            found.programs[bot] = b._spawn(found, bot)
            found.pids[bot] = next(b._pids)

    def address_of(self, unit: ListedUnit, port: int) -> Address | None:
        return (unit.ip, port) if unit.ip else None

    def noop_facts(self, seen: Mapping[str, UnitSeen]) -> dict[str, Any]:
        return {name: {"id": unit.listed.id, "state": unit.listed.state} for name, unit in seen.items()}


def sections(files: UnitFiles | None) -> dict[str, str]:
    """supervisord's view of a conf: program → its section."""
    text = files.conf.decode() if files is not None else ""
    return {m.group(1): m.group(2).strip() for m in _SECTION.finditer(text)}


def _where(unit: str) -> Path:
    """The directory a Docker engine would bind-mount from: the fake keeps none, but its settings speak Docker's terms."""
    return Path("/fake") / unit
