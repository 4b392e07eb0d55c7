"""One stream of what happens to a fleet's units and to the bots in its pool units, for the watcher.

Used by the backends' ``events`` (``engine.backend.port.Units.events``). The backend's own event
stream (Docker's container events) says when a unit dies, stops or is removed, but nothing about a
program inside a pool unit: supervisord restarts a killed bot on its own (``autorestart``), and its
event listeners run inside the container, out of the host's reach. Its process table does tell: a
program whose pid changed or fell to 0 since the last look has exited, once per pid. So the pool
units' tables are looked at every ``interval`` seconds (one XML-RPC call per pool, all asked at
once: ``Bots.processes``), between the backend's events, and each exit becomes an ``exit``
event naming the bot and the pid that ended. Two exits of one bot within one interval are seen as
one: supervisord backs off at least a second before it spawns a program that died while starting.
Stdlib only; no backend is imported here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

from engine.backend.port import UnitEvent
from engine.backend.values import ProcessTables

__all__ = ["EXIT", "POLL_INTERVAL", "ExitWatch", "follow"]

EXIT = "exit"
POLL_INTERVAL = 0.5
"""Seconds between two looks at the pool units' process tables (about 1 ms per pool each time)."""
POOLS_EVERY = 30.0
"""Seconds after which the list of pool units is read again even if no unit event said it changed."""
_END = object()


class ExitWatch:
    """Bot process exits in pool units, from their process tables compared look by look."""

    def __init__(self, processes: Callable[[list[str]], ProcessTables]) -> None:
        self._processes = processes
        self._pids: dict[str, dict[str, int]] = {}

    def look(self, units: list[str]) -> list[UnitEvent]:
        """One look at ``units``; an ``exit`` event for every pid seen last time that is gone now.

        A unit whose process manager does not answer (stopped, restarting) is forgotten: its own
        events say what happened to it, and its bots' new pids are not exits when it answers again."""
        tables = self._processes(units) if units else {}
        events: list[UnitEvent] = []
        for unit, table in tables.items():
            if isinstance(table, Exception):
                self._pids.pop(unit, None)
                continue
            now = {name: info.pid for name, info in table.items()}
            for bot, pid in self._pids.get(unit, {}).items():
                if pid and bot in now and now[bot] != pid:
                    events.append(UnitEvent(unit, EXIT, bot=bot, pid=pid))
            self._pids[unit] = now
        for gone in set(self._pids) - set(tables):
            del self._pids[gone]
        return events

    def forget(self, unit: str) -> None:
        """The unit itself changed state: its bots' next pids are a new start, not exits."""
        self._pids.pop(unit, None)


def follow(unit_events: Callable[[], Iterator[UnitEvent]], pools: Callable[[], list[str]],
           processes: Callable[[list[str]], ProcessTables], interval: float = POLL_INTERVAL) -> Iterator[UnitEvent]:
    """The backend's unit events and the pool bots' exits, merged, as they happen.

    ``unit_events`` is read on a thread of its own (it blocks between events); ``pools`` names the
    running pool units, read at the start, after any unit event and every ``POOLS_EVERY`` seconds;
    ``processes`` reads their tables. Ends when ``unit_events`` ends; re-raises what it raised."""
    inbox: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            for event in unit_events():
                inbox.put(event)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            inbox.put(exc)
        inbox.put(_END)

    threading.Thread(target=read, name="fleetops-unit-events", daemon=True).start()
    watch = ExitWatch(processes)
    names: list[str] | None = None
    listed_at = next_look = time.monotonic()
    while True:
        try:
            item = inbox.get(timeout=max(0.0, next_look - time.monotonic()))
        except queue.Empty:
            item = None
        if item is _END:
            return
        if isinstance(item, Exception):
            raise item
        if isinstance(item, UnitEvent):
            names = None  # a unit started, stopped or went: which pools answer may have changed
            watch.forget(item.name)
            yield item
        if time.monotonic() >= next_look:
            if names is None or time.monotonic() - listed_at >= POOLS_EVERY:
                names, listed_at = pools(), time.monotonic()
            yield from watch.look(names)
            next_look = time.monotonic() + interval
