"""What git says happened to a strategy file between two pinned commits: pure values.

Produced by ``engine.spec.source.FleetSource.strategy_history`` (the git adapter) and read by the
plan's changelog (``engine.plan.changelog``). Commit subjects come from whoever wrote the
commits (a pull request): they are data, shown through the formatters' escaping, and bounded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_SUBJECT", "CommitLine", "PinHistory", "Relation"]

MAX_SUBJECT = 120
"""Characters of a commit subject kept (the rest is cut and ends in "…")."""

Relation = Literal["same", "forward", "downgrade", "diverged"]
"""How the new commit stands to the old: the same commit; a descendant (an upgrade); an ancestor
(a downgrade: the bot goes back); neither (another line of history: a branch, a rewritten tag)."""


@dataclass(frozen=True)
class CommitLine:
    """One commit, as a changelog lists it: its short SHA (7 hex digits) and its subject line."""

    sha: str
    subject: str


@dataclass(frozen=True)
class PinHistory:
    """The commits between two pinned commits that touch one strategy file.

    ``commits``: newest first, at most the limit asked for, of the range that matters — the old
    commit's descendants up to the new one (``old..new``) for ``forward`` and ``diverged``, the
    commits a downgrade undoes (``new..old``) for ``downgrade``; ``touching`` how many commits of
    that range touch the file in all (more than ``len(commits)`` when bounded). ``ahead`` /
    ``behind``: every commit of ``old..new`` / ``new..old``, whatever it touches (a downgrade is
    ``behind`` commits back). ``added`` / ``removed``: lines of the file between the two versions
    (git's numstat). ``undone``: for ``diverged``, the commits of the old side touching the file
    that the new one lacks."""

    relation: Relation
    commits: tuple[CommitLine, ...]
    touching: int
    ahead: int
    behind: int
    added: int
    removed: int
    undone: int = 0
