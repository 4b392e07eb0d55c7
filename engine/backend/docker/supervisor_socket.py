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
import xmlrpc.client
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from engine.backend.docker.safefs import SafeDir, UnsafePath

__all__ = ["MAX_ANSWER_BYTES", "SOCKET_NAME", "TASK_SOCKET", "SocketConnection", "SocketTransport"]

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
