"""The working tree as a snapshot: what is on disk under fleet/ and strategies/, as git would commit it.

Used by ``engine.spec.source`` (every working-tree load) and ``engine.live.noop_proof``, which must
list exactly the same files to prove that nothing a plan reads has changed, without paying for
importing git or the parser (stdlib only; git runs as two ``git ls-files`` processes and one
``git check-attr``, started before the walk; listing a 500-bot fleet's 53 entries went from
~2.6 ms to ~3.3 ms with the third). ``engine.spec.snapshot.select`` decides what is read.

Disk alone cannot say what a commit would hold, so git's index, attributes and ignore rules
complete it:
- links are never followed (``lstat``, ``O_NOFOLLOW``); a directory with its own ``.git`` is a
  submodule or nested repository, and so is an index entry of mode 160000 (a submodule that was
  never checked out is an empty directory on disk);
- an index entry of mode 120000 is a link even where disk holds a plain file (``core.symlinks``
  false checks links out as files holding the target's path);
- an index entry with the skip-worktree bit (a sparse checkout) is not on disk, or not as git
  has it: refused, where the disk alone showed a fleet without those files' bots;
- a file whose git attributes convert it between commits and disk (``filter``: Git LFS,
  git-crypt, any clean/smudge pair; ``ident``; ``working-tree-encoding``) is refused: the disk
  holds other text than the commit (``git check-attr``, fed the paths the walk found);
- a file git ignores is not part of the snapshot (no commit of it could hold it).
Outside a git repository only the disk counts. A file's identity is its git blob SHA, so a
working-tree file and the same bytes committed are one cache entry.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import SourceError
from engine.spec.gitenv import git_environment
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
    is_read,
    select,
)

__all__ = [
    "MAX_FILES", "MAX_FILE_BYTES", "SPEC_DIR", "SPEC_SUFFIXES", "STRATEGY_DIR", "Blob", "dubious_ownership", "fleet_repository_above",
    "git_blob_sha", "list_worktree",
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
        entries, roots, has_fleet = _walk(repo_dir)
        view = git.result([entry.path for entry in entries if entry.kind is Kind.FILE and is_read(entry.path)])
    finally:
        git.close()
    if not has_fleet and not any(path.startswith(f"{SPEC_DIR}/") for path in view.sparse):
        raise SourceError(f"no '{SPEC_DIR}/' directory in {repo_dir}")
    entries = _as_git_sees_them(repo_dir, entries, view)
    return select(entries, lambda entry: _read(repo_dir / entry.path), roots)


def fleet_repository_above(here: Path) -> Path | None:
    """The fleet repository ``here`` is a subdirectory of (``fleet/``, ``strategies/bands``): the nearest
    directory above with ``.git``, when it has the fleet's specs — as git finds its repository from
    anywhere inside it. None when ``here`` is the top of a repository, or is in none, or the one it is
    in has no ``fleet/`` (the commands then say there is no ``fleet/`` here)."""
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory if directory != here and (directory / SPEC_DIR).is_dir() else None
    return None


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

def _walk(repo_dir: Path) -> tuple[list[Entry], list[str], bool]:
    """(the entries under fleet/ and strategies/, the names at the top, whether fleet/ is there)."""
    entries: list[Entry] = []
    has_fleet = False
    for top in _TOPS:
        try:
            info = os.lstat(repo_dir / top)
        except FileNotFoundError:
            info = None
        if info is None or not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            continue
        has_fleet = has_fleet or top == SPEC_DIR
        _visit(repo_dir, top, info, entries)
    try:
        roots = os.listdir(repo_dir)
    except OSError:
        roots = []
    return entries, roots, has_fleet


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

@dataclass
class _Seen:
    """What git's index, attributes and ignore rules say about the paths under fleet/ and strategies/."""

    modes: dict[str, str] = field(default_factory=dict)
    """Path → index mode, for links (120000) and submodules (160000)."""
    sparse: set[str] = field(default_factory=set)
    """Index entries with the skip-worktree bit."""
    ignored: list[str] = field(default_factory=list)
    """Ignored paths; a directory ends in '/'."""
    converted: dict[str, str] = field(default_factory=dict)
    """Path → the attribute that converts it (``filter=lfs``, ``ident``, ``working-tree-encoding=UTF-16``)."""


_CONVERTING = ("filter", "ident", "working-tree-encoding")


class _GitView:
    """Git's view of fleet/ and strategies/, asked of ``git ls-files`` (index, ignored files) and
    ``git check-attr`` while the disk is walked; nothing when ``repo_dir`` is not the top of a
    git repository."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        if not os.path.lexists(repo_dir / ".git"):
            return
        env = git_environment()
        for args in (["ls-files", "-z", "--stage", "-t", "--", *_TOPS],
                     ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", *_TOPS],
                     ["check-attr", "-z", "--stdin", *_CONVERTING]):
            self.procs.append(subprocess.Popen(["git", "-c", "core.quotePath=false", *args], cwd=repo_dir, env=env,
                                               stdin=subprocess.PIPE if args[0] == "check-attr" else subprocess.DEVNULL,
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    def result(self, read: list[str]) -> _Seen:
        """Git's answers; ``read`` are the regular files whose attributes matter (those fleetops reads)."""
        seen = _Seen()
        if not self.procs:
            return seen
        outputs = []
        for proc in self.procs:
            given = b"".join(os.fsencode(path) + b"\0" for path in read) if proc.stdin is not None else None
            try:
                out, err = proc.communicate(given, timeout=_GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise SourceError(f"git ls-files in {self.repo_dir} did not finish within {_GIT_TIMEOUT} s") from None
            if proc.returncode != 0:
                message = err.decode("utf-8", "replace")
                raise dubious_ownership(self.repo_dir, message) or SourceError(
                    f"git cannot list the files of {self.repo_dir}: {_first_fatal(message)}; fix the repository or read a ref with --ref"
                )
            outputs.append(out)
        for record in outputs[0].split(b"\0"):
            tag, _, record = record.partition(b" ")
            info, _, path = record.partition(b"\t")
            if tag == b"S":
                seen.sparse.add(os.fsdecode(path))
            if info[:6] in (b"120000", b"160000"):
                seen.modes[os.fsdecode(path)] = info[:6].decode()
        seen.ignored = [os.fsdecode(path) for path in outputs[1].split(b"\0") if path]
        fields = outputs[2].split(b"\0")
        for path, attribute, value in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
            if value not in (b"unspecified", b"unset"):
                name = attribute.decode()
                seen.converted.setdefault(os.fsdecode(path), name if value == b"set" else f"{name}={value.decode('utf-8', 'replace')}")
        return seen

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _first_fatal(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "no message")
    return fatal.removeprefix("fatal: ").removeprefix("error: ")


def _as_git_sees_them(repo_dir: Path, entries: list[Entry], seen: _Seen) -> list[Entry]:
    """Disk entries completed by the index (links, submodules and sparse entries it records),
    the attributes that convert files, and the ignore rules."""
    ignored_dirs = tuple(path for path in seen.ignored if path.endswith("/"))
    ignored_files = {path for path in seen.ignored if not path.endswith("/")}
    result: list[Entry] = []
    for entry in entries:
        if entry.path in ignored_files:
            result.append(Entry(entry.path, Kind.IGNORED))
        elif (entry.path + "/").startswith(ignored_dirs):
            continue
        elif entry.path in seen.sparse:
            continue  # listed below, whatever the disk holds: git does not look at it
        elif seen.modes.get(entry.path) == "120000" and entry.kind is Kind.FILE:
            result.append(Entry(entry.path, Kind.SYMLINK))
        elif entry.kind is Kind.FILE and entry.path in seen.converted:
            result.append(Entry(entry.path, Kind.CONVERTED, entry.size, detail=seen.converted[entry.path]))
        else:
            result.append(entry)
    result += [Entry(path.rstrip("/"), Kind.IGNORED, directory=True) for path in ignored_dirs]
    result += [Entry(path, Kind.NOT_CHECKED_OUT) for path in sorted(seen.sparse)]
    listed = {entry.path for entry in result}
    for path, mode in seen.modes.items():  # a submodule never checked out: an empty directory on disk
        if mode == "160000" and path not in listed and os.path.isdir(repo_dir / path) and not os.path.islink(repo_dir / path):
            result = [e for e in result if not e.path.startswith(path + "/")] + [Entry(path, Kind.GITLINK)]
    return result
