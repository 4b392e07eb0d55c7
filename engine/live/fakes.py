"""In-memory Docker, supervisord and bot APIs: the ``Ports`` unit tests run the live half against.

Shipped beside the real adapters (as httpx ships ``MockTransport``) so that apply, drift and
rollback, and their failure paths, are tested in seconds. The fakes keep the promises the real
things keep and that the engine relies on: Docker names are unique, only labelled containers are
listed, a started pool container's supervisord runs the programs of the conf fleetops wrote
(``autostart`` honoured), ``update`` touches only programs whose section changed; a bot whose
strategy contains ``CRASH`` dies at start (supervisord: BACKOFF) after printing a traceback that
quotes its secrets file, as a careless strategy might. The bots' own APIs are ``bots``
(``engine.live.fake_bots.FakeBots``): this host only tells them which bot process serves an
address and port (``process_at``); how each behaves, the test says there. Failures are injected
by name: ``unreachable`` supervisords, ``fail_calls`` on Docker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.compile.container import ContainerDefinition
from engine.compile.essence import RecordError, parse_record
from engine.errors import DockerError, SupervisorError
from engine.live.container_inspect import UNCOMPARED_LABELS, ContainerInspect, ContainerSettings
from engine.live.fake_bots import FakeBots, RunningProcess
from engine.live.ports import ContainerEvent, ImageFacts, ListedContainer, Ports, ProcessInfo
from engine.live.records import AppliedBot
from engine.live.settings_drift import memory_bytes
from engine.naming import BOTS, HOST_ETC, HOST_RECORDS, Labels

__all__ = ["FakeContainer", "FakeEngine", "Killed"]


class Killed(BaseException):
    """The process died (SIGKILL) in the middle of a call: nothing after it runs, no handler cleans up."""

_SECTION = re.compile(r"^\[program:([^\]]+)\]\n(.*?)(?=^\[|\Z)", re.MULTILINE | re.DOTALL)


@dataclass
class FakeContainer:
    id: str
    definition: ContainerDefinition
    labels: dict[str, str]
    runtime_dir: Path
    state: str = "created"
    ip: str | None = None
    programs: dict[str, str] = field(default_factory=dict)
    """Program → state, for pool containers (what supervisord runs)."""
    sections: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    output: list[tuple[float, str]] = field(default_factory=list)
    """What the container printed, with when (a dedicated bot's log, a pool's supervisord)."""
    started_with: dict[str, str] = field(default_factory=dict)
    """Bot → the config.json its running process read when it started (what it really runs)."""
    started_at: dict[str, float] = field(default_factory=dict)
    started_strategy: dict[str, str] = field(default_factory=dict)
    """Bot → the strategy text its running process loaded when it started."""
    by_hand: dict[str, object] = field(default_factory=dict)
    """Settings a person changed (``ContainerSettings`` field → value): what inspect shows instead."""
    restarts: int = 0
    """How often Docker restarted it (its restart policy after the process exited)."""
    spawnerr: dict[str, str] = field(default_factory=dict)


class FakeEngine:
    """One fake host: its Docker engine, the supervisords in its containers, its bots' APIs."""

    def __init__(self, images: tuple[str, ...] = ()) -> None:
        self.images = set(images)
        self.image_users: dict[str, dict[str, int]] = {}
        """Image → its /etc/passwd users (default: root 0 and bot 1000, as fleetops' images)."""
        self.image_lacks: dict[str, set[str]] = {}
        """Image → executables its PATH does not have."""
        self.exits_at_start: dict[str, list[str]] = {}
        """Image → what its main process prints before it exits at start (Docker then restarts it, in a loop)."""
        self.image_reads = 0
        self.spawn_errors: dict[str, str] = {}
        """Bot → why supervisord cannot start its program (``spawnerr``): it goes FATAL, its own log stays empty."""
        self.containers: dict[str, FakeContainer] = {}
        self.networks: set[str] = set()
        self.calls = 0
        self.mutations = 0
        self.log: list[str] = []
        self.fail_calls: dict[str, Exception] = {}
        """Docker operation ("create", "start", "remove", …) → the error it raises next time."""
        self.unreachable: set[str] = set()
        """Containers whose supervisord does not answer."""
        self.crash_after: int | None = None
        """Die (raise ``Killed``) instead of making the mutation with this number (0-based)."""
        self.crash_on_ping = False
        """Die (raise ``Killed``) at the next ping of a bot: an apply killed in its health wait."""
        self.bots = FakeBots(self.process_at, before_ping=self.before_ping)
        """The bots' own APIs (ping and REST): how each behaves is set there."""
        self._events: queue.Queue[ContainerEvent | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._pids = itertools.count(100)
        self._lock = threading.RLock()

    def ports(self) -> Ports:
        return Ports(docker=self, supervisor=self.supervisor, probe=self.bots, bot_api=self.bots)

    def process_at(self, address: str, port: int) -> RunningProcess | None:
        """The bot process serving ``address:port``, when its container runs and (in a pool) supervisord runs it."""
        with self._lock:
            container = next((c for c in self.containers.values() if c.ip == address and c.state == "running"), None)
            if container is None:
                return None
            bot = _bot_on_port(container.runtime_dir, port)
            if bot is None or (container.labels.get(Labels.ROLE) == "pool" and container.programs.get(bot) != "RUNNING"):
                return None
            return RunningProcess(bot, container.started_at.get(bot, 0.0), container.started_strategy.get(bot, ""))

    # -- Docker ----------------------------------------------------------------------------

    def _count(self, operation: str, name: str = "", *, mutates: bool = False) -> None:
        with self._lock:
            self.calls += 1
            if mutates:
                self._maybe_die()
                self.mutations += 1
                self.log.append(f"{operation} {name}".strip())
                event = {"stop": "die", "restart": "die", "remove": "destroy", "start": "start"}.get(operation)
                if event is not None and name in self.containers:
                    self._events.put(ContainerEvent(name, event))
            error = self.fail_calls.pop(operation, None)
        if error is not None:
            raise error

    def ping(self) -> None:
        self._count("ping")

    def list_fleet(self, fleet: str, network: str) -> list[ListedContainer]:
        self._count("list")
        with self._lock:
            return sorted((ListedContainer(c.id, name, dict(c.labels), c.state, c.ip)
                           for name, c in self.containers.items() if c.labels.get(Labels.FLEET) == fleet), key=lambda c: c.name)

    def list_managed(self) -> list[ListedContainer]:
        self._count("list")
        with self._lock:
            return sorted((ListedContainer(c.id, name, dict(c.labels), c.state, None)
                           for name, c in self.containers.items() if Labels.FLEET in c.labels), key=lambda c: c.name)

    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        self._count("list")
        return {n: self.containers[n].labels.get(Labels.FLEET) for n in names if n in self.containers}

    def image_exists(self, image: str) -> bool:
        self._count("inspect-image")
        return image in self.images

    def image_id(self, image: str) -> str | None:
        self._count("inspect-image")
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest() if image in self.images else None

    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        self._count("read-image")
        self.image_reads += 1
        image_id = self.image_id(image)
        assert image_id is not None
        lacks = self.image_lacks.get(image, set())
        return ImageFacts(image_id, dict(self.image_users.get(image, {"root": 0, "bot": 1000})),
                          {name: None if name in lacks else f"/usr/bin/{name.rsplit('/', 1)[-1]}" for name in executables})

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        self._count("list-networks")
        if name not in self.networks:
            self._count("create-network", name, mutates=True)
            self.networks.add(name)

    def create_and_start(self, definition: ContainerDefinition, runtime_dir: Path, revision: int) -> str:
        self._count("create", definition.name, mutates=True)
        with self._lock:
            if definition.name in self.containers:
                raise DockerError(f"Docker refused to create container {definition.name}: the name is already in use")
            container = FakeContainer(f"id{next(self._ids)}", definition, definition.with_revision(revision), runtime_dir)
            self.containers[definition.name] = container
        if definition.running:
            self.start(definition.name)
        return container.id

    def logs(self, name: str, lines: int, since: float | None = None) -> str:
        self._count("logs")
        output = self._container(name, "read the log of").output
        return "\n".join([line for at, line in output if since is None or at >= since][-lines:])

    def inspect_many(self, names: list[str]) -> dict[str, ContainerInspect]:
        found = {}
        for name in names:
            self._count("inspect")
            container = self.containers.get(name)
            if container is not None:
                found[name] = ContainerInspect(self._settings(container), container.state, container.restarts)
        return found

    def _settings(self, container: FakeContainer) -> ContainerSettings:
        """What Docker would show for the container created from its definition, plus changes by hand."""
        definition = container.definition
        created = ContainerSettings(
            image=definition.image, command=definition.command, user=definition.user or "", memory=memory_bytes(definition.memory),
            nano_cpus=int(definition.cpus * 1e9) if definition.cpus else 0, restart=definition.restart, init=definition.init,
            binds=tuple(sorted(f"{container.runtime_dir / m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in definition.mounts)),
            networks=(definition.network,),
            labels=tuple(sorted((k, v) for k, v in container.labels.items() if k not in UNCOMPARED_LABELS)))
        return dataclasses.replace(created, **container.by_hand)  # type: ignore[arg-type]

    def update_settings(self, name: str, *, memory: int | None = None, nano_cpus: int | None = None, restart: str | None = None) -> None:
        self._count("update", name, mutates=True)
        container = self._container(name, "update")
        for key, value in (("memory", memory), ("nano_cpus", nano_cpus), ("restart", restart)):
            if value is not None:
                container.by_hand.pop(key, None)

    def connect_network(self, network: str, name: str) -> None:
        self._count("connect", name, mutates=True)
        self._set_networks(self._container(name, "connect"), lambda now: {*now, network})

    def disconnect_network(self, network: str, name: str) -> None:
        self._count("disconnect", name, mutates=True)
        self._set_networks(self._container(name, "disconnect"), lambda now: set(now) - {network})

    def _set_networks(self, container: FakeContainer, change: Callable[[tuple[str, ...]], set[str]]) -> None:
        now: tuple[str, ...] = tuple(container.by_hand.get("networks", (container.definition.network,)))  # type: ignore[arg-type]
        networks = tuple(sorted(change(now)))
        if networks == (container.definition.network,):
            container.by_hand.pop("networks", None)
        else:
            container.by_hand["networks"] = networks

    def events(self, fleet: str) -> Iterator[ContainerEvent]:
        while (event := self._events.get()) is not None:
            yield event

    def close_events(self) -> None:
        """End every ``events`` stream (the engine hung up)."""
        self._events.put(None)

    def add_unmanaged(self, name: str, labels: dict[str, str] | None = None) -> None:
        """A container fleetops did not create (it must never touch it)."""
        definition = ContainerDefinition(name, "other", (), labels or {}, (), "", None, {}, None, None, True)
        self.containers[name] = FakeContainer(f"id{next(self._ids)}", definition, labels or {}, Path("/nonexistent"), "running")

    def _container(self, name: str, operation: str) -> FakeContainer:
        if name not in self.containers:
            raise DockerError(f"Docker refused to {operation} container {name}: No such container")
        return self.containers[name]

    def start(self, name: str) -> None:
        self._count("start", name, mutates=True)
        with self._lock:
            container = self._container(name, "start")
            if container.state == "running":
                return
            container.state = "running"
            container.ip = f"10.0.0.{int(container.id[2:]) % 250 + 2}"
            self._boot(container)

    def running_config(self, container: str, bot: str) -> str | None:
        """The config a running bot process started with (None when it does not run)."""
        c = self.containers[container]
        if c.state != "running" or (c.labels.get(Labels.ROLE) == "pool" and c.programs.get(bot) != "RUNNING"):
            return None
        return c.started_with.get(bot)

    def stop(self, name: str, timeout: int = 20) -> None:
        self._count("stop", name, mutates=True)
        with self._lock:
            container = self._container(name, "stop")
            container.state, container.ip = "exited", None
            container.programs.clear()

    def restart(self, name: str, timeout: int = 20) -> None:
        self._count("restart", name, mutates=True)
        with self._lock:
            container = self._container(name, "restart")
            self.unreachable.discard(name)  # a fresh supervisord answers again
            container.programs.clear()
            container.state = "running"
            container.ip = container.ip or f"10.0.0.{int(container.id[2:]) % 250 + 2}"
            self._boot(container)

    def remove(self, name: str) -> None:
        self._count("remove", name, mutates=True)
        with self._lock:
            self._container(name, "remove")
            del self.containers[name]

    def _boot(self, container: FakeContainer) -> None:
        """A pool container's supervisord reads its conf and starts the autostart programs."""
        if container.definition.image in self.exits_at_start:  # its main process exits: Docker restarts it, again and again
            container.state, container.ip, container.restarts = "restarting", None, container.restarts + 1
            container.output.extend((time.time(), line) for line in self.exits_at_start[container.definition.image])
            return
        if container.labels.get(Labels.ROLE) != "pool":
            bot = container.labels.get(Labels.BOTS, "")
            if bot:
                self._spawn(container, bot)
            return
        container.sections = _read_sections(container.runtime_dir)
        container.programs = {n: self._spawn(container, n) if "autostart=true" in text else "STOPPED"
                              for n, text in container.sections.items()}
        container.pids = {n: next(self._pids) for n in container.programs}

    def _spawn(self, container: FakeContainer, bot: str) -> str:
        """Start one bot's process: RUNNING, or BACKOFF for a strategy that crashes at start."""
        etc = container.runtime_dir / HOST_ETC / BOTS / bot
        config = etc / "config.json"
        container.started_with[bot] = config.read_text() if config.is_file() else ""
        container.started_strategy[bot] = "".join(f.read_text() for f in sorted((etc / "strategies").glob("*.py")))
        container.started_at[bot] = time.time()
        container.spawnerr.pop(bot, None)
        if bot in self.spawn_errors:  # supervisord cannot start it: its reason goes to supervisord's log, not the bot's
            container.spawnerr[bot] = self.spawn_errors[bot]
            log = container.runtime_dir / "data" / "supervisord.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as handle:
                handle.write(f"2026-01-01 00:00:00,000 INFO spawnerr: {self.spawn_errors[bot]}\n"
                             f"2026-01-01 00:00:01,000 INFO gave up: {bot} entered FATAL state, too many start retries too quickly\n")
            return "FATAL"
        if any("CRASH" in f.read_text() for f in (etc / "strategies").glob("*.py")):
            secrets = (etc / "secrets.json").read_text() if (etc / "secrets.json").is_file() else ""
            log = container.runtime_dir / "data" / BOTS / bot / "bot.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as handle:
                handle.write(f"Traceback (most recent call last):\nRuntimeError: strategy crashed; config was {secrets}\n")
            return "BACKOFF"
        return "RUNNING"

    def before_ping(self) -> None:
        """A bot is pinged: die there when asked to (an apply killed in its health wait)."""
        if self.crash_on_ping:
            raise Killed("killed in the health wait")

    def _maybe_die(self) -> None:
        if self.crash_after is not None and self.mutations >= self.crash_after:
            raise Killed(f"killed before mutation {self.mutations}")

    # -- supervisord -----------------------------------------------------------------------

    def supervisor(self, container: str, data_dir: Path, timeout: float) -> _FakeSupervisor:
        return _FakeSupervisor(self, container)

    def kill_program(self, container: str, program: str, state: str = "EXITED") -> None:
        """A bot process that died (supervisord gave up on it)."""
        self.containers[container].programs[program] = state


class _FakeSupervisor:
    def __init__(self, engine: FakeEngine, container: str) -> None:
        self.engine = engine
        self.name = container

    def _container(self, what: str) -> FakeContainer:
        container = self.engine.containers.get(self.name)
        if self.name in self.engine.unreachable or container is None or container.state != "running":
            raise SupervisorError(f"supervisord in {self.name} did not answer ({what}): [Errno 111] Connection refused")
        return container

    def wait_ready(self, timeout: float = 30.0) -> None:
        self._container("get its state")

    def states(self) -> dict[str, ProcessInfo]:
        container = self._container("list its programs")
        return {n: ProcessInfo(n, s, container.pids.get(n, 0), spawnerr=container.spawnerr.get(n, "")) for n, s in container.programs.items()}

    def update(self) -> tuple[list[str], list[str], list[str]]:
        container = self._container("re-read its config")
        with self.engine._lock:
            self.engine._maybe_die()
            self.engine.mutations += 1
            sections = _read_sections(container.runtime_dir)
            added = sorted(set(sections) - set(container.sections))
            removed = sorted(set(container.sections) - set(sections))
            changed = sorted(n for n in set(sections) & set(container.sections) if sections[n] != container.sections[n])
            for name in removed:
                container.programs.pop(name, None)
            for name in added + changed:
                container.programs[name] = self.engine._spawn(container, name) if "autostart=true" in sections[name] else "STOPPED"
                container.pids[name] = next(self.engine._pids)
            container.sections = sections
            self.engine.log.extend(f"supervisor {self.name} {verb} {n}" for verb, names in
                                   (("add", added), ("change", changed), ("remove", removed)) for n in names)
        return added, changed, removed

    def restart(self, name: str) -> None:
        """Two calls, as supervisord's: stop, then start (a process can die between them)."""
        container = self._container(f"restart {name}")
        with self.engine._lock:
            self.engine._maybe_die()
            self.engine.mutations += 1
            container.programs[name] = "STOPPED"
            self.engine._maybe_die()
            self.engine.mutations += 1
            container.programs[name] = self.engine._spawn(container, name)
            container.pids[name] = next(self.engine._pids)
            self.engine.log.append(f"supervisor {self.name} restart {name}")

    def start(self, name: str) -> None:
        self.restart(name)

    def stop(self, name: str) -> None:
        container = self._container(f"stop {name}")
        with self.engine._lock:
            self.engine._maybe_die()
            self.engine.mutations += 1
            container.programs[name] = "STOPPED"
            self.engine.log.append(f"supervisor {self.name} stop {name}")


def _read_sections(runtime_dir: Path) -> dict[str, str]:
    conf = runtime_dir / HOST_ETC / "supervisord.conf"
    text = conf.read_text() if conf.is_file() else ""
    return {m.group(1): m.group(2).strip() for m in _SECTION.finditer(text)}


def _bot_on_port(runtime_dir: Path, port: int) -> str | None:
    for record in sorted((runtime_dir / HOST_RECORDS / BOTS).glob("*.json")):
        try:
            applied = parse_record(AppliedBot, record.read_bytes())
        except RecordError:
            continue
        if applied.placement.port == port:
            return record.stem
    return None
