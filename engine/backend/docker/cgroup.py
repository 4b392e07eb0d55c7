"""Adapter to the kernel's cgroup files: a container's memory use, read from the host in microseconds.

Used by the status page. Docker's stats API takes a second or two per container (it samples);
the same figure is one file read under /sys/fs/cgroup. Both layouts are known: cgroup v1
(``memory/docker/<id>/memory.usage_in_bytes``) and v2 (``docker/<id>/memory.current`` or
systemd's ``system.slice/docker-<id>.scope/memory.current``); page cache that can be dropped
(``inactive_file``) is left out, as ``docker stats`` does.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["container_cpu_seconds", "container_memory"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _inactive_file(stat: Path, key: str) -> int:
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def container_memory(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """Bytes of memory the container uses now (None when its cgroup cannot be found)."""
    if not container_id.isalnum():
        return None
    v1 = root / "memory" / "docker" / container_id
    usage = _read_int(v1 / "memory.usage_in_bytes")
    if usage is not None:
        return max(0, usage - _inactive_file(v1 / "memory.stat", "total_inactive_file"))
    for v2 in (root / "docker" / container_id, root / "system.slice" / f"docker-{container_id}.scope"):
        usage = _read_int(v2 / "memory.current")
        if usage is not None:
            return max(0, usage - _inactive_file(v2 / "memory.stat", "inactive_file"))
    return None


def container_cpu_seconds(container_id: str, root: Path = CGROUP_ROOT) -> float | None:
    """CPU seconds the container used since it started, user and system (None when its cgroup
    cannot be found): cgroup v1 ``cpuacct/docker/<id>/cpuacct.usage`` (nanoseconds), v2
    ``cpu.stat`` ``usage_usec`` (microseconds). A counter: a rate of it is CPUs in use."""
    if not container_id.isalnum():
        return None
    usage = _read_int(root / "cpuacct" / "docker" / container_id / "cpuacct.usage")
    if usage is not None:
        return usage / 1e9
    for v2 in (root / "docker" / container_id, root / "system.slice" / f"docker-{container_id}.scope"):
        try:
            for line in (v2 / "cpu.stat").read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            continue
    return None
