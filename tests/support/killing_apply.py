"""Run ``fleetops apply`` and SIGKILL it at a chosen point: a real SIGKILL, no handler runs.

Used by tests/integration/test_crash_safety.py: the real CLI, the real engine. Usage:
``killing_apply.py WHERE fleetops-args...`` where WHERE is
  K            before its K-th mutating Docker or supervisord call;
  health       at its first ping of a bot: in the health wait, every change made, no verdict yet;
  rollback:K   before the K-th mutating call of the rollback its failed health gate began.
Prints each mutating call to stderr as it is made, so the test can say where each run died.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import flow
from engine.backend.docker import api as docker_api
from engine.backend.docker import supervisor as supervisor_ctl
from engine.cli import main
from engine.live import probe

WHERE = sys.argv[1]
KILL_AT = int(WHERE.split(":")[-1]) if WHERE != "health" else -1
ONLY_IN_ROLLBACK = WHERE.startswith("rollback:")
_made = 0
_rolling_back = False
_lock = threading.Lock()
_MUTATING_RPC = {"reloadConfig", "addProcessGroup", "removeProcessGroup", "startProcess", "stopProcessGroup"}


def _die(where: str) -> None:
    sys.stderr.write(f"killed before {where}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _before(what: str) -> None:
    """Count the call (the executor makes them from several threads) and die at the k-th."""
    global _made
    with _lock:
        if ONLY_IN_ROLLBACK and not _rolling_back:
            sys.stderr.write(f"call -: {what}\n")
            return
        if _made == KILL_AT:
            _die(f"call {_made}: {what}")
        sys.stderr.write(f"call {_made}: {what}\n")
        _made += 1


_docker_call = docker_api.DockerEngine._call


def docker_call(self: Any, what: str, fn: Any, *args: Any, mutates: bool = False, **kwargs: Any) -> Any:
    if mutates:
        _before(f"docker: {what}")
    return _docker_call(self, what, fn, *args, mutates=mutates, **kwargs)


_rpc = supervisor_ctl.Supervisor._rpc
_stop = supervisor_ctl.Supervisor.stop


def rpc(self: Any, what: str, method: str, *args: Any) -> Any:
    if method in _MUTATING_RPC:
        _before(f"supervisord {self.unit}: {what}")
    return _rpc(self, what, method, *args)


def stop(self: Any, name: str) -> None:
    _before(f"supervisord {self.unit}: stop {name}")
    _stop(self, name)


_ping = probe.HttpProbe.ping


def ping(self: Any, address: str, port: int) -> Any:
    if WHERE == "health":
        _die(f"the first ping ({address}:{port}): in the health wait")
    return _ping(self, address, port)


_plan_revision = flow.plan_revision


def plan_revision(ctx: Any, revision: Any) -> Any:
    """The flow plans the previous revision when its health gate failed: the rollback begins."""
    global _rolling_back
    _rolling_back = True
    sys.stderr.write(f"rollback to revision {revision.number} begins\n")
    return _plan_revision(ctx, revision)


docker_api.DockerEngine._call = docker_call  # type: ignore[method-assign]
supervisor_ctl.Supervisor._rpc = rpc  # type: ignore[method-assign]
supervisor_ctl.Supervisor.stop = stop  # type: ignore[method-assign]
probe.HttpProbe.ping = ping  # type: ignore[method-assign]
flow.plan_revision = plan_revision
sys.argv = ["fleetops", *sys.argv[2:]]
main()
