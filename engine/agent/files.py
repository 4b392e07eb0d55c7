"""The node's bot files: what the agent writes and reads under its root (``/var/lib/fleetops``).

The same layout as the Docker backend's runtime directories (``engine.backend.docker.runtime``),
one directory per unit of each fleet, bind-mounted into the unit's task::

    <root>/<fleet>/<unit>/etc/     supervisord.conf, preload/, bots/<bot>/{config.json, secrets.json, strategies/}
    <root>/<fleet>/<unit>/data/    supervisor.sock, supervisord.log, bots/<bot>/{bot.log, tradesv3*.sqlite, user_data/}
    <root>/.archive/<fleet>/<stamp>-<what>/    what was removed (nothing is deleted; no fleet name starts with a dot)

A task can rewrite anything under its ``data/``, so every access goes through ``SafeDir`` (no link
is ever followed, only regular files are read or copied, planted specials are set aside). Records
of what was applied stay on the controller. A moving bot's data travels as an uncompressed tar of
its trade databases and ``user_data/`` (regular files and directories only; anything else is
skipped and named), exported on the old node and imported on the new one.

Errors: ``UnsafePath`` (an ``OSError``) for a path that is not what the agent wrote; ``OSError``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import tarfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import BinaryIO

from engine.backend.docker.safefs import SafeDir, UnsafePath

__all__ = ["NodeFiles"]

ETC, DATA, BOTS, PRELOAD = "etc", "data", "bots", "preload"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


def _owner(uid: int | None) -> int | None:
    """Files for a bot's user can be given to it only when the agent runs as root."""
    return uid if uid and os.geteuid() == 0 else None


def _carried(name: str) -> bool:
    """What a moving bot takes along at the top of its data directory, besides ``user_data/``."""
    return name.startswith("tradesv3") and ".sqlite" in name


class NodeFiles:
    """One fleet's unit directories on this node; ``report`` hears of anything set aside."""

    def __init__(self, root: Path, fleet: str, report: Callable[[str], None] = lambda _line: None) -> None:
        self.root = root
        self.fleet = fleet
        self._report = report

    def unit_dir(self, unit: str) -> Path:
        return self.root / self.fleet / unit

    def data_dir(self, unit: str) -> Path:
        return self.unit_dir(unit) / DATA

    def _open(self, unit: str) -> SafeDir:
        return SafeDir.open(self.unit_dir(unit), create=True, on_set_aside=self._report)

    def units(self) -> list[str]:
        """The units with a directory here (the heartbeat reports their process tables)."""
        try:
            with SafeDir.open(self.root / self.fleet) as fleet:
                return [name for name in fleet.names() if not name.startswith(".") and fleet.is_dir(name)]
        except UnsafePath:
            return []

    # -- writing ---------------------------------------------------------------------------

    def write_unit(self, unit: str, conf: bytes, preload: dict[str, bytes], preload_uid: int | None, bots: dict[str, int | None]) -> None:
        """The pool's conf and preloader, and a plain data directory for every bot it names:
        supervisord refuses to re-read a conf whose log directory is missing."""
        with self._open(unit) as root:
            with root.walk(ETC, create=True) as etc:
                etc.write("supervisord.conf", conf)
            if preload:
                with root.walk(ETC, PRELOAD, create=True) as directory:
                    for name, content in sorted(preload.items()):
                        directory.write(name, content)
                with root.walk(DATA, create=True), root.walk(DATA, PRELOAD, create=True, owner=_owner(preload_uid)):
                    pass
            with root.walk(DATA, BOTS, create=True):
                pass
            for name, uid in sorted(bots.items()):
                with root.walk(DATA, BOTS, name, create=True, owner=_owner(uid)):
                    pass

    def write_bot(self, unit: str, bot: str, config: bytes, secrets: bytes, strategy: tuple[str, bytes], uid: int | None) -> None:
        """Config, secrets (0400 for the bot's user, 0600 otherwise) and the one pinned strategy file."""
        owner = _owner(uid)
        strategy_file, content = strategy
        with self._open(unit) as root:
            with root.walk(ETC, BOTS, bot, create=True) as etc:
                etc.write("config.json", config)
                etc.write("secrets.json", secrets, mode=0o400 if owner is not None else 0o600, owner=owner)
                with etc.walk("strategies", create=True) as strategies:
                    for stale in strategies.names():
                        if stale != strategy_file:
                            strategies.unlink(stale)
                    strategies.write(strategy_file, content)
            with root.walk(DATA, BOTS, create=True):
                pass
            with root.walk(DATA, BOTS, bot, create=True, owner=owner) as data:
                if owner is not None:
                    data.chown(owner)
                data.set_aside_specials()
                with data.walk("user_data", create=True, owner=owner) as user_data:
                    user_data.set_aside_specials()

    def keep_only(self, unit: str, bots: list[str]) -> list[str]:
        """Archive the files of every bot in the unit's ``etc/bots`` that ``bots`` does not name; those archived."""
        with self._open(unit) as root, root.walk(ETC, BOTS, create=True) as etc_bots:
            stale = [name for name in etc_bots.names() if name not in bots and not name.startswith(".")]
        for name in stale:
            self.archive_bot(unit, name)
        return stale

    # -- reading logs ----------------------------------------------------------------------

    def tail(self, unit: str, bot: str | None, size: int, after: tuple[int, int] | None) -> str:
        """The end of a bot's log (``bot``) or of the unit's supervisord log; with ``after`` (a mark),
        only what was written since. Empty when there is none or it is not a regular file."""
        try:
            with SafeDir.open(self.data_dir(unit)) as data:
                if bot is None:
                    return data.tail("supervisord.log", size, after).decode("utf-8", "replace")
                with data.walk(BOTS, bot) as directory:
                    return directory.tail("bot.log", size, after).decode("utf-8", "replace")
        except OSError:
            return ""

    def mark(self, unit: str, bot: str | None) -> tuple[int, int]:
        """(inode, size) of the log now; (0, 0) when there is none."""
        try:
            with SafeDir.open(self.data_dir(unit)) as data:
                if bot is None:
                    return data.mark("supervisord.log")
                with data.walk(BOTS, bot) as directory:
                    return directory.mark("bot.log")
        except OSError:
            return (0, 0)

    # -- moving ------------------------------------------------------------------------------

    def export_bot(self, unit: str, bot: str, out: BinaryIO) -> list[str]:
        """Write a tar of the bot's trade databases and ``user_data/`` to ``out``; what was skipped.
        A bot without a data directory here exports an empty tar, and says why (as Docker's carry does)."""
        skipped: list[str] = []
        with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
            try:
                with SafeDir.open(self.data_dir(unit)) as data, data.walk(BOTS, bot) as source:
                    for name in source.names():
                        if _carried(name):
                            _add(tar, source, name, name, skipped)
                    if source.is_dir("user_data"):
                        _add_tree(tar, source, "user_data", "user_data", skipped)
                    elif source.exists("user_data"):
                        skipped.append(f"{source.path / 'user_data'} is not a directory")
            except UnsafePath as exc:
                skipped.append(str(exc))
        return skipped

    def import_bot(self, unit: str, bot: str, tar_file: BinaryIO, uid: int | None) -> list[str]:
        """Unpack a tar made by ``export_bot`` into the bot's data directory here; what was skipped.

        Only regular files and directories under a carried name are written, each path component
        checked and created without following links; anything else in the tar is named as skipped."""
        owner = _owner(uid)
        skipped: list[str] = []
        with self._open(unit) as root, root.walk(DATA, BOTS, bot, create=True, owner=owner) as target, \
                tarfile.open(fileobj=tar_file, mode="r:") as tar:
            for member in tar:
                parts = member.name.split("/")
                if parts == ["user_data"] and not member.isdir():
                    skipped.append(f"{member.name} (not a directory)")
                    continue
                if not parts or not ((_carried(parts[0]) and len(parts) == 1) or parts[0] == "user_data") \
                        or any(p in ("", ".", "..") or "\0" in p for p in parts) or not (member.isreg() or member.isdir()):
                    skipped.append(f"{member.name} ({'not carried' if member.isreg() or member.isdir() else 'not a file'})")
                    continue
                with target.walk(*parts[:-1], create=True, owner=owner) as directory:
                    if member.isdir():
                        with directory.walk(parts[-1], create=True, owner=owner):
                            pass
                        continue
                    source = tar.extractfile(member)
                    if source is None:
                        skipped.append(member.name)
                        continue
                    # safefs' atomic write (a temporary file created exclusively, then renameat), fed in chunks
                    directory._write_chunks(parts[-1], iter(partial(source.read, _CHUNK), b""), mode=0o640, owner=owner)
        return skipped

    # -- archiving ---------------------------------------------------------------------------

    def archive_bot(self, unit: str, bot: str) -> str | None:
        """Move one bot's etc and data out of the unit's directory; where to (None: nothing was there)."""
        if not self.unit_dir(unit).is_dir():
            return None
        target = self._archive_dir(f"bot-{bot}-from-{unit}")
        moved = False
        with SafeDir.open(self.unit_dir(unit)) as root, SafeDir.open(target, create=True) as archive:
            for tree in (ETC, DATA):
                try:
                    with root.walk(tree, BOTS) as bots:
                        if bots.exists(bot):
                            with archive.walk(tree, create=True) as dest:
                                bots.move_to(bot, dest, bot)
                                moved = True
                except UnsafePath:
                    continue
        return str(target) if moved else None

    def archive_unit(self, unit: str) -> str | None:
        """Move a removed unit's whole directory aside; where to (None: there was none)."""
        source = self.unit_dir(unit)
        if not source.exists():
            return None
        target = self._archive_dir(f"unit-{unit}")
        with SafeDir.open(source.parent) as fleet_dir, SafeDir.open(target, create=True) as archive:
            try:
                with fleet_dir.walk(unit, DATA) as data:
                    data.unlink("supervisor.sock")
            except UnsafePath:
                pass
            fleet_dir.move_to(unit, archive, "unit")
        return str(target)

    def _archive_dir(self, label: str) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.root / ".archive" / self.fleet / f"{stamp}-{label}"


def _add(tar: tarfile.TarFile, directory: SafeDir, name: str, arcname: str, skipped: list[str]) -> None:
    """Add the regular file ``name`` of ``directory`` (opened without following a link)."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=directory.fd)
    except OSError as exc:
        skipped.append(f"{directory.path / name} ({exc.strerror})")
        return
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            skipped.append(f"{directory.path / name} (not a regular file)")
            return
        member = tarfile.TarInfo(arcname)
        member.size, member.mtime, member.mode = info.st_size, int(info.st_mtime), 0o640
        tar.addfile(member, source)


def _add_tree(tar: tarfile.TarFile, parent: SafeDir, name: str, arcname: str, skipped: list[str]) -> None:
    with parent.walk(name) as directory:
        member = tarfile.TarInfo(arcname)
        member.type, member.mode = tarfile.DIRTYPE, 0o750
        tar.addfile(member)
        for entry in directory.names():
            mode = os.stat(entry, dir_fd=directory.fd, follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                _add_tree(tar, directory, entry, f"{arcname}/{entry}", skipped)
            elif stat.S_ISREG(mode):
                _add(tar, directory, entry, f"{arcname}/{entry}", skipped)
            else:
                skipped.append(f"{directory.path / entry} (not a regular file)")
