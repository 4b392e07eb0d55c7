"""An apply killed after any of its calls is recovered by the next one, with no bot running twice.

For a large change (a new container, a move, a removal, a dedicated restart and a reload), the
apply is killed before its k-th mutation (Docker or supervisord), for every k; the next apply
marks the revision interrupted, converges, leaves no container no revision knows, and at no
point afterwards does a bot run in two containers. The same is proven with a real SIGKILL
against the real engine in tests/integration/test_crash_safety.py.
"""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from engine.backend.fake import Killed
from engine.live.fake_bots import STRATEGY_ERROR, Behaviour
from engine.live.store import RevisionStatus, RevisionStore
from tests.live.harness import Harness
from tests.live.test_apply_with_fakes import add_bot, remove_bot


def big_change(h: Harness) -> None:
    h.edit("fleet/bots.yaml", "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
           "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]")  # move alpha-2
    remove_bot(h, "beta-1", "euro-1")
    add_bot(h, "aaa-one", "standard")
    add_bot(h, "aaa-two", "standard")
    h.edit("fleet/pools.yaml", "capacity: 3", "capacity: 1")  # the new bots need new containers
    h.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.14")  # solo, dedicated: a restart
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.11")  # alpha-1: a reload


def running_copies(h: Harness) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, container in h.backend.units.items():
        if container.state != "running":
            continue
        bots = [p for p, s in container.programs.items() if s == "RUNNING"] or (
            [name.removeprefix("testfleet-bot-")] if container.labels.get("io.fleetops.role") == "dedicated" else [])
        for bot in bots:
            counts[bot] = counts.get(bot, 0) + 1
    return counts


def fresh(base_repo: git.Repo, tmp_path: Path, k: int) -> Harness:
    h = Harness(base_repo, tmp_path / f"state-{k}")
    h.fast_health()
    assert h.apply().status is RevisionStatus.APPLIED
    return h


def count_mutations(base_repo: git.Repo, tmp_path: Path) -> int:
    h = fresh(base_repo, tmp_path, -1)
    before = h.backend.mutations
    big_change(h)
    assert h.apply().status is RevisionStatus.APPLIED
    return h.backend.mutations - before


@pytest.fixture(scope="module")
def total(tmp_path_factory: pytest.TempPathFactory) -> int:
    from tests.support.repos import make_base_repo

    path = tmp_path_factory.mktemp("count")
    return count_mutations(make_base_repo(path / "repo"), path)


@pytest.mark.parametrize("k", range(0, 12))
def test_killed_before_mutation_k_the_next_apply_recovers(k: int, total: int, base_repo: git.Repo, tmp_path: Path) -> None:
    if k >= total:
        k = total - 1  # the table covers every mutation of the clean run (asserted below)
    h = fresh(base_repo, tmp_path, k)
    big_change(h)
    h.backend.crash_after = h.backend.mutations + k
    with pytest.raises(Killed):
        h.apply()
    assert max(running_copies(h).values()) == 1
    h.backend.crash_after = None
    outcome = h.apply()
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    statuses = h.statuses()
    assert statuses[1] == "interrupted" and statuses[-1] == "applied"
    assert h.actions() == []
    assert max(running_copies(h).values()) == 1
    known = set(RevisionStore(h.state).latest(good_only=True).payload["containers"])  # type: ignore[union-attr]
    assert set(h.backend.units) == known
    for name, unit in h.backend.units.items():  # every running bot runs the files it was last given
        for bot in unit.running:
            running = h.backend.running_files(name, bot)
            assert running is None or running == h.backend.bot_files[(name, bot)], f"{bot} in {name} runs stale files"


def test_the_table_covers_every_mutation(total: int) -> None:
    assert total <= 12, f"the big change makes {total} mutations; widen the parametrised range"


def raise_every_candle(h: Harness) -> str:
    """alpha-1 and alpha-2 reload onto a strategy whose loop raises on every candle (the health gate fails); its source."""
    broken = h.strategy_version("Alpha", "v3", Behaviour(strategy_errors=(STRATEGY_ERROR,)))
    h.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [BTC/USDT, ETH/USDT]", "strategy: Alpha@v3\npairs: [BTC/USDT, ETH/USDT]")
    h.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    return broken


def runs_broken_strategy(h: Harness, broken: str) -> list[str]:
    """Bots whose running process loaded the strategy that raises (what they run, not what is on disk)."""
    return sorted(bot for name, u in h.backend.units.items() for bot in u.running
                  if (files := h.backend.running_files(name, bot)) is not None and files.strategy[1].decode() == broken)


# Killed in the health wait (every change made, no verdict), and killed before each mutation of its rollback
# (supervisord re-reads its conf, then the two reloaded bots restart back: stop and start each).
FORWARD = 5
KILLED = [("in the health wait", None), *((f"in the rollback, before its mutation {k}", k) for k in range(5))]


@pytest.mark.parametrize("where, rollback_k", KILLED, ids=[w for w, _ in KILLED])
def test_killed_in_the_health_wait_or_the_rollback_is_finished_by_the_next_apply(where: str, rollback_k: int | None,
                                                                                base_repo: git.Repo, tmp_path: Path) -> None:
    from engine.resume import pending_note
    from engine.status import fleet_status

    h = fresh(base_repo, tmp_path, 100 + (rollback_k or 0))
    broken_source = raise_every_candle(h)
    if rollback_k is None:
        h.bots.crash_on_ping = True
    else:
        h.backend.crash_after = h.backend.mutations + FORWARD + rollback_k  # after the forward changes (update, 2 restarts)
    with pytest.raises(Killed):
        h.apply()
    h.bots.crash_on_ping, h.backend.crash_after = False, None
    assert h.statuses() == ["applied", "pending"]
    broken = runs_broken_strategy(h, broken_source)
    assert broken == (["alpha-1", "alpha-2"] if rollback_k is None else broken)  # some run revision 2 unchecked
    unfinished = fleet_status(h.context(), "testfleet")["unfinished"]  # status never names revision 1 alone
    assert unfinished is not None and unfinished["revision"] == 2 and unfinished["changing"] == ["alpha-1", "alpha-2"]
    assert set(broken) <= set(unfinished["bots"]) | set(unfinished["changing"])
    note = pending_note(h.context())
    assert note is not None and "revision 2 was interrupted" in note and "revision 1" in note  # plan says what apply will do
    outcome = h.apply()  # the same specs: its health gate runs now, and fails, so it rolls back, as uninterrupted
    assert outcome.status is RevisionStatus.ROLLED_BACK, outcome.message
    assert outcome.revision == 2 and "rolled back to revision 1" in outcome.message
    assert h.statuses() == ["applied", "rolled_back"]
    assert runs_broken_strategy(h, broken_source) == [] and max(running_copies(h).values()) == 1
    assert fleet_status(h.context(), "testfleet")["unfinished"] is None
    assert [(a, b) for a, b in h.actions()] == [("bot/alpha-1", "reload"), ("bot/alpha-2", "reload")]  # the specs still ask for it


def test_killed_in_the_health_wait_of_a_healthy_change_is_recorded_applied(base_repo: git.Repo, tmp_path: Path) -> None:
    """Every change was made and its bots are healthy: only the verdict was missing, so the next run records it
    applied — status and history then name the revision that runs, and the next plan is empty."""
    from engine.resume import finish_interrupted
    from engine.status import fleet_status

    h = fresh(base_repo, tmp_path, 200)
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.11")  # alpha-1: a reload
    h.bots.crash_on_ping = True
    with pytest.raises(Killed):
        h.apply()
    h.bots.crash_on_ping = False
    assert h.statuses() == ["applied", "pending"]
    finished = finish_interrupted(h.context())  # what the next apply does first
    assert finished is not None and finished.status is RevisionStatus.APPLIED
    assert h.statuses() == ["applied", "applied"] and "checked its 1 changed bot(s): healthy" in RevisionStore(h.state).get(2).message
    status = fleet_status(h.context(), "testfleet")
    assert status["revision"]["revision"] == 2 and status["unfinished"] is None
    assert h.actions() == []


def drain_alpha_2(h: Harness) -> None:
    """alpha-2 (on_change: drain) holds a trade that closes only later, and its config changes."""
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\non_change: drain\ndrain_timeout: 60")
    assert h.apply().status is RevisionStatus.APPLIED
    h.bots.open_trades["alpha-2"] = 1
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07")


@pytest.mark.parametrize("then", ["the same specs", "the change reverted"])
def test_killed_while_it_drains_the_next_apply_resumes_the_paused_bot(then: str, base_repo: git.Repo, tmp_path: Path) -> None:
    """The drain had sent stopbuy: the bot kept its trades and would open no new one until restarted. The next
    apply resumed nothing when the specs no longer changed the bot (it said "No changes"), so it stayed paused."""
    h = fresh(base_repo, tmp_path, 300)
    drain_alpha_2(h)
    h.bots.crash_in_drain = True
    with pytest.raises(Killed):
        h.apply()
    h.bots.crash_in_drain = False
    assert h.statuses() == ["applied", "applied", "pending"] and h.bots.entries_stopped == {"alpha-2"}
    h.bots.open_trades["alpha-2"] = 0  # its trade closed meanwhile
    if then == "the change reverted":
        h.edit("fleet/bots.yaml", "stoploss: -0.07", "stoploss: -0.08")
    outcome = h.apply()
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    assert h.bots.entries_stopped == set() and "alpha-2 reload_config" in h.bots.posts
    assert any("alpha-2: entries resumed" in line for line in h.progress)
    assert h.statuses()[2] == "interrupted" and h.actions() == []


@pytest.mark.parametrize("how", ["apply --no-rollback", "rollback --to 2"])
def test_killed_in_the_health_wait_of_an_apply_without_rollback_is_failed_not_rolled_back(how: str, base_repo: git.Repo,
                                                                                        tmp_path: Path) -> None:
    """Uninterrupted, the revision would have stayed in place, failed (exit 1): ``--no-rollback`` says so, and
    ``rollback --to`` never rolls back. The next run used its own setting instead, and rolled it back."""
    from engine.flow import apply_plan, plan_commit, plan_revision
    from engine.resume import pending_note

    h = fresh(base_repo, tmp_path, 400)
    broken = raise_every_candle(h)
    if how == "rollback --to 2":
        assert h.apply().status is RevisionStatus.ROLLED_BACK  # revision 2 runs the strategy that raises; back to 1
    h.bots.crash_on_ping = True
    ctx = h.context()
    with pytest.raises(Killed):
        if how == "apply --no-rollback":
            apply_plan(ctx, plan_commit(ctx, h.root, None, proof=False), rollback=False)
        else:
            apply_plan(ctx, plan_revision(ctx, RevisionStore(h.state).get(2)), rollback=False, event="rollback")
    h.bots.crash_on_ping = False
    note = pending_note(h.context())
    assert note is not None and "mark it failed and leave it in place (it was applied without rollback)" in note
    outcome = h.apply()  # the next apply, with rollback on (the default)
    assert outcome.status is RevisionStatus.FAILED, outcome.message
    assert "not rolled back" in outcome.message and h.statuses()[-1] == "failed"
    assert runs_broken_strategy(h, broken) == ["alpha-1", "alpha-2"]  # left in place, as that apply would have left it
