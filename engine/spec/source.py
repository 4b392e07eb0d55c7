"""Adapter to git and the file system: the only module that reads the fleet repository.

``engine.spec.load`` asks it for the listing of one snapshot (the working tree, through
``engine.spec.worktree``, or a ref read straight from git objects with no checkout) and
``engine.spec.pins`` for strategy files at pinned refs, ``engine.changelog`` for the history of a
strategy file between two pinned commits. Both kinds of snapshot are decided by
``engine.spec.snapshot.select``, so they read the same files or refuse the same entries.
Everything else in the engine sees plain text and SHAs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import git
from gitdb.exc import BadName, BadObject

from engine.errors import SourceError
from engine.spec.gitenv import forget_repository_variables, git_environment
from engine.spec.history import MAX_SUBJECT, CommitLine, PinHistory, Relation
from engine.spec.snapshot import (
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_FILES,
    SPEC_DIR,
    STRATEGY_DIR,
    Blob,
    Entry,
    Kind,
    Listing,
    is_lfs_pointer,
    kind_problem,
    lfs_problem,
    select,
)
from engine.spec.worktree import dubious_ownership, list_worktree

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "SPEC_DIR", "STRATEGY_DIR", "Blob", "FleetSource", "Listing", "open_source"]

class FleetSource:
    """One snapshot of a fleet repository: the working tree (``ref is None``) or a git ref."""

    def __init__(self, repo_dir: Path, repo: git.Repo | None, ref: str | None, enclosing: Path | None = None) -> None:
        self.repo_dir = repo_dir
        self.repo = repo
        self.ref = ref
        self.enclosing = enclosing
        """The git repository ``repo_dir`` lies inside when it is not one itself (a fleet in a
        subdirectory of a monorepo): named by the errors that need git."""
        self._commit_cache: dict[str, git.Commit | None] = {}
        self.commit: str | None = None
        self.subject: str | None = None
        """The subject line of ``commit`` (its message's first line), cut to ``MAX_SUBJECT`` characters."""
        self.dirty = False
        if ref is not None:
            commit = self.find_commit(ref)
            if commit is None:
                raise SourceError(self._not_found(ref))
            self.commit = commit.hexsha
            self.subject = _subject(commit)
        elif repo is not None and repo.head.is_valid():
            self.commit = repo.head.commit.hexsha
            self.subject = _subject(repo.head.commit)
            self.dirty = _is_dirty(repo_dir)

    def listing(self) -> Listing:
        """The snapshot's spec files (sorted by path, at most ``MAX_FILES``), the entries under
        fleet/ and strategies/ it refuses (links, submodules, LFS pointers), and its warnings:
        the same decisions whichever the snapshot (``engine.spec.snapshot.select``)."""
        if self.ref is None:
            return list_worktree(self.repo_dir)
        commit = self.find_commit(self.ref)
        assert commit is not None
        try:
            return _list_commit(commit, f"{self.ref} ({commit.hexsha[:7]})", self.repo_dir)
        except _GIT_FAILURES as exc:
            raise SourceError(f"git cannot read the files of {self.ref} ({commit.hexsha[:7]}) in {self.repo_dir}: "
                              f"{_first_line(exc)}; check the repository with `git fsck`") from None

    def find_commit(self, ref: str) -> git.Commit | None:
        """The commit a ref (tag, branch, SHA, ``HEAD~1``, ``origin/main`` …) names, or None.

        Only plain revision syntax is resolved (names, hex SHAs, ``~n`` / ``^n`` suffixes);
        reflog (``@{…}``), search (``:/text``) and range forms are None, never an exception.
        """
        if ref == "@":  # git's own name for HEAD
            ref = "HEAD"
        if self.repo is None or not _REVISION.fullmatch(ref) or ".." in ref or "@{" in ref:
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
        """The commit ``rev`` names, when git has it: a shallow clone names parents it does not hold."""
        assert self.repo is not None
        try:
            commit = self.repo.commit(rev)
            if not isinstance(commit, git.Commit):
                return None
            commit.tree.hexsha  # noqa: B018 - reads the commit object: None when it is not in this clone
        except (BadName, BadObject, KeyError, *_GIT_FAILURES):
            return None
        return commit

    @property
    def shallow(self) -> bool:
        """Whether this is a shallow clone (``git clone --depth``, actions/checkout's default): it may
        lack the commits and tags a ref or a pin names."""
        return self.repo is not None and Path(self.repo.common_dir, "shallow").is_file()

    def _not_found(self, ref: str) -> str:
        if self.shallow:
            if re.search(r"[~^][0-9]*$", ref):
                return (f"git ref '{ref}' is older than the history of this shallow clone ({self.repo_dir}); fetch the "
                        "commits it needs with `git fetch --deepen=1` (or `git fetch --unshallow`), or in GitHub Actions set "
                        "`fetch-depth: 0` on actions/checkout")
            return (f"git ref '{ref}' not found in this shallow clone ({self.repo_dir}); fetch it first (a branch: "
                    f"`git fetch origin {ref.removeprefix('origin/')}`, tags: `git fetch --tags`), or in GitHub Actions set "
                    "`fetch-depth: 0` on actions/checkout")
        return f"git ref '{ref}' not found in {self.repo_dir}{self._known_refs_hint()}"

    def file_at(self, commit: git.Commit, path: str) -> Blob | None:
        """The regular file at ``path`` in ``commit``, or None when there is none.

        Raises SourceError when something else is there or on the way — a symbolic link, a
        submodule, a Git LFS pointer — saying what it is and what to do (never following it).
        """
        item: Any = commit.tree
        walked: list[str] = []
        try:
            for part in path.split("/"):
                if not isinstance(item, git.Tree):
                    return None
                try:
                    item = item[part]
                except KeyError:
                    return None
                walked.append(part)
                kind = _kind(item)
                if kind is not Kind.FILE and kind is not None:
                    raise SourceError(kind_problem("/".join(walked), kind, where=f" at {commit.hexsha[:7]}").message)
            if not isinstance(item, git.Blob):
                return None
            size = int(item.size)
            data = item.data_stream.read() if size <= MAX_FILE_BYTES else b""
        except _GIT_FAILURES as exc:
            raise SourceError(f"git cannot read {path} at {commit.hexsha[:7]}: {_first_line(exc)}") from None
        if is_lfs_pointer(data):
            raise SourceError(lfs_problem(path, where=f" at {commit.hexsha[:7]}").message)
        return Blob(path, data, item.hexsha, size)

    def strategy_history(self, old: str, new: str, path: str, old_blob: str, new_blob: str, limit: int) -> PinHistory:
        """What happened to the file ``path`` between the full commit SHAs ``old`` and ``new``
        (``engine.spec.history.PinHistory``: the relation of the commits, at most ``limit`` commits
        touching it, newest first, and the lines added and removed between its blobs ``old_blob``
        and ``new_blob``), read from git objects with five git calls at most — never a checkout.
        Raises SourceError when git cannot tell (a shallow clone lacks the commits between)."""
        assert self.repo is not None
        try:
            git_ = self.repo.git
            behind, ahead = (int(n) for n in git_.rev_list("--left-right", "--count", f"{old}...{new}").split())
            relation: Relation = "same" if old == new else "forward" if not behind else "downgrade" if not ahead else "diverged"
            shown = f"{new}..{old}" if relation == "downgrade" else f"{old}..{new}"
            touching = int(git_.rev_list("--count", shown, "--", path)) if relation != "same" else 0
            undone = int(git_.rev_list("--count", f"{new}..{old}", "--", path)) if relation == "diverged" else 0
            log = git_.log(f"-n{limit}", "--no-color", "--format=%H%x00%s", shown, "--", path) if touching else ""
        except _GIT_FAILURES as exc:
            shallow = " (this is a shallow clone: fetch the history with `git fetch --unshallow`)" if self.shallow else ""
            raise SourceError(f"git cannot compare {old[:7]} and {new[:7]}: {_first_line(exc)}{shallow}") from None
        commits = []
        for line in log.splitlines()[:limit]:
            sha, _, subject = line.partition("\0")
            cut = subject[:MAX_SUBJECT] + ("…" if len(subject) > MAX_SUBJECT else "")
            commits.append(CommitLine(sha[:7], cut))
        added, removed = self.line_counts(old_blob, new_blob)
        return PinHistory(relation, tuple(commits), touching, ahead, behind, added, removed, undone)

    def line_counts(self, old_blob: str, new_blob: str) -> tuple[int, int]:
        """Lines added and removed from the blob ``old_blob`` to ``new_blob`` (git's numstat: its own
        diff, fast on any input). Raises SourceError when git cannot read them."""
        if old_blob == new_blob:
            return 0, 0
        assert self.repo is not None
        try:
            counts = [*self.repo.git.diff("--numstat", old_blob, new_blob).split("\t"), "0", "0"]
        except _GIT_FAILURES as exc:
            raise SourceError(f"git cannot compare the blobs {old_blob[:7]} and {new_blob[:7]}: {_first_line(exc)}") from None
        added, removed = (int(n) if n.isdigit() else 0 for n in counts[:2])  # "-": a binary file
        return added, removed

    def _known_refs_hint(self) -> str:
        if self.repo is None:
            return ""
        names = sorted([t.name for t in self.repo.tags] + [h.name for h in self.repo.heads])[:12]
        return f" (known: {', '.join(names)})" if names else ""

    def tag_names(self) -> list[str]:
        return sorted(t.name for t in self.repo.tags) if self.repo is not None else []


_REVISION = re.compile(r"[^\x00-\x20\x7f~^:?*\[\\.@/-][^\x00-\x20\x7f~^:?*\[\\]{0,199}([~^][0-9]{0,4})*")
"""Names git allows for refs (``git check-ref-format``: any character but controls, space and
``~^:?*[\\``, so ``fé`` and ``feature/ß`` too) and hex SHAs, with ``~n``/``^n`` suffixes."""
_PIN_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")


def open_source(repo_dir: str | Path, ref: str | None) -> FleetSource:
    """Open the fleet repository at ``repo_dir``; a working-tree read also works outside git.

    Raises SourceError when the directory is missing, when ``ref`` is given outside git or is
    not found, and when git refuses the repository (another user's: "dubious ownership").
    """
    path = Path(repo_dir).resolve()
    if not path.is_dir():
        raise SourceError(f"repository directory {repo_dir} does not exist")
    forget_repository_variables()  # GIT_DIR and the like (a git hook's) would make git read another repository
    enclosing = None
    try:
        repo: git.Repo | None = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo, enclosing = None, _enclosing_repository(path)
        if ref is not None:
            raise SourceError(f"{repo_dir} is not a git repository, so git ref '{ref}' cannot be read{_enclosing_hint(enclosing)}") from None
    if repo is not None:
        _check_ownership(path)
        if _object_format(repo) != "sha1":
            raise SourceError(f"{path} names its objects with {_object_format(repo).upper()} (git init --object-format), which "
                              "fleetops' git reader (GitPython) cannot read: every ref would look missing; keep the fleet in a "
                              "SHA-1 repository (git's default)")
        if repo.bare and ref is None:
            raise SourceError(f"{repo_dir} is a bare git repository: it has no working tree to read; read a commit with --ref "
                              "(for example --ref main), or point --repo at a clone with a working tree")
    return FleetSource(path, repo, ref, enclosing)


def _object_format(repo: git.Repo) -> str:
    try:
        return str(repo.config_reader("repository").get_value("extensions", "objectformat", "sha1")).lower()
    except (*_GIT_FAILURES, KeyError):
        return "sha1"


def _enclosing_repository(path: Path) -> Path | None:
    """The top of the git repository ``path`` lies inside, when there is one."""
    try:
        top = git.Repo(path, search_parent_directories=True).working_tree_dir
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, *_GIT_FAILURES):
        return None
    return Path(top) if top is not None and Path(top) != path else None


def _enclosing_hint(enclosing: Path | None) -> str:
    if enclosing is None:
        return ""
    return (f" (it is a directory inside the git repository {enclosing}, and fleetops reads fleet/ and strategies/ at the top of "
            "a repository, as the watcher and CI do: make it a repository of its own, or put fleet/ and strategies/ at the top "
            f"of {enclosing} and pass --repo {enclosing})")


def _check_ownership(path: Path) -> None:
    """Git refuses a repository another user owns unless it is marked safe; GitPython then fails
    with a broken pipe half-way. Asked of git itself, only when the owner differs."""
    try:
        owner = os.stat(path / ".git").st_uid
    except OSError:
        return
    if owner == os.geteuid():
        return
    proc = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=path, capture_output=True, text=True, check=False, env=git_environment())
    if proc.returncode != 0:
        raise dubious_ownership(path, proc.stderr) or SourceError(f"git cannot read {path}: {proc.stderr.strip() or 'no message'}")


_GIT_FAILURES = (ValueError, IndexError, TypeError, NotImplementedError, AttributeError, OSError, git.GitError)
"""What GitPython raises for an object it cannot read (missing in a shallow or partial clone, a
broken pipe to ``git cat-file``): not found, or an error that says so — never an internal error."""
_TOPS = (SPEC_DIR, STRATEGY_DIR)


def _kind(item: Any) -> Kind | None:
    """What a tree entry is; None for a directory (a tree)."""
    if isinstance(item, git.Submodule) or getattr(item, "type", "") == "submodule":
        return Kind.GITLINK
    if isinstance(item, git.Tree):
        return None
    if isinstance(item, git.Blob):
        return Kind.SYMLINK if item.mode == _SYMLINK_MODE else Kind.FILE
    return Kind.SPECIAL


_SYMLINK_MODE = 0o120000


def _list_commit(commit: git.Commit, shown_ref: str, repo_dir: Path) -> Listing:
    """The commit's entries under fleet/ and strategies/, decided by ``select`` like a working tree's."""
    entries: list[Entry] = []
    blobs: dict[str, git.Blob] = {}
    roots = [str(item.path) for item in commit.tree]
    for top in _TOPS:
        try:
            item = commit.tree[top]
        except KeyError:
            item = None
        kind = _kind(item) if item is not None else Kind.FILE
        if item is None or (kind is Kind.FILE):
            if top == SPEC_DIR:
                raise SourceError(f"{shown_ref} has no '{SPEC_DIR}/' directory in {repo_dir}")
            continue
        if kind is not None:
            entries.append(Entry(top, kind))
            continue
        sub: Any
        for sub in item.traverse():
            if len(entries) >= MAX_ENTRIES:
                raise SourceError(f"{shown_ref} has more than {MAX_ENTRIES} entries under {SPEC_DIR}/ and {STRATEGY_DIR}/; "
                                  "keep other files elsewhere")
            sub_kind = _kind(sub)
            if sub_kind is None:
                continue
            path = str(sub.path)
            if sub_kind is Kind.FILE and isinstance(sub, git.Blob):
                blobs[path] = sub
                entries.append(Entry(path, Kind.FILE, int(sub.size)))
            else:
                entries.append(Entry(path, sub_kind))

    def read(entry: Entry) -> tuple[bytes, str]:
        blob = blobs[entry.path]
        return blob.data_stream.read(), blob.hexsha

    return select(entries, read, roots)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_dirty(repo_dir: Path) -> bool:
    """Whether the spec or strategy files differ from HEAD (untracked files included)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", SPEC_DIR, STRATEGY_DIR],
        cwd=repo_dir, capture_output=True, text=True, check=False, env=git_environment(),
    )
    return bool(out.stdout.strip())


def _subject(commit: git.Commit) -> str:
    """A commit's subject line as ``history`` shows it: its first line, cut as changelogs cut theirs."""
    text = commit.summary if isinstance(commit.summary, str) else commit.summary.decode("utf-8", "replace")
    return text[:MAX_SUBJECT] + ("…" if len(text) > MAX_SUBJECT else "")
