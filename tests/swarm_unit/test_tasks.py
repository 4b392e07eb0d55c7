"""A unit's state and restarts read from its Swarm tasks (``engine.backend.swarm.tasks``), through a node's rejoin.

The snapshots are the task listings the lab showed for pool standard's service after its node came back
from a partition (tests/swarm/test_moves_lab.py, Docker 28): Swarm had replaced the task while the node
was down (``t2``, pending, pinned there); on rejoin it started ``t2`` beside the old ``t1``, which the
node's agent had not stopped yet, ``t2``'s supervisord found ``t1``'s socket in use and exited 2, and
``t3`` started once ``t1`` had stopped. Timestamps are in the order the lab showed them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from engine.backend.swarm.tasks import settled, task_view
from engine.backend.swarm.units import SwarmUnits
from tests.swarm_unit.fake_sdk import FakeSwarm
from tests.swarm_unit.test_units import created

N = "node4id"


def task(task_id: str, created_at: str, desired: str, state: str, at: str = "", node: str = N, err: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "Timestamp": f"2026-12-01T11:{at or created_at}Z"}
    if err:
        status["Err"] = err
    return {"ID": task_id, "NodeID": node, "CreatedAt": f"2026-12-01T11:{created_at}Z", "DesiredState": desired, "Status": status,
            "Version": {"Index": 1}}


T1_RUNNING = task("t1", "02:01.87", "shutdown", "running", "02:02.5")
T1_STOPPED = task("t1", "02:01.87", "shutdown", "shutdown", "03:12.91")
T2_FAILED = task("t2", "02:53.94", "shutdown", "failed", "03:10.3", err="task: non-zero exit (2)")
REJOIN = [
    [T1_RUNNING, task("t2", "02:53.94", "running", "pending", node="")],
    [T1_RUNNING, task("t2", "02:53.94", "running", "assigned")],
    [T1_RUNNING, task("t2", "02:53.94", "running", "starting", "03:09.1")],
    [T1_RUNNING, task("t2", "02:53.94", "running", "running", "03:09.6")],
    [T1_RUNNING, T2_FAILED, task("t3", "03:10.34", "ready", "assigned")],
    [T1_STOPPED, T2_FAILED, task("t3", "03:10.34", "ready", "ready", "03:11.0")],
    [T1_STOPPED, T2_FAILED, task("t3", "03:10.34", "running", "starting", "03:13.5")],
    [T1_STOPPED, T2_FAILED, task("t3", "03:10.34", "running", "running", "03:14.1")],
]


def test_a_task_that_collided_with_its_replaced_predecessor_is_not_a_restart() -> None:
    views = [task_view(listing, 1) for listing in REJOIN]
    assert [v.restarts for v in views] == [0] * len(REJOIN)
    assert [v.state for v in views] == ["created", "created", "created", "running", "created", "created", "created", "running"]
    assert [v.task for v in views] == ["t2"] * 4 + ["t3"] * 4
    assert [settled(listing, N) for listing in REJOIN] == [False] * 5 + [True] * 3


def test_a_task_that_fails_on_its_own_after_the_rejoin_still_counts() -> None:
    crashed = task("t3", "03:10.34", "shutdown", "failed", "03:40.0", err="task: non-zero exit (1)")
    after = [T1_STOPPED, T2_FAILED, crashed, task("t4", "03:45.0", "running", "running", "03:45.9")]
    assert task_view(after, 1).restarts == 1
    rejected = task("t2", "02:53.94", "shutdown", "rejected", "03:10.3", err="No such image")  # never ran: no collision
    assert task_view([T1_RUNNING, rejected, task("t3", "03:10.34", "ready", "assigned")], 1).restarts == 1


def test_times_compare_as_instants_though_docker_drops_trailing_zeros() -> None:
    """``…:10.3Z`` is after ``…:10.25Z``: compared as text it would not be."""
    older = task("t1", "02:01.87", "shutdown", "shutdown", "03:10.3")
    failed = task("t2", "02:53.94", "shutdown", "failed", "03:10.25")
    assert task_view([older, failed, task("t3", "03:10.5", "running", "running")], 1).restarts == 0
    assert task_view([task("t1", "02:01.87", "shutdown", "shutdown", "03:10.2"), failed, task("t3", "03:10.5", "running", "running")],
                     1).restarts == 1


def test_start_returns_only_once_the_replaced_task_stopped_and_the_new_one_runs(make_units: Callable[..., SwarmUnits],
                                                                                 swarm: FakeSwarm) -> None:
    """Returning at the fourth listing (``t2`` running beside ``t1``) handed the health gate a unit about to fail."""
    units, service_id = created(make_units, swarm)
    listings: Iterator[list[dict[str, Any]]] = iter([[{**t, "ServiceID": service_id} for t in listing] for listing in REJOIN])
    seen: list[int] = []

    def tasks(filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        seen.append(1)
        return next(listings)

    swarm.tasks = tasks  # type: ignore[method-assign]
    units.start("crypto-standard-1")
    assert len(seen) == len(REJOIN)
