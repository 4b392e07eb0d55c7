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

__all__ = ["ADDRESS_KINDS", "ALLOW_TRAILER", "Action", "Change", "FieldDiff", "Plan", "PlanRisk", "Risk", "RiskNote", "Snapshot",
           "WalletUsage"]

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
    address: str
    action: Action
    reason: str
    risk: Risk = Risk.LOW
    diff: tuple[FieldDiff, ...] = ()
    risk_notes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.address.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.address.split("/", 1)[1]

    def sort_key(self) -> tuple[int, str]:
        return (ADDRESS_KINDS.index(self.kind), self.name)


@dataclass(frozen=True)
class RiskNote:
    """What a fact of the live side adds to one change's risk: at least ``risk``, and ``notes`` shown
    with its own (``first``: before them). Open trades and exchange accounts another fleet trades
    are such facts (``engine.live.drain``, ``engine.live.accounts``)."""

    risk: Risk
    notes: tuple[str, ...]
    first: bool = False

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
