"""The watcher's own clone of the fleet repository, under the state dir: fetched, never checked out.

Used by the daemon. A mirror (a bare repository fetched with ``+refs/*:refs/*``, as ``git clone
--mirror`` does) keeps every branch and tag exactly as the remote has them, so strategy pins
resolve as they would in the repository itself, and specs are read straight from git objects
(``engine.spec`` needs no working tree). The remote's address is given to each fetch and never
written into the mirror's config: an address with credentials in it
(``https://user:token@host/…``) would otherwise sit in the state dir. Everything that shows the
remote (logs, ``/api/status``, the fleet identity in the revision store) shows ``shown``,
without its user and password. Git runs with no terminal prompt and a timeout, so a remote that
asks for credentials or hangs is a fetch error (retried with backoff by the caller), never a
stalled watcher, and with none of git's repository variables (``engine.spec.gitenv``). A
failure is one sentence naming the remote (without its credentials), git's own reason, and what
to do.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from engine.errors import SourceError
from engine.plan.model import ALLOW_TRAILER
from engine.spec.gitenv import git_environment
from engine.textsafe import one_line

__all__ = ["GitMirror", "recorded_head"]

GIT_TIMEOUT = 120
_USERINFO = re.compile(r"://\S*@")
"""Everything between the scheme and the last '@' before any white space: a password written
without percent-encoding may hold '/' or '@', and every part of it stays out of sight."""
_VERBS = {"clone": "clone", "fetch": "fetch", "rev-parse": "read the branch of", "rev-list": "list the commits of",
          "log": "read a commit of"}
_ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("dubious ownership",), "it belongs to another user; if you trust it, run `git config --global --add safe.directory {path}` "
                             "as the user the watcher runs as"),
    (("could not read username", "could not read password", "authentication failed", "permission denied (publickey",
      "terminal prompts disabled", "host key verification failed"),
     "give the user the watcher runs as read access that needs no prompt (a deploy key, or a credential helper)"),
    (("could not resolve host", "connection refused", "connection timed out", "network is unreachable", "timed out",
      "could not connect", "unable to access"),
     "check the address and the network"),
    (("does not exist", "not found", "does not appear to be a git repository", "no such file"),
     "check the --repo address: it must name an existing git repository"),
)
_MIRROR_REFS = "+refs/*:refs/*"
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "SSH_ASKPASS": "/bin/true", "GIT_SSH_COMMAND": "ssh -oBatchMode=yes"}


class GitMirror:
    def __init__(self, remote: str, state_dir: Path, branch: str) -> None:
        self.remote = str(Path(remote).resolve()) if Path(remote).exists() else remote
        self.branch = branch
        digest = hashlib.sha256(self.remote.encode()).hexdigest()[:12]
        self.path = state_dir / "watch" / f"mirror-{digest}.git"

    @property
    def shown(self) -> str:
        """The remote as messages and logs show it: an address's user and password left out."""
        return _USERINFO.sub("://", self.remote)

    def _git(self, *args: str, cwd: Path | None = None, verb: str = "") -> str:
        verb = verb or _VERBS.get(args[0], f"run git {args[0]} for")
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                  env=git_environment(_ENV))
        except subprocess.TimeoutExpired:
            raise SourceError(f"could not {verb} {self.shown}: git did not finish within {GIT_TIMEOUT} s; check the network "
                              "and that the remote answers (the watcher tries again with backoff)") from None
        except OSError as exc:
            raise SourceError(f"could not {verb} {self.shown}: git cannot run ({exc.strerror}); install git for the user "
                              "the watcher runs as") from None
        if proc.returncode != 0:
            raise SourceError(self._failure(verb, proc.stderr))
        return proc.stdout

    def _failure(self, verb: str, stderr: str) -> str:
        """One sentence: what failed, git's own reason, and what to do about it."""
        text = _USERINFO.sub("://", stderr.replace(self.remote, self.shown))
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = next((line for line in lines if not line.startswith(("hint:", "warning:", "Cloning into"))), "no message")
        reason = one_line(reason.removeprefix("fatal: ").removeprefix("error: ").rstrip("."))
        lowered = text.lower()
        advice = next((what for words, what in _ADVICE if any(w in lowered for w in words)),
                      f"check that `git ls-remote {self.shown}` works for the user the watcher runs as")
        if "safe.directory" in advice:
            path = next((line.split("safe.directory", 1)[1].strip() for line in lines if "safe.directory" in line), self.shown)
            advice = advice.format(path=path)
        return f"could not {verb} {self.shown}: git says \"{reason}\"; {advice} (the watcher tries again with backoff)"

    def fetch(self) -> str:
        """Bring the mirror up to date (cloning it the first time); the branch head's SHA."""
        if not (self.path / "HEAD").is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            self._git("init", "--quiet", "--bare", str(tmp), verb="clone")
            self._git("fetch", "--quiet", "--prune", "--force", self.remote, _MIRROR_REFS, cwd=tmp, verb="clone")
            tmp.rename(self.path)
        else:
            self._forget_stored_remote()
            self._git("fetch", "--quiet", "--prune", "--force", self.remote, _MIRROR_REFS, cwd=self.path)
        return self.head()

    def _forget_stored_remote(self) -> None:
        """A mirror cloned by an earlier fleetops (``git clone --mirror``) holds the address in its
        config, credentials included: take it out (only the config: its refs stay)."""
        config = self.path / "config"
        try:
            if "[remote \"origin\"]" not in config.read_text(errors="replace"):
                return
        except OSError:
            return
        self._git("config", "--remove-section", "remote.origin", cwd=self.path)

    def head(self) -> str:
        try:
            return self._git("rev-parse", "--verify", f"refs/heads/{self.branch}^{{commit}}", cwd=self.path).strip()
        except SourceError:
            raise SourceError(f"branch '{self.branch}' does not exist in {self.shown}; name an existing branch with --branch") from None

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


_SHA = re.compile(r"[0-9a-f]{40}")


def recorded_head(state_dir: Path, branch: str) -> str | None:
    """``branch``'s head in the mirror a watcher using ``state_dir`` fetched last (the newest by its
    last fetch), read from the ref files without running git or touching the network (``fleetops
    serve`` asks it on every refresh); None when no mirror holds the branch."""
    mirrors = sorted((state_dir / "watch").glob("mirror-*.git"), key=_fetched_at, reverse=True)
    for mirror in mirrors:
        try:
            loose = (mirror / "refs" / "heads" / branch).read_text().strip()
        except (OSError, ValueError):
            loose = ""
        if _SHA.fullmatch(loose):
            return loose
        try:
            packed = (mirror / "packed-refs").read_text().splitlines()
        except (OSError, ValueError):
            continue
        for line in packed:
            sha, _, ref = line.partition(" ")
            if ref == f"refs/heads/{branch}" and _SHA.fullmatch(sha):
                return sha
    return None


def _fetched_at(mirror: Path) -> float:
    for name in ("FETCH_HEAD", "HEAD"):
        try:
            return (mirror / name).stat().st_mtime
        except OSError:
            continue
    return 0.0
