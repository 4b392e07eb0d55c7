"""The port's ``Bots`` and ``Files`` on a swarm: every bot-level step is a command to a node's agent.

Composed by the Swarm site beside the services (``Units``) and the records (kept on the
controller, as Docker's are). Nothing here replaces a task: a bot's files are written by the
agent on its unit's node (``engine.agent.files``) and its process is driven through the unit's
supervisord (``engine.agent.supervisord``), so a one-bot change restarts one process and no
service spec changes. A dedicated unit's bot is its service's task, so starting, stopping or
restarting it is the service's (``DedicatedUnits``, given by the site).

Which node runs a unit is the placement's (``locate``: unit → node, None when it has none). Files
travel as blobs (content-addressed, uploaded to the channel first, fetched and checked by the
agent); records never leave the controller. Errors are the channel's: ``SupervisorRefused`` /
``SupervisorError`` for the bot layer, ``DockerError`` for the rest, each naming the node — a node
whose agent is silent is unreachable, and what it runs is neither started nor copied elsewhere.
Reading logs is best effort, as Docker's is: an unreachable node reads as an empty log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from engine.backend.port import PROCESS_TIMEOUT, Address, BotFiles, ListedUnit, LogMark, ProcessInfo, ProcessTables, UnitFiles
from engine.backend.swarm.channel import CALL_TIMEOUT, AgentChannel, Pending
from engine.errors import DockerError, FleetopsError, SupervisorError, SupervisorRefused

__all__ = ["DedicatedUnits", "SwarmBots"]

FILE_TIMEOUT = 60.0
"""Seconds a write or a read of files on a node may take (fetching its blobs included)."""
CARRY_TIMEOUT = 600.0
"""Seconds a bot's data may take to travel (export, upload, download, import)."""


class DedicatedUnits(Protocol):
    """The services whose task is one bot: started, stopped, restarted as a whole (the site's ``Units``)."""

    def start(self, name: str) -> None: ...
    def stop(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...


class SwarmBots:
    """One fleet's bots and files through its node agents (``channel``); ``locate`` says a unit's node."""

    def __init__(self, channel: AgentChannel, locate: Callable[[str], str | None], dedicated: DedicatedUnits) -> None:
        self.channel = channel
        self.locate = locate
        self.dedicated = dedicated

    def _node(self, unit: str) -> str:
        node = self.locate(unit)
        if node is None:
            raise DockerError(f"unit {unit} is placed on no node yet; plan again (its service may have been removed by hand)")
        return node

    def _call(self, unit: str, op: str, args: dict[str, Any], timeout: float = FILE_TIMEOUT, blobs: tuple[str, ...] = ()) -> dict[str, Any]:
        return self.channel.call(self._node(unit), op, {"unit": unit, **args}, timeout, blobs)

    # -- bots ---------------------------------------------------------------------------------------

    def processes(self, units: list[str], timeout: float = PROCESS_TIMEOUT) -> ProcessTables:
        """Each unit's process table: one command per node, all nodes asked at once; a unit on an
        unreachable node (or on none) maps to the ``SupervisorError`` that says so."""
        found: ProcessTables = {}
        by_node: dict[str, list[str]] = {}
        for unit in units:
            node = self.locate(unit)
            if node is None:
                found[unit] = SupervisorError(f"unit {unit} is placed on no node")
            else:
                by_node.setdefault(node, []).append(unit)
        asked: dict[str, Pending | FleetopsError] = {}
        for node, names in by_node.items():
            try:
                asked[node] = self.channel.send(node, "processes", {"units": names, "timeout": timeout})
            except FleetopsError as exc:
                asked[node] = exc
        for node, pending in asked.items():
            try:
                if isinstance(pending, FleetopsError):
                    raise pending
                tables = self.channel.wait(pending, timeout + 5.0).get("units", {})
            except FleetopsError as exc:
                for unit in by_node[node]:
                    found[unit] = SupervisorError(str(exc))
                continue
            for unit in by_node[node]:
                found[unit] = _table(unit, node, tables.get(unit))
        return found

    def reconcile(self, unit: str, files: UnitFiles) -> tuple[list[str], list[str], list[str]]:
        self.put_unit(unit, files)
        value = self._call(unit, "reconcile", {}, CALL_TIMEOUT)
        return _names(value.get("added")), _names(value.get("changed")), _names(value.get("removed"))

    def start_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.dedicated.start(unit)
            return
        try:
            self._call(unit, "start_bot", {"bot": bot}, CALL_TIMEOUT)
        except SupervisorRefused as exc:
            if "ALREADY_STARTED" not in str(exc):
                raise

    def stop_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        """Returns once the bot's process is gone (the agent waits for supervisord to say so)."""
        if dedicated:
            self.dedicated.stop(unit)
        else:
            self._call(unit, "stop_bot", {"bot": bot}, CALL_TIMEOUT)

    def restart_bot(self, unit: str, bot: str, *, dedicated: bool) -> None:
        if dedicated:
            self.dedicated.restart(unit)
        else:
            self._call(unit, "restart_bot", {"bot": bot}, CALL_TIMEOUT)

    def address_of(self, unit: ListedUnit, port: int) -> Address | None:
        """``("<fleet>/<node>/<service>", port)``: only the relays (``engine.live.relay``) understand it,
        by asking that node's agent of that fleet, which reaches the task on the fleet's overlay network."""
        node = self.locate(unit.name)
        return (f"{self.channel.fleet}/{node}/{unit.name}", port) if node is not None and unit.running else None

    def memory(self, containers: Mapping[str, str | None]) -> dict[str, int | None]:
        """Unit → bytes its task's container uses (read by its node's agent from the node's cgroups;
        None when unknown or the node is unreachable); ``containers``: unit → its task's container id."""
        found: dict[str, int | None] = dict.fromkeys(containers)
        by_node: dict[str, dict[str, str | None]] = {}
        for unit, container in containers.items():
            node = self.locate(unit)
            if node is not None:
                by_node.setdefault(node, {})[unit] = container
        for node, asked in by_node.items():
            try:
                value = self.channel.call(node, "memory", {"units": asked}, 10.0).get("memory", {})
            except FleetopsError:
                continue
            found.update({u: v for u, v in value.items() if u in found and (v is None or isinstance(v, int))})
        return found

    # -- files --------------------------------------------------------------------------------------

    def put_bot(self, unit: str, bot: str, files: BotFiles) -> None:
        put = self.channel.put_blob
        config, secrets, strategy = put(files.config), put(files.secrets), put(files.strategy[1])
        self._call(unit, "put_bot", {"bot": bot, "config": config, "secrets": secrets, "strategy": [files.strategy[0], strategy],
                                     "uid": files.uid}, blobs=(config, secrets, strategy))

    def put_unit(self, unit: str, files: UnitFiles) -> None:
        conf = self.channel.put_blob(files.conf)
        preload = {name: self.channel.put_blob(content) for name, content in files.preload.items()}
        self._call(unit, "put_unit", {"conf": conf, "preload": preload, "preload_uid": files.preload_uid, "bots": dict(files.bots)},
                   blobs=(conf, *preload.values()))

    def keep_only(self, unit: str, bots: tuple[str, ...]) -> None:
        self._call(unit, "keep_only", {"bots": list(bots)})

    def carry_bot_data(self, bot: str, from_unit: str, to_unit: str, uid: int | None) -> list[str]:
        """Export the bot's databases and user data on the old unit's node (the agent uploads a tar),
        import them on the new one's; what was not copied. Raises when either node cannot: the bot
        must not start where its trade database is not."""
        return self._carry(bot, (from_unit, self._node(from_unit)), (to_unit, self._node(to_unit)), uid)[1]

    def carry_across(self, unit: str, bot: str, source: str, destination: str, uid: int | None) -> tuple[int, list[str]]:
        """``carry_bot_data`` for a unit that changes node (``engine.backend.swarm.moves``): from its directory on
        node ``source`` to its directory on node ``destination`` (host names); (bytes carried, what was not copied)."""
        return self._carry(bot, (unit, source), (unit, destination), uid)

    def _carry(self, bot: str, source: tuple[str, str], destination: tuple[str, str], uid: int | None) -> tuple[int, list[str]]:
        (from_unit, from_node), (to_unit, to_node) = source, destination
        exported = self.channel.call(from_node, "export_bot_data", {"unit": from_unit, "bot": bot}, CARRY_TIMEOUT)
        sha = exported.get("sha")
        if not isinstance(sha, str):
            raise DockerError(f"the agent on node {from_node} exported {bot}'s data without naming it")
        try:
            imported = self.channel.call(to_node, "import_bot_data", {"unit": to_unit, "bot": bot, "sha": sha, "uid": uid}, CARRY_TIMEOUT,
                                         (sha,))
        finally:
            self.channel.blobs.drop(sha)
        size = exported.get("size")
        return (size if isinstance(size, int) else 0), [*_names(exported.get("skipped")), *_names(imported.get("skipped"))]

    def archive_bot(self, unit: str, bot: str) -> None:
        self._call(unit, "archive_bot", {"bot": bot})

    def archive_unit(self, unit: str) -> None:
        """Move a removed unit's files aside on its node; nothing when it is placed on no node any more."""
        if self.locate(unit) is not None:
            self._call(unit, "archive_unit", {})

    def bot_log_mark(self, unit: str, bot: str) -> LogMark:
        return self._mark(unit, "bot_log_mark", {"bot": bot})

    def bot_log(self, unit: str, bot: str, after: LogMark | None = None) -> str:
        return self._text(unit, "bot_log", {"bot": bot, "after": list(after) if after else None})

    def unit_log_mark(self, unit: str) -> LogMark:
        return self._mark(unit, "unit_log_mark", {})

    def unit_log(self, unit: str, after: LogMark | None = None) -> str:
        return self._text(unit, "unit_log", {"after": list(after) if after else None})

    def adopt(self, fleet: str, unit: str) -> None:
        raise DockerError(f"unit {unit} of fleet {fleet} cannot be adopted: Swarm services cannot be renamed, so none was renamed by hand")

    def _mark(self, unit: str, op: str, args: dict[str, Any]) -> LogMark:
        try:
            mark = self._call(unit, op, args).get("mark")
        except FleetopsError:
            return (0, 0)
        return (mark[0], mark[1]) if isinstance(mark, list) and len(mark) == 2 and all(isinstance(m, int) for m in mark) else (0, 0)

    def _text(self, unit: str, op: str, args: dict[str, Any]) -> str:
        try:
            text = self._call(unit, op, args).get("text")
        except FleetopsError:
            return ""
        return text if isinstance(text, str) else ""


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _table(unit: str, node: str, entry: Any) -> dict[str, ProcessInfo] | SupervisorError:
    """One unit's process table from a node's answer (``{"programs": …}`` or ``{"error": …}``)."""
    if not isinstance(entry, dict):
        return SupervisorError(f"the agent on node {node} did not report unit {unit}")
    if "error" in entry or not isinstance(entry.get("programs"), dict):
        return SupervisorError(f"node {node}: {entry.get('error') or 'no process table'}")
    table: dict[str, ProcessInfo] = {}
    for name, row in entry["programs"].items():
        if isinstance(row, list) and len(row) == 4:
            state, pid, spawnerr, status = row
            table[str(name)] = ProcessInfo(str(name), str(state), pid if isinstance(pid, int) else 0,
                                           status if isinstance(status, int) else 0, str(spawnerr))
    return table
