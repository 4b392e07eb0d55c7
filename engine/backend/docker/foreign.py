"""Containers no fleet labelled, reached for one purpose: an adopted bot's takeover.

Used by the Docker site (``engine.backend.docker.site``) for ``engine.backend.port.Takeovers``:
find the old compose container by the ID ``fleetops adopt`` recorded, stop it (never remove it:
the user rolls back with ``docker start``), and copy its trade database out through Docker's
archive API (``docker cp``), which reads a stopped container's files wherever they are (a bind
mount, a named volume or its own layer). The archive comes from a container that ran code fleetops
never reviewed, so only its first member is read, only if it is a regular file, and it is written
under a name fleetops chooses (``engine.backend.docker.runtime.Runtime.import_bot_file``).
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from typing import Any

import docker.errors

from engine.backend.docker.api import DockerEngine
from engine.backend.port import ForeignContainer
from engine.errors import DockerError

__all__ = ["copy_out", "find_compose_container", "inspect_foreign", "stop_foreign"]

CHUNK = 1 << 20


def _not_found(exc: DockerError) -> bool:
    return isinstance(exc.__cause__, docker.errors.NotFound)


def inspect_foreign(api: DockerEngine, ref: str) -> ForeignContainer | None:
    """The container ``ref`` as Docker sees it, or None when it no longer exists."""
    try:
        info: Any = api._call(f"inspect container {ref[:12]}", api._api.inspect_container, ref)
    except DockerError as exc:
        if _not_found(exc):
            return None
        raise
    return ForeignContainer(str(info["Id"]), str(info.get("Name", "")).lstrip("/"), bool((info.get("State") or {}).get("Running")))


def find_compose_container(api: DockerEngine, project: str, service: str) -> ForeignContainer | None:
    """The container Compose runs for ``project``'s ``service`` (by Compose's own labels; the first
    replica when it runs several), or None."""
    rows = api._call("list containers", api._api.containers, all=True, filters={"label": [
        f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]})
    if not rows:
        return None
    row = sorted(rows, key=lambda r: (r.get("Labels") or {}).get("com.docker.compose.container-number", ""))[0]
    return ForeignContainer(str(row["Id"]), str((row.get("Names") or ["/?"])[0]).lstrip("/"), row.get("State") == "running")


def stop_foreign(api: DockerEngine, ref: str, timeout: int) -> None:
    """Stop it for good: its restart policy is set to ``no`` first, so neither a Docker daemon restart
    (``restart: always``) nor its own crash brings the old copy of the bot back beside the new one."""
    api._call(f"update the restart policy of container {ref[:12]}", api._api.update_container, ref,
              restart_policy={"Name": "no"}, mutates=True)
    api._call(f"stop container {ref[:12]}", api._api.stop, ref, timeout=timeout, mutates=True)


def copy_out(api: DockerEngine, ref: str, path: str) -> Iterator[bytes] | None:
    """The bytes of the regular file ``path`` in container ``ref``, in chunks; None when it has no such file.
    Raises DockerError when the archive holds anything but one regular file."""
    try:
        stream, _stat = api._call(f"copy {path} out of container {ref[:12]}", api._api.get_archive, ref, path)
    except DockerError as exc:
        if _not_found(exc):
            return None
        raise
    return _member(stream, path, ref)


def _member(stream: Iterator[bytes], path: str, ref: str) -> Iterator[bytes]:
    with tempfile.TemporaryFile() as spool:
        for chunk in stream:
            spool.write(chunk)
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r:") as archive:
            member = archive.next()
            source = archive.extractfile(member) if member is not None and member.isreg() else None
            if source is None:
                raise DockerError(f"{path} in container {ref[:12]} is not a regular file; it is not carried")
            while block := source.read(CHUNK):
                yield block
