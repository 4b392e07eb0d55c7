"""What a bot's process is doing while the health gate waits for it, and what it last logged.

Used by the gate's subjects (``engine.live.health``): the process check (``engine.health.process``)
turns what this watch sees — supervisord's state of the program, a container that exited or that
Docker restarted since the watch began — into a status, and fails a bot at once when it can no
longer answer. A failure carries the lines that say why, with every secret the bot was given
masked, and only this run's: a bot's ``bot.log`` keeps earlier runs' lines, so it is read from where it ended
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
from engine.health.check import ProcessSeen
from engine.health.process import DEAD_CONTAINER
from engine.live.materials import Materials

__all__ = ["LogStart", "ProcessWatch", "marks"]

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
        self._containers_failed: dict[str, tuple[str, int]] = {}
        """Container → (its state, Docker's restarts since the watch began) when it failed: the first failure seen stays."""
        self._restarts: dict[str, int] = {name: 0 for name in self.start.fresh}

    def seen(self, bot: str) -> ProcessSeen:
        """``bot``'s process and container now (read again at most every ``every`` seconds)."""
        with self._lock:
            if time.monotonic() - self._at >= self.every:
                self._states = self._read()
                self._at = time.monotonic()
            state = self._states.get(bot)
            failed = self._containers_failed.get(self.target.bots[bot].container)
        if failed is None:
            return ProcessSeen(state)
        return ProcessSeen(state, failed[0], failed[1])

    def _containers(self) -> list[str]:
        return sorted({self.target.bots[b].container for b in self.bots})

    def _read(self) -> dict[str, str]:
        states: dict[str, str] = {}
        pools = sorted({self.target.bots[b].container for b in self.bots if self.target.bots[b].placement.pool is not None})
        for pool_container, infos in self.site.processes(pools, 5.0).items():
            if isinstance(infos, SupervisorError):
                continue  # still starting, or its container failed (below): the ping decides
            # Only the bots this container should run: a bot moving out of it still has its old,
            # stopped program here until the move's phase B removes it (or a killed apply left it).
            own = [b for b in self.bots if b in infos and self.target.bots[b].container == pool_container]
            self._infos.update({b: infos[b] for b in own})
            states.update({b: infos[b].state for b in own})
        try:
            inspected = self.site.inspect(self._containers())
        except DockerError:
            return states
        for name, info in inspected.items():
            failure = self._container_failure(name, info)
            if failure is not None:
                self._containers_failed.setdefault(name, failure)
        return states

    def _container_failure(self, name: str, info: UnitInspect) -> tuple[str, int] | None:
        """A container that exited or that Docker restarted since the watch began fails every bot in it."""
        first = self._restarts.setdefault(name, info.restart_count)
        if info.restart_count > first:
            return info.state, info.restart_count - first
        if info.state in DEAD_CONTAINER and not self._meant_stopped(name):
            return info.state, 0
        return None

    def _meant_stopped(self, name: str) -> bool:
        return name in self.target.containers and not self.target.meant_running(name)

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
