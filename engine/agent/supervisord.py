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

from pathlib import Path
from typing import Any

from engine.backend.docker.supervisor_socket import SOCKET_NAME, STOP_WAIT, TASK_SOCKET, SupervisordClient

__all__ = ["STOP_WAIT", "Supervisord", "SupervisordError", "SupervisordRefused"]



class SupervisordError(Exception):
    """supervisord did not answer (one line, naming the unit and what was asked)."""


class SupervisordRefused(SupervisordError):
    """supervisord answered with a fault: its ``faultString`` is in the message."""


class Supervisord(SupervisordClient):
    """The supervisord of ``unit``, whose socket is in ``data_dir`` (the unit's node directory's ``data/``):
    bound inside the task, or at that very path (a supervisord the agent's own host runs, as in tests)."""

    error = SupervisordError
    refused = SupervisordRefused

    def __init__(self, unit: str, data_dir: Path, timeout: float = 30.0) -> None:
        super().__init__(unit, data_dir, timeout, (TASK_SOCKET, str(data_dir / SOCKET_NAME)))

    def states(self) -> dict[str, list[Any]]:
        """Program → [state name, pid, spawn error, exit status], from ``getAllProcessInfo``."""
        infos = self.process_infos()
        try:
            return {str(i["name"]): [str(i["statename"]), int(i.get("pid") or 0), str(i.get("spawnerr") or ""),
                                     int(i.get("exitstatus") or 0)] for i in infos}
        except (KeyError, TypeError, ValueError) as exc:
            raise SupervisordError(f"supervisord in {self.unit} answered an unreadable process list ({exc})") from None
