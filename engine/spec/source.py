"""Adapter to git and the file system: the only module that reads the fleet repository.

``engine.spec.load`` asks it for the spec files of one snapshot (the working tree, or a ref read
straight from git objects with no checkout) and ``engine.spec.pins`` for strategy files at pinned
refs. Everything else in the engine sees plain text and SHAs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from engine.errors import SourceError
from engine.spec.worktree import MAX_FILE_BYTES, MAX_FILES, SPEC_DIR, SPEC_SUFFIXES, STRATEGY_DIR, Blob, check_count, spec_files_on_disk

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "SPEC_DIR", "STRATEGY_DIR", "Blob", "FleetSource", "open_source"]

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

    def spec_files(self) -> list[Blob]:
        """Every ``fleet/**/*.yaml|yml`` of the snapshot, sorted by path (at most ``MAX_FILES``)."""
        if self.ref is None:
            return spec_files_on_disk(self.repo_dir)
        assert self.repo is not None
        commit = self.find_commit(self.ref)
        assert commit is not None
        try:
            tree = commit.tree / SPEC_DIR
        except KeyError:
            raise SourceError(f"{self.ref} has no '{SPEC_DIR}/' directory in {self.repo_dir}") from None
        files: list[Blob] = []
        for item in tree.traverse():
            if isinstance(item, git.Blob) and str(item.path).endswith(SPEC_SUFFIXES):
                check_count(len(files))
                size = int(item.size)
                files.append(Blob(str(item.path), item.data_stream.read() if size <= MAX_FILE_BYTES else b"", item.hexsha, size))
        return sorted(files, key=lambda f: f.path)

    def find_commit(self, ref: str) -> git.Commit | None:
        """The commit a ref (tag, branch, SHA, ``HEAD~1``, ``origin/main`` …) names, or None.

        Only plain revision syntax is resolved (names, hex SHAs, ``~n`` / ``^n`` suffixes);
        reflog (``@{…}``), search (``:/text``) and range forms are None, never an exception.
        """
        if self.repo is None or not _REVISION.fullmatch(ref) or ".." in ref:
            return None
        if ref not in self._commit_cache:
            self._commit_cache[ref] = self._commit(ref)
        return self._commit_cache[ref]

    def find_pinned(self, ref: str) -> git.Commit | None:
        """The commit a strategy pin names: a tag, a branch or a hex SHA, nothing else."""
        if self.repo is None or not _PIN_REF.fullmatch(ref) or ".." in ref:
            return None
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            commit = self._commit(ref)
            if commit is not None and commit.hexsha.startswith(ref):
                return commit
        for namespace in ("refs/tags/", "refs/heads/", "refs/remotes/origin/"):
            commit = self._commit(namespace + ref)
            if commit is not None:
                return commit
        return None

    def _commit(self, rev: str) -> git.Commit | None:
        assert self.repo is not None
        try:
            commit = self.repo.commit(rev)
        except (BadName, BadObject, ValueError, IndexError, TypeError, NotImplementedError, git.GitError, AttributeError):
            return None
        return commit if isinstance(commit, git.Commit) else None

    def file_at(self, commit: git.Commit, path: str) -> Blob | None:
        try:
            blob = commit.tree / path
        except KeyError:
            return None
        size = int(blob.size)
        return Blob(path, blob.data_stream.read() if size <= MAX_FILE_BYTES else b"", blob.hexsha, size)

    def _known_refs_hint(self) -> str:
        if self.repo is None:
            return ""
        names = sorted([t.name for t in self.repo.tags] + [h.name for h in self.repo.heads])[:12]
        return f" (known: {', '.join(names)})" if names else ""

    def tag_names(self) -> list[str]:
        return sorted(t.name for t in self.repo.tags) if self.repo is not None else []


_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}([~^][0-9]{0,4})*")
_PIN_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")


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


def _is_dirty(repo_dir: Path) -> bool:
    """Whether the spec or strategy files differ from HEAD (untracked files included)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", SPEC_DIR, STRATEGY_DIR],
        cwd=repo_dir, capture_output=True, text=True, check=False,
    )
    return bool(out.stdout.strip())
