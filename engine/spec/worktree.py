"""The working tree as a snapshot: what is on disk under fleet/ and strategies/, as git would commit it.

Used by ``engine.spec.source`` (every working-tree load) and ``engine.live.noop_proof``, which must
list exactly the same files to prove that nothing a plan reads has changed, without paying for
importing git or the parser (stdlib only; git runs as two ``git ls-files`` processes, side by
side with the walk). ``engine.spec.snapshot.select`` decides what is read.

Disk alone cannot say what a commit would hold, so git's index and ignore rules complete it:
- links are never followed (``lstat``, ``O_NOFOLLOW``); a directory with its own ``.git`` is a
  submodule or nested repository, and so is an index entry of mode 160000 (a submodule that was
  never checked out is an empty directory on disk);
- an index entry of mode 120000 is a link even where disk holds a plain file (``core.symlinks``
  false checks links out as files holding the target's path);
- a file git ignores is not part of the snapshot (no commit of it could hold it).
Outside a git repository only the disk counts. A file's identity is its git blob SHA, so a
working-tree file and the same bytes committed are one cache entry.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from engine.errors import SourceError
from engine.spec.snapshot import (
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_FILES,
    SPEC_DIR,
    SPEC_SUFFIXES,
    STRATEGY_DIR,
    Blob,
    Entry,
    Kind,
    Listing,
    git_blob_sha,
    select,
)

__all__ = [
    "MAX_FILES", "MAX_FILE_BYTES", "SPEC_DIR", "SPEC_SUFFIXES", "STRATEGY_DIR", "Blob", "dubious_ownership", "git_blob_sha",
    "list_worktree",
]

_TOPS = (SPEC_DIR, STRATEGY_DIR)
_GIT_TIMEOUT = 60


def list_worktree(repo_dir: Path) -> Listing:
    """The spec files of the working tree at ``repo_dir``, its refused entries and its warnings.

    Raises SourceError when there is no ``fleet/`` directory, when git refuses the repository
    (another user's: "dubious ownership") or cannot read its index, or past ``MAX_ENTRIES``.
    """
    git = _GitView(repo_dir)
    try:
        entries = _walk(repo_dir)
        modes, ignored = git.result()
    finally:
        git.close()
    entries = _as_git_sees_them(repo_dir, entries, modes, ignored)
    return select(entries, lambda entry: _read(repo_dir / entry.path))


def dubious_ownership(repo_dir: Path, stderr: str) -> SourceError | None:
    """The error for git refusing a repository another user owns, or None for any other failure."""
    if "dubious ownership" not in stderr:
        return None
    suggested = next((line.split("safe.directory", 1)[1].strip() for line in stderr.splitlines() if "safe.directory" in line), "")
    try:
        owner = f" (uid {os.stat(repo_dir).st_uid})"
    except OSError:
        owner = ""
    return SourceError(
        f"git refuses to read {repo_dir}: it belongs to another user{owner} than the one running fleetops (uid {os.geteuid()}), "
        f"which git calls 'dubious ownership'; if you trust it, run: git config --global --add safe.directory {suggested or repo_dir}"
    )


# -- disk -------------------------------------------------------------------------------------------

def _walk(repo_dir: Path) -> list[Entry]:
    entries: list[Entry] = []
    for top in _TOPS:
        try:
            info = os.lstat(repo_dir / top)
        except FileNotFoundError:
            info = None
        if info is None or not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            if top == SPEC_DIR:
                raise SourceError(f"no '{SPEC_DIR}/' directory in {repo_dir}")
            continue
        _visit(repo_dir, top, info, entries)
    return entries


def _visit(repo_dir: Path, rel: str, info: os.stat_result, entries: list[Entry]) -> None:
    if len(entries) >= MAX_ENTRIES:
        raise SourceError(f"more than {MAX_ENTRIES} entries under {SPEC_DIR}/ and {STRATEGY_DIR}/; keep other files elsewhere")
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        entries.append(Entry(rel, Kind.SYMLINK))
    elif stat.S_ISREG(mode):
        entries.append(Entry(rel, Kind.FILE, info.st_size))
    elif not stat.S_ISDIR(mode):
        entries.append(Entry(rel, Kind.SPECIAL))
    elif os.path.lexists(repo_dir / rel / ".git"):
        entries.append(Entry(rel, Kind.GITLINK))
    else:
        try:
            with os.scandir(repo_dir / rel) as found:
                children = sorted((child.name, child.stat(follow_symlinks=False)) for child in found)
        except OSError as exc:
            entries.append(Entry(rel, Kind.UNREADABLE, detail=exc.strerror or type(exc).__name__))
            return
        for name, child in children:
            _visit(repo_dir, f"{rel}/{name}", child, entries)


def _read(path: Path) -> tuple[bytes, str]:
    """A regular file's bytes (at most MAX_FILE_BYTES + 1), never through a link, never blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "it is no longer a regular file")
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1
        want = min(left, info.st_size + 1)  # sized to the file: a fixed 1 MiB buffer per read fragments the heap
        while left > 0:
            chunk = os.read(fd, want)
            chunks.append(chunk)
            left -= len(chunk)
            if len(chunk) < want:  # a regular file reads short only at its end
                break
            want = min(left, 1 << 16)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data, git_blob_sha(data)


# -- git's view of it -----------------------------------------------------------------------------

class _GitView:
    """Git's index modes and ignored paths under fleet/ and strategies/, asked of ``git ls-files``
    while the disk is walked; nothing when ``repo_dir`` is not the top of a git repository."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        if not os.path.lexists(repo_dir / ".git"):
            return
        for args in (["ls-files", "-z", "--stage"], ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"]):
            self.procs.append(subprocess.Popen(["git", "-c", "core.quotePath=false", *args, "--", *_TOPS], cwd=repo_dir,
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL))

    def result(self) -> tuple[dict[str, str], list[str]]:
        """(path → index mode for links and submodules, ignored paths; a directory ends in '/')."""
        if not self.procs:
            return {}, []
        outputs = []
        for proc in self.procs:
            try:
                out, err = proc.communicate(timeout=_GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise SourceError(f"git ls-files in {self.repo_dir} did not finish within {_GIT_TIMEOUT} s") from None
            if proc.returncode != 0:
                message = err.decode("utf-8", "replace")
                raise dubious_ownership(self.repo_dir, message) or SourceError(
                    f"git cannot list the files of {self.repo_dir}: {_first_fatal(message)}; fix the repository or read a ref with --ref"
                )
            outputs.append(out)
        modes: dict[str, str] = {}
        for record in outputs[0].split(b"\0"):
            if record[:6] in (b"120000", b"160000"):
                info, _, path = record.partition(b"\t")
                modes[os.fsdecode(path)] = info[:6].decode()
        ignored = [os.fsdecode(path) for path in outputs[1].split(b"\0") if path]
        return modes, ignored

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _first_fatal(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "no message")
    return fatal.removeprefix("fatal: ").removeprefix("error: ")


def _as_git_sees_them(repo_dir: Path, entries: list[Entry], modes: dict[str, str], ignored: list[str]) -> list[Entry]:
    """Disk entries completed by the index (links and submodules it records) and ignore rules."""
    ignored_dirs = tuple(path for path in ignored if path.endswith("/"))
    ignored_files = {path for path in ignored if not path.endswith("/")}
    seen: list[Entry] = []
    for entry in entries:
        if entry.path in ignored_files:
            seen.append(Entry(entry.path, Kind.IGNORED))
        elif (entry.path + "/").startswith(ignored_dirs):
            continue
        elif modes.get(entry.path) == "120000" and entry.kind is Kind.FILE:
            seen.append(Entry(entry.path, Kind.SYMLINK))
        else:
            seen.append(entry)
    seen += [Entry(path.rstrip("/"), Kind.IGNORED, directory=True) for path in ignored_dirs]
    listed = {entry.path for entry in seen}
    for path, mode in modes.items():  # a submodule never checked out: an empty directory on disk
        if mode == "160000" and path not in listed and os.path.isdir(repo_dir / path) and not os.path.islink(repo_dir / path):
            seen = [e for e in seen if not e.path.startswith(path + "/")] + [Entry(path, Kind.GITLINK)]
    return seen
