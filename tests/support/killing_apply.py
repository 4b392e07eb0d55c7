"""Run ``fleetops apply`` and SIGKILL it just before its k-th mutating Docker or supervisord call.

Used by tests/integration/test_crash_safety.py: the real CLI, the real engine, a real SIGKILL
(no handler runs, nothing is cleaned up). Prints each mutating call to stderr as it is made, so
the test can say where each k died. Usage: killing_apply.py K fleetops-args...
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.cli import main
from engine.live import docker_api, supervisor_ctl

KILL_AT = int(sys.argv[1])
_made = 0
_lock = threading.Lock()
_MUTATING_RPC = {"reloadConfig", "addProcessGroup", "removeProcessGroup", "startProcess", "stopProcessGroup"}


def _before(what: str) -> None:
    """Count the call (the executor makes them from several threads) and die at the k-th."""
    global _made
    with _lock:
        if _made == KILL_AT:
            sys.stderr.write(f"killed before call {_made}: {what}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        sys.stderr.write(f"call {_made}: {what}\n")
        _made += 1


_docker_call = docker_api.DockerEngine._call


def docker_call(self: Any, what: str, fn: Any, *args: Any, mutates: bool = False, **kwargs: Any) -> Any:
    if mutates:
        _before(f"docker: {what}")
    return _docker_call(self, what, fn, *args, mutates=mutates, **kwargs)


_rpc = supervisor_ctl.Supervisor._rpc
_stop = supervisor_ctl.Supervisor._stop_quietly


def rpc(self: Any, what: str, method: str, *args: Any) -> Any:
    if method in _MUTATING_RPC:
        _before(f"supervisord {self.container}: {what}")
    return _rpc(self, what, method, *args)


def stop(self: Any, name: str) -> None:
    _before(f"supervisord {self.container}: stop {name}")
    _stop(self, name)


docker_api.DockerEngine._call = docker_call  # type: ignore[method-assign]
supervisor_ctl.Supervisor._rpc = rpc  # type: ignore[method-assign]
supervisor_ctl.Supervisor._stop_quietly = stop  # type: ignore[method-assign]
sys.argv = ["fleetops", *sys.argv[2:]]
main()
