"""Adapter to supervisord in a pool container: XML-RPC over its unix socket.

Implements ``engine.backend.docker.protocols.SupervisorPort``. supervisord creates its socket inside the
container at ``/fleet/data/supervisor.sock``, which is the host's runtime ``data/`` directory
bind-mounted, so the host talks to it directly: no ``docker exec``, no open port. That directory
is writable by the container, so the socket is reached without trusting it: the directory is
opened without following links, the socket must be a socket (not a link to one on the host),
and after connecting the peer must have bound the in-container path. ``update`` mirrors
``supervisorctl reread && update``: only programs whose section changed are touched, so a
change to one bot never restarts its neighbours.
"""

from __future__ import annotations

import http.client
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from engine.backend.docker.supervisor_socket import SocketConnection, SocketTransport
from engine.backend.values import ProcessInfo, ProcessTables
from engine.errors import SupervisorError, SupervisorRefused

__all__ = ["Supervisor", "connect_supervisor", "states_of_many"]


class Supervisor:
    """supervisord of one pool container, reached through its runtime ``data/`` directory."""

    def __init__(self, container: str, data_dir: Path, timeout: float = 30.0) -> None:
        self.container = container
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=SocketTransport(data_dir, timeout))

    def _rpc(self, what: str, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise SupervisorRefused(f"supervisord in {self.container} refused to {what}: {exc.faultString}") from None
        except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
            raise SupervisorError(f"supervisord in {self.container} did not answer ({what}): {exc}") from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for supervisord to answer (a freshly started container needs a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state: dict[str, Any] = self._proxy.supervisor.getState()  # type: ignore[assignment]
                if state["statename"] == "RUNNING":
                    return
            except (OSError, xmlrpc.client.Error, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise SupervisorError(f"supervisord in {self.container} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def states(self) -> dict[str, ProcessInfo]:
        return _process_table(self._rpc("list its programs", "getAllProcessInfo"))

    def update(self) -> tuple[list[str], list[str], list[str]]:
        added, changed, removed = self._rpc("re-read its config", "reloadConfig")[0]
        for name in removed + changed:
            self._stop_quietly(name)
            self._rpc(f"remove program {name}", "removeProcessGroup", name)
        for name in changed + added:
            self._rpc(f"add program {name}", "addProcessGroup", name)
        return added, changed, removed

    def restart(self, name: str) -> None:
        self._stop_quietly(name)
        self._rpc(f"start program {name}", "startProcess", name, False)

    def start(self, name: str) -> None:
        self._rpc(f"start program {name}", "startProcess", name, False)

    def stop(self, name: str) -> None:
        self._stop_quietly(name)

    def _stop_quietly(self, name: str) -> None:
        """Stop a program and return once its process is gone.

        supervisord's own ``wait=True`` answers on its next main-loop tick, up to a second late
        (measured: 1.01 s, then 0.06 s); asking for the state until it says stopped takes ~50 ms.
        """
        try:
            self._proxy.supervisor.stopProcessGroup(name, False)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise SupervisorError(f"supervisord in {self.container} refused to stop {name}: {exc.faultString}") from None
            return
        except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
            raise SupervisorError(f"supervisord in {self.container} did not answer (stop {name}): {exc}") from None
        deadline = time.monotonic() + STOP_WAIT
        while True:
            infos = self._rpc(f"stop {name}", "getAllProcessInfo")
            if all(i["statename"] in _STOPPED for i in infos if i.get("group") == name):
                return
            if time.monotonic() > deadline:
                raise SupervisorError(f"supervisord in {self.container} did not stop {name} within {STOP_WAIT:.0f} s")
            time.sleep(0.02)


STOP_WAIT = 60.0
"""Seconds a stop may take: the bot program's stopwaitsecs (20) before SIGKILL, and then some."""
_STOPPED = frozenset({"STOPPED", "EXITED", "FATAL"})


def states_of_many(data_dirs: dict[str, Path], timeout: float) -> ProcessTables:
    """Every container's process table at once: all questions are sent before any answer is read.

    Each supervisord is its own process, so they answer in parallel; asked in turn, a no-op plan
    of 40 pools waited on them one by one. Same socket checks and answer bounds as ``Supervisor``.
    """
    body = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo").encode()
    asked: dict[str, SocketConnection | SupervisorError] = {}
    for container, data_dir in data_dirs.items():
        connection = SocketConnection(data_dir, timeout)
        try:
            connection.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
            asked[container] = connection
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            asked[container] = SupervisorError(f"supervisord in {container} did not answer (list its programs): {exc}")
    found: ProcessTables = {}
    for container, pending in asked.items():
        if isinstance(pending, SupervisorError):
            found[container] = pending
            continue
        try:
            response = pending.getresponse()
            if response.status != 200:
                raise xmlrpc.client.ProtocolError("supervisord", response.status, response.reason, {})
            (infos,) = SocketTransport(data_dirs[container], timeout).parse_response(response)
            found[container] = _process_table(infos)
        except xmlrpc.client.Fault as exc:
            found[container] = SupervisorError(f"supervisord in {container} refused to list its programs: {exc.faultString}")
        except (OSError, ValueError, TypeError, KeyError, xmlrpc.client.ProtocolError, http.client.HTTPException) as exc:
            found[container] = SupervisorError(f"supervisord in {container} did not answer (list its programs): {exc}")
        finally:
            pending.close()
    return found


def _process_table(infos: list[dict[str, Any]]) -> dict[str, ProcessInfo]:
    """supervisord's ``getAllProcessInfo`` answer as program → ProcessInfo."""
    return {i["name"]: ProcessInfo(i["name"], i["statename"], int(i.get("pid") or 0), int(i.get("exitstatus") or 0),
                                   str(i.get("spawnerr") or "")) for i in infos}


def connect_supervisor(container: str, data_dir: Path, timeout: float) -> Supervisor:
    """The ``SupervisorFactory`` of the real adapter."""
    return Supervisor(container, data_dir, timeout)
