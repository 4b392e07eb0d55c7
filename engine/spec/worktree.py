"""The spec files of a working tree, read straight from disk (no git library).

Shared by ``engine.spec.source`` (every working-tree load) and ``engine.live.noop_proof``, which
must list exactly the same files to prove that nothing a plan reads has changed, without paying
for importing git or the parser. A file's identity is its git blob SHA, so a working-tree file
and the same bytes committed are one cache entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SourceError

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "SPEC_DIR", "SPEC_SUFFIXES", "STRATEGY_DIR", "Blob", "git_blob_sha", "spec_files_on_disk"]

SPEC_DIR = "fleet"
STRATEGY_DIR = "strategies"
SPEC_SUFFIXES = (".yaml", ".yml")
MAX_FILES = 10_000
"""Spec files per snapshot."""
MAX_FILE_BYTES = 1 << 20
"""A spec or strategy file larger than this is never read (checked before reading)."""


@dataclass(frozen=True)
class Blob:
    """A file's bytes with an identity that is equal whenever the bytes are (the git blob SHA).

    ``data`` is empty when ``size`` is over ``MAX_FILE_BYTES``: such a file is never read.
    """

    path: str
    data: bytes
    blob_sha: str
    size: int


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_count(count: int) -> None:
    if count >= MAX_FILES:
        raise SourceError(f"more than {MAX_FILES} spec files under {SPEC_DIR}/; split the fleet or merge files")


def spec_files_on_disk(repo_dir: Path) -> list[Blob]:
    """Every ``fleet/**/*.yaml|yml`` under ``repo_dir``, sorted by path (at most ``MAX_FILES``)."""
    root = repo_dir / SPEC_DIR
    if not root.is_dir():
        raise SourceError(f"no '{SPEC_DIR}/' directory in {repo_dir}")
    files: list[Blob] = []
    for file in sorted(p for p in root.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file()):
        check_count(len(files))
        rel = file.relative_to(repo_dir).as_posix()
        size = file.stat().st_size
        data = file.read_bytes() if size <= MAX_FILE_BYTES else b""
        files.append(Blob(rel, data, git_blob_sha(data) if data or not size else f"size-{size}", size))
    return files
