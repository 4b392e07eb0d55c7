"""File operations inside runtime directories that a container can write to, without trusting it.

Used by ``engine.backend.docker.runtime`` for every read and write under ``<state>/runtime``. A container
sees its ``data/`` tree read-write, so anything in it may be a symlink, a FIFO or a device planted
to make the host overwrite, read or hang on a host file. Every operation here walks paths one
component at a time from a directory descriptor with ``O_NOFOLLOW``, writes atomically with
``renameat``, reads only regular files up to a size, and copies without following links. A
path component that is not a plain directory is an ``UnsafePath`` error naming it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SafeDir", "UnsafePath"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


class UnsafePath(OSError):
    """A path inside a runtime directory is a link, a special file, or otherwise not what we wrote."""


def _check_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UnsafePath(f"refusing the path component {name!r}")
    return name


class SafeDir:
    """An open directory; every path below it is reached without following a link.

    Use as a context manager, or call ``close()``. ``path`` is kept for messages only.
    """

    def __init__(self, fd: int, path: Path, on_set_aside: Callable[[str], None] | None = None) -> None:
        self.fd = fd
        self.path = path
        self.on_set_aside = on_set_aside
        """Told of every planted non-directory that ``sub(create=True)`` moved aside."""

    @classmethod
    def open(cls, path: Path, *, create: bool = False, mode: int = 0o755, on_set_aside: Callable[[str], None] | None = None) -> SafeDir:
        """Open a host-owned directory (its own path is trusted; what is below it is not)."""
        if create:
            path.mkdir(parents=True, exist_ok=True, mode=mode)
        try:
            return cls(os.open(path, _DIR_FLAGS), path, on_set_aside)
        except OSError as exc:
            raise UnsafePath(f"cannot open {path} as a directory: {exc.strerror}") from None

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def sub(self, name: str, *, create: bool = False, mode: int = 0o755, owner: int | None = None) -> SafeDir:
        """Open (or create) the subdirectory ``name``; a symlink or file there is refused.

        With ``create``, whatever non-directory sits at ``name`` (a link a container planted) is
        moved aside as ``.<name>.unsafe-<n>`` — kept for inspection, never followed — and a
        fresh directory takes its place.
        """
        _check_name(name)
        if create:
            self._set_aside_unless_dir(name)
            try:
                os.mkdir(name, mode, dir_fd=self.fd)
                if owner is not None:
                    os.chown(name, owner, owner, dir_fd=self.fd, follow_symlinks=False)
            except FileExistsError:
                pass
        try:
            return SafeDir(os.open(name, _DIR_FLAGS, dir_fd=self.fd), self.path / name, self.on_set_aside)
        except OSError as exc:
            raise UnsafePath(f"{self.path / name} is not a plain directory ({exc.strerror})") from None

    def set_aside_specials(self) -> None:
        """Move aside every entry that is neither a regular file nor a directory (links, FIFOs, sockets).

        A bot's own directory never legitimately holds them; a container that planted one could
        make the next process that opens the name (supervisord's log, the bot's database) act on
        something else.
        """
        for name in self.names():
            mode = os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and not name.startswith("."):
                self._move_aside(name)

    def _set_aside_unless_dir(self, name: str) -> None:
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            return
        self._move_aside(name)

    def _move_aside(self, name: str) -> None:
        for n in range(1, 1000):
            aside = f".{name}.unsafe-{n}"
            if not self.exists(aside):
                os.rename(name, aside, src_dir_fd=self.fd, dst_dir_fd=self.fd)
                if self.on_set_aside is not None:
                    self.on_set_aside(f"{self.path / name} was a link or special file (planted by its container?); moved aside as {aside}")
                return
        raise UnsafePath(f"{self.path / name} is a link or special file, and too many earlier ones were set aside")

    @contextmanager
    def walk(self, *names: str, create: bool = False, owner: int | None = None) -> Iterator[SafeDir]:
        """The directory at ``names`` below this one, opened component by component."""
        opened: list[SafeDir] = []
        current = self
        try:
            for name in names:
                current = current.sub(name, create=create, owner=owner)
                opened.append(current)
            yield current
        finally:
            for d in reversed(opened):
                d.close()

    def exists(self, name: str) -> bool:
        try:
            os.stat(_check_name(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        """Entry names, sorted (whatever their type: callers open them safely)."""
        return sorted(os.listdir(self.fd))

    def is_dir(self, name: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(_check_name(name), dir_fd=self.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    def is_socket(self, name: str) -> bool:
        try:
            return stat.S_ISSOCK(os.stat(_check_name(name), dir_fd=self.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    def write(self, name: str, data: bytes, *, mode: int = 0o644, owner: int | None = None) -> None:
        """Replace ``name`` atomically: a temporary file created exclusively, then ``renameat``.

        Whatever was at ``name`` (a file, or a symlink planted there) is replaced, never followed.
        """
        self._write_chunks(name, iter((data,)), mode=mode, owner=owner)

    def write_chunks(self, name: str, chunks: Iterator[bytes], *, mode: int = 0o644, owner: int | None = None) -> None:
        """``write`` for data that arrives in pieces (a trade database copied out of a container)."""
        self._write_chunks(name, chunks, mode=mode, owner=owner)

    def _write_chunks(self, name: str, chunks: Iterator[bytes], *, mode: int, owner: int | None) -> None:
        _check_name(name)
        tmp = f".{name}.fleetops-tmp"
        try:
            os.unlink(tmp, dir_fd=self.fd)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)
        try:
            os.fchmod(fd, mode)
            if owner is not None:
                os.fchown(fd, owner, owner)
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of a regular file ``name``, at most ``limit`` of them (UnsafePath otherwise)."""
        fd = self._open_regular(name)
        try:
            data = os.read(fd, limit + 1)
        finally:
            os.close(fd)
        if len(data) > limit:
            raise UnsafePath(f"{self.path / name} is larger than {limit} bytes")
        return data

    def tail(self, name: str, size: int, after: tuple[int, int] | None = None) -> bytes:
        """The last ``size`` bytes of a regular file (a log); with ``after`` = (inode, offset) from
        ``mark``, only what was written since: the whole file when it was replaced (rotated) meanwhile."""
        fd = self._open_regular(name)
        try:
            info = os.fstat(fd)
            start = after[1] if after is not None and after[0] == info.st_ino and after[1] <= info.st_size else 0
            os.lseek(fd, max(start, info.st_size - size), os.SEEK_SET)
            return os.read(fd, size)
        finally:
            os.close(fd)

    def read_after(self, name: str, after: tuple[int, int], size: int) -> tuple[bytes, tuple[int, int]]:
        """At most ``size`` bytes written after the mark ``after``, and the mark where they end: following
        a log loses nothing between two reads (the whole file again when it was replaced: rotated)."""
        fd = self._open_regular(name)
        try:
            info = os.fstat(fd)
            start = after[1] if after[0] == info.st_ino and after[1] <= info.st_size else 0
            os.lseek(fd, start, os.SEEK_SET)
            data = os.read(fd, size)
            return data, (info.st_ino, start + len(data))
        finally:
            os.close(fd)

    def mark(self, name: str) -> tuple[int, int]:
        """(inode, size) of a regular file now, for ``tail(after=…)``; (0, 0) when there is none."""
        try:
            fd = self._open_regular(name)
        except UnsafePath:
            return (0, 0)
        try:
            info = os.fstat(fd)
            return (info.st_ino, info.st_size)
        finally:
            os.close(fd)

    def _open_regular(self, name: str) -> int:
        try:
            fd = os.open(_check_name(name), _READ_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            raise UnsafePath(f"cannot open {self.path / name} ({exc.strerror})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafePath(f"{self.path / name} is not a regular file")
        return fd

    def copy_file(self, name: str, target: SafeDir, *, owner: int | None = None) -> None:
        """Copy the regular file ``name`` into ``target`` (atomically there); links are refused."""
        fd = self._open_regular(name)
        try:
            target._write_chunks(name, iter(lambda: os.read(fd, _CHUNK), b""), mode=0o640, owner=owner)
        finally:
            os.close(fd)

    def copy_tree(self, name: str, target: SafeDir, *, owner: int | None = None, skipped: list[str] | None = None) -> None:
        """Copy directory ``name`` recursively: regular files and directories only, links skipped."""
        with self.walk(name) as source, target.walk(name, create=True, owner=owner) as dest:
            for entry in source.names():
                st = os.stat(entry, dir_fd=source.fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    source.copy_tree(entry, dest, owner=owner, skipped=skipped)
                elif stat.S_ISREG(st.st_mode):
                    source.copy_file(entry, dest, owner=owner)
                elif skipped is not None:
                    skipped.append(str(source.path / entry))

    def unlink(self, name: str) -> None:
        try:
            os.unlink(_check_name(name), dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def move_to(self, name: str, target: SafeDir, new_name: str) -> None:
        """``renameat``: moves the entry itself (a link stays a link), never what it points to."""
        os.rename(_check_name(name), _check_name(new_name), src_dir_fd=self.fd, dst_dir_fd=target.fd)

    def chown(self, owner: int) -> None:
        os.fchown(self.fd, owner, owner)
