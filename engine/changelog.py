"""The strategy changelog of a plan: every moved pin's two versions and history, read from git.

Called by ``engine.offline.offline_plan`` (``plan --against``, what CI posts) and by
``engine.flow.plan_commit`` (the live plan, ``plan --ref``, apply and the watcher) once the plan
is made; the changelog itself is ``engine.plan.changelog``'s (pure). Both versions are read from
git objects at the commits the essences name — the old one the short SHA its pin display carries
(a live bot's record keeps no more), checked against the sha256 the bot ran — never from a
working tree, and nothing of a strategy is executed. A plan that moves no pin costs a loop over
its changes and nothing else; each distinct (old, new) pin pair is read once, however many bots
share it. What git cannot tell (a commit missing from a shallow clone, a file that changed under
its hash) is a note in the changelog, never an error: the plan stands without it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from engine.compile.essence import BotEssence
from engine.errors import SourceError
from engine.plan.changelog import PinVersions, strategy_change, with_strategy_changes
from engine.plan.model import Plan, StrategyChange
from engine.spec.source import STRATEGY_DIR, FleetSource

__all__ = ["MAX_COMMITS", "pinned_text", "with_changelog"]

MAX_COMMITS = 10
"""Commits listed per pin change (newest first); the rest are counted ("and N more")."""

_SHORT_SHA = re.compile(r"\(([0-9a-f]{7,40})\)$")


def with_changelog(plan: Plan, before: Mapping[str, BotEssence], after: Mapping[str, BotEssence], source: FleetSource) -> Plan:
    """``plan`` with the changelog of every listed bot change whose strategy pin moved (``before``
    and ``after``: the bots' essences on either side, by name), read through ``source``'s git."""
    versions: dict[tuple[str, str, str, str, str, str], PinVersions] = {}
    found: list[StrategyChange] = []
    for change in plan.changes:
        if change.kind != "bot":
            continue
        old, new = before.get(change.name), after.get(change.name)
        if old is None or new is None or (old.strategy, old.strategy_sha256) == (new.strategy, new.strategy_sha256):
            continue
        key = (old.strategy, old.strategy_class, old.strategy_sha256, new.strategy, new.strategy_class, new.strategy_sha256)
        if key not in versions:
            versions[key] = _read_versions(source, old, new)
        found.append(strategy_change(change.name, old, new, versions[key]))
    return with_strategy_changes(plan, found)


def pinned_text(source: FleetSource, essence: BotEssence, side: str, purpose: str) -> tuple[str | None, tuple[str, ...]]:
    """The text of the strategy file ``essence``'s pin names, read from git at its commit and checked
    against the sha256 the essence carries (a live bot's record: the version it runs), and no notes;
    or None and the notes saying why not (``side`` names the version in them, "old"; ``purpose`` is
    what fetching its commit would give, "to backtest it"). ``plan --backtest`` of the live plan
    reads the running versions so (``engine.backtest.gate.running_versions``). Never raises."""
    notes: list[str] = []
    _, blob = _version(source, essence, side, notes, purpose)
    return (blob.text if blob is not None else None), tuple(notes)


def _read_versions(source: FleetSource, old: BotEssence, new: BotEssence) -> PinVersions:
    notes: list[str] = []
    old_commit, old_blob = _version(source, old, "old", notes)
    new_commit, new_blob = _version(source, new, "new", notes)
    if old_commit is None or new_commit is None or old_blob is None or new_blob is None:
        return PinVersions(old_blob.text if old_blob else None, new_blob.text if new_blob else None, notes=tuple(notes))
    try:
        if old.strategy_class == new.strategy_class:
            history = source.strategy_history(old_commit, new_commit, old_blob.path, old_blob.sha, new_blob.sha, MAX_COMMITS)
            return PinVersions(old_blob.text, new_blob.text, history, notes=tuple(notes))
        lines = source.line_counts(old_blob.sha, new_blob.sha)
    except SourceError as exc:
        notes.append(f"no commit history: {exc}")
        return PinVersions(old_blob.text, new_blob.text, notes=tuple(notes))
    return PinVersions(old_blob.text, new_blob.text, lines=lines, notes=tuple(notes))


@dataclass(frozen=True)
class _Blob:
    path: str
    sha: str
    text: str


def _version(source: FleetSource, essence: BotEssence, side: str, notes: list[str],
             purpose: str = "to see the changelog") -> tuple[str | None, _Blob | None]:
    """The full commit and the strategy file one side's pin names, or Nones with a note saying why."""
    match = _SHORT_SHA.search(essence.strategy)
    commit = source.find_pinned(match.group(1)) if match is not None and source.repo is not None else None
    if commit is None:
        shown = match.group(1) if match is not None else essence.strategy
        notes.append(f"the {side} version's commit {shown} is not in this repository (fetch it {purpose})")
        return None, None
    path = f"{STRATEGY_DIR}/{essence.strategy_class}.py"
    try:
        blob = source.file_at(commit, path)
    except SourceError as exc:
        notes.append(f"the {side} version cannot be read: {exc}")
        return commit.hexsha, None
    if blob is None or hashlib.sha256(blob.data).hexdigest() != essence.strategy_sha256:
        notes.append(f"{path} at {commit.hexsha[:7]} is not the {side} version the bot runs (its sha256 differs)")
        return commit.hexsha, None
    return commit.hexsha, _Blob(path, blob.blob_sha, blob.data.decode("utf-8", errors="replace"))
