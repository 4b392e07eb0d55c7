"""The fake backend itself: its handlers' answers, its units, and how a unit or a bot's process starts.

Part of ``engine.backend.fake`` (whose docstring says how the fake behaves); ``site`` holds the
per-fleet half of the port, ``files`` what the engine puts and records.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.backend.fake.site import FakeSite, sections
from engine.backend.port import BackendRef, BotFiles, ImageFacts, ListedUnit, UnitEvent, UnitFiles
from engine.backend.records import AppliedBot
from engine.compile.container import ContainerDefinition
from engine.compile.essence import RecordError, parse_record
from engine.errors import DockerError
from engine.naming import Labels

__all__ = ["Exits", "Fails", "FakeBackend", "FakeUnit", "Killed", "Refused", "Runs", "Started"]


class Killed(BaseException):
    """The process died (SIGKILL) in the middle of a call: nothing after it runs, no handler cleans up."""


@dataclass(frozen=True)
class Started:
    """A bot's process starting: what the ``process`` handler is asked about."""

    unit: str
    bot: str
    files: BotFiles


@dataclass(frozen=True)
class Runs:
    """The process runs (and answers on its port: the bots' fakes decide how, ``engine.live.fake_bots``)."""


@dataclass(frozen=True)
class Exits:
    """The process dies at once after writing ``log`` to its log: supervisord backs off (a dedicated unit exits)."""

    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """supervisord cannot start the program (``spawnerr``): FATAL, nothing in the bot's own log."""

    reason: str


@dataclass(frozen=True)
class Fails:
    """A unit's main process exits at start after printing ``output``: the unit restarts, again and again."""

    output: tuple[str, ...] = ()


@dataclass
class FakeUnit:
    id: str
    definition: ContainerDefinition
    labels: dict[str, str]
    state: str = "created"
    ip: str | None = None
    programs: dict[str, str] = field(default_factory=dict)
    node: str | None = None
    """The node it runs on, as a swarm's units list it (a test sets it; None: one host)."""
    """Program → state, for pool units (what supervisord runs)."""
    sections: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    spawnerr: dict[str, str] = field(default_factory=dict)
    running: dict[str, Started] = field(default_factory=dict)
    """Bot → how its running process was started (the files it read then, what it runs)."""
    started_at: dict[str, float] = field(default_factory=dict)
    output: list[tuple[float, str]] = field(default_factory=list)
    """What the unit printed, with when (a dedicated bot's output, a pool's supervisord)."""
    by_hand: dict[str, Any] = field(default_factory=dict)
    """Settings a person changed (``ContainerSettings`` field → value): what inspect shows instead."""
    restarts: int = 0

    @property
    def pool(self) -> bool:
        return self.labels.get(Labels.ROLE) == "pool"


class FakeBackend:
    """One fake place bots run; ``site(fleet)`` is a fleet on it. Handlers default to "everything runs"."""

    def __init__(self, images: tuple[str, ...] = (), *, process: Callable[[Started], Runs | Exits | Refused] | None = None,
                 boot: Callable[[ContainerDefinition], Fails | None] | None = None) -> None:
        self.ref = BackendRef("fake", "memory")
        self.process = process or (lambda _started: Runs())
        self.boot = boot or (lambda _definition: None)
        self.images = set(images)
        self.image_users: dict[str, dict[str, int]] = {}
        """Image → its /etc/passwd users (default: root 0 and bot 1000, as fleetops' images)."""
        self.image_lacks: dict[str, set[str]] = {}
        self.image_reads = 0
        self.units: dict[str, FakeUnit] = {}
        self.networks: set[str] = set()
        self.bot_files: dict[tuple[str, str], BotFiles] = {}
        self.unit_files: dict[str, UnitFiles] = {}
        self.records: dict[str, dict[str, bytes]] = {}
        """Unit → record name ("container", or a bot's name) → the JSON the engine recorded (tests may spoil it)."""
        self.logs: dict[tuple[str, str], list[str]] = {}
        """(unit, bot) → its log lines, kept across runs as a bot.log is; (unit, "") → supervisord's."""
        self.data: dict[tuple[str, str], dict[str, bytes]] = {}
        """(unit, bot) → what the bot wrote (its trade database…): carried when it moves, archived when it goes."""
        self.foreign_files: dict[tuple[str, str], bytes] = {}
        """(unmanaged unit, path) → a file in it (an adopted bot's old trade database, for takeovers)."""
        self.archived: dict[str, dict[str, bytes]] = {}
        """What was archived, by label (``bot-<bot>-from-<unit>``, ``container-<unit>/<bot>``) → the bot's data."""
        self.calls = 0
        self.mutations = 0
        self.log: list[str] = []
        self.fail_calls: dict[str, Exception] = {}
        self.unreachable: set[str] = set()
        self.memory: dict[str, int] = {}
        """Unit → bytes its site's ``memory_of`` reports (a test's figure; none: unknown)."""
        self.cpu_seconds: dict[str, float] = {}
        """Unit → CPU seconds its site's ``cpu_seconds_of`` reports (a test's figure; none: unknown)."""
        self.crash_after: int | None = None
        self.exit_poll = 0.05
        """Seconds between two looks of ``events`` at the pool units' process tables (the real one's is 0.5)."""
        self._events: queue.Queue[UnitEvent | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._pids = itertools.count(100)
        self._lock = threading.RLock()

    # -- the backend ------------------------------------------------------------------------

    def site(self, fleet: str, report: Callable[[str], None] | None = None) -> FakeSite:
        return FakeSite(self, fleet)

    def recorded_fleets(self) -> list[str]:
        return sorted({u.labels[Labels.FLEET] for n, u in self.units.items() if n in self.records and Labels.FLEET in u.labels})

    def ping(self) -> None:
        self._count("ping")

    def list_managed(self) -> list[ListedUnit]:
        self._count("list")
        with self._lock:
            return sorted((ListedUnit(u.id, n, dict(u.labels), u.state, None) for n, u in self.units.items() if Labels.FLEET in u.labels),
                          key=lambda u: u.name)

    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        self._count("list")
        return {n: self.units[n].labels.get(Labels.FLEET) for n in names if n in self.units}

    def image_exists(self, image: str) -> bool:
        self._count("inspect-image")
        return image in self.images

    def image_id(self, image: str) -> str | None:
        self._count("inspect-image")
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest() if image in self.images else None

    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        self._count("read-image")
        image_id = self.image_id(image)
        assert image_id is not None
        self.image_reads += 1
        lacks = self.image_lacks.get(image, set())
        return ImageFacts(image_id, dict(self.image_users.get(image, {"root": 0, "bot": 1000})),
                          {name: None if name in lacks else f"/usr/bin/{name.rsplit('/', 1)[-1]}" for name in executables})

    # -- what a person does by hand, and what tests ask --------------------------------------

    def add_unmanaged(self, name: str, labels: dict[str, str] | None = None) -> None:
        """A unit fleetops did not create (never touched; listed only when it carries a fleet label)."""
        definition = ContainerDefinition(name, "other", (), labels or {}, (), "", None, {}, None, None, True)
        self.units[name] = FakeUnit(f"id{next(self._ids)}", definition, labels or {}, "running")

    def kill_program(self, unit: str, program: str, state: str = "EXITED") -> None:
        """A bot process that died (supervisord gave up on it; ``state="RUNNING"``: supervisord
        started it again at once, as its ``autorestart`` does, with a new pid)."""
        with self._lock:
            found = self.units[unit]
            found.running.pop(program, None)
            found.programs[program], found.pids[program] = state, 0
            if state == "RUNNING":
                found.programs[program] = self._spawn(found, program)
                found.pids[program] = next(self._pids)

    def running_files(self, unit: str, bot: str) -> BotFiles | None:
        """The files a running bot process started with (None when it does not run)."""
        u = self.units[unit]
        if u.state != "running" or (u.pool and u.programs.get(bot) != "RUNNING") or bot not in u.running:
            return None
        return u.running[bot].files

    def answering(self, address: str, port: int) -> tuple[Started, float] | None:
        """The bot process that answers at ``address:port`` and when it started (its unit runs, and so does it)."""
        with self._lock:
            unit = next((u for u in self.units.values() if u.ip == address and u.state == "running"), None)
            if unit is None:
                return None
            name = unit.definition.name
            for bot, raw in self.records.get(name, {}).items():
                try:
                    record = parse_record(AppliedBot, raw) if bot != "container" else None
                except RecordError:
                    continue
                if record is not None and record.placement.port == port and self.running_files(name, bot) is not None:
                    return unit.running[bot], unit.started_at.get(bot, time.time())
        return None

    def close_events(self) -> None:
        """End every ``events`` stream (the backend hung up)."""
        self._events.put(None)

    # -- inner workings ---------------------------------------------------------------------

    def _count(self, operation: str, name: str = "", *, mutates: bool = False, event: str | None = None) -> None:
        with self._lock:
            self.calls += 1
            if mutates:
                self._mutate(f"{operation} {name}".strip())
                if event is not None and name in self.units:
                    self._events.put(UnitEvent(name, event))
            error = self.fail_calls.pop(operation, None)
        if error is not None:
            raise error

    def _mutate(self, what: str | None) -> None:
        """One mutating call (``what`` goes to the log; None: a call the log names by its effects)."""
        if self.crash_after is not None and self.mutations >= self.crash_after:
            raise Killed(f"killed before mutation {self.mutations}")
        self.mutations += 1
        if what is not None:
            self.log.append(what)

    def unit(self, name: str, operation: str) -> FakeUnit:
        if name not in self.units:
            raise DockerError(f"Docker refused to {operation} container {name}: No such container")
        return self.units[name]

    def create(self, definition: ContainerDefinition, revision: int) -> str:
        self._count("create", definition.name, mutates=True)
        with self._lock:
            if definition.name in self.units:
                raise DockerError(f"Docker refused to create container {definition.name}: the name is already in use")
            unit = FakeUnit(f"id{next(self._ids)}", definition, definition.with_revision(revision))
            self.units[definition.name] = unit
        if definition.running:
            self.start(definition.name)
        return unit.id

    def start(self, name: str) -> None:
        self._count("start", name, mutates=True, event="start")
        with self._lock:
            unit = self.unit(name, "start")
            if unit.state == "paused":
                raise DockerError(f"Docker refused to start container {name}: cannot start a paused container, try unpause instead")
            if unit.state != "running":
                self._boot(unit)

    def unpause(self, name: str) -> None:
        self._count("unpause", name, mutates=True)
        with self._lock:
            self.unit(name, "unpause").state = "running"

    def rename(self, name: str, new_name: str) -> None:
        """``docker rename``: the unit keeps running, with its files and records (kept under the name fleetops gave it)."""
        self._count("rename", name, mutates=True)
        with self._lock:
            if new_name in self.units:
                raise DockerError(f"Docker refused to rename container {name}: the name {new_name} is already in use")
            self.units[new_name] = self.unit(name, "rename")
            del self.units[name]

    def stop(self, name: str) -> None:
        self._count("stop", name, mutates=True, event="die")
        with self._lock:
            unit = self.unit(name, "stop")
            unit.state, unit.ip = "exited", None
            unit.programs.clear()
            unit.running.clear()

    def restart(self, name: str) -> None:
        self._count("restart", name, mutates=True, event="die")
        with self._lock:
            unit = self.unit(name, "restart")
            self.unreachable.discard(name)  # a fresh supervisord answers again
            unit.programs.clear()
            unit.running.clear()
            self._boot(unit)

    def _boot(self, unit: FakeUnit) -> None:
        """The unit's main process starts: a pool's supervisord starts its autostart programs, a dedicated unit its bot."""
        name = unit.definition.name
        unit.state, unit.ip = "running", unit.ip or f"10.0.0.{int(unit.id[2:]) % 250 + 2}"
        failed = self.boot(unit.definition)
        if failed is not None:  # its main process exits: the restart policy brings it back, again and again
            unit.state, unit.ip, unit.restarts = "restarting", None, unit.restarts + 1
            unit.output.extend((time.time(), line) for line in failed.output)
            return
        if not unit.pool:
            bot = unit.labels.get(Labels.BOTS, "")
            if bot:
                self._spawn(unit, bot)
            return
        unit.sections = sections(self.unit_files.get(name))
        unit.programs = {n: self._spawn(unit, n) if "autostart=true" in text else "STOPPED" for n, text in unit.sections.items()}
        unit.pids = {n: next(self._pids) for n in unit.programs}

    def _spawn(self, unit: FakeUnit, bot: str) -> str:
        """Start one bot's process with the files it has now; the ``process`` handler says what it does."""
        name = unit.definition.name
        files = self.bot_files.get((name, bot), BotFiles(b"", b"", ("", b""), None))
        started = Started(name, bot, files)
        unit.spawnerr.pop(bot, None)
        unit.running.pop(bot, None)
        outcome = self.process(started)
        if isinstance(outcome, Refused):
            unit.spawnerr[bot] = outcome.reason
            self.logs.setdefault((name, ""), []).extend([
                f"2026-01-01 00:00:00,000 INFO spawnerr: {outcome.reason}",
                f"2026-01-01 00:00:01,000 INFO gave up: {bot} entered FATAL state, too many start retries too quickly"])
            return "FATAL"
        if isinstance(outcome, Exits):
            self.logs.setdefault((name, bot), []).extend(outcome.log)
            if not unit.pool:
                unit.state, unit.ip = "exited", None
                unit.output.extend((time.time(), line) for line in outcome.log)
            return "BACKOFF"
        unit.running[bot] = started
        unit.started_at[bot] = time.time()
        return "RUNNING"

    def events(self) -> Iterator[UnitEvent]:
        while (event := self._events.get()) is not None:
            yield event
