"""The agent's commands: what the controller may ask of a node, checked, run, answered as JSON.

Called by ``engine.agent.main`` for every command a poll brings. ``Ops.execute`` never raises: a
command that is malformed, names a path the task planted, or meets a supervisord that does not
answer gets an error answer ``{"ok": false, "kind": …, "message": one line}`` and the agent goes
on. Kinds: ``bad`` (the command itself), ``files`` (the node's files), ``blob`` (a blob could not
be fetched or was not what its name said), ``supervisor`` (did not answer), ``refused`` (answered
with a fault), ``internal``. Names in arguments are checked against the engine's patterns before
any path is made of them. Paths are those of ``engine.agent.files``; blobs are sha256 hex names.

    op              args                                                   value
    ping            {}                                                     {node, started}
    put_unit        {unit, conf, preload: {file: sha}, preload_uid, bots: {bot: uid|null}}   {}
    reconcile       {unit}                                                 {added, changed, removed}
    put_bot         {unit, bot, config, secrets, strategy: [file, sha], uid}              {}
    start_bot | stop_bot | restart_bot   {unit, bot}   (stop returns once the process is gone)   {}
    processes       {units, timeout}                                       {units: {unit: {programs: {p: [state, pid, spawnerr, exit]}} | {error}}}
    bot_log_mark | unit_log_mark   {unit[, bot]}                           {mark: [inode, size]}
    bot_log | unit_log   {unit[, bot], after: [inode, size]|null, size}    {text}
    keep_only       {unit, bots}                                           {archived}
    archive_bot     {unit, bot} · archive_unit {unit}                      {to: path|null}
    export_bot_data {unit, bot}                                            {sha, size, skipped}   (the tar is uploaded first)
    import_bot_data {unit, bot, sha, uid}                                  {skipped}
    http            {service, port, method, path, headers, body_b64, timeout}   {status, body_b64, error}
    memory          {units: {unit: container id|null}}                     {memory: {unit: bytes|null}}
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from engine.agent.files import NodeFiles
from engine.agent.link import LinkError
from engine.agent.supervisord import Supervisord, SupervisordError, SupervisordRefused
from engine.backend.docker.cgroup import container_memory

__all__ = ["CLAIMED", "RELAY_LIMIT", "CommandError", "Ops"]

CLAIMED = frozenset({"put_unit", "reconcile", "put_bot", "start_bot", "stop_bot", "restart_bot", "keep_only", "archive_bot",
                     "archive_unit", "export_bot_data", "import_bot_data"})
"""Commands that change something: run only once the controller confirms their caller still waits
(``engine.agent.main``; a command that reached the node late must not run after its caller gave up)."""

RELAY_LIMIT = 1 << 20
"""Bytes of a bot's HTTP answer relayed at most (``engine.live.botapi`` reads as much)."""
BLOB_LIMIT = 1 << 30
"""Bytes of a moving bot's data (a tar) at most."""
FILE_LIMIT = 64 << 20
"""Bytes of one file the controller rendered (a conf, a config, a strategy) at most."""
LOG_LIMIT = 1 << 20

_UNIT = re.compile(r"[a-z][a-z0-9-]{0,99}")
_BOT = re.compile(r"[a-z][a-z0-9-]{0,39}")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")
_SHA = re.compile(r"[0-9a-f]{64}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_CONTAINER = re.compile(r"[0-9a-f]{12,64}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_PATH = re.compile(r"/[\x21-\x7e]{0,2047}")


class CommandError(Exception):
    """A command that cannot be done: ``kind`` as in the module's list, a one-line message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _text(args: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise CommandError("bad", f"argument {key!r} is missing or not a valid name")
    return value


def _sha(value: Any) -> str:
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise CommandError("bad", "a blob name is not a sha256 in hex")
    return value


def _uid(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 31:
        raise CommandError("bad", "a uid is not a non-negative integer")
    return int(value)


def _mark(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise CommandError("bad", "a log mark is not [inode, size]")
    return (value[0], value[1])


def _size(args: dict[str, Any], default: int) -> int:
    value = args.get("size", default)
    return min(value, LOG_LIMIT) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


class Ops:
    """The commands of one node. ``fetch(sha, out, limit)`` and ``upload(sha, file, size)`` reach the
    controller's blobs; ``relay_host`` makes a bot's host name from its service (Swarm's DNS name of
    the task; tests give their own); ``cgroup_root`` is the node's cgroup tree as mounted in the agent."""

    def __init__(self, node: str, files: NodeFiles, fetch: Callable[[str, BinaryIO, int], int], upload: Callable[[str, BinaryIO, int], None], *,
                 relay_host: str = "tasks.{service}", cgroup_root: Path = Path("/host/sys/fs/cgroup"), supervisor_timeout: float = 30.0) -> None:
        self.node = node
        self.files = files
        self._fetch = fetch
        self._upload = upload
        self._relay_host = relay_host
        self._cgroup_root = cgroup_root
        self._timeout = supervisor_timeout
        self._started = time.time()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._table: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "ping": lambda _a: {"node": self.node, "started": self._started},
            "put_unit": self._put_unit, "reconcile": self._reconcile, "put_bot": self._put_bot,
            "start_bot": self._program(Supervisord.start), "stop_bot": self._program(Supervisord.stop),
            "restart_bot": self._program(Supervisord.restart), "processes": self._processes,
            "bot_log_mark": lambda a: {"mark": list(self.files.mark(_text(a, "unit", _UNIT), _text(a, "bot", _BOT)))},
            "unit_log_mark": lambda a: {"mark": list(self.files.mark(_text(a, "unit", _UNIT), None))},
            "bot_log": lambda a: {"text": self.files.tail(_text(a, "unit", _UNIT), _text(a, "bot", _BOT), _size(a, 16384), _mark(a.get("after")))},
            "unit_log": lambda a: {"text": self.files.tail(_text(a, "unit", _UNIT), None, _size(a, 65536), _mark(a.get("after")))},
            "keep_only": self._keep_only,
            "archive_bot": lambda a: self._locked(a, lambda u: {"to": self.files.archive_bot(u, _text(a, "bot", _BOT))}),
            "archive_unit": lambda a: self._locked(a, lambda u: {"to": self.files.archive_unit(u)}),
            "export_bot_data": self._export, "import_bot_data": self._import, "http": self._http, "memory": self._memory,
        }

    def execute(self, op: str, args: Any) -> dict[str, Any]:
        """``{"ok": true, "value": …}`` or ``{"ok": false, "kind": …, "message": …}``; never raises."""
        try:
            handler = self._table.get(op) if isinstance(op, str) else None
            if handler is None:
                raise CommandError("bad", f"there is no command {str(op)[:40]!r} in this agent")
            if not isinstance(args, dict):
                raise CommandError("bad", f"the arguments of {op} are not an object")
            return {"ok": True, "value": handler(args)}
        except CommandError as exc:
            return {"ok": False, "kind": exc.kind, "message": str(exc)}
        except SupervisordRefused as exc:
            return {"ok": False, "kind": "refused", "message": str(exc)}
        except SupervisordError as exc:
            return {"ok": False, "kind": "supervisor", "message": str(exc)}
        except LinkError as exc:
            return {"ok": False, "kind": "blob", "message": str(exc)}
        except OSError as exc:  # UnsafePath among them: a path the task planted, or the disk
            return {"ok": False, "kind": "files", "message": str(exc) or type(exc).__name__}
        except Exception as exc:  # noqa: BLE001 - the agent answers every command, whatever went wrong
            return {"ok": False, "kind": "internal", "message": f"{type(exc).__name__}: {exc}"}

    # -- helpers ---------------------------------------------------------------------------------

    def _locked(self, args: dict[str, Any], work: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work(unit)`` holding the unit's lock: two writes to one unit never interleave."""
        unit = _text(args, "unit", _UNIT)
        with self._guard:
            lock = self._locks.setdefault(unit, threading.Lock())
        with lock:
            return work(unit)

    def _blob(self, sha: str) -> bytes:
        out = io.BytesIO()
        self._fetch(sha, out, FILE_LIMIT)
        return out.getvalue()

    def _supervisord(self, unit: str) -> Supervisord:
        return Supervisord(unit, self.files.data_dir(unit), self._timeout)

    # -- commands ----------------------------------------------------------------------------------

    def _put_unit(self, args: dict[str, Any]) -> dict[str, Any]:
        preload = args.get("preload") or {}
        bots = args.get("bots") or {}
        if not isinstance(preload, dict) or not isinstance(bots, dict):
            raise CommandError("bad", "preload and bots are not objects")
        names = {_text({"f": name}, "f", _FILE): _sha(sha) for name, sha in preload.items()}
        owners = {_text({"b": name}, "b", _BOT): _uid(uid) for name, uid in bots.items()}
        preload_uid, conf_sha = _uid(args.get("preload_uid")), _sha(args.get("conf"))
        conf = self._blob(conf_sha)
        files = {name: self._blob(sha) for name, sha in names.items()}

        def write(unit: str) -> dict[str, Any]:
            self.files.write_unit(unit, conf, files, preload_uid, owners)
            return {}
        return self._locked(args, write)

    def _reconcile(self, args: dict[str, Any]) -> dict[str, Any]:
        def update(unit: str) -> dict[str, Any]:
            supervisord = self._supervisord(unit)
            supervisord.wait_ready(self._timeout)
            added, changed, removed = supervisord.update()
            return {"added": added, "changed": changed, "removed": removed}
        return self._locked(args, update)

    def _put_bot(self, args: dict[str, Any]) -> dict[str, Any]:
        bot = _text(args, "bot", _BOT)
        strategy = args.get("strategy")
        if not (isinstance(strategy, list) and len(strategy) == 2):
            raise CommandError("bad", "strategy is not [file name, sha]")
        name, shas, uid = _text({"f": strategy[0]}, "f", _FILE), (_sha(args.get("config")), _sha(args.get("secrets")), _sha(strategy[1])), _uid(args.get("uid"))
        config, secrets, code = (self._blob(sha) for sha in shas)

        def write(unit: str) -> dict[str, Any]:
            self.files.write_bot(unit, bot, config, secrets, (name, code), uid)
            return {}
        return self._locked(args, write)

    def _program(self, action: Callable[[Supervisord, str], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def run(args: dict[str, Any]) -> dict[str, Any]:
            bot = _text(args, "bot", _BOT)
            action(self._supervisord(_text(args, "unit", _UNIT)), bot)
            return {}
        return run

    def _processes(self, args: dict[str, Any]) -> dict[str, Any]:
        units = args.get("units")
        if not isinstance(units, list):
            raise CommandError("bad", "units is not a list")
        timeout = args.get("timeout", 5.0)
        timeout = float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 0 < timeout <= 60 else 5.0
        found: dict[str, Any] = {}
        for unit in units:
            name = _text({"u": unit}, "u", _UNIT)
            try:
                found[name] = {"programs": Supervisord(name, self.files.data_dir(name), timeout).states()}
            except SupervisordError as exc:
                found[name] = {"error": str(exc)}
        return {"units": found}

    def _keep_only(self, args: dict[str, Any]) -> dict[str, Any]:
        bots = args.get("bots")
        if not isinstance(bots, list):
            raise CommandError("bad", "bots is not a list")
        keep = [_text({"b": b}, "b", _BOT) for b in bots]
        return self._locked(args, lambda u: {"archived": self.files.keep_only(u, keep)})

    def _export(self, args: dict[str, Any]) -> dict[str, Any]:
        bot = _text(args, "bot", _BOT)
        with tempfile.TemporaryFile() as tar:
            skipped = self._locked(args, lambda u: {"skipped": self.files.export_bot(u, bot, tar)})["skipped"]
            size = tar.tell()
            tar.seek(0)
            digest = hashlib.sha256()
            while chunk := tar.read(1 << 20):
                digest.update(chunk)
            tar.seek(0)
            sha = digest.hexdigest()
            self._upload(sha, tar, size)
        return {"sha": sha, "size": size, "skipped": skipped}

    def _import(self, args: dict[str, Any]) -> dict[str, Any]:
        bot, sha, uid = _text(args, "bot", _BOT), _text(args, "sha", _SHA), _uid(args.get("uid"))
        with tempfile.TemporaryFile() as tar:
            self._fetch(sha, tar, BLOB_LIMIT)
            tar.seek(0)
            return self._locked(args, lambda u: {"skipped": self.files.import_bot(u, bot, tar, uid)})

    def _http(self, args: dict[str, Any]) -> dict[str, Any]:
        """One request to a bot's own API, its answer bounded (the controller is not on the overlay network)."""
        service = _text(args, "service", _SERVICE)
        port, method, path = args.get("port"), args.get("method"), args.get("path")
        headers = args.get("headers") or {}
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise CommandError("bad", "port is not a TCP port")
        if method not in ("GET", "POST") or not isinstance(path, str) or not _PATH.fullmatch(path):
            raise CommandError("bad", "method is not GET or POST, or path is not an absolute request path")
        if not isinstance(headers, dict) or not all(isinstance(k, str) and _HEADER_NAME.fullmatch(k) and isinstance(v, str)
                                                    and "\r" not in v and "\n" not in v for k, v in headers.items()):
            raise CommandError("bad", "headers are not name → one-line value")
        body = base64.b64decode(args["body_b64"]) if isinstance(args.get("body_b64"), str) else None
        timeout = args.get("timeout", 2.0)
        timeout = float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 0 < timeout <= 60 else 2.0
        connection = http.client.HTTPConnection(self._relay_host.format(service=service), port, timeout=timeout)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            data = response.read(RELAY_LIMIT + 1)
        except (OSError, http.client.HTTPException) as exc:
            return {"status": None, "body_b64": "", "error": type(exc).__name__}
        finally:
            connection.close()
        if len(data) > RELAY_LIMIT:
            return {"status": response.status, "body_b64": "", "error": "answer over 1 MiB"}
        return {"status": response.status, "body_b64": base64.b64encode(data).decode(), "error": ""}

    def _memory(self, args: dict[str, Any]) -> dict[str, Any]:
        units = args.get("units")
        if not isinstance(units, dict):
            raise CommandError("bad", "units is not an object of unit → container id")
        found: dict[str, int | None] = {}
        for unit, container in units.items():
            name = _text({"u": unit}, "u", _UNIT)
            found[name] = container_memory(container, self._cgroup_root) if isinstance(container, str) and _CONTAINER.fullmatch(container) else None
        return {"memory": found}
