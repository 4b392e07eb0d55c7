"""The Docker backend's files: each container's runtime directory, and the records of what it runs.

Used by the Docker site (``engine.backend.docker.site``) for everything the backend port calls
files and records: the engine renders them (``engine.live.materials``), this module places them
where Docker bind-mounts them. Layout::

    <state>/runtime/<fleet>/<container>/etc/                    mounted read-only at /fleet/etc
        supervisord.conf                                        pool containers only
        bots/<bot>/config.json, secrets.json (0400, the bot's user), strategies/<Class>.py
    <state>/runtime/<fleet>/<container>/data/                   mounted read-write at /fleet/data
        supervisor.sock, supervisord.log
        bots/<bot>/user_data/, tradesv3*.sqlite, bot.log        owned by the bot's user
    <state>/runtime/<fleet>/<container>/records/                never mounted: what was applied
        container.json, bots/<bot>.json

A container can rewrite anything under its ``data/``, so every access goes through
``engine.backend.docker.safefs`` (no link is ever followed, only regular files are read or copied).
Nothing is deleted: a removed bot's or container's files move under ``<state>/archive/<fleet>/``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

from engine.backend.docker.safefs import SafeDir, UnsafePath
from engine.backend.port import BotFiles, UnitFiles
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.compile.essence import RecordError, parse_record
from engine.hashing import pretty_json
from engine.naming import BOTS, HOST_DATA, HOST_ETC, HOST_RECORDS, PRELOAD, runtime_root

__all__ = ["Runtime", "recorded_fleets"]

RECORD_LIMIT = 4 << 20
"""The largest record read back (a bot record is a few KB)."""


_FLEET_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


def recorded_fleets(state_dir: Path) -> list[str]:
    """Fleets with a unit's directory under ``<state>/runtime/`` (the controller's memory of what it
    applied, whatever the backend; no call to it): what ``Backend.recorded_fleets`` answers."""
    root = runtime_root(state_dir, "")
    try:
        return sorted(d.name for d in root.iterdir() if _FLEET_NAME.fullmatch(d.name) and d.is_dir() and any(c.is_dir() for c in d.iterdir()))
    except OSError:
        return []


def _owner(uid: int | None) -> int | None:
    """Files for a bot's user can be given to it only when fleetops runs as root."""
    return uid if uid and os.geteuid() == 0 else None


class Runtime:
    """Runtime directories of one fleet under a state dir; ``report`` hears of anything set aside."""

    def __init__(self, state_dir: Path, fleet: str, report: Callable[[str], None] = lambda _line: None) -> None:
        self.state_dir = state_dir
        self.root = runtime_root(state_dir, fleet)
        self.archive_root = state_dir / "archive" / fleet
        self.fleet = fleet
        self._report = report
        self._adopted: dict[str, Path] = {}

    def adopt(self, fleet: str, container: str) -> None:
        """Reach ``container`` of ``fleet`` through this runtime: a rename moves its bots (their
        data copied, then its directory archived) into this fleet's containers."""
        self._adopted[container] = runtime_root(self.state_dir, fleet) / container

    def _open(self, container: str) -> SafeDir:
        """A container's runtime directory, created if needed; planted non-directories are reported."""
        return SafeDir.open(self.container_dir(container), create=True, on_set_aside=self._report)

    def container_dir(self, container: str) -> Path:
        return self._adopted.get(container) or self.root / container

    def data_dir(self, container: str) -> Path:
        return self.container_dir(container) / HOST_DATA

    # -- writing ---------------------------------------------------------------------------

    def keep_only(self, container: str, bots: tuple[str, ...]) -> None:
        """Archive the files of every bot left in a container's directory that it no longer names
        (left over from before the container was removed): called before it is (re)created."""
        with self._open(container) as root, root.walk(HOST_ETC, BOTS, create=True) as etc_bots:
            stale = [n for n in etc_bots.names() if n not in bots]
        for name in stale:
            self.archive_bot(container, name)

    def write_unit(self, container: str, files: UnitFiles) -> None:
        """The pool's conf, and a plain directory for every bot it names: supervisord refuses to
        re-read a conf whose log directory is missing, so one planted link must not stall the pool."""
        with self._open(container) as root:
            with root.walk(HOST_ETC, create=True) as etc:
                etc.write("supervisord.conf", files.conf)
            if files.preload:
                with root.walk(HOST_ETC, PRELOAD, create=True) as preload:
                    for name, content in files.preload.items():
                        preload.write(name, content)
                with root.walk(HOST_DATA, create=True), root.walk(HOST_DATA, PRELOAD, create=True, owner=_owner(files.preload_uid)):
                    pass
            with root.walk(HOST_DATA, BOTS, create=True):
                pass
            for name, uid in files.bots.items():
                with root.walk(HOST_DATA, BOTS, name, create=True, owner=_owner(uid)):
                    pass

    def write_bot(self, container: str, bot: str, files: BotFiles) -> None:
        """Config, secrets and pinned strategy of one bot, in its container's directory."""
        owner = _owner(files.uid)
        strategy_file, strategy = files.strategy
        with self._open(container) as root:
            with root.walk(HOST_ETC, BOTS, bot, create=True) as etc:
                etc.write("config.json", files.config)
                etc.write("secrets.json", files.secrets, mode=0o400 if owner is not None else 0o600, owner=owner)
                with etc.walk("strategies", create=True) as strategies:
                    for stale in strategies.names():
                        if stale != strategy_file:
                            strategies.unlink(stale)
                    strategies.write(strategy_file, strategy)
            with root.walk(HOST_DATA, create=True), root.walk(HOST_DATA, BOTS, create=True):
                pass
            with root.walk(HOST_DATA, BOTS, bot, create=True, owner=owner) as data:
                if owner is not None:
                    data.chown(owner)
                data.set_aside_specials()
                with data.walk("user_data", create=True, owner=owner) as user_data:
                    user_data.set_aside_specials()

    def record_container(self, container: str, record: AppliedContainer) -> None:
        """Record what the container was (re)created from. Called only once it was (re)started, so
        an apply killed in between leaves the old records and the next plan redoes the step."""
        with self._open(container) as root, root.walk(HOST_RECORDS, create=True) as records:
            records.write("container.json", pretty_json(record.plain()).encode())

    def record_bot(self, container: str, bot: str, record: AppliedBot) -> None:
        """Record what the bot now runs (after its process was started with the files above)."""
        with self._open(container) as root, root.walk(HOST_RECORDS, BOTS, create=True) as records:
            records.write(f"{bot}.json", pretty_json(record.plain()).encode())

    # -- reading -----------------------------------------------------------------------------

    def read_container_record(self, container: str) -> AppliedContainer | Unreadable | None:
        """What the container was created from; None when there is no record at all."""
        try:
            with SafeDir.open(self.container_dir(container)) as root, root.walk(HOST_RECORDS) as records:
                if not records.exists("container.json"):
                    return None
                return parse_record(AppliedContainer, records.read("container.json", RECORD_LIMIT))
        except FileNotFoundError:
            return None
        except UnsafePath as exc:
            return None if not self.container_dir(container).exists() else Unreadable(str(exc))
        except RecordError as exc:
            return Unreadable(f"records/container.json: {exc}")

    def read_bot_records(self, container: str) -> dict[str, AppliedBot | Unreadable]:
        """Bot name → what was applied to it in this container (or why that cannot be read)."""
        records: dict[str, AppliedBot | Unreadable] = {}
        directory = self.container_dir(container) / HOST_RECORDS / BOTS
        if not directory.is_dir():
            return records
        with SafeDir.open(directory) as bots:
            for entry in bots.names():
                name = entry.removesuffix(".json")
                if not entry.endswith(".json") or entry.startswith("."):
                    continue
                try:
                    records[name] = parse_record(AppliedBot, bots.read(entry, RECORD_LIMIT))
                except (UnsafePath, RecordError) as exc:
                    records[name] = Unreadable(f"records/bots/{entry}: {exc}")
        return records

    def tail_log(self, container: str, bot: str, size: int = 16384, after: tuple[int, int] | None = None) -> str:
        """The end of a bot's log, read without following links (empty when there is none); with
        ``after`` (``log_mark``), only what this run of the bot wrote."""
        try:
            with SafeDir.open(self.data_dir(container)) as data, data.walk(BOTS, bot) as directory:
                return directory.tail("bot.log", size, after).decode("utf-8", "replace")
        except (OSError, UnsafePath):
            return ""

    def log_mark(self, container: str, bot: str) -> tuple[int, int]:
        """Where a bot's log ends now: the lines after it are the next run's (supervisord appends)."""
        try:
            with SafeDir.open(self.data_dir(container)) as data, data.walk(BOTS, bot) as directory:
                return directory.mark("bot.log")
        except (OSError, UnsafePath):
            return (0, 0)

    def read_log_after(self, container: str, bot: str, after: tuple[int, int], size: int = 65536) -> tuple[bytes, tuple[int, int]]:
        """What a bot's log gained after ``after`` (``log_mark``) and where that ends (nothing: no log yet)."""
        try:
            with SafeDir.open(self.data_dir(container)) as data, data.walk(BOTS, bot) as directory:
                return directory.read_after("bot.log", after, size)
        except (OSError, UnsafePath):
            return b"", after

    def supervisord_log(self, container: str, size: int = 65536, after: tuple[int, int] | None = None) -> str:
        """The end of a pool's supervisord log (spawn errors, exits), read without following links;
        with ``after`` (``supervisord_mark``), only what it wrote since."""
        try:
            with SafeDir.open(self.data_dir(container)) as data:
                return data.tail("supervisord.log", size, after).decode("utf-8", "replace")
        except (OSError, UnsafePath):
            return ""

    def supervisord_mark(self, container: str) -> tuple[int, int]:
        try:
            with SafeDir.open(self.data_dir(container)) as data:
                return data.mark("supervisord.log")
        except (OSError, UnsafePath):
            return (0, 0)

    # -- moving and archiving ---------------------------------------------------------------

    def carry_bot_data(self, bot: str, from_container: str, to_container: str, uid: int | None) -> list[str]:
        """Copy a moving bot's trade databases and user data into its new container's directory.

        Only regular files and directories are copied; anything else (a link the old container
        planted) is skipped and returned, so the caller can report it.
        """
        skipped: list[str] = []
        owner = _owner(uid)
        try:
            with ExitStack() as stack:
                source = stack.enter_context(stack.enter_context(SafeDir.open(self.data_dir(from_container))).walk(BOTS, bot))
                target_root = stack.enter_context(SafeDir.open(self.data_dir(to_container), create=True, on_set_aside=self._report))
                stack.enter_context(target_root.walk(BOTS, create=True))
                target = stack.enter_context(target_root.walk(BOTS, bot, create=True, owner=owner))
                for entry in source.names():
                    if entry.startswith("tradesv3") and ".sqlite" in entry:
                        try:
                            source.copy_file(entry, target, owner=owner)
                        except UnsafePath as exc:
                            skipped.append(str(exc))
                if source.is_dir("user_data"):
                    source.copy_tree("user_data", target, owner=owner, skipped=skipped)
                elif source.exists("user_data"):
                    skipped.append(f"{source.path / 'user_data'} is not a directory")
        except UnsafePath as exc:
            skipped.append(str(exc))
        return skipped

    def import_bot_file(self, container: str, bot: str, name: str, chunks: Iterator[bytes], uid: int | None) -> int:
        """Write ``chunks`` as ``name`` in a bot's data directory (a trade database a takeover
        carries in): replaced atomically, never through a link; returns its size."""
        owner = _owner(uid)
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                yield chunk

        with self._open(container) as root, root.walk(HOST_DATA, create=True), root.walk(HOST_DATA, BOTS, create=True), \
                root.walk(HOST_DATA, BOTS, bot, create=True, owner=owner) as data:
            data.write_chunks(name, counted(), mode=0o644, owner=owner)
        return size

    def archive_bot(self, container: str, bot: str) -> Path | None:
        """Move one bot's files (etc, data, record) out of its container's directory."""
        target = self._archive_dir(f"bot-{bot}-from-{container}")
        moved = False
        root_path = self.container_dir(container)
        if not root_path.is_dir():
            return None
        with SafeDir.open(root_path) as root, SafeDir.open(target, create=True) as archive:
            for tree in (HOST_ETC, HOST_DATA):
                try:
                    with root.walk(tree, BOTS) as bots:
                        if bots.exists(bot):
                            with archive.walk(tree, create=True) as dest:
                                bots.move_to(bot, dest, bot)
                                moved = True
                except UnsafePath:
                    continue
            try:
                with root.walk(HOST_RECORDS, BOTS) as records:
                    if records.exists(f"{bot}.json"):
                        records.move_to(f"{bot}.json", archive, "record.json")
                        moved = True
            except UnsafePath:
                pass
        return target if moved else None

    def archive_container(self, container: str) -> Path | None:
        source = self.container_dir(container)
        if not source.exists():
            return None
        target = self._archive_dir(f"container-{container}")
        with SafeDir.open(source.parent) as fleet_dir, SafeDir.open(target, create=True) as archive:
            try:
                with fleet_dir.walk(container, HOST_DATA) as data:
                    data.unlink("supervisor.sock")
            except UnsafePath:
                pass
            fleet_dir.move_to(container, archive, "container")
        return target

    def _archive_dir(self, label: str) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.archive_root / f"{stamp}-{label}"
