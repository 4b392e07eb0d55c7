"""What one snapshot of a fleet repository holds, read the same way whatever the snapshot is.

A snapshot is the working tree (``engine.spec.worktree``, from disk and git's index) or a commit
(``engine.spec.source``, from git objects). Each reader only lists what it finds under ``fleet/``
and ``strategies/`` as ``Entry`` values — a path and what kind of thing git would store there —
and hands them to ``select``, the one place that decides what is read, what is refused and what
is worth a warning. So ``validate``, ``plan`` (working tree, ``--ref``, ``--against``), ``apply``,
``render``, the watcher and the no-op proof all see the same files or the same errors.

Only regular files are read. A symbolic link, a submodule (gitlink) or a nested repository, a
Git LFS pointer, or anything else that is not a plain file is a located error, never followed
and never skipped: a working tree that follows a link or a submodule sees files a commit does
not hold, and a reader of git objects that skipped them silently saw a fleet without its bots
(issue 17: the watcher then deleted every bot). Nothing outside the repository is ever read,
and a link's target is never quoted. Stdlib only: the no-op proof lists a snapshot before it
imports git or the parser.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.errors import Problem, SourceError

__all__ = [
    "LFS_POINTER_MAX",
    "MAX_ENTRIES",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "SPEC_DIR",
    "SPEC_SUFFIXES",
    "STRATEGY_DIR",
    "Blob",
    "Entry",
    "Kind",
    "Listing",
    "git_blob_sha",
    "is_lfs_pointer",
    "is_read",
    "kind_problem",
    "lfs_problem",
    "select",
    "shown",
]

SPEC_DIR = "fleet"
STRATEGY_DIR = "strategies"
SPEC_SUFFIXES = (".yaml", ".yml")
MAX_FILES = 10_000
"""Spec files per snapshot."""
MAX_ENTRIES = 100_000
"""Entries listed under fleet/ and strategies/ together, whatever they are."""
MAX_FILE_BYTES = 1 << 20
"""A spec or strategy file larger than this is never read (checked before reading)."""
LFS_POINTER_MAX = 1024
"""Git LFS pointer files are smaller than this (git-lfs spec), so only files this small are sniffed."""
_LFS_HEADERS = (b"version https://git-lfs.github.com/spec/", b"version https://hawser.github.com/spec/")


class Kind(enum.Enum):
    """What git stores (or, for a working tree, would store) at a path."""

    FILE = "file"
    SYMLINK = "symbolic link"
    GITLINK = "git submodule"
    SPECIAL = "special file"
    UNREADABLE = "unreadable"
    IGNORED = "ignored"
    """Working tree only: git ignores it, so no commit can hold it; treated as absent."""
    NOT_CHECKED_OUT = "not checked out"
    """Working tree only: git's index holds it with the skip-worktree bit (a sparse checkout), so
    the disk does not have what its commit has."""
    CONVERTED = "converted"
    """Working tree only: a regular file whose git attributes (``detail``: ``filter=…``, ``ident``,
    ``working-tree-encoding=…``) make git store other bytes than the disk holds."""


@dataclass(frozen=True)
class Entry:
    """One path under ``fleet/`` or ``strategies/`` (repository-relative, ``/``-separated)."""

    path: str
    kind: Kind
    size: int = 0
    detail: str = ""
    """Why an UNREADABLE entry could not be read (an OS error's text, never a path); the attribute
    of a CONVERTED one."""
    directory: bool = False
    """An IGNORED directory: nothing in it is listed."""


@dataclass(frozen=True)
class Blob:
    """A file's bytes with an identity that is equal whenever the bytes are (the git blob SHA).

    ``data`` is empty when ``size`` is over ``MAX_FILE_BYTES``: such a file is never read.
    """

    path: str
    data: bytes
    blob_sha: str
    size: int


@dataclass(frozen=True)
class Listing:
    """A snapshot's spec files (sorted by path), the entries it refuses, and what it warns about."""

    spec_files: tuple[Blob, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def git_blob_sha(data: bytes) -> str:
    """The SHA-1 git gives ``data`` as a blob (40 hex digits): a file's identity in any snapshot."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs_pointer(data: bytes) -> bool:
    """Whether ``data`` is a Git LFS pointer file rather than the content it points to."""
    return len(data) < LFS_POINTER_MAX and data.startswith(_LFS_HEADERS)


def shown(path: str) -> str:
    """A path as printed: a name that is not UTF-8 (read from disk) shows its bytes escaped."""
    return os.fsencode(path).decode("utf-8", "backslashreplace") if any("\udc80" <= c <= "\udcff" for c in path) else path


_WHAT_TO_DO = {
    Kind.SYMLINK: ("is a symbolic link, which fleetops never follows: the working tree, a git ref and the watcher must read "
                   "the same files; put the file or directory itself here instead of the link"),
    Kind.GITLINK: ("is a git submodule or nested repository, whose files are not part of this repository's commits (git "
                   "stores only a link to another repository), so a git ref or the watcher would not see them; move its files "
                   "into this repository"),
    Kind.SPECIAL: "is not a regular file (a named pipe, socket or device); remove it",
    Kind.NOT_CHECKED_OUT: ("is not checked out in this working tree (git sparse-checkout or skip-worktree), so the working tree "
                           "does not hold what its commit holds; check it out (`git sparse-checkout disable`, or add fleet/ and "
                           "strategies/ to the sparse checkout) or read a commit with --ref"),
}
_LFS = ("is a Git LFS pointer, not the file's content, and fleetops does not fetch LFS objects; stop tracking it with LFS "
        "(remove its pattern from .gitattributes) and commit the file itself")


def kind_problem(path: str, kind: Kind, detail: str = "", where: str = "") -> Problem:
    """The located error for an entry that is not a regular file (``path`` relative to the
    repository; ``where`` names a commit, as in " at 1a2b3c4")."""
    if kind is Kind.CONVERTED:
        if detail == "filter=lfs":
            return Problem(shown(path), 1, 1, f"{shown(path)} is tracked by Git LFS (filter=lfs in .gitattributes), so its commits "
                                              f"hold an LFS pointer, not the file, and fleetops does not fetch LFS objects; stop tracking "
                                              "it with LFS (remove its pattern from .gitattributes) and commit the file itself")
        return Problem(shown(path), 1, 1, f"{shown(path)} has the git attribute {detail} (.gitattributes), so git stores other bytes "
                                          "in its commits than the working tree holds and a git ref or the watcher would read another "
                                          "text; remove the attribute for files under fleet/ and strategies/")
    if kind is Kind.UNREADABLE:
        return Problem(shown(path), 1, 1, f"{shown(path)}{where} cannot be read ({detail or 'permission denied'}); make it readable or remove it")
    return Problem(shown(path), 1, 1, f"{shown(path)}{where} {_WHAT_TO_DO[kind]}")


def lfs_problem(path: str, where: str = "") -> Problem:
    """The located error for a Git LFS pointer where a file's content belongs."""
    return Problem(shown(path), 1, 1, f"{shown(path)}{where} {_LFS}")


# -- what under fleet/ looks like a spec but is not read -------------------------------------------

_SPEC_LIKE = re.compile(r"\.(ya?ml|yam|ymal|yaml?\w+|json)(\W|$)", re.IGNORECASE)


def _not_read_reason(rel: str) -> str | None:
    """Why a file under fleet/ that a user may have meant as a spec is not read; None: it is read,
    or it does not look like a spec at all (a README, a .gitkeep)."""
    parts = rel.split("/")
    name = parts[-1]
    hidden_dir = next((p for p in parts[:-1] if p.startswith(".")), None)
    looks = bool(_SPEC_LIKE.search(name))
    if not looks:
        return None
    if hidden_dir is not None:
        return f"it is inside a hidden directory ('{hidden_dir}'), and names starting with '.' are skipped under {SPEC_DIR}/"
    if name.startswith("."):
        return f"names starting with '.' are skipped under {SPEC_DIR}/; rename it without the dot to load it"
    if name.endswith(SPEC_SUFFIXES):
        return None
    return "spec files are YAML whose names end in .yaml or .yml (lowercase); rename it to load it"


def is_spec(rel: str) -> bool:
    """Whether a regular file at ``rel`` (relative to fleet/) is read as a spec file."""
    return rel.endswith(SPEC_SUFFIXES) and not any(p.startswith(".") for p in rel.split("/"))


# -- the one decision --------------------------------------------------------------------------------

def select(entries: Iterable[Entry], read: Callable[[Entry], tuple[bytes, str]], roots: Iterable[str] = ()) -> Listing:
    """Decide, for every entry of a snapshot, whether it is read, refused or warned about.

    ``read(entry)`` returns the bytes of a regular file (at most ``MAX_FILE_BYTES`` are asked
    for) and its git blob SHA; it may raise ``OSError`` (reported as unreadable). ``roots`` are
    the names at the top of the snapshot (a ``Fleet/`` beside ``fleet/`` is refused). Raises
    SourceError only for more than ``MAX_FILES`` spec files.
    """
    files: list[Blob] = []
    problems: list[Problem] = list(_root_variants(roots))
    warnings: list[Problem] = []
    entries = sorted(entries, key=lambda e: e.path)
    problems += _case_collisions(entries)
    for entry in entries:
        top, _, rel = entry.path.partition("/")
        if entry.kind is Kind.IGNORED:
            if top == SPEC_DIR and (entry.directory or _SPEC_LIKE.search(rel.rsplit("/", 1)[-1])):
                what = "directory" if entry.directory else "file"
                warnings.append(Problem(shown(entry.path), 1, 1, f"{shown(entry.path)} is not read: git ignores this {what} (.gitignore), "
                                        "so no commit holds it; stop ignoring it to load it, or move it out of fleet/", "warning"))
            continue
        if entry.kind not in (Kind.FILE, Kind.CONVERTED):
            problems.append(kind_problem(entry.path, entry.kind, entry.detail))
            continue
        spec = top == SPEC_DIR and is_spec(rel)
        if entry.kind is Kind.CONVERTED and is_read(entry.path):
            problems.append(kind_problem(entry.path, entry.kind, entry.detail))
            continue
        if not spec:
            reason = _not_read_reason(rel) if top == SPEC_DIR else None
            if reason is not None:
                warnings.append(Problem(shown(entry.path), 1, 1, f"{shown(entry.path)} is not read: {reason}", "warning"))
            if top == SPEC_DIR or entry.size >= LFS_POINTER_MAX:
                continue
        if spec and len(files) >= MAX_FILES:
            raise SourceError(f"more than {MAX_FILES} spec files under {SPEC_DIR}/; split the fleet or merge files")
        if entry.size > MAX_FILE_BYTES:
            files.append(Blob(entry.path, b"", f"size-{entry.size}", entry.size))
            continue
        try:
            data, sha = read(entry)
        except OSError as exc:
            problems.append(kind_problem(entry.path, Kind.UNREADABLE, exc.strerror or type(exc).__name__))
            continue
        if is_lfs_pointer(data):
            problems.append(lfs_problem(entry.path))
        elif spec:
            files.append(Blob(entry.path, data, sha, len(data)))
    return Listing(tuple(files), tuple(sorted(problems)), tuple(warnings))


def is_read(path: str) -> bool:
    """Whether fleetops reads what is at ``path``: a spec file, or a strategy (pins read strategies/<Class>.py)."""
    top, _, rel = path.partition("/")
    return (top == SPEC_DIR and is_spec(rel)) or (top == STRATEGY_DIR and rel.endswith(".py"))


def _folded(path: str) -> str:
    """A path as a case-insensitive file system compares it (macOS: also Unicode normalization)."""
    return unicodedata.normalize("NFC", path).casefold()


def _case_collisions(entries: list[Entry]) -> list[Problem]:
    """Entries that only letter case (or Unicode normalization) tells apart. A checkout on macOS or
    Windows keeps one of them, so a reader there sees other files than git and the watcher do."""
    first: dict[str, str] = {}
    problems = []
    for entry in entries:
        if entry.kind is Kind.IGNORED or not (is_read(entry.path) or entry.kind not in (Kind.FILE, Kind.CONVERTED)):
            continue
        other = first.setdefault(_folded(entry.path), entry.path)
        if other != entry.path:
            problems.append(Problem(shown(entry.path), 1, 1, f"{shown(entry.path)} and {shown(other)} differ only in letter case (or "
                                    "Unicode normalization): a checkout on macOS or Windows holds only one of them, so readers there "
                                    "would see other files than git and the watcher; rename or merge one of them"))
    return problems


def _root_variants(roots: Iterable[str]) -> list[Problem]:
    """Names at the top that a case-insensitive file system takes for fleet/ or strategies/."""
    problems = []
    for name in sorted(roots):
        meant = next((top for top in (SPEC_DIR, STRATEGY_DIR) if _folded(name) == top and name != top), None)
        if meant is not None:
            problems.append(Problem(shown(name), 1, 1, f"{shown(name)} differs from {meant} only in letter case: a checkout on macOS "
                                    f"or Windows puts its files into {meant}/, where fleetops would read them, while git refs, Linux "
                                    f"and the watcher do not; move its files into {meant}/ or rename it"))
    return problems
