"""A one-replica service's state, read from its tasks as the manager lists them (``GET /tasks``).

Used by the swarm units (``units``: a unit's state and restarts) and by the no-op proof's check
(``noop``), which must read the same answer the same way before anything heavy is imported: stdlib
only. A service's *current* task is its newest task that Swarm wants running (newest by creation
time, then version), else its newest task; what it shows is mapped onto the states the port knows
from Docker: ``running``; ``created`` before the first task runs, ``restarting`` before a later
one does; ``exited`` once ended or scaled to 0; and ``unreachable`` while its node is down, where
Swarm's view of the task is stale and nothing replaces it elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ENDED_ON_ITS_OWN", "LIVE", "STARTING", "TaskView", "task_view"]

STARTING = frozenset({"new", "allocated", "pending", "assigned", "accepted", "ready", "preparing", "starting"})
LIVE = STARTING | {"running"}
"""Task states in which its container may run, or is about to."""
ENDED_ON_ITS_OWN = frozenset({"complete", "failed", "rejected"})
"""Task states after which Swarm's restart policy starts a new task: each counts as a restart."""


@dataclass(frozen=True)
class TaskView:
    """What a service's tasks say: its state, its current task's ID and node ("" when none), and how
    often it restarted on that node (counted over the history Swarm keeps: 5 tasks per slot by default,
    so the count stops growing there). Tasks a unit ran on another node before it moved are not its
    restarts: it started afresh where its data now is (``engine.backend.swarm.moves``), as a Docker
    container recreated does — and a stand-in or a bot that exits 0 on the move's stop ends ``complete``."""

    state: str
    task: str
    node: str
    restarts: int
    container: str = ""
    """The current task's container ID on its node (``Status.ContainerStatus.ContainerID``; "" before
    the node made it): what the node's agent finds the unit's cgroup by (its memory use)."""


def task_view(tasks: Sequence[Mapping[str, Any]], replicas: int, down: frozenset[str] = frozenset()) -> TaskView:
    """The view of a service with ``replicas`` (0 or 1) from its ``tasks``; ``down``: IDs of nodes that do not answer."""
    wanted = [t for t in tasks if t.get("DesiredState") in ("running", "ready", "accepted")]
    current = max(wanted or tasks, key=lambda t: (str(t.get("CreatedAt", "")), int((t.get("Version") or {}).get("Index", 0))), default=None)
    if current is None:
        restarts = sum(1 for t in tasks if (t.get("Status") or {}).get("State") in ENDED_ON_ITS_OWN)
        return TaskView("created" if replicas else "exited", "", "", restarts)
    task, node = str(current.get("ID") or ""), str(current.get("NodeID") or "")
    restarts = sum(1 for t in tasks if (t.get("Status") or {}).get("State") in ENDED_ON_ITS_OWN and str(t.get("NodeID") or "") in (node, ""))
    status = current.get("Status") or {}
    state = str(status.get("State", ""))
    if node in down and state in LIVE:
        return TaskView("unreachable", task, node, restarts)
    if state == "running":
        return TaskView("running", task, node, restarts, str((status.get("ContainerStatus") or {}).get("ContainerID") or ""))
    if state in STARTING:
        return TaskView("restarting" if restarts else "created", task, node, restarts)
    return TaskView("exited", task, node, restarts)
