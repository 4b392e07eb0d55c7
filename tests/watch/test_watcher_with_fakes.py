"""The watcher's loop against the fakes and a real bare git repository, in seconds."""

from __future__ import annotations

from engine.live.store import RevisionStore
from engine.watch.journal import Journal
from tests.watch.conftest import Origin, RunningWatcher

ALPHA2_STOPLOSS = ("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")


def test_the_head_is_applied_then_each_new_commit(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    head = origin.work.head.commit.hexsha
    w.until(lambda: w.applied() == head, what="the first apply")
    new = origin.push("tighten alpha-2", origin.edit(*ALPHA2_STOPLOSS))
    w.until(lambda: w.applied() == new, what="the second commit")
    revisions = RevisionStore(w.watcher.ctx.state_dir).all()
    assert [(r.commit, r.status.value) for r in revisions] == [(head, "applied"), (new, "applied")]


def test_an_invalid_commit_is_quarantined_and_nothing_changes(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    mutations = w.engine.mutations
    bad = origin.push("typo", origin.edit("fleet/bots.yaml", "wallet: main", "wallet: mian"))
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="quarantine")
    assert "wallet 'mian' is not defined" in w.watcher.queue.view().quarantined[bad]
    assert w.engine.mutations == mutations
    assert Journal(w.watcher.ctx.state_dir).get(bad).status == "quarantined"  # type: ignore[union-attr]
    fixed = origin.push("fix", origin.edit("fleet/bots.yaml", "wallet: mian", "wallet: main"))
    w.until(lambda: w.applied() == fixed, what="the fix")


def test_a_stopped_container_is_restored_without_a_new_revision(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    w.engine.stop("testfleet-small-1")
    w.until(lambda: w.engine.containers["testfleet-small-1"].state == "running", what="the repair")
    assert len(RevisionStore(w.watcher.ctx.state_dir).all()) == 1
    repairs = Journal(w.watcher.ctx.state_dir).repairs()
    assert repairs and repairs[0].actions == ["container/testfleet-small-1 start"] and repairs[0].revision == 1


def test_settings_changed_by_hand_are_set_back_in_place_without_a_new_revision(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    standard = w.engine.containers["testfleet-standard-1"]
    pids = dict(standard.pids)
    standard.by_hand.update(memory=256 << 20, restart="no")  # docker update --memory 256m --restart no
    w.until(lambda: not standard.by_hand, what="the repair")
    assert w.engine.containers["testfleet-standard-1"] is standard and standard.pids == pids  # in place: no bot restarted
    assert len(RevisionStore(w.watcher.ctx.state_dir).all()) == 1
    repairs = Journal(w.watcher.ctx.state_dir).repairs()
    assert repairs and repairs[0].actions == ["container/testfleet-standard-1 update"] and repairs[0].revision == 1


def test_chaos_many_commits_lost_and_repeated_webhooks(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    """20 commits pushed while applies run (each held 0.3 s in its health wait); half the webhooks
    dropped, the rest delivered twice and late: the fleet ends at the last commit, every commit
    is accounted for, none applied twice."""
    import random

    from engine.flow import Context, plan_specs
    from engine.live.fakes import FakeEngine
    from tests.watch.conftest import IMAGE

    engine = FakeEngine(images=(IMAGE,))
    engine.probe_delay = 0.3
    w: RunningWatcher = watching(engine, interval=1.0)
    first = origin.work.head.commit.hexsha
    w.until(lambda: w.applied() == first, what="the first apply")
    rng = random.Random(7)
    pushed = []
    late: list[int] = []
    for i in range(20):
        pushed.append(origin.push(f"stoploss {i}", origin.edit("fleet/bots.yaml", f"stoploss: -0.{8 + i:02d}" if i else "stoploss: -0.08",
                                                               f"stoploss: -0.{9 + i:02d}")))
        if rng.random() < 0.5:
            late += [i, i]
        if late and rng.random() < 0.5:
            late.pop(rng.randrange(len(late)))
            w.watcher.wake_fetch()
    for _ in late:
        w.watcher.wake_fetch()
    w.until(lambda: w.applied() == pushed[-1], timeout=60, what="the last commit")
    ctx = Context(w.watcher.ctx.state_dir, engine.ports(), lambda _l: None, {})
    assert plan_specs(ctx, origin.root, None).plan.changes == ()  # the fleet is exactly the last commit
    journal = Journal(w.watcher.ctx.state_dir)
    statuses = {sha: journal.get(sha).status for sha in [first, *pushed]}  # type: ignore[union-attr]
    assert set(statuses.values()) <= {"applied", "superseded"}, statuses
    assert statuses[pushed[-1]] == "applied" and list(statuses.values()).count("superseded") >= 1
    commits = [r.commit for r in RevisionStore(w.watcher.ctx.state_dir).all()]
    assert len(commits) == len(set(commits))  # none applied twice


def test_a_bot_killed_again_and_again_is_marked_failing_not_looped(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching(resync=0.2, flap_limit=3)
    w.until(lambda: w.applied() is not None)
    for attempt in range(10):  # each kill is repaired (a restart, counted) until the guard says failing
        w.engine.kill_program("testfleet-standard-1", "beta-1")
        w.until(lambda: w.engine.containers["testfleet-standard-1"].programs["beta-1"] in ("RUNNING", "STOPPED"), what=f"repair {attempt}")
        if "beta-1" in w.watcher.guard.failing:
            break
    assert "beta-1" in w.watcher.guard.failing and attempt + 1 >= 3
    restarts = w.engine.log.count("supervisor testfleet-standard-1 restart beta-1")
    w.engine.kill_program("testfleet-standard-1", "beta-1")
    import time

    time.sleep(1.0)  # several resyncs
    assert w.engine.log.count("supervisor testfleet-standard-1 restart beta-1") == restarts  # not restarted any more
    assert w.watcher.status()["failing"]["beta-1"].startswith("3 restarts within 300 s")


def test_history_shows_repairs_under_the_revision_they_restored(origin: Origin, watching, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    w.engine.stop("testfleet-small-1")
    w.until(lambda: Journal(w.watcher.ctx.state_dir).repairs() != [], what="a repair")
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(w.watcher.ctx.state_dir)}
    out = subprocess.run([sys.executable, "-m", "engine", "history", "--format", "json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    assert [r["revision"] for r in rows] == [1]  # a repair is not a revision
    assert rows[0]["repairs"][0]["actions"] == ["container/testfleet-small-1 start"]
    text = subprocess.run([sys.executable, "-m", "engine", "history"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert "repair" in text.splitlines()[1] and "container/testfleet-small-1 start" in text


def test_a_commit_whose_apply_was_killed_in_its_health_wait_is_rolled_back_and_quarantined(  # type: ignore[no-untyped-def]
        origin: Origin, watching, tmp_path) -> None:
    """The watcher was killed while a commit's bots sat in their health wait; restarted, it runs that gate, rolls
    the fleet back and quarantines the commit, as it would have without the kill (not "unchanged": the bots ran it)."""
    import pytest

    from engine.flow import Context, apply_plan, plan_specs
    from engine.live.fakes import FakeEngine, Killed
    from tests.watch.conftest import IMAGE

    engine = FakeEngine(images=(IMAGE,))
    ctx = Context(tmp_path / "state", engine.ports(), lambda _l: None, {})
    assert apply_plan(ctx, plan_specs(ctx, origin.root, None)).revision == 1
    strategy = origin.root / "strategies/Alpha.py"
    bad = origin.push("Alpha raises every candle", lambda root: (
        strategy.write_text(strategy.read_text() + "\n# LOOPERROR\n"),
        origin.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")(root)), tag="v3")
    engine.crash_on_ping = True
    with pytest.raises(Killed):
        apply_plan(ctx, plan_specs(ctx, origin.root, None))
    engine.crash_on_ping = False
    assert [r.status.value for r in RevisionStore(ctx.state_dir).all()] == ["applied", "pending"]
    w: RunningWatcher = watching(engine=engine)
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="the quarantine")
    assert "rolled back to revision 1" in w.watcher.queue.view().quarantined[bad]
    assert [r.status.value for r in RevisionStore(ctx.state_dir).all()] == ["applied", "rolled_back"]
    assert not any("LOOPERROR" in text for c in engine.containers.values() for b, text in c.started_strategy.items()
                   if engine.running_config(c.definition.name, b) is not None)
