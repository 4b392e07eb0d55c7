"""Every bot process of the swarm lab, read from this machine's process table many times a second: the
witness of promise 3 (no bot ever runs twice cluster-wide) in tests/swarm/test_moves_lab.py.

The lab's nodes are containers of this machine's engine, and the tasks they run are containers inside
them: every process of every node is a process of this kernel, in the node container's cgroup (a
path under ``/docker/<node container ID>/``). So one pass over ``/proc`` sees every node at once, with
no call into any node (``docker exec`` or a node's API would take tenths of a second per node, and a
partitioned node answers none): a process whose command line runs a bot (``… trade --config
/fleet/etc/bots/<bot>/config.json``) belongs to the node whose container ID its cgroup names. A
bot seen on two nodes in one pass ran twice; the sampler records every such pass, and how many
passes it made per second (the rate is measured, not assumed).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Doubled", "ProcessSampler", "bots_by_node"]

_BOT = re.compile(rb"\x00--config\x00/fleet/etc/bots/([A-Za-z0-9_.-]+)/config\.json\x00")


@dataclass(frozen=True)
class Doubled:
    """One pass that saw ``bot`` running on more than one node."""

    at: float
    bot: str
    nodes: tuple[str, ...]


def bots_by_node(nodes: Mapping[str, str], proc: str = "/proc") -> dict[str, set[str]]:
    """Bot → the nodes (names) it has a process on now; ``nodes``: node name → its container's full ID on this engine."""
    found: dict[str, set[str]] = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/cmdline", "rb") as cmdline:
                match = _BOT.search(cmdline.read() + b"\x00")
            if match is None:
                continue
            with open(f"{proc}/{entry}/cgroup", "rb") as cgroup:
                groups = cgroup.read().decode(errors="replace")
        except OSError:
            continue  # ended between the listing and the read
        node = next((name for name, container in nodes.items() if f"/docker/{container}/" in groups), None)
        if node is not None:
            found.setdefault(match.group(1).decode(), set()).add(node)
    return found


@dataclass
class ProcessSampler:
    """Samples ``bots_by_node`` every ``interval`` seconds in a thread, between ``start`` and ``stop``."""

    nodes: dict[str, str]
    interval: float = 0.025
    passes: int = 0
    doubled: list[Doubled] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)
    """Bot → every node it was ever seen on while sampling."""
    started: float = 0.0
    stopped: float = 0.0
    longest_gap: float = 0.0
    """The longest time between two passes, seconds: every stretch this long was watched."""
    transitions: dict[str, list[tuple[float, frozenset[str]]]] = field(default_factory=dict)
    """Bot → (seconds since start, the nodes it runs on from then on), one row each time that set changed."""
    _last: dict[str, frozenset[str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProcessSampler:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.stopped = time.monotonic()

    @property
    def rate(self) -> float:
        """Passes per second over the whole sampling."""
        return self.passes / max(1e-9, (self.stopped or time.monotonic()) - self.started)

    def gap(self, bot: str, old: str, new: str) -> float | None:
        """Seconds ``bot`` ran nowhere in its last move from node ``old`` to ``new``: from the first pass that no longer saw
        it on ``old`` to the first that saw it on ``new`` (None: no such move was seen)."""
        rows = self.transitions.get(bot, [])
        arrived = next((i for i in range(len(rows) - 1, -1, -1) if new in rows[i][1] and old not in rows[i][1]), None)
        if arrived is None:
            return None
        left = next((j for j in range(arrived, 0, -1) if old in rows[j - 1][1] and old not in rows[j][1]), None)
        return None if left is None else rows[arrived][0] - rows[left][0]

    def watch(self, nodes: Iterable[tuple[str, str]]) -> None:
        """Also sample these (name, container ID) nodes from the next pass on (a node that joined)."""
        self.nodes = {**self.nodes, **dict(nodes)}

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            found = bots_by_node(self.nodes)
            now = time.monotonic()
            self.longest_gap = max(self.longest_gap, now - last)
            last = now
            self.passes += 1
            for bot in set(found) | set(self._last):
                where = frozenset(found.get(bot, ()))
                if where != self._last.get(bot):
                    self.transitions.setdefault(bot, []).append((now - self.started, where))
                    self._last[bot] = where
            for bot, where in found.items():
                self.seen.setdefault(bot, set()).update(where)
                if len(where) > 1:
                    self.doubled.append(Doubled(now - self.started, bot, tuple(sorted(where))))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - now)))
