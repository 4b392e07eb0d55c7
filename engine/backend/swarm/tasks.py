"""A one-replica service's state, read from its tasks as the manager lists them (``GET /tasks``).

Used by the swarm units (``units``: a unit's state and restarts) and by the no-op proof's check
(``noop``), which must read the same answer the same way before anything heavy is imported: stdlib
only. A service's *current* task is its newest task that Swarm wants running (newest by creation
time, then version), else its newest task; what it shows is mapped onto the states the port knows
from Docker: ``running``; ``created`` before the first task runs, ``restarting`` before a later
one does; ``exited`` once ended or scaled to 0; and ``unreachable`` while its node is down, where
Swarm's view of the task is stale and nothing replaces it elsewhere.

A node that comes back after Swarm saw it down has a task Swarm already replaced (its orchestrator
restarts a down node's tasks; the new one waited, pinned to that node): Swarm starts the new task
there before the node's agent has stopped the old one, the new one's supervisord finds the old one's
socket in use and exits 2, and Swarm starts a third once the old one stopped (seen on the lab, Docker
28). That collision is Swarm changing tasks, not the unit failing: it is not a restart, and
``settled`` is False until the old task has stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ENDED_ON_ITS_OWN", "LIVE", "STARTING", "TaskView", "settled", "task_view"]

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


def _instant(stamp: object) -> tuple[str, str]:
    """An RFC 3339 time as Docker writes it (nanoseconds, trailing zeros dropped) in an order that compares:
    the whole seconds, then the fraction padded to 9 digits."""
    text = str(stamp or "").rstrip("Z")
    seconds, _, fraction = text.partition(".")
    return seconds, fraction.ljust(9, "0")


def _ended_at(task: Mapping[str, Any]) -> tuple[str, str]:
    return _instant((task.get("Status") or {}).get("Timestamp"))


def _superseded_live(task: Mapping[str, Any]) -> bool:
    """A task Swarm no longer wants that still runs (or starts) on its node: Swarm is stopping it."""
    return task.get("DesiredState") not in ("running", "ready", "accepted") and (task.get("Status") or {}).get("State") in LIVE


def _collided(task: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``task`` failed while an older task of the service still ran on the same node, one Swarm
    wanted stopped: the rejoin collision of the module's docstring. Only a task that ran and exited
    (``failed``): one Swarm could not even start (``rejected``, say its image is missing) is no collision."""
    if (task.get("Status") or {}).get("State") != "failed":
        return False
    node, created, ended = task.get("NodeID"), _instant(task.get("CreatedAt")), _ended_at(task)
    for older in tasks:
        if older is task or older.get("NodeID") != node or _instant(older.get("CreatedAt")) >= created:
            continue
        if _superseded_live(older):
            return True
        if older.get("DesiredState") not in ("running", "ready", "accepted") and (older.get("Status") or {}).get("State") == "shutdown" \
                and _ended_at(older) > ended:
            return True
    return False


def settled(tasks: Sequence[Mapping[str, Any]], node: str) -> bool:
    """Whether no task Swarm wants stopped still runs on ``node`` (a node ID): until then a new task there
    may collide with it (see the module's docstring)."""
    return not any(str(t.get("NodeID") or "") == node and _superseded_live(t) for t in tasks)


def _restarts(tasks: Sequence[Mapping[str, Any]], node: str | None) -> int:
    return sum(1 for t in tasks if (t.get("Status") or {}).get("State") in ENDED_ON_ITS_OWN
               and (node is None or str(t.get("NodeID") or "") in (node, "")) and not _collided(t, tasks))


def task_view(tasks: Sequence[Mapping[str, Any]], replicas: int, down: frozenset[str] = frozenset()) -> TaskView:
    """The view of a service with ``replicas`` (0 or 1) from its ``tasks``; ``down``: IDs of nodes that do not answer."""
    wanted = [t for t in tasks if t.get("DesiredState") in ("running", "ready", "accepted")]
    current = max(wanted or tasks, key=lambda t: (_instant(t.get("CreatedAt")), int((t.get("Version") or {}).get("Index", 0))), default=None)
    if current is None:
        return TaskView("created" if replicas else "exited", "", "", _restarts(tasks, None))
    task, node = str(current.get("ID") or ""), str(current.get("NodeID") or "")
    restarts = _restarts(tasks, node)
    status = current.get("Status") or {}
    state = str(status.get("State", ""))
    if node in down and state in LIVE:
        return TaskView("unreachable", task, node, restarts)
    if state == "running":
        return TaskView("running", task, node, restarts, str((status.get("ContainerStatus") or {}).get("ContainerID") or ""))
    if state in STARTING:
        return TaskView("restarting" if restarts else "created", task, node, restarts)
    return TaskView("exited", task, node, restarts)
