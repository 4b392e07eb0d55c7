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
import re
import socket
import time
import xmlrpc.client
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from engine.backend.docker.safefs import SafeDir, UnsafePath
from engine.backend.values import ProcessInfo, ProcessTables
from engine.errors import SupervisorError, SupervisorRefused
from engine.naming import SUPERVISOR_SOCKET

__all__ = ["Supervisor", "connect_supervisor", "states_of_many"]

_SOCKET_NAME = SUPERVISOR_SOCKET.rsplit("/", 1)[1]
_SUPERVISOR_PEER = re.compile(re.escape(SUPERVISOR_SOCKET) + r"(\.[0-9]+)?")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, data_dir: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._data_dir = data_dir

    def connect(self) -> None:
        try:
            directory = SafeDir.open(self._data_dir)
        except UnsafePath as exc:
            raise ConnectionRefusedError(str(exc)) from None
        with directory:
            if not directory.is_socket(_SOCKET_NAME):
                raise ConnectionRefusedError(f"{self._data_dir / _SOCKET_NAME} is not a socket")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(f"/proc/self/fd/{directory.fd}/{_SOCKET_NAME}")
                peer = sock.getpeername()
            except OSError:
                sock.close()
                raise
        # supervisord binds "<path>.<pid>" and renames it into place, so that is the peer's name.
        if not _SUPERVISOR_PEER.fullmatch(peer if isinstance(peer, str) else ""):  # a link swapped in after the check
            sock.close()
            raise ConnectionRefusedError(f"the socket in {self._data_dir} is bound at {peer!r}, not {SUPERVISOR_SOCKET}")
        self.sock = sock


MAX_ANSWER_BYTES = 4 << 20
"""An answer from supervisord larger than this is refused (the container could send anything)."""


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, data_dir: Path, timeout: float) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._data_dir, self._timeout)

    def parse_response(self, response: Any) -> tuple[Any, ...]:
        """Decode the answer with ElementTree (C) instead of xmlrpc's pure-Python unmarshaller.

        Reading every pool container's process table is the part of a no-op plan that hashes
        cannot replace; the stock unmarshaller spent ~1 ms per container on it. Bounded, too.
        """
        body = response.read(MAX_ANSWER_BYTES + 1)
        if len(body) > MAX_ANSWER_BYTES:
            raise xmlrpc.client.ProtocolError("supervisord", 500, f"answer over {MAX_ANSWER_BYTES} bytes", {})
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            raise xmlrpc.client.ProtocolError("supervisord", 500, f"unreadable answer: {exc}", {}) from None
        fault = root.find("fault/value")
        if fault is not None:
            detail = _decode(fault)
            raise xmlrpc.client.Fault(detail.get("faultCode", 0), str(detail.get("faultString", "")))
        return tuple(_decode(value) for value in root.iterfind("params/param/value"))


def _decode(value: ElementTree.Element) -> Any:
    """One XML-RPC ``<value>``: the types supervisord sends (an untyped value is a string)."""
    typed = value[0] if len(value) else None
    if typed is None:
        return value.text or ""
    tag, text = typed.tag, typed.text or ""
    if tag in ("int", "i4", "i8"):
        return int(text)
    if tag == "boolean":
        return text.strip() == "1"
    if tag == "double":
        return float(text)
    if tag == "struct":
        members = ((member.findtext("name", ""), member.find("value")) for member in typed.iterfind("member"))
        return {name: _decode(value) for name, value in members if value is not None}
    if tag == "array":
        return [_decode(item) for item in typed.iterfind("data/value")]
    if tag == "nil":
        return None
    return text


class Supervisor:
    """supervisord of one pool container, reached through its runtime ``data/`` directory."""

    def __init__(self, container: str, data_dir: Path, timeout: float = 30.0) -> None:
        self.container = container
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixTransport(data_dir, timeout))

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
    asked: dict[str, _UnixConnection | SupervisorError] = {}
    for container, data_dir in data_dirs.items():
        connection = _UnixConnection(data_dir, timeout)
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
            (infos,) = _UnixTransport(data_dirs[container], timeout).parse_response(response)
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
