"""The swarm backend's half of the no-op proof: which facts of a fleet's services prove "nothing changed".

Written from what the swarm units saw when a plan found nothing to do (``facts``), checked by
``holds``, which the no-op proof (``engine.live.noop_proof``) finds through the backend registry
before it imports the parser, git or the Docker SDK: stdlib only. For each service it keeps

- its ID and spec version (``Version.Index``: any update, by fleetops or a person, raises it),
- its current task's ID and the state read from it (``engine.backend.swarm.tasks``: a restarted or
  replaced task is a new ID; a node gone down makes it ``unreachable``),
- the stamp of its records under the controller's state dir (the Docker backend's layout),
- the enabled bots of a running pool unit.

``holds`` asks the manager three questions over its local socket (services of the fleet, their
tasks, the nodes). A pool unit with enabled bots never holds: whether their processes run is known
only to the node agent, which answers through the controller, not here; a fleet of pools therefore
always takes the full plan, which is always right. A remote manager (tcp://, ssh://) never holds.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from engine.backend.docker.noop import _records_stamp
from engine.backend.docker.unix_http import API_VERSION, UnixHTTPConnection
from engine.backend.swarm.tasks import TaskView, task_view
from engine.naming import Labels

if TYPE_CHECKING:
    from engine.backend.port import UnitSeen

__all__ = ["facts", "holds"]

MAX_ANSWER_BYTES = 64 << 20


def facts(state_dir: Path, fleet: str, seen: Mapping[str, UnitSeen], observed: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Service name → what ``holds`` compares again, as JSON data; ``observed``: the swarm units' own
    record of the same listing (``SwarmUnits.observed``: ID, version, task, state)."""
    return {name: {**{key: observed[name][key] for key in ("id", "version", "task", "state")},
                   "records": _records_stamp(state_dir, fleet, name), "enabled_bots": list(unit.enabled_bots)}
            for name, unit in sorted(seen.items())}


def holds(state_dir: Path, target: str, fleet: str, expected: Mapping[str, Any]) -> bool:
    """True when every service of ``fleet`` on the manager at ``target`` is as ``facts`` recorded it and no
    running pool unit has enabled bots to vouch for; False when anything differs or cannot be told."""
    try:
        return _holds(state_dir, target, fleet, expected)
    except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException):
        return False


def _holds(state_dir: Path, target: str, fleet: str, expected: Mapping[str, Any]) -> bool:
    if not target.startswith("unix://") or any(want["state"] == "running" and want["enabled_bots"] for want in expected.values()):
        return False
    socket = target.removeprefix("unix://")
    services = _get(socket, "/services", {"label": [f"{Labels.FLEET}={fleet}"]})
    by_name = {str(s["Spec"]["Name"]): s for s in services}
    if by_name.keys() != expected.keys():
        return False
    tasks = _get(socket, "/tasks", {"service": sorted(str(s["ID"]) for s in services)}) if services else []
    down = frozenset(str(n["ID"]) for n in _get(socket, "/nodes", {}) if (n.get("Status") or {}).get("State") != "ready")
    for name, service in by_name.items():
        want = expected[name]
        replicas = int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
        view: TaskView = task_view([t for t in tasks if t.get("ServiceID") == service["ID"]], replicas, down)
        if (service["ID"], service["Version"]["Index"], view.task, view.state) != (want["id"], want["version"], want["task"], want["state"]):
            return False
        if _records_stamp(state_dir, fleet, name) != want["records"]:
            return False
    return True


def _get(socket: str, path: str, filters: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    connection = UnixHTTPConnection(socket)
    try:
        query = f"?filters={quote(json.dumps(dict(filters)))}" if filters else ""
        connection.request("GET", f"/v{API_VERSION}{path}{query}")
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES + 1)
    finally:
        connection.close()
    if response.status != 200 or len(body) > MAX_ANSWER_BYTES:
        raise ValueError(f"GET {path}: HTTP {response.status}, {len(body)} bytes")
    rows: list[dict[str, Any]] = json.loads(body)
    return rows
