"""Adapter to supervisord in a pool container: XML-RPC over its unix socket.

Used by observe (program states) and apply (add, remove, restart one program). The socket is
created by supervisord inside the container at ``/fleet/supervisor.sock``, which is the host's
runtime directory bind-mounted, so the host talks to it directly: no ``docker exec``, no open
port. ``update`` mirrors ``supervisorctl reread && update``: only programs whose section changed
are touched, so a change to one bot never restarts its neighbours.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from engine.errors import ApplyError

__all__ = ["Supervisor"]

_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        path = str(self._socket_path)
        if len(path) > _MAX_SOCKET_PATH:  # reach a deep path through a short /proc alias of its directory
            fd = os.open(self._socket_path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                sock.connect(f"/proc/self/fd/{fd}/{self._socket_path.name}")
            finally:
                os.close(fd)
        else:
            sock.connect(path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, socket_path: Path, timeout: float) -> None:
        super().__init__()
        self._socket_path = socket_path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._socket_path, self._timeout)


class Supervisor:
    """supervisord of one pool container, reached through its runtime directory."""

    def __init__(self, runtime_dir: Path, container: str, timeout: float = 30.0) -> None:
        self.container = container
        self.socket_path = runtime_dir / "supervisor.sock"
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixTransport(self.socket_path, timeout))

    def _rpc(self, what: str, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise ApplyError(f"supervisord in {self.container} refused to {what}: {exc.faultString}") from None
        except OSError as exc:
            raise ApplyError(f"cannot reach supervisord in {self.container} ({what}): {exc}") from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for supervisord to answer (a freshly started container needs a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state: dict[str, Any] = self._proxy.supervisor.getState()  # type: ignore[assignment]
                if state["statename"] == "RUNNING":
                    return
            except (OSError, xmlrpc.client.Error):
                pass
            if time.monotonic() > deadline:
                raise ApplyError(f"supervisord in {self.container} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def states(self) -> dict[str, dict[str, Any]]:
        """Program name → supervisord's process info (statename, pid, start …)."""
        return {info["name"]: info for info in self._rpc("list its programs", "getAllProcessInfo")}

    def update(self) -> tuple[list[str], list[str], list[str]]:
        """Re-read supervisord.conf and apply only what changed: (added, changed, removed)."""
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
        try:
            self._proxy.supervisor.stopProcessGroup(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise ApplyError(f"supervisord in {self.container} refused to stop {name}: {exc.faultString}") from None
        except OSError as exc:
            raise ApplyError(f"cannot reach supervisord in {self.container} (stop {name}): {exc}") from None
