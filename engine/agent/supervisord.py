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
import re
import socket
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from engine.backend.docker.safefs import SafeDir, UnsafePath

__all__ = ["STOP_WAIT", "Supervisord", "SupervisordError", "SupervisordRefused"]

SOCKET_NAME = "supervisor.sock"
TASK_SOCKET = "/fleet/data/supervisor.sock"
"""Where supervisord binds its socket inside a pool task (``engine.naming.SUPERVISOR_SOCKET``)."""
MAX_ANSWER = 4 << 20
STOP_WAIT = 60.0
"""Seconds a stop may take: the bot program's stopwaitsecs (20) before SIGKILL, and then some."""
_STOPPED = frozenset({"STOPPED", "EXITED", "FATAL"})


class SupervisordError(Exception):
    """supervisord did not answer (one line, naming the unit and what was asked)."""


class SupervisordRefused(SupervisordError):
    """supervisord answered with a fault: its ``faultString`` is in the message."""


class _Connection(http.client.HTTPConnection):
    def __init__(self, data_dir: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._data_dir = data_dir

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
        # supervisord binds "<path>.<pid>" and renames it into place, so that is the peer's name.
        allowed = f"({re.escape(TASK_SOCKET)}|{re.escape(str(self._data_dir / SOCKET_NAME))})(\\.[0-9]+)?"
        if not re.fullmatch(allowed, peer if isinstance(peer, str) else ""):
            sock.close()
            raise ConnectionRefusedError(f"the socket in {self._data_dir} is bound at {peer!r}, not {TASK_SOCKET}")
        self.sock = sock


class _Transport(xmlrpc.client.Transport):
    def __init__(self, data_dir: Path, timeout: float) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _Connection(self._data_dir, self._timeout)

    def parse_response(self, response: Any) -> Any:
        body = response.read(MAX_ANSWER + 1)
        if len(body) > MAX_ANSWER:
            raise xmlrpc.client.ProtocolError("supervisord", 500, f"answer over {MAX_ANSWER} bytes", {})
        parser, unmarshaller = self.getparser()
        parser.feed(body)
        parser.close()
        return unmarshaller.close()


class Supervisord:
    """The supervisord of ``unit``, whose socket is in ``data_dir`` (the unit's node directory's ``data/``)."""

    def __init__(self, unit: str, data_dir: Path, timeout: float = 30.0) -> None:
        self.unit = unit
        self._proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_Transport(data_dir, timeout))

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
