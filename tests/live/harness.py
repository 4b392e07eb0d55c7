"""A fleet repo, a state dir, a fake backend and fake bots: the live half driven in-process, in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git

from engine.backend.fake import FakeBackend
from engine.context import Context
from engine.flow import ApplyOutcome, apply_plan, plan_commit
from engine.live.fake_bots import Behaviour, FakeBots
from engine.live.liveplan import LivePlan
from engine.live.store import RevisionStore
from engine.resume import finish_interrupted
from tests.support.repos import commit, edit

FLEET = "testfleet"
IMAGE = "fleetops/standin-bot:1"
STANDARD = f"{FLEET}-standard-1"
SMALL = f"{FLEET}-small-1"
SOLO = f"{FLEET}-bot-solo"


@dataclass
class Record:
    backend: FakeBackend
    unit: str
    name: str

    def read_text(self) -> str:
        return self.backend.records[self.unit][self.name].decode()

    def write_text(self, text: str) -> None:
        self.backend.records[self.unit][self.name] = text.encode()


@dataclass
class Harness:
    repo: git.Repo
    state: Path
    backend: FakeBackend = field(default_factory=lambda: FakeBackend(images=(IMAGE,)))
    environ: dict[str, str] = field(default_factory=dict)
    progress: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bots = FakeBots(self.backend)

    @property
    def root(self) -> Path:
        return Path(self.repo.working_dir)

    def context(self) -> Context:
        return Context(self.state, self.bots.ports(), self.progress.append, self.environ)

    def plan(self) -> LivePlan:
        return plan_commit(self.context(), self.root, None, proof=False)

    def actions(self) -> list[tuple[str, str]]:
        return [(c.address, c.action.value) for c in self.plan().plan.changes]

    def apply(self, *, rollback: bool = True, allow: frozenset[str] = frozenset()) -> ApplyOutcome:
        """As ``fleetops apply``: a revision a killed apply left pending is finished first (its health
        gate; a failure ends this apply as rolled back), then the specs are planned and applied."""
        ctx = self.context()
        finished = finish_interrupted(ctx, rollback=rollback)
        if finished is not None and finished.failed:
            return ApplyOutcome(finished.revision.number, finished.status, finished.health, finished.message)
        return apply_plan(ctx, plan_commit(ctx, self.root, None, proof=False), rollback=rollback, allow=allow)

    def edit(self, rel: str, old: str, new: str) -> None:
        edit(self.root / rel, old, new)

    def statuses(self) -> list[str]:
        return [r.status.value for r in RevisionStore(self.state).all()]

    def programs(self, container: str) -> dict[str, str]:
        return dict(self.backend.units[container].programs)

    def record(self, container: str, bot: str) -> Record:
        """A bot's record (``container``: the unit's own) as the backend keeps it: tests read and spoil it."""
        return Record(self.backend, container, bot)

    def remove_bots(self, *names: str) -> None:
        """Take these bots' documents out of fleet/bots.yaml."""
        path = self.root / "fleet/bots.yaml"
        docs = path.read_text().split("---\n")
        assert all(any(d.startswith(f"kind: Bot\nname: {n}\n") for d in docs) for n in names), names
        path.write_text("---\n".join(d for d in docs if not any(d.startswith(f"kind: Bot\nname: {n}\n") for n in names)))

    def strategy_version(self, name: str, tag: str, behaviour: Behaviour) -> str:
        """Tag a new version of strategy ``name`` whose bots' APIs behave so once they run it
        (``FakeBots.behave``: keyed on the source they loaded, so a rollback ends it); its source."""
        path = self.root / "strategies" / f"{name}.py"
        path.write_text(path.read_text() + f"\n# {name} {tag}\n")
        self.bots.behave(behaviour, strategy=path.read_text())
        commit(self.repo, f"{name} {tag}", tag=tag)
        return path.read_text()

    def fast_health(self) -> None:
        """Failing bots are waited for; keep that wait short in unit tests."""
        self.edit("fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 1")
