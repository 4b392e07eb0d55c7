"""The agent's client of a pool task's supervisord: XML-RPC over the unix socket in its ``data/``.

The same promises as the Docker backend's adapter (``engine.backend.docker.supervisor``), with the
standard library alone, because this runs on a node under the fleet image's Python: the data
directory is written by the task, so it is opened without following links, the socket must be a
socket, and after connecting the peer must have bound the path supervisord binds inside the task
(``/fleet/data/supervisor.sock``), or the very path the agent sees (a supervisord the agent's own
host runs, as in tests) — never, say, the node's Docker socket behind a planted link. Answers are
bounded. ``update`` is ``supervisorctl reread && update``: only programs whose section changed are
touched. ``stop`` returns once the program's process is gone.

Errors: ``SupervisordError`` (did not answer: socket missing, timeout, garbage) and its subclass
``SupervisordRefused`` (answered with a fault, whose text it carries: ``ALREADY_STARTED``…).
"""

from __future__ import annotations

import http.client
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from engine.backend.docker.supervisor_socket import SOCKET_NAME, TASK_SOCKET, SocketTransport

__all__ = ["STOP_WAIT", "Supervisord", "SupervisordError", "SupervisordRefused"]

STOP_WAIT = 60.0
"""Seconds a stop may take: the bot program's stopwaitsecs (20) before SIGKILL, and then some."""
_STOPPED = frozenset({"STOPPED", "EXITED", "FATAL"})


class SupervisordError(Exception):
    """supervisord did not answer (one line, naming the unit and what was asked)."""


class SupervisordRefused(SupervisordError):
    """supervisord answered with a fault: its ``faultString`` is in the message."""


class Supervisord:
    """The supervisord of ``unit``, whose socket is in ``data_dir`` (the unit's node directory's ``data/``)."""

    def __init__(self, unit: str, data_dir: Path, timeout: float = 30.0) -> None:
        self.unit = unit
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=SocketTransport(data_dir, timeout, (TASK_SOCKET, str(data_dir / SOCKET_NAME))))

    def _rpc(self, what: str, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise SupervisordRefused(f"supervisord in {self.unit} refused to {what}: {exc.faultString}") from None
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            raise SupervisordError(f"supervisord in {self.unit} did not answer ({what}): {exc}") from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until supervisord answers RUNNING (a task that just started needs a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._rpc("say its state", "getState")["statename"] == "RUNNING":
                    return
            except (SupervisordError, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise SupervisordError(f"supervisord in {self.unit} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def states(self) -> dict[str, list[Any]]:
        """Program → [state name, pid, spawn error, exit status], from ``getAllProcessInfo``."""
        infos = self._rpc("list its programs", "getAllProcessInfo")
        try:
            return {str(i["name"]): [str(i["statename"]), int(i.get("pid") or 0), str(i.get("spawnerr") or ""),
                                     int(i.get("exitstatus") or 0)] for i in infos}
        except (KeyError, TypeError, ValueError) as exc:
            raise SupervisordError(f"supervisord in {self.unit} answered an unreadable process list ({exc})") from None

    def update(self) -> tuple[list[str], list[str], list[str]]:
        """Re-read the conf and apply only what changed: (added, changed, removed) programs."""
        added, changed, removed = self._rpc("re-read its config", "reloadConfig")[0]
        for name in removed + changed:
            self.stop(name)
            self._rpc(f"remove program {name}", "removeProcessGroup", name)
        for name in changed + added:
            self._rpc(f"add program {name}", "addProcessGroup", name)
        return list(added), list(changed), list(removed)

    def start(self, name: str) -> None:
        self._rpc(f"start program {name}", "startProcess", name, False)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def stop(self, name: str) -> None:
        """Stop a program and return once its process is gone (a program not running is no error).

        supervisord's own ``wait=True`` answers on its next main-loop tick, up to a second late;
        asking for the state until it says stopped takes ~50 ms.
        """
        try:
            self._proxy.supervisor.stopProcessGroup(name, False)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise SupervisordRefused(f"supervisord in {self.unit} refused to stop {name}: {exc.faultString}") from None
            return
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            raise SupervisordError(f"supervisord in {self.unit} did not answer (stop {name}): {exc}") from None
        deadline = time.monotonic() + STOP_WAIT
        while True:
            infos = self._rpc(f"stop {name}", "getAllProcessInfo")
            if all(i["statename"] in _STOPPED for i in infos if i.get("group") == name):
                return
            if time.monotonic() > deadline:
                raise SupervisordError(f"supervisord in {self.unit} did not stop {name} within {STOP_WAIT:.0f} s")
            time.sleep(0.02)
