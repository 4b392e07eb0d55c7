"""Waiting for a service's task to run or to end, as Docker's create, start and stop return only then.

Part of the swarm units (``engine.backend.swarm.units``) and the site's retirement of the node
agents (``engine.backend.swarm.site``): Swarm's API returns as soon as it accepted a change, and
the health gate must judge a unit whose task runs (a settled one: ``tasks.settled``), a move must
not copy files a task still writes. Each wait polls the manager's task list and gives up with a
sentence naming the service, what was asked and what to run to see why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.backend.swarm.tasks import LIVE, settled
from engine.errors import DockerError
from engine.textsafe import one_line

if TYPE_CHECKING:
    from engine.backend.swarm.api import SwarmManager

__all__ = ["RUN_WAIT", "STOP_WAIT", "TaskWaits"]

STOP_WAIT = 60.0
"""Seconds ``stop`` and ``remove`` wait for the task to end (its grace period is 20 s)."""
RUN_WAIT = 180.0
"""Seconds ``create``, ``start`` and ``update`` wait for the task to run (its node pulls the image first)."""


class TaskWaits:
    """Waits on the tasks of services behind ``api``; ``sleep`` and ``clock`` are seams for tests (seconds)."""

    def __init__(self, api: SwarmManager, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self._sleep, self._clock = sleep, clock

    def running(self, service_id: str, name: str, what: str, stale: frozenset[str] = frozenset(), update: bool = False) -> None:
        """Return once the service has a running task other than ``stale`` (the tasks before an update that replaces
        its task) and no task Swarm replaced still runs on its node (``tasks.settled``). An update Swarm rolled back
        or paused raises DockerError at once; no such task after ``RUN_WAIT`` seconds raises it with Swarm's reason."""
        deadline = self._clock() + RUN_WAIT
        while True:
            tasks = [t for t in self.api.tasks([service_id]) if str(t.get("ID")) not in stale]
            running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running" and t.get("DesiredState") == "running"]
            if running and settled(tasks, str(running[0].get("NodeID") or "")):  # not while a replaced task still runs there
                return
            state = ((self.api.service(name) or {}).get("UpdateStatus") or {}) if update else {}
            update_state = str(state.get("State", ""))
            if update_state.startswith("rollback") or update_state == "paused":
                raise DockerError(f"Swarm rolled back the update of service {name} ({update_state}: "
                                  f"{one_line(str(state.get('Message', '')))}): the new task did not run; this apply failed")
            if self._clock() > deadline:
                why = next((str((t.get("Status") or {}).get("Err")) for t in sorted(tasks, key=lambda t: str(t.get("CreatedAt", "")), reverse=True)
                            if (t.get("Status") or {}).get("Err")), "no task ran")
                raise DockerError(f"service {name}'s task does not run {RUN_WAIT:.0f} s after fleetops asked Swarm to {what} it ({why}); "
                                  f"`docker service ps --no-trunc {name}` shows why")
            self._sleep(0.25)

    def ended(self, service_id: str, name: str, what: str) -> None:
        """Return once no task of the service is live; DockerError after ``STOP_WAIT`` seconds, naming its node."""
        deadline = self._clock() + STOP_WAIT
        while True:
            live = [t for t in self.api.tasks([service_id]) if (t.get("Status") or {}).get("State") in LIVE]
            if not live:
                return
            if self._clock() > deadline:
                raise DockerError(f"service {name}'s task still runs {STOP_WAIT:.0f} s after fleetops asked Swarm to {what} it; "
                                  f"is its node ({live[0].get('NodeID')}) answering? `docker service ps {name}` shows it")
            self._sleep(0.2)
