"""XML-RPC to a supervisord through the unix socket in a directory its container can write: stdlib only.

Shared by the Docker backend's adapter (``engine.backend.docker.supervisor``, on the host) and the
node agent (``engine.agent.supervisord``, shipped in ``agent.pyz`` and run by the fleet image's
Python, which has nothing but the standard library). The directory is the container's own
``data/``, so nothing in it is trusted: it is opened without following links
(``engine.backend.docker.safefs``), the socket must be a socket (not a link to one elsewhere, such
as the host's Docker socket), and after connecting, the peer must have bound one of the ``peers``
paths (supervisord binds ``<path>.<pid>`` and renames it into place). Answers are bounded and
decoded with ElementTree (C) rather than xmlrpc's pure-Python unmarshaller: reading every pool's
process table is the part of a no-op plan no hash replaces, and the stock one spent ~1 ms per
container on it.
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

__all__ = ["MAX_ANSWER_BYTES", "SOCKET_NAME", "STOP_WAIT", "TASK_SOCKET", "SocketConnection", "SocketTransport", "SupervisordClient"]

TASK_SOCKET = "/fleet/data/supervisor.sock"
"""Where supervisord binds its socket inside a pool container or task (``engine.naming.SUPERVISOR_SOCKET``)."""
SOCKET_NAME = TASK_SOCKET.rsplit("/", 1)[1]
MAX_ANSWER_BYTES = 4 << 20
"""An answer from supervisord larger than this is refused (the container could send anything)."""


class SocketConnection(http.client.HTTPConnection):
    """HTTP over the socket in ``data_dir``, to a peer bound at one of ``peers`` (default: the in-container path)."""

    def __init__(self, data_dir: Path, timeout: float, peers: tuple[str, ...] = (TASK_SOCKET,)) -> None:
        super().__init__("localhost", timeout=timeout)
        self._data_dir = data_dir
        self._peer = re.compile("(" + "|".join(re.escape(p) for p in peers) + r")(\.[0-9]+)?")

    def connect(self) -> None:
        try:
            directory = SafeDir.open(self._data_dir)
        except UnsafePath as exc:
            raise ConnectionRefusedError(str(exc)) from None
        with directory:
            if not directory.is_socket(SOCKET_NAME):
                raise ConnectionRefusedError(f"{self._data_dir / SOCKET_NAME} is not a socket")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(f"/proc/self/fd/{directory.fd}/{SOCKET_NAME}")
                peer = sock.getpeername()
            except OSError:
                sock.close()
                raise
        if not self._peer.fullmatch(peer if isinstance(peer, str) else ""):  # a link swapped in after the check
            sock.close()
            raise ConnectionRefusedError(f"the socket in {self._data_dir} is bound at {peer!r}, not {TASK_SOCKET}")
        self.sock = sock


class SocketTransport(xmlrpc.client.Transport):
    """xmlrpc's transport over ``SocketConnection``, with bounded answers decoded by ElementTree."""

    def __init__(self, data_dir: Path, timeout: float, peers: tuple[str, ...] = (TASK_SOCKET,)) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._timeout = timeout
        self._peers = peers

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return SocketConnection(self._data_dir, self._timeout, self._peers)

    def parse_response(self, response: Any) -> tuple[Any, ...]:
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


STOP_WAIT = 60.0
"""Seconds a stop may take: the bot program's stopwaitsecs (20) before SIGKILL, and then some."""
_STOPPED = frozenset({"STOPPED", "EXITED", "FATAL"})


class SupervisordClient:
    """supervisord of one ``unit`` through the socket in ``data_dir``; the host's adapter and the node
    agent each name their errors (``error`` when it did not answer, ``refused`` for a fault).

    ``update`` mirrors ``supervisorctl reread && update``: only programs whose section changed are
    touched, so a change to one bot never restarts its neighbours. ``stop`` returns once the
    program's process is gone: supervisord's own ``wait=True`` answers on its next main-loop tick,
    up to a second late (measured: 1.01 s, then 0.06 s); asking for the state until it says
    stopped takes ~50 ms.
    """

    error: type[Exception] = ConnectionError
    refused: type[Exception] = ConnectionError

    def __init__(self, unit: str, data_dir: Path, timeout: float = 30.0, peers: tuple[str, ...] = (TASK_SOCKET,)) -> None:
        self.unit = unit
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=SocketTransport(data_dir, timeout, peers))

    def _rpc(self, what: str, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise self.refused(f"supervisord in {self.unit} refused to {what}: {exc.faultString}") from None
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            raise self.error(f"supervisord in {self.unit} did not answer ({what}): {exc}") from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until supervisord answers RUNNING (a container or task that just started needs a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._rpc("say its state", "getState")["statename"] == "RUNNING":
                    return
            except (self.error, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise self.error(f"supervisord in {self.unit} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def process_infos(self) -> list[dict[str, Any]]:
        """``getAllProcessInfo``'s answer, as supervisord sent it."""
        infos: list[dict[str, Any]] = self._rpc("list its programs", "getAllProcessInfo")
        return infos

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
        """Stop a program and return once its process is gone (a program not running is no error)."""
        try:
            self._proxy.supervisor.stopProcessGroup(name, False)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise self.refused(f"supervisord in {self.unit} refused to stop {name}: {exc.faultString}") from None
            return
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            raise self.error(f"supervisord in {self.unit} did not answer (stop {name}): {exc}") from None
        deadline = time.monotonic() + STOP_WAIT
        while True:
            infos = self._rpc(f"stop {name}", "getAllProcessInfo")
            if all(i["statename"] in _STOPPED for i in infos if i.get("group") == name):
                return
            if time.monotonic() > deadline:
                raise self.error(f"supervisord in {self.unit} did not stop {name} within {STOP_WAIT:.0f} s")
            time.sleep(0.02)
