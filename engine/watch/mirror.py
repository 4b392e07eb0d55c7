"""The watcher's own clone of the fleet repository, under the state dir: fetched, never checked out.

Used by the daemon. A mirror clone (``git clone --mirror``) keeps every branch and tag exactly as
the remote has them, so strategy pins resolve as they would in the repository itself, and specs
are read straight from git objects (``engine.spec`` needs no working tree). Git runs with no
terminal prompt and a timeout, so a remote that asks for credentials or hangs is a fetch error
(retried with backoff by the caller), never a stalled watcher.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from engine.errors import SourceError
from engine.plan.model import ALLOW_TRAILER

__all__ = ["GitMirror"]

GIT_TIMEOUT = 120
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "SSH_ASKPASS": "/bin/true", "GIT_SSH_COMMAND": "ssh -oBatchMode=yes"}


class GitMirror:
    def __init__(self, remote: str, state_dir: Path, branch: str) -> None:
        self.remote = str(Path(remote).resolve()) if Path(remote).exists() else remote
        self.branch = branch
        digest = hashlib.sha256(self.remote.encode()).hexdigest()[:12]
        self.path = state_dir / "watch" / f"mirror-{digest}.git"

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                  env={**os.environ, **_ENV})
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} of {self.remote} did not finish within {GIT_TIMEOUT} s") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise SourceError(f"git {args[0]} of {self.remote} failed: {last}")
        return proc.stdout

    def fetch(self) -> str:
        """Bring the mirror up to date (cloning it the first time); the branch head's SHA."""
        if not (self.path / "HEAD").is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            self._git("clone", "--quiet", "--mirror", self.remote, str(tmp))
            tmp.rename(self.path)
        else:
            self._git("fetch", "--quiet", "--prune", "--force", "origin", cwd=self.path)
        return self.head()

    def head(self) -> str:
        try:
            return self._git("rev-parse", "--verify", f"refs/heads/{self.branch}^{{commit}}", cwd=self.path).strip()
        except SourceError:
            raise SourceError(f"branch '{self.branch}' does not exist in {self.remote}") from None

    def between(self, old: str | None, new: str) -> list[str]:
        """Commits reachable from ``new`` but not ``old``, oldest first, without ``new`` itself."""
        if old is None:
            return []
        try:
            out = self._git("rev-list", "--reverse", f"{old}..{new}", cwd=self.path)
        except SourceError:
            return []  # ``old`` is gone (a force-push): nothing to account for
        return [sha for sha in out.split() if sha != new]

    def allowances(self, sha: str) -> frozenset[str]:
        """What the commit's ``Fleetops-Allow:`` trailers allow (plan-wide risk kinds: ``mass-delete``,
        ``rename``): read from the commit itself, so only what was merged can allow anything."""
        try:
            out = self._git("log", "-1", f"--format=%(trailers:key={ALLOW_TRAILER},valueonly,separator=%x2C)", sha, cwd=self.path)
        except SourceError:
            return frozenset()
        return frozenset(word.lower() for word in re.split(r"[\s,]+", out) if word)

    def subject(self, sha: str) -> str:
        try:
            return self._git("log", "-1", "--format=%s", sha, cwd=self.path).strip()
        except SourceError:
            return ""
