"""The Docker backend's half of the no-op proof: which facts of a fleet's containers prove "nothing changed".

Written by the Docker site (``DockerSite.noop_facts``) after a full plan found nothing to do, and
checked by ``holds``, which the no-op proof (``engine.live.noop_proof``) finds through the backend
registry before it imports the parser, git or the Docker SDK: stdlib only, every call over the
local socket. For each managed container it keeps

- the container as Docker's list call showed it (id, state, a digest of every label),
- the digest of its settings as Docker's inspect showed them (limits, restart policy, image,
  mounts, networks: what ``docker update`` or a person can change without a new id),
- the stamp of its host-side records directory (every record is written by rename into it),
- the enabled bots of a running pool: supervisord must show each running — the one thing no
  hash proves.

``holds`` checks exactly those with one labelled list call, every inspect sent at once (~0.08 ms
each) and one question to every pool's supervisord, all at once. A remote engine (tcp://,
ssh://) never holds: the full plan runs, which is always right.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from engine.backend.docker.inspect import parse_inspect
from engine.backend.docker.supervisor import states_of_many
from engine.backend.docker.unix_http import UnixHTTPConnection, inspect_documents
from engine.backend.values import PROCESS_TIMEOUT, RUNNING_STATES, UnitSettings
from engine.errors import SupervisorError
from engine.naming import BOTS, HOST_DATA, HOST_RECORDS, Labels, runtime_root

if TYPE_CHECKING:
    from engine.backend.port import UnitSeen

__all__ = ["facts", "holds", "settings_digest"]

MAX_LIST_BYTES = 64 << 20


def facts(state_dir: Path, fleet: str, seen: Mapping[str, UnitSeen]) -> dict[str, Any]:
    """Container name → what ``holds`` compares again, as JSON data."""
    return {name: {"id": unit.listed.id, "state": unit.listed.state, "labels": _digest(sorted(unit.listed.labels.items())),
                   "records": _records_stamp(state_dir, fleet, name), "enabled_bots": list(unit.enabled_bots),
                   "settings": settings_digest(unit.inspected.settings)}
            for name, unit in sorted(seen.items())}


def holds(state_dir: Path, target: str, fleet: str, expected: Mapping[str, Any]) -> bool:
    """True when every container of ``fleet`` on the engine at ``target`` is as ``facts`` recorded it
    (the same set of containers, none recreated, restarted, relabelled, changed by hand, no record
    rewritten) and every enabled bot of a running pool runs; False when anything differs or cannot
    be told (the engine or a supervisord does not answer, an answer does not parse): the caller
    then runs the full plan."""
    try:
        return _holds(state_dir, target, fleet, expected)
    except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException):
        return False


def _holds(state_dir: Path, target: str, fleet: str, expected: Mapping[str, Any]) -> bool:
    rows = _list_fleet(target, fleet)
    if rows is None:
        return False
    seen = {row["Names"][0].lstrip("/"): row for row in rows}
    if seen.keys() != expected.keys():
        return False
    for name, row in seen.items():
        want = expected[name]
        if (row["Id"], row["State"], _digest(sorted((row.get("Labels") or {}).items()))) != (want["id"], want["state"], want["labels"]):
            return False
        if _records_stamp(state_dir, fleet, name) != want["records"]:
            return False
    documents = inspect_documents(target.removeprefix("unix://"), {name: row["Id"] for name, row in seen.items()})
    inspected = {name: parse_inspect(document).settings for name, document in documents.items()}
    if any(settings_digest(inspected.get(name)) != want["settings"] for name, want in expected.items()):
        return False
    pools = {name: runtime_root(state_dir, fleet) / name / HOST_DATA  # what no hash proves: the pool bots run
             for name, want in sorted(expected.items()) if want["state"] == "running" and want["enabled_bots"]}
    for name, states in states_of_many(pools, PROCESS_TIMEOUT).items():
        if isinstance(states, SupervisorError):
            return False
        if any(bot not in states or states[bot].state not in RUNNING_STATES for bot in expected[name]["enabled_bots"]):
            return False
    return True


def settings_digest(settings: UnitSettings | None) -> str:
    """What a proof keeps of a container's inspected settings ("" when it could not be inspected)."""
    return _digest(settings.plain()) if settings is not None else ""


def _records_stamp(state_dir: Path, fleet: str, container: str) -> str:
    """Every record of a container by (name, inode, size, mtime, ctime): a stat each, no read.

    Only fleetops writes there (host-only, by rename); an edit in place changes mtime and ctime too.
    """
    records = runtime_root(state_dir, fleet) / container / HOST_RECORDS
    entries: list[Any] = []
    for directory in (records, records / BOTS):
        try:
            with os.scandir(directory) as found:
                for entry in found:
                    stat = entry.stat(follow_symlinks=False)
                    entries.append([directory.name, entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns])
        except FileNotFoundError:
            entries.append([directory.name, None])
    return _digest(sorted(entries, key=json.dumps))


def _list_fleet(target: str, fleet: str) -> list[dict[str, Any]] | None:
    """The same labelled list call the Docker adapter makes, over the local socket with the stdlib.

    Importing the Docker SDK (and requests under it) costs more than the whole check; the SDK
    stays the adapter for everything else. A remote engine (tcp://, ssh://) takes the full plan.
    """
    if not target.startswith("unix://"):
        return None
    connection = UnixHTTPConnection(target.removeprefix("unix://"))
    try:
        filters = quote(json.dumps({"label": [f"{Labels.FLEET}={fleet}"]}))
        connection.request("GET", f"/v1.41/containers/json?all=1&filters={filters}")
        response = connection.getresponse()
        body = response.read(MAX_LIST_BYTES + 1)
    finally:
        connection.close()
    if response.status != 200 or len(body) > MAX_LIST_BYTES:
        return None
    rows: list[dict[str, Any]] = json.loads(body)
    return rows


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
