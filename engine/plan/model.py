"""The plan as a value: actions, field diffs, risk, and the plan itself.

Produced by ``engine.plan.diff`` (and extended with repairs by ``engine.live.drift``); consumed
by the formatters and by apply, which executes exactly the plan that was printed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Literal

from engine.naming import BackendRef
from engine.plan.backtest import BacktestReport
from engine.spec.history import CommitLine

__all__ = ["ADDRESS_KINDS", "ALLOW_TRAILER", "Action", "Change", "CommitLine", "FieldDiff", "Plan", "PlanRisk", "Risk", "RiskNote",
           "SettingChange", "Snapshot", "StrategyChange", "WalletUsage"]

ADDRESS_KINDS = ("fleet", "wallet", "pool", "container", "bot")
"""Address kinds in the order plans list them."""


class Action(str, Enum):
    """What happens at an address; the value is the JSON name, ``glyph`` what text plans print."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    RELOAD = "reload"
    RESTART = "restart"
    START = "start"
    STOP = "stop"
    MOVE = "move"

    @property
    def glyph(self) -> str:
        return _GLYPHS[self]


_GLYPHS = {
    Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-",
    Action.RELOAD: "~>", Action.RESTART: "<>", Action.START: ">", Action.STOP: "||", Action.MOVE: "->",
}


class Risk(IntEnum):
    """How carefully a reviewer should look; ordered so ``max`` gives the worst."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Snapshot:
    """One side of a plan: a git ref (or the working tree), live Docker, or a stored revision."""

    kind: Literal["ref", "live", "revision", "empty"]
    ref: str | None = None
    commit: str | None = None
    dirty: bool = False
    revision: int | None = None
    subject: str | None = None
    """The commit's subject line, when git was read (not part of the JSON plan: ``history`` shows it)."""

    def as_target(self) -> dict[str, Any]:
        """The plan's ``target`` object (contract §4)."""
        return {"ref": self.ref, "commit": self.commit, "dirty": self.dirty}

    def as_baseline(self) -> dict[str, Any]:
        """The plan's ``baseline`` object (contract §4)."""
        return {"kind": self.kind, "ref": self.ref, "commit": self.commit, "revision": self.revision}


@dataclass(frozen=True)
class FieldDiff:
    path: str
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Change:
    """One address's action, why it happens (``reason``) and how risky it is. A risk above low must
    name why (``risk_notes``, worst first): a reviewer reads ``[medium risk: …]`` and needs the
    sentence, so a change without one is refused here, where it is built (``ValueError``)."""

    address: str
    action: Action
    reason: str
    risk: Risk = Risk.LOW
    diff: tuple[FieldDiff, ...] = ()
    risk_notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_reasons(self.address, self.risk, self.risk_notes)

    @property
    def kind(self) -> str:
        return self.address.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.address.split("/", 1)[1]

    def sort_key(self) -> tuple[int, str]:
        return (ADDRESS_KINDS.index(self.kind), self.name)


def _check_reasons(what: str, risk: Risk, notes: tuple[str, ...]) -> None:
    """Every risk above low names its reason, and no reason is blank (issue 22: ``[medium risk: ]``)."""
    if risk > Risk.LOW and not notes:
        raise ValueError(f"{what}: a {risk.label} risk must name its reason")
    if any(not note.strip() for note in notes):
        raise ValueError(f"{what}: a risk reason is blank")


@dataclass(frozen=True)
class RiskNote:
    """What a fact of the live side adds to one change's risk: at least ``risk``, and ``notes`` shown
    with its own (``first``: before them). Open trades and exchange accounts another fleet trades
    are such facts (``engine.live.drain``, ``engine.live.accounts``)."""

    risk: Risk
    notes: tuple[str, ...]
    first: bool = False

    def __post_init__(self) -> None:
        _check_reasons("a live fact", self.risk, self.notes)

    def on(self, change: Change) -> Change:
        notes = (*self.notes, *change.risk_notes) if self.first else (*change.risk_notes, *self.notes)
        return Change(change.address, change.action, change.reason, max(change.risk, self.risk), change.diff, notes)


@dataclass(frozen=True)
class WalletUsage:
    """A wallet's capital before and after the plan; utilisation is of the free (unreserved) part."""

    name: str
    currency: str
    free_before: float | None
    free_after: float | None
    allocated_before: float
    allocated_after: float

    @property
    def utilisation_after(self) -> float | None:
        if not self.free_after:
            return None
        return self.allocated_after / self.free_after


ALLOW_TRAILER = "Fleetops-Allow"
"""The commit trailer that allows a plan-wide risk to the watcher (``Fleetops-Allow: mass-delete``)."""


@dataclass(frozen=True)
class PlanRisk:
    """A risk of the plan as a whole, not of one address: apply refuses such a plan unless the
    user allows its ``kind`` by name (``--allow-<kind>``; for the watcher, the trailer
    ``Fleetops-Allow: <kind>`` in the commit applied). Kinds: ``mass-delete``, ``rename``."""

    kind: str
    reason: str
    risk: Risk = Risk.HIGH

    @property
    def flag(self) -> str:
        return f"--allow-{self.kind}"

    @property
    def trailer(self) -> str:
        return f"{ALLOW_TRAILER}: {self.kind}"

    @property
    def allow_hint(self) -> str:
        """How to allow it, for people reading a plan."""
        return f"apply refuses it unless given {self.flag} (the watcher: a commit trailer '{self.trailer}')"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "risk": self.risk.label, "reason": self.reason, "allow": {"flag": self.flag, "trailer": self.trailer}}


@dataclass(frozen=True)
class SettingChange:
    """One class attribute of a pinned strategy that differs between the old and the new version
    (``engine.plan.changelog``). ``before``/``after``: the literal value, ``"(not a literal)"``
    for a computed one, ``"(not set)"`` where the class does not assign it; ``risk`` and ``note``
    say what it does to this bot, ``overridden`` that its config sets the key, so FreqTrade uses
    the config's value and the strategy's change does not take effect."""

    name: str
    before: Any
    after: Any
    risk: Risk
    note: str
    overridden: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "before": self.before, "after": self.after, "risk": self.risk.label,
                "overridden": self.overridden, "note": self.note}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


@dataclass(frozen=True)
class StrategyChange:
    """A bot's strategy pin moved: what changed in the strategy's code (``engine.plan.changelog``).

    ``relation`` (``engine.spec.history.Relation``, or ``replaced``: another class, another file;
    ``unknown``: git could not tell, ``notes`` say why). ``commits``: newest first, bounded, the
    commits touching ``file`` between the two versions (the ones a downgrade undoes); ``touching``:
    how many there are in all. ``behind``: commits a downgrade goes back; ``undone``: commits of
    the old side touching the file that a ``diverged`` new side lacks. ``added``/``removed``:
    lines of the file (None: unknown)."""

    address: str
    before: str
    after: str
    file: str
    relation: str
    commits: tuple[CommitLine, ...] = ()
    touching: int = 0
    behind: int = 0
    undone: int = 0
    added: int | None = None
    removed: int | None = None
    settings: tuple[SettingChange, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def more(self) -> int:
        """Commits touching the file that are not listed (the list is bounded)."""
        return max(self.touching - len(self.commits), 0)

    @property
    def summary(self) -> str:
        """One line every format prints: ``downgrade: 5 commits back, undoing 2 commits to strategies/A.py; +4 -12 lines``."""
        lines = f"; +{self.added} -{self.removed} lines" if self.added is not None and self.removed is not None else ""
        touching = _plural(self.touching, "commit")
        if self.relation == "forward":
            head = f"upgrade: {touching} to {self.file}" if self.touching else f"upgrade: no commit touches {self.file}"
        elif self.relation == "downgrade":
            head = f"downgrade: {_plural(self.behind, 'commit')} back, undoing {touching} to {self.file}"
        elif self.relation == "diverged":
            head = (f"another line of history (neither version contains the other): {touching} to {self.file} "
                    f"the old version lacks, {_plural(self.undone, 'commit')} of its own left out")
        elif self.relation == "same":
            head = f"the same commit: {self.file} unchanged"
        elif self.relation == "replaced":
            head = f"another strategy class: {self.file} replaces the old class's file"
        else:
            head = "no changelog"
        return head + lines

    def as_json(self) -> dict[str, Any]:
        return {"address": self.address, "before": self.before, "after": self.after, "file": self.file, "relation": self.relation,
                "summary": self.summary, "commits": [{"sha": c.sha, "subject": c.subject} for c in self.commits],
                "commits_touching": self.touching, "more_commits": self.more, "behind": self.behind, "undone": self.undone,
                "lines": None if self.added is None or self.removed is None else {"added": self.added, "removed": self.removed},
                "settings": [s.as_json() for s in self.settings], "notes": list(self.notes)}


@dataclass(frozen=True)
class Plan:
    fleet: str
    target: Snapshot
    baseline: Snapshot
    changes: tuple[Change, ...]
    wallets: tuple[WalletUsage, ...] = field(default=())
    plan_risks: tuple[PlanRisk, ...] = field(default=())
    """Risks of the whole plan (``engine.plan.risk``): each one makes apply refuse unless allowed."""
    backend: BackendRef | None = None
    """Where a live plan was made (None: an offline plan between refs, which runs nowhere)."""
    strategy_changes: tuple[StrategyChange, ...] = field(default=())
    """The changelog of every bot whose strategy pin moved (``engine.plan.changelog``), by address."""
    backtest: BacktestReport | None = None
    """``plan --backtest``: old and new version of each moved pin backtested side by side (``engine.backtest``)."""

    def strategy_change(self, address: str) -> StrategyChange | None:
        """The changelog of ``address``'s pin change, when the plan lists that change."""
        return next((s for s in self.strategy_changes if s.address == address), None)

    @property
    def listed_strategy_changes(self) -> tuple[StrategyChange, ...]:
        """The changelogs of the changes the plan still lists (a postponed change's is left out)."""
        addresses = {c.address for c in self.changes}
        return tuple(s for s in self.strategy_changes if s.address in addresses)

    @property
    def summary(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def risk(self) -> Risk:
        return max((*(c.risk for c in self.changes), *(r.risk for r in self.plan_risks)), default=Risk.LOW)

    def with_changes(self, changes: tuple[Change, ...]) -> Plan:
        """The same plan with other changes (drift added, postponed changes left out…); its plan-wide risks stay."""
        return dataclasses.replace(self, changes=changes)
