"""What a bot's process is doing while the health gate waits for it, and what it last logged.

Used by ``flow.check_health``. A bot supervisord reports EXITED, BACKOFF, FATAL or STOPPED, or
whose container exits or is restarted by Docker (a pool whose supervisord cannot start — "Invalid
user id 1000 in section 'program:…'" — restarts in a loop with every bot in it), will not answer
its ping, so the gate fails it at once instead of waiting out ``health.timeout_seconds``. The
failure carries the lines that say why, with every secret the bot was given masked, and only
this run's: a bot's ``bot.log`` keeps earlier runs' lines, so it is read from where it ended
before this apply started the bot (``LogStart``); a container's own output (``docker logs``)
from when the apply started; and for a program supervisord could not start, supervisord's own
reason (its ``spawnerr`` and its log lines about the program) — the bot itself printed nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.backend.port import LogMark, ProcessInfo, Site, UnitInspect
from engine.compile.desired import DesiredFleet
from engine.errors import DockerError, SupervisorError
from engine.live.materials import Materials

__all__ = ["FAILED_STATES", "LogStart", "ProcessWatch", "marks"]

FAILED_STATES = frozenset({"EXITED", "BACKOFF", "FATAL", "STOPPED"})
_DEAD_CONTAINER = frozenset({"exited", "dead", "restarting", "created"})
LOG_LINES = 20
SUPERVISOR_LINES = 5


@dataclass(frozen=True)
class LogStart:
    """Where this run's output begins, taken before the executor (re)starts anything."""

    at: float = 0.0
    """Seconds since the epoch: a container's own log is read from here (0: all of it)."""
    bots: Mapping[str, LogMark] = field(default_factory=dict)
    """Bot → (inode, size) of its bot.log then."""
    supervisord: Mapping[str, LogMark] = field(default_factory=dict)
    """Pool container → (inode, size) of its supervisord.log then."""
    fresh: frozenset[str] = frozenset()
    """Containers this run created: any restart of theirs is a failure at start."""


class ProcessWatch:
    """Process states of the bots being checked, refreshed at most every ``every`` seconds."""

    def __init__(self, site: Site, materials: Materials, target: DesiredFleet, bots: set[str], every: float = 0.5,
                 start: LogStart | None = None) -> None:
        self.site = site
        self.materials = materials
        self.target = target
        self.bots = bots
        self.every = every
        self.start = start or LogStart()
        self._lock = threading.Lock()
        self._at = 0.0
        self._states: dict[str, str] = {}
        self._infos: dict[str, ProcessInfo] = {}
        self._containers_failed: dict[str, str] = {}
        self._restarts: dict[str, int] = {name: 0 for name in self.start.fresh}

    def failed(self, bot: str) -> str | None:
        """Why ``bot``'s process cannot answer any more, or None while it may still."""
        with self._lock:
            if time.monotonic() - self._at >= self.every:
                self._states = self._read()
                self._at = time.monotonic()
            state = self._states.get(bot)
        if state in FAILED_STATES:
            return f"its process is {state} (supervisord)"
        if state is not None and state.startswith("container "):
            return f"its {state}"
        return None

    def _containers(self) -> list[str]:
        return sorted({self.target.bots[b].container for b in self.bots})

    def _read(self) -> dict[str, str]:
        states: dict[str, str] = {}
        pools = sorted({self.target.bots[b].container for b in self.bots if self.target.bots[b].placement.pool is not None})
        for infos in self.site.processes(pools, 5.0).values():
            if isinstance(infos, SupervisorError):
                continue  # still starting, or its container failed (below): the ping decides
            self._infos.update({b: infos[b] for b in self.bots if b in infos})
            states.update({b: infos[b].state for b in self.bots if b in infos})
        try:
            inspected = self.site.inspect(self._containers())
        except DockerError:
            return states
        for name, info in inspected.items():
            why = self._container_failure(name, info)
            if why is not None:
                self._containers_failed.setdefault(name, why)
        for bot in self.bots:
            why = self._containers_failed.get(self.target.bots[bot].container)
            if why is not None:
                states[bot] = why
        return states

    def _container_failure(self, name: str, info: UnitInspect) -> str | None:
        """A container that exited or that Docker restarted since the watch began fails every bot in it."""
        first = self._restarts.setdefault(name, info.restart_count)
        if info.restart_count > first:
            return f"container restarted {info.restart_count - first} time(s) since it started (it is {info.state})"
        if info.state in _DEAD_CONTAINER and not self._dedicated_disabled(name):
            return f"container is {info.state}"
        return None

    def _dedicated_disabled(self, name: str) -> bool:
        container = self.target.containers.get(name)
        return container is not None and container.dedicated and not any(self.target.bots[b].essence.enabled for b in container.bots)

    def last_log(self, bot: str) -> tuple[str, ...]:
        """This run's last log lines of the bot (its container's own when the container failed), secrets masked."""
        desired = self.target.bots[bot]
        since = self.start.at or None
        if desired.placement.pool is None or desired.container in self._containers_failed:
            try:
                text = self.site.output(desired.container, LOG_LINES, since=since)
            except DockerError:
                text = ""
            lines = text.splitlines()[-LOG_LINES:]
        else:
            reasons = self._supervisor_reasons(bot)
            own = self.site.bot_log(desired.container, bot, after=self.start.bots.get(bot)).splitlines()
            lines = own[-(LOG_LINES - len(reasons)):] + reasons
        return tuple(self.materials.mask(desired, "\n".join(lines)).splitlines())

    def _supervisor_reasons(self, bot: str) -> list[str]:
        """supervisord's own words about a program it could not keep running: a spawn error never
        reaches the bot's log (nothing was started to write it)."""
        info = self._infos.get(bot)
        reasons = [f"supervisord: spawnerr: {info.spawnerr}"] if info is not None and info.spawnerr else []
        container = self.target.bots[bot].container
        log = self.site.unit_log(container, after=self.start.supervisord.get(container))
        about = [line for line in log.splitlines() if f" {bot} " in line or f"'{bot}'" in line or f" {bot}:" in line]
        reasons += [f"supervisord: {line}" for line in about if "spawned:" not in line and "success:" not in line]
        return reasons[-SUPERVISOR_LINES:]


def marks(site: Site, target: DesiredFleet, bots: set[str], containers: set[str], fresh: set[str]) -> LogStart:
    """Where each touched bot's and pool's log ends now (before the executor starts anything)."""
    return LogStart(
        at=time.time(),
        bots={b: site.bot_log_mark(target.bots[b].container, b) for b in sorted(bots) if b in target.bots},
        supervisord={c: site.unit_log_mark(c) for c in sorted(containers)
                     if c in target.containers and not target.containers[c].dedicated},
        fresh=frozenset(fresh),
    )
