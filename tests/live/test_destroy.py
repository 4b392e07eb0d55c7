"""``fleetops destroy`` against the in-memory fakes: the plan with an empty target, applied as a revision.

The applied test fleet (``tests/cases/base``: three pool containers' worth of bots and a dedicated
one) is destroyed; each case states what the plan lists, what the fake host saw, what was archived
and what the store recorded. ``tests/integration/test_destroy.py`` proves the same on the real engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import git
import pytest

from engine.destroy import DESTROY_REF, SUBJECT, destroy, plan_destroy
from engine.errors import ApplyError
from engine.live.store import RevisionStatus, RevisionStore
from engine.plan.text import plan_to_text
from tests.live.harness import FLEET, SMALL, SOLO, STANDARD, Harness

EVERYTHING = [("wallet/euro", "delete"), ("wallet/main", "delete"), ("pool/small", "delete"), ("pool/standard", "delete"),
              (f"container/{SOLO}", "delete"), (f"container/{SMALL}", "delete"), (f"container/{STANDARD}", "delete"),
              ("bot/alpha-1", "delete"), ("bot/alpha-2", "delete"), ("bot/beta-1", "delete"), ("bot/euro-1", "delete"),
              ("bot/solo", "delete")]


@pytest.fixture
def fleet(base_repo: git.Repo, tmp_path: Path) -> Harness:
    harness = Harness(base_repo, tmp_path / "state")
    harness.fast_health()
    assert harness.apply().status is RevisionStatus.APPLIED
    for unit, bots in harness.backend.units.items():  # every bot has written its trade database
        for bot in bots.programs or [unit.removeprefix(f"{FLEET}-bot-")]:
            harness.backend.data[(unit, bot)] = {"tradesv3.sqlite": f"{bot} trades".encode()}
    harness.backend.log.clear()
    return harness


def live_alpha_2(h: Harness) -> None:
    """alpha-2 trades live money (keys from the environment), with a short drain."""
    h.environ.update({"K": "key", "S": "secret"})
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\ndry_run: false\ndrain_timeout: 1\n"
           "secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    h.backend.log.clear()


def test_destroy_removes_everything_archives_every_trade_database_and_is_a_revision(fleet: Harness) -> None:
    planned = plan_destroy(fleet.context(), FLEET)
    assert [(c.address, c.action.value) for c in planned.plan.changes] == EVERYTHING
    assert planned.plan.plan_risks == ()  # the mass-delete guard is for deletes nobody asked for
    assert next(c for c in planned.plan.changes if c.address == "bot/solo").reason == f"{DESTROY_REF} (was in {SOLO})"
    text = plan_to_text(planned.plan)
    assert text.startswith(f"fleetops plan for fleet '{FLEET}': nothing ({DESTROY_REF}) against live Fake at memory (revision 1)")
    assert "--allow-mass-delete" not in text
    done = destroy(fleet.context(), planned)
    assert done.outcome.status is RevisionStatus.APPLIED and done.postponed == {}
    assert fleet.backend.log == [f"remove {SOLO}", f"remove {SMALL}", f"remove {STANDARD}", f"remove-network fleetops-{FLEET}"]
    assert fleet.backend.units == {} and fleet.backend.networks == set()
    assert fleet.backend.data == {}  # nothing left in place, and nothing deleted:
    archived = sorted(v["tradesv3.sqlite"].decode() for v in fleet.backend.archived.values() if "tradesv3.sqlite" in v)
    assert archived == [f"{b} trades" for b in ("alpha-1", "alpha-2", "beta-1", "euro-1", "solo")]
    assert done.archive == f"{fleet.state}/archive/{FLEET}/"
    revision = RevisionStore(fleet.state).get(done.outcome.revision)
    assert (revision.number, revision.status, revision.subject, revision.commit, revision.ref) == (
        2, RevisionStatus.APPLIED, SUBJECT, None, DESTROY_REF)
    assert revision.message == f"destroyed; runtime files and trade databases archived under {done.archive}"
    assert plan_destroy(fleet.context(), FLEET).plan.changes == ()  # nothing left to destroy
    assert [a for a in fleet.actions() if a[0].startswith("container/")] == [
        (f"container/{SOLO}", "create"), (f"container/{SMALL}", "create"), (f"container/{STANDARD}", "create")]
    assert fleet.apply().status is RevisionStatus.APPLIED  # the specs bring it back
    assert sorted(fleet.backend.units) == sorted([SOLO, SMALL, STANDARD]) and fleet.actions() == []


def test_a_live_bot_drains_first_and_one_whose_trades_stay_open_keeps_running(fleet: Harness) -> None:
    live_alpha_2(fleet)
    fleet.bots.open_trades["alpha-2"] = 1
    planned = plan_destroy(fleet.context(), FLEET)
    alpha_2 = next(c for c in planned.plan.changes if c.address == "bot/alpha-2")
    assert alpha_2.risk.label == "high" and "alpha-2 holds 1 open trade" in alpha_2.risk_notes
    done = destroy(fleet.context(), planned)
    assert done.postponed.keys() == {"alpha-2"} and "open trade(s) still open after 1 s" in done.postponed["alpha-2"]
    assert fleet.bots.posts == ["alpha-2 stopbuy", "alpha-2 reload_config"]  # no new entries while it drained; trading again after
    assert fleet.backend.log == [f"remove {SOLO}", f"remove {SMALL}"]  # its container and its neighbours stay
    assert fleet.programs(STANDARD)["alpha-2"] == "RUNNING"
    assert "postponed alpha-2" in RevisionStore(fleet.state).get(done.outcome.revision).message
    fleet.bots.open_trades["alpha-2"] = 0  # the trade closed: the next destroy finishes
    again = destroy(fleet.context(), plan_destroy(fleet.context(), FLEET))
    assert again.postponed == {} and fleet.backend.units == {}


def test_force_open_trades_removes_a_bot_holding_trades_without_a_drain(fleet: Harness) -> None:
    live_alpha_2(fleet)
    fleet.bots.open_trades["alpha-2"] = 1
    done = destroy(fleet.context(), plan_destroy(fleet.context(), FLEET), force_open_trades=True)
    assert done.postponed == {} and fleet.bots.posts == [] and fleet.backend.units == {}
    assert {"tradesv3.sqlite": b"alpha-2 trades"} in fleet.backend.archived.values()


def _silent(h: Harness) -> None:
    from engine.live.fake_bots import Behaviour

    h.bots.behave(Behaviour(answers=False), bot="alpha-2")


def _stopped(h: Harness) -> None:
    h.backend.units[STANDARD].programs["alpha-2"] = "STOPPED"


@pytest.mark.parametrize("unreadable", [_silent, _stopped], ids=["api-silent", "process-stopped"])
def test_a_live_bot_whose_trades_cannot_be_read_is_refused_unless_forced(unreadable: Callable[[Harness], None], fleet: Harness) -> None:
    live_alpha_2(fleet)
    unreadable(fleet)
    planned = plan_destroy(fleet.context(), FLEET)
    revisions = fleet.statuses()
    with pytest.raises(ApplyError, match=r"^refusing to destroy: live bot\(s\) alpha-2 did not say whether they hold open trades .*"
                                         r"--force-open-trades to remove them with whatever they hold$"):
        destroy(fleet.context(), planned)
    assert fleet.backend.log == [] and fleet.statuses() == revisions  # nothing touched, nothing recorded
    assert destroy(fleet.context(), planned, force_open_trades=True).outcome.status is RevisionStatus.APPLIED
    assert fleet.backend.units == {}


def test_nothing_to_destroy_plans_nothing_and_names_the_backend_of_the_running_revision(base_repo: git.Repo, tmp_path: Path) -> None:
    harness = Harness(base_repo, tmp_path / "state")
    planned = plan_destroy(harness.context(), FLEET)
    assert planned.plan.changes == () and planned.target.backend == {"kind": "docker"}
    assert harness.backend.log == [] and not (tmp_path / "state").exists()  # planning creates nothing


def test_the_cli_confirms_shows_the_plan_and_history_records_it(fleet: Harness, fleetops_in_process) -> None:  # type: ignore[no-untyped-def]
    """The command end to end in-process on the fake backend (``FLEETOPS_FAKE_BACKEND`` is not a thing: the
    context is patched to the harness's): no terminal and no --yes refuses; --yes destroys; history shows it."""
    import json

    import engine.cli.destroy as command

    patch = pytest.MonkeyPatch()
    patch.setattr(command, "command_context", fleet.context)
    try:
        refused = fleetops_in_process("destroy", "--repo", str(fleet.root), env={"FLEETOPS_STATE_DIR": str(fleet.state)})
        assert refused.code == 1, refused
        assert refused.err.endswith("fleetops: error: refusing to destroy without confirmation: stdin is not a terminal (pass --yes)\n")
        assert "The mass-delete guard does not apply" in refused.out and fleet.backend.log == []
        done = fleetops_in_process("destroy", "--repo", str(fleet.root), "--auto-approve", env={"FLEETOPS_STATE_DIR": str(fleet.state)})
        assert done.code == 0, done
        assert done.out.splitlines()[-1] == (f"fleet '{FLEET}' destroyed (revision 2); its runtime files and trade databases are archived "
                                             f"under {fleet.state}/archive/{FLEET}/. `fleetops apply` creates it again; `fleetops rollback` "
                                             "restores the revision before.")
        again = fleetops_in_process("destroy", "--fleet", FLEET, "--yes", env={"FLEETOPS_STATE_DIR": str(fleet.state)})
        assert again.code == 0 and again.out.splitlines()[-1] == f"Nothing to destroy: fleet '{FLEET}' has nothing on fake at memory."
        rows = json.loads(fleetops_in_process("history", "--format", "json", env={"FLEETOPS_STATE_DIR": str(fleet.state)}).out)
        assert [(r["revision"], r["status"], r["subject"], r["changes"]) for r in rows][-1] == (2, "applied", SUBJECT, len(EVERYTHING))
    finally:
        patch.undo()
