"""Adapter to git and the file system: the only module that reads the fleet repository.

``engine.spec.load`` asks it for the spec files of one snapshot (the working tree, or a ref read
straight from git objects with no checkout) and ``engine.spec.pins`` for strategy files at pinned
refs. Everything else in the engine sees plain text and SHAs.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from engine.errors import SourceError

__all__ = ["BlobText", "FleetSource", "SPEC_DIR", "STRATEGY_DIR", "open_source"]

SPEC_DIR = "fleet"
STRATEGY_DIR = "strategies"
_SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BlobText:
    """A file's text with an identity that is equal whenever the bytes are (the git blob SHA)."""

    path: str
    text: str
    blob_sha: str


class FleetSource:
    """One snapshot of a fleet repository: the working tree (``ref is None``) or a git ref."""

    def __init__(self, repo_dir: Path, repo: git.Repo | None, ref: str | None) -> None:
        self.repo_dir = repo_dir
        self.repo = repo
        self.ref = ref
        self._commit_cache: dict[str, git.Commit | None] = {}
        self.commit: str | None = None
        self.dirty = False
        if ref is not None:
            commit = self.find_commit(ref)
            if commit is None:
                raise SourceError(f"git ref '{ref}' not found in {repo_dir}{self._known_refs_hint()}")
            self.commit = commit.hexsha
        elif repo is not None and repo.head.is_valid():
            self.commit = repo.head.commit.hexsha
            self.dirty = _is_dirty(repo_dir)

    @property
    def label(self) -> str:
        """How to name this snapshot to a user."""
        return self.ref if self.ref is not None else "working tree"

    def spec_files(self) -> list[BlobText]:
        """Every ``fleet/**/*.yaml|yml`` of the snapshot, sorted by path."""
        if self.ref is None:
            return self._spec_files_on_disk()
        assert self.repo is not None
        commit = self.find_commit(self.ref)
        assert commit is not None
        try:
            tree = commit.tree / SPEC_DIR
        except KeyError:
            raise SourceError(f"{self.ref} has no '{SPEC_DIR}/' directory in {self.repo_dir}") from None
        files = [
            BlobText(str(item.path), _decode(str(item.path), item.data_stream.read()), item.hexsha)
            for item in tree.traverse()
            if isinstance(item, git.Blob) and str(item.path).endswith(_SPEC_SUFFIXES)
        ]
        return sorted(files, key=lambda f: f.path)

    def _spec_files_on_disk(self) -> list[BlobText]:
        root = self.repo_dir / SPEC_DIR
        if not root.is_dir():
            raise SourceError(f"no '{SPEC_DIR}/' directory in {self.repo_dir}")
        files = []
        for file in sorted(p for p in root.rglob("*") if p.suffix in _SPEC_SUFFIXES and p.is_file()):
            data = file.read_bytes()
            rel = file.relative_to(self.repo_dir).as_posix()
            files.append(BlobText(rel, _decode(rel, data), _git_blob_sha(data)))
        return files

    def find_commit(self, ref: str) -> git.Commit | None:
        """The commit a ref (tag, branch, SHA, ``HEAD~1`` …) names, or None; cached per snapshot."""
        if self.repo is None:
            return None
        if ref not in self._commit_cache:
            try:
                self._commit_cache[ref] = self.repo.commit(ref)
            except (BadName, BadObject, ValueError, IndexError, git.GitCommandError):
                self._commit_cache[ref] = None
        return self._commit_cache[ref]

    def is_immutable_ref(self, ref: str) -> bool:
        """Tags and SHAs pin; anything else (a branch) re-resolves on every plan."""
        assert self.repo is not None
        if ref in {tag.name for tag in self.repo.tags}:
            return True
        commit = self.find_commit(ref)
        return commit is not None and len(ref) >= 7 and commit.hexsha.startswith(ref.lower())

    def file_at(self, commit: git.Commit, path: str) -> BlobText | None:
        try:
            blob = commit.tree / path
        except KeyError:
            return None
        return BlobText(path, _decode(path, blob.data_stream.read()), blob.hexsha)

    def _known_refs_hint(self) -> str:
        if self.repo is None:
            return ""
        names = sorted([t.name for t in self.repo.tags] + [h.name for h in self.repo.heads])[:12]
        return f" (known: {', '.join(names)})" if names else ""

    def tag_names(self) -> list[str]:
        return sorted(t.name for t in self.repo.tags) if self.repo is not None else []


def open_source(repo_dir: str | Path, ref: str | None) -> FleetSource:
    """Open the fleet repository at ``repo_dir``; a working-tree read also works outside git."""
    path = Path(repo_dir).resolve()
    if not path.is_dir():
        raise SourceError(f"repository directory {repo_dir} does not exist")
    try:
        repo: git.Repo | None = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        if ref is not None:
            raise SourceError(f"{repo_dir} is not a git repository, so --ref {ref} cannot be read") from None
        repo = None
    return FleetSource(path, repo, ref)


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_dirty(repo_dir: Path) -> bool:
    """Whether the spec or strategy files differ from HEAD (untracked files included)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", SPEC_DIR, STRATEGY_DIR],
        cwd=repo_dir, capture_output=True, text=True, check=False,
    )
    return bool(out.stdout.strip())
