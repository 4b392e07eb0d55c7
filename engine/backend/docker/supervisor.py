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
import xmlrpc.client
from pathlib import Path
from typing import Any

from engine.backend.docker.supervisor_socket import SocketConnection, SocketTransport, SupervisordClient
from engine.backend.values import ProcessInfo, ProcessTables
from engine.errors import SupervisorError, SupervisorRefused

__all__ = ["Supervisor", "connect_supervisor", "states_of_many"]


class Supervisor(SupervisordClient):
    """supervisord of one pool container, reached through its runtime ``data/`` directory (``SupervisorPort``)."""

    error = SupervisorError
    refused = SupervisorRefused

    def __init__(self, container: str, data_dir: Path, timeout: float = 30.0) -> None:
        super().__init__(container, data_dir, timeout)

    def states(self) -> dict[str, ProcessInfo]:
        return _process_table(self.process_infos())


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
