"""What a bot's process is doing while the health gate waits for it, and what it last logged.

Used by ``flow.check_health``. A bot supervisord reports EXITED, BACKOFF, FATAL or STOPPED (or a
dedicated bot whose container exited) will not answer its ping, so the gate fails it at once
instead of waiting out ``health.timeout_seconds``; the failure carries the bot's last log lines
with every secret it was given masked, so the person reading it sees the exception, not a timeout.
"""

from __future__ import annotations

import threading
import time

from engine.compile.desired import DesiredFleet
from engine.errors import DockerError, SupervisorError
from engine.live.ports import Ports
from engine.live.runtime import Runtime
from engine.naming import network_name

__all__ = ["FAILED_STATES", "ProcessWatch"]

FAILED_STATES = frozenset({"EXITED", "BACKOFF", "FATAL", "STOPPED"})
_DEAD_CONTAINER = frozenset({"exited", "dead", "restarting", "created"})
LOG_LINES = 20


class ProcessWatch:
    """Process states of the bots being checked, refreshed at most every ``every`` seconds."""

    def __init__(self, ports: Ports, runtime: Runtime, target: DesiredFleet, bots: set[str], every: float = 0.5) -> None:
        self.ports = ports
        self.runtime = runtime
        self.target = target
        self.bots = bots
        self.every = every
        self._lock = threading.Lock()
        self._at = 0.0
        self._states: dict[str, str] = {}

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

    def _read(self) -> dict[str, str]:
        states: dict[str, str] = {}
        pools = sorted({self.target.bots[b].container for b in self.bots if self.target.bots[b].placement.pool is not None})
        for pool_container in pools:
            try:
                infos = self.ports.supervisor(pool_container, self.runtime.data_dir(pool_container), 5.0).states()
            except SupervisorError:
                continue  # still starting: the ping decides
            states.update({b: infos[b].state for b in self.bots if b in infos})
        if any(self.target.bots[b].placement.pool is None for b in self.bots):
            try:
                listed = {c.name: c for c in self.ports.docker.list_fleet(self.target.name, network_name(self.target.name))}
            except DockerError:
                return states
            for bot in self.bots:
                placement = self.target.bots[bot].placement
                container = listed.get(placement.container)
                if placement.pool is None and container is not None and container.state in _DEAD_CONTAINER:
                    states[bot] = f"container is {container.state}"
        return states

    def last_log(self, bot: str) -> tuple[str, ...]:
        """The bot's last log lines, its secrets masked."""
        desired = self.target.bots[bot]
        if desired.placement.pool is None:
            try:
                text = self.ports.docker.logs(desired.container, LOG_LINES)
            except DockerError:
                text = ""
        else:
            text = self.runtime.tail_log(desired.container, bot)
        lines = self.runtime.mask(desired, text).splitlines()[-LOG_LINES:]
        return tuple(lines)
