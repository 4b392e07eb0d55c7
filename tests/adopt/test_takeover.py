"""The takeover records ``fleetops adopt`` leaves for the first apply (engine.live.takeover), at the
port's seam: which changes show a takeover, the order of stop and copy, done once and never again.
The real thing (Docker, FreqTrade, open trades) is tests/integration/test_adopt.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backend.port import ForeignContainer
from engine.errors import ApplyError
from engine.live.takeover import Takeover, pending, record_takeovers, take_over, takeover_notes
from engine.plan.model import Action, Change, Risk

OLD = Takeover("alpha", "c0ffee" * 10, "lab-alpha-1", "lab/alpha", "/freqtrade/user_data/tradesv3.sqlite", "tradesv3.dryrun.sqlite")


class Containers:
    """The seam: one foreign container, and what was done to it, in order."""

    def __init__(self, running: bool = True, exists: bool = True, has_database: bool = True) -> None:
        self.running, self.exists, self.has_database = running, exists, has_database
        self.calls: list[str] = []

    def compose_container(self, project: str, service: str) -> ForeignContainer | None:
        return None

    def foreign_container(self, ref: str) -> ForeignContainer | None:
        return ForeignContainer(ref, "lab-alpha-1", self.running) if self.exists else None

    def stop_foreign(self, ref: str, timeout: int) -> None:
        self.calls.append("stop")
        self.running = False

    def carry_in(self, ref: str, path: str, unit: str, bot: str, name: str, uid: int | None) -> int:
        assert not self.running, "copied while the old bot still ran"
        self.calls.append(f"carry {path} -> {unit}/{bot}/{name} as {uid}")
        return {"": 4096, "-wal": 1024}.get(path.partition(".sqlite")[2], -1) if self.has_database else -1


@pytest.mark.parametrize(("port", "note"), [
    (Containers(), "takes over container lab-alpha-1 (lab/alpha, running: stopped first, kept stopped for a manual rollback); "
                   "its trade database /freqtrade/user_data/tradesv3.sqlite is carried"),
    (Containers(running=False), "takes over container lab-alpha-1 (lab/alpha, already stopped, kept stopped for a manual rollback); "
                                "its trade database /freqtrade/user_data/tradesv3.sqlite is carried"),
    (Containers(exists=False), "takes over container lab-alpha-1 (lab/alpha), which no longer exists: no trade database is carried"),
])
def test_the_plan_notes_a_takeover_on_the_created_bot_only(port: Containers, note: str) -> None:
    changes = (Change("bot/alpha", Action.CREATE, "new bot"), Change("bot/beta", Action.CREATE, "new bot"),
               Change("container/x-adopted-1", Action.CREATE, "new container"))
    notes = takeover_notes({"alpha": OLD, "gamma": OLD}, changes, port)
    assert list(notes) == ["bot/alpha"]
    assert notes["bot/alpha"].risk is Risk.MEDIUM and notes["bot/alpha"].notes == (note,)
    assert takeover_notes({"alpha": OLD}, (Change("bot/alpha", Action.RELOAD, "pin changed"),), port) == {}  # runs under fleetops already
    with pytest.raises(ApplyError, match="this backend cannot"):
        takeover_notes({"alpha": OLD}, changes, None)


def test_take_over_stops_then_carries_and_is_done_once(tmp_path: Path) -> None:
    record_takeovers(tmp_path, "lab", [OLD])
    assert pending(tmp_path, "lab") == {"alpha": OLD}
    port, progress = Containers(), []
    take_over(tmp_path, "lab", pending(tmp_path, "lab"), port, lambda bot: ("lab-adopted-1", 1000), progress.append)
    assert port.calls == ["stop", "carry /freqtrade/user_data/tradesv3.sqlite -> lab-adopted-1/alpha/tradesv3.dryrun.sqlite as 1000",
                          "carry /freqtrade/user_data/tradesv3.sqlite-wal -> lab-adopted-1/alpha/tradesv3.dryrun.sqlite-wal as 1000",
                          "carry /freqtrade/user_data/tradesv3.sqlite-journal -> lab-adopted-1/alpha/tradesv3.dryrun.sqlite-journal as 1000"]
    assert progress == ["stopping lab-alpha-1 (lab/alpha): alpha takes over", "carried alpha's trade database from lab-alpha-1 (5120 bytes)"]
    assert pending(tmp_path, "lab") == {}  # done: no later apply stops or copies again
    assert "c0ffee" in (tmp_path / "takeovers/lab.json").read_text()


def test_a_missing_database_or_container_is_said(tmp_path: Path) -> None:
    progress: list[str] = []
    take_over(tmp_path, "lab", {"alpha": OLD}, Containers(running=False, has_database=False), lambda bot: ("u", None), progress.append)
    take_over(tmp_path, "lab", {"alpha": OLD}, Containers(exists=False), lambda bot: ("u", None), progress.append)
    assert progress == ["lab-alpha-1 has no /freqtrade/user_data/tradesv3.sqlite: alpha starts with an empty trade database",
                        "takeover of lab-alpha-1 for alpha: the container is gone; alpha starts without its trades"]


# -- wired into plan and apply, on the fake backend ---------------------------------------------------

@pytest.fixture
def adopting(base_repo, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.live.harness import Harness

    harness = Harness(base_repo, tmp_path / "state")
    harness.fast_health()
    harness.backend.add_unmanaged("lab-beta-1", {"com.docker.compose.project": "lab", "com.docker.compose.service": "beta"})
    harness.backend.foreign_files[("lab-beta-1", "/freqtrade/user_data/tradesv3.sqlite")] = b"beta's trades"
    harness.backend.foreign_files[("lab-beta-1", "/freqtrade/user_data/tradesv3.sqlite-wal")] = b"beta's latest trades"
    old = harness.backend.units["lab-beta-1"]
    record_takeovers(harness.state, "testfleet", [Takeover("beta-1", old.id, "lab-beta-1", "lab/beta",
                                                           "/freqtrade/user_data/tradesv3.sqlite", "tradesv3.dryrun.sqlite")])
    return harness


def test_apply_stops_the_old_container_before_any_bot_starts_and_carries_its_database(adopting) -> None:  # type: ignore[no-untyped-def]
    from engine.live.store import RevisionStatus

    h = adopting
    planned = h.plan().plan
    noted = {c.address: c.risk_notes for c in planned.changes if c.risk_notes}
    assert noted == {"bot/beta-1": ("takes over container lab-beta-1 (lab/beta, running: stopped first, kept stopped for a manual "
                                    "rollback); its trade database /freqtrade/user_data/tradesv3.sqlite is carried",)}
    outcome = h.apply()
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    log = h.backend.log
    assert log[:4] == ["stop lab-beta-1", *(f"copy-out lab-beta-1:/freqtrade/user_data/tradesv3.sqlite{s}" for s in ("", "-wal", "-journal"))], \
        log  # before anything starts
    placed = next(unit for (unit, bot) in h.backend.bot_files if bot == "beta-1")
    assert placed.startswith("testfleet-")
    assert h.backend.data[(placed, "beta-1")] == {"tradesv3.dryrun.sqlite": b"beta's trades", "tradesv3.dryrun.sqlite-wal": b"beta's latest trades"}
    assert h.backend.units["lab-beta-1"].state == "exited"  # kept, stopped: the manual rollback
    assert pending(h.state, "testfleet") == {}
    h.backend.log.clear()
    assert not any("takes over" in note for c in h.plan().plan.changes for note in c.risk_notes)
    h.apply()
    assert not any("lab-beta-1" in line for line in h.backend.log)  # done once: never stopped or copied again
