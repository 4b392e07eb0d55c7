"""The watcher's loop against the fakes and a real bare git repository, in seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.live.store import RevisionStore
from engine.watch.journal import Journal
from tests.support.repos import move_into_submodule
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
    mutations = w.backend.mutations
    bad = origin.push("typo", origin.edit("fleet/bots.yaml", "wallet: main", "wallet: mian"))
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="quarantine")
    assert "wallet 'mian' is not defined" in w.watcher.queue.view().quarantined[bad]
    assert w.backend.mutations == mutations
    assert Journal(w.watcher.ctx.state_dir).get(bad).status == "quarantined"  # type: ignore[union-attr]
    fixed = origin.push("fix", origin.edit("fleet/bots.yaml", "wallet: mian", "wallet: main"))
    w.until(lambda: w.applied() == fixed, what="the fix")


@pytest.mark.freqtrade
def test_a_commit_freqtrade_would_refuse_is_quarantined_like_a_bad_spec(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    from engine.check import CheckSettings
    from tests.conftest import FREQTRADE_CHECK

    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    w.watcher.ctx.freqtrade_check = CheckSettings(None, "unix:///nonexistent/docker.sock", FREQTRADE_CHECK)  # judged by .venv-freqtrade
    mutations = w.backend.mutations
    bad = origin.push("unlimited everything", origin.edit("fleet/bots.yaml", "stake_amount: unlimited", "stake_amount: unlimited\nmax_open_trades: -1"))
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="quarantine")
    assert ("fleet/bots.yaml:32:18: error: bot 'beta-1': FreqTrade 2026.9 would refuse to start with this config: `max_open_trades` and "
            "`stake_amount` cannot both be unlimited.") in w.watcher.queue.view().quarantined[bad]
    assert w.backend.mutations == mutations


def test_a_stopped_container_is_restored_without_a_new_revision(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    w.backend.stop("testfleet-small-1")
    w.until(lambda: w.backend.units["testfleet-small-1"].state == "running", what="the repair")
    w.until(lambda: Journal(w.watcher.ctx.state_dir).repairs() != [], what="the repair's record")  # written after the repair
    assert len(RevisionStore(w.watcher.ctx.state_dir).all()) == 1
    repairs = Journal(w.watcher.ctx.state_dir).repairs()
    assert repairs and repairs[0].actions == ["container/testfleet-small-1 start"] and repairs[0].revision == 1


def test_settings_changed_by_hand_are_set_back_in_place_without_a_new_revision(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    standard = w.backend.units["testfleet-standard-1"]
    pids = dict(standard.pids)
    standard.by_hand.update(memory=256 << 20, restart="no")  # docker update --memory 256m --restart no
    w.until(lambda: not standard.by_hand, what="the repair")
    w.until(lambda: bool(Journal(w.watcher.ctx.state_dir).repairs()), what="the repair's record (written once it is done)")
    assert w.backend.units["testfleet-standard-1"] is standard and standard.pids == pids  # in place: no bot restarted
    assert len(RevisionStore(w.watcher.ctx.state_dir).all()) == 1
    repairs = Journal(w.watcher.ctx.state_dir).repairs()
    assert repairs and repairs[0].actions == ["container/testfleet-standard-1 update"] and repairs[0].revision == 1


def test_chaos_many_commits_lost_and_repeated_webhooks(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    """20 commits pushed while applies run (each held 0.3 s in its health wait); half the webhooks
    dropped, the rest delivered twice and late: the fleet ends at the last commit, every commit
    is accounted for, none applied twice."""
    import random

    from engine.backend.fake import FakeBackend
    from engine.context import Context
    from engine.flow import plan_commit
    from engine.live.fake_bots import Behaviour, FakeBots
    from tests.watch.conftest import IMAGE

    bots = FakeBots(FakeBackend(images=(IMAGE,)))
    bots.behave(Behaviour(ping_delay=0.3))  # every bot is slow to answer: applies sit in their health wait
    w: RunningWatcher = watching(bots, interval=1.0)
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
    ctx = Context(w.watcher.ctx.state_dir, bots.ports(), lambda _l: None, {})
    assert plan_commit(ctx, origin.root, None, proof=False).plan.changes == ()  # the fleet is exactly the last commit
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
        w.backend.kill_program("testfleet-standard-1", "beta-1")
        w.until(lambda: w.backend.units["testfleet-standard-1"].programs["beta-1"] in ("RUNNING", "STOPPED"), what=f"repair {attempt}")
        if "beta-1" in w.watcher.guard.failing:
            break
    assert "beta-1" in w.watcher.guard.failing and attempt + 1 >= 3
    restarts = w.backend.log.count("supervisor testfleet-standard-1 restart beta-1")
    w.backend.kill_program("testfleet-standard-1", "beta-1")
    import time

    time.sleep(1.0)  # several resyncs
    assert w.backend.log.count("supervisor testfleet-standard-1 restart beta-1") == restarts  # not restarted any more
    assert w.watcher.status()["failing"]["beta-1"].startswith("3 restarts within 300 s")


def test_history_shows_repairs_under_the_revision_they_restored(origin: Origin, watching, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    w.backend.stop("testfleet-small-1")
    w.until(lambda: Journal(w.watcher.ctx.state_dir).repairs() != [], what="a repair")
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(w.watcher.ctx.state_dir)}
    out = subprocess.run([sys.executable, "-m", "engine", "history", "--format", "json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    assert [r["revision"] for r in rows] == [1]  # a repair is not a revision
    assert rows[0]["repairs"][0]["actions"] == ["container/testfleet-small-1 start"]
    text = subprocess.run([sys.executable, "-m", "engine", "history"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert "repair" in text.splitlines()[2] and "container/testfleet-small-1 start" in text  # beneath the header and revision 1


def _drop_bots(*names: str):  # type: ignore[no-untyped-def]
    def change(root):  # type: ignore[no-untyped-def]
        path = root / "fleet/bots.yaml"
        docs = path.read_text().split("---\n")
        path.write_text("---\n".join(d for d in docs if not any(d.startswith(f"kind: Bot\nname: {n}\n") for n in names)))
    return change


def test_a_commit_deleting_most_of_the_fleet_is_quarantined_until_a_trailer_allows_it(origin: Origin, watching, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    mutations = w.backend.mutations
    bad = origin.push("move the bots into a submodule", _drop_bots("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"))
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="quarantine")
    reason = w.watcher.queue.view().quarantined[bad]
    assert reason == ("refused: the plan deletes 5 of the 5 bots of fleet 'testfleet' (all of them); if that is intended, push a newer "
                      "commit whose message carries the trailer 'Fleetops-Allow: mass-delete'")
    assert w.backend.mutations == mutations and len(RevisionStore(w.watcher.ctx.state_dir).all()) == 1  # nothing touched or recorded
    assert w.watcher.status()["quarantine"] == [{"commit": bad, "reason": reason}]
    metrics = w.watcher.exposition().decode()
    assert 'fleetops_quarantines_total{reason="mass_delete"} 1.0' in metrics and 'fleetops_applies_total{result="refused"} 1.0' in metrics
    assert "_created" not in metrics  # contract §9
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(w.watcher.ctx.state_dir)}
    rows = json.loads(subprocess.run([sys.executable, "-m", "engine", "history", "--format", "json"], cwd=ROOT, env=env,
                                     capture_output=True, text=True, check=True).stdout)
    assert [(r["revision"], r["status"], r["commit"], r["message"]) for r in rows] == [
        (1, "applied", rows[0]["commit"], rows[0]["message"]), (None, "quarantined", bad, reason)]
    text = subprocess.run([sys.executable, "-m", "engine", "history"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert text.splitlines()[2].split()[:2] == ["-", "quarantined"] and "deletes 5 of the 5 bots" in text
    allowed = origin.push("yes, retire the whole fleet\n\nFleetops-Allow: mass-delete")
    w.until(lambda: w.applied() == allowed, what="the allowed commit")
    assert not any(n.startswith("testfleet-") for n in w.backend.units)


def test_a_rename_through_the_watcher_needs_its_trailer_and_then_moves_every_bot(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    w.until(lambda: w.applied() is not None)
    renamed = origin.push("rename the fleet", origin.edit("fleet/fleet.yaml", "name: testfleet", "name: newfleet"))
    w.until(lambda: renamed in w.watcher.queue.view().quarantined, what="quarantine")
    assert "renames fleet 'testfleet' to 'newfleet'" in w.watcher.queue.view().quarantined[renamed]
    assert 'fleetops_quarantines_total{reason="rename"} 1.0' in w.watcher.exposition().decode()
    assert w.watcher.fleet == "testfleet"  # it keeps healing the fleet that runs
    w.backend.stop("testfleet-small-1")
    w.until(lambda: w.backend.units["testfleet-small-1"].state == "running", what="the old name healed")
    allowed = origin.push("rename it\n\nFleetops-Allow: rename")
    w.until(lambda: w.applied() == allowed, what="the rename")
    assert sorted(w.backend.units) == ["newfleet-bot-solo", "newfleet-small-1", "newfleet-standard-1"]
    assert w.watcher.fleet == "newfleet"


def test_other_fleet_names_of_the_state_dir_are_in_the_status_and_metrics(origin: Origin, watching, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import git

    from engine.backend.fake import FakeBackend
    from engine.live.fake_bots import FakeBots
    from tests.live.harness import Harness
    from tests.watch.conftest import IMAGE

    backend = FakeBackend(images=(IMAGE,))
    w: RunningWatcher = watching(FakeBots(backend))
    w.until(lambda: w.applied() is not None)
    copy = git.Repo.clone_from(origin.bare, tmp_path / "copy")
    other = Harness(copy, w.watcher.ctx.state_dir, backend)
    (other.root / "fleet/fleet.yaml").write_text((other.root / "fleet/fleet.yaml").read_text().replace("name: testfleet", "name: oldname"))
    assert other.apply().status.value == "applied"  # a second name applied from the same state dir
    w.until(lambda: 'fleetops_other_fleet_bots{fleet="oldname",state="running"} 5.0' in w.watcher.exposition().decode(), what="metrics")
    others = w.watcher.status()["other_fleets"]
    assert [(o["fleet"], o["bot_states"]) for o in others] == [("oldname", {"running": 5})]


def _into_submodule(origin: Origin) -> Callable[[Path], None]:
    return lambda _root: move_into_submodule(origin.work, "fleet/bots", ["fleet/bots.yaml"])


def _into_symlink(origin: Origin) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / "docs").mkdir()
        (root / "fleet/bots.yaml").rename(root / "docs/bots.yaml")
        (root / "fleet/bots.yaml").symlink_to("../docs/bots.yaml")
    return change


def _into_lfs(origin: Origin) -> Callable[[Path], None]:
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 881\n"
    return lambda root: (root / "fleet/bots.yaml").write_text(pointer)


@pytest.mark.parametrize(("shape", "reason"), [
    (_into_submodule, "fleet/bots:1:1: error: fleet/bots is a git submodule or nested repository"),
    (_into_symlink, "fleet/bots.yaml:1:1: error: fleet/bots.yaml is a symbolic link"),
    (_into_lfs, "fleet/bots.yaml:1:1: error: fleet/bots.yaml is a Git LFS pointer"),
], ids=["submodule", "symlink", "lfs-pointer"])
def test_a_commit_whose_bots_moved_out_of_reach_is_quarantined_not_applied(  # type: ignore[no-untyped-def]
    origin: Origin, watching, shape: Callable[[Origin], Callable[[Path], None]], reason: str
) -> None:
    """Issue 17: bot specs moved into a submodule read as 0 bots from git objects, and the watcher
    deleted every bot. Now the commit is refused with a located reason, and nothing is touched."""
    w: RunningWatcher = watching()
    head = origin.work.head.commit.hexsha
    w.until(lambda: w.applied() == head, what="the first apply")
    containers = sorted(w.backend.units)
    mutations = w.backend.mutations
    bad = origin.push("move the bot specs", shape(origin))
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="quarantine")
    assert w.watcher.queue.view().quarantined[bad].startswith(reason)
    assert Journal(w.watcher.ctx.state_dir).get(bad).status == "quarantined"  # type: ignore[union-attr]
    w.watcher.heal_once()  # a resync after the quarantine repairs back to what runs, never to the commit
    assert w.backend.mutations == mutations
    assert sorted(w.backend.units) == containers and all(c.state == "running" for c in w.backend.units.values())
    assert w.applied() == head


SENTENCE = r"could not (clone|fetch) (?P<remote>\S+): git says \"[^\n]+\"; (?P<advice>[^\n]+) \(the watcher tries again with backoff\)"


@pytest.mark.parametrize(("remote", "advice"), [
    ("{tmp}/no-such-repo.git", "check the --repo address: it must name an existing git repository"),
    ("file://{tmp}", "check the --repo address: it must name an existing git repository"),
    ("https://fleet-bot:s3cret-token@127.0.0.1:1/fleet.git", "check the address and the network"),
    ("theirs", "it belongs to another user; if you trust it, run `git config --global --add safe.directory "),
    ("gone", "check the --repo address: it must name an existing git repository"),
], ids=["missing", "not-a-repository", "unreachable-with-credentials", "another-users", "removed-after-clone"])
def test_a_failed_fetch_is_one_sentence_naming_the_remote_and_what_to_do(  # type: ignore[no-untyped-def]
    remote: str, advice: str, origin: Origin, tmp_path, monkeypatch
) -> None:
    """Issue 17: the watcher logged git's last stderr line ("and the repository exists.")."""
    import os
    import re
    import shutil

    from engine.backend.fake import FakeBackend
    from engine.context import Context
    from engine.errors import SourceError
    from engine.live.fake_bots import FakeBots
    from engine.watch.daemon import Watcher, WatchOptions
    from engine.watch.logs import WatchLog
    from engine.watch.mirror import GitMirror
    from tests.watch.conftest import IMAGE, _Lines

    if remote == "theirs":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the repository to another user")
        remote = str(tmp_path / "theirs.git")
        shutil.copytree(origin.bare, remote)
        for directory, _dirs, files in os.walk(remote):
            for name in [directory, *(os.path.join(directory, f) for f in files)]:
                os.lchown(name, 12345, 12345)
        config = tmp_path / "gitconfig"
        config.write_text("")
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    elif remote == "gone":
        remote = str(tmp_path / "gone.git")
        shutil.copytree(origin.bare, remote)
        GitMirror(remote, tmp_path / "state", "main").fetch()
        shutil.rmtree(remote)
    remote = remote.format(tmp=tmp_path)
    lines: list[str] = []
    watcher = Watcher(Context(tmp_path / "state", FakeBots(FakeBackend(images=(IMAGE,))).ports(), lambda _l: None, {}),
                      WatchOptions(remote, "main"), WatchLog("text", _Lines(lines)))  # type: ignore[arg-type]
    assert watcher.poll_once() is False
    message = watcher.fetch_error or ""
    match = re.fullmatch(SENTENCE, message)
    assert match is not None and match["advice"].startswith(advice), message
    assert "s3cret" not in message and "fleet-bot" not in message and "s3cret" not in "\n".join(lines)
    assert lines[-1].endswith(message) and watcher.metrics.fetch_errors._value.get() == 1  # type: ignore[attr-defined]
    with pytest.raises(SourceError):
        watcher.mirror.fetch()


def test_a_commit_whose_apply_was_killed_in_its_health_wait_is_rolled_back_and_quarantined(  # type: ignore[no-untyped-def]
        origin: Origin, watching, tmp_path) -> None:
    """The watcher was killed while a commit's bots sat in their health wait; restarted, it runs that gate, rolls
    the fleet back and quarantines the commit, as it would have without the kill (not "unchanged": the bots ran it)."""
    import pytest

    from engine.backend.fake import FakeBackend, Killed
    from engine.context import Context
    from engine.flow import apply_plan, plan_commit
    from engine.live.fake_bots import STRATEGY_ERROR, Behaviour, FakeBots
    from tests.watch.conftest import IMAGE

    bots = FakeBots(FakeBackend(images=(IMAGE,)))
    ctx = Context(tmp_path / "state", bots.ports(), lambda _l: None, {})
    assert apply_plan(ctx, plan_commit(ctx, origin.root, None, proof=False)).revision == 1
    strategy = origin.root / "strategies/Alpha.py"
    broken = strategy.read_text() + "\n# v3: raises every candle\n"
    bots.behave(Behaviour(strategy_errors=(STRATEGY_ERROR,)), strategy=broken)
    bad = origin.push("Alpha raises every candle", lambda root: (
        strategy.write_text(broken),
        origin.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")(root)), tag="v3")
    bots.crash_on_ping = True
    with pytest.raises(Killed):
        apply_plan(ctx, plan_commit(ctx, origin.root, None, proof=False))
    bots.crash_on_ping = False
    assert [r.status.value for r in RevisionStore(ctx.state_dir).all()] == ["applied", "pending"]
    w: RunningWatcher = watching(bots)
    w.until(lambda: bad in w.watcher.queue.view().quarantined, what="the quarantine")
    assert "rolled back to revision 1" in w.watcher.queue.view().quarantined[bad]
    assert [r.status.value for r in RevisionStore(ctx.state_dir).all()] == ["applied", "rolled_back"]
    assert not any(started.files.strategy[1].decode() == broken for u in bots.backend.units.values() for started in u.running.values())


def test_a_remote_address_with_credentials_is_never_shown_nor_stored(origin: Origin, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 17, item 9: the watcher logged "watching https://user:token@…", served it on /api/status, kept it as the
    fleet's identity in revisions.sqlite and in its mirror's git config. The address reaches git, and nothing else."""
    import json

    import git

    from engine.backend.fake import FakeBackend
    from engine.context import Context
    from engine.live.fake_bots import FakeBots
    from engine.watch.daemon import Watcher, WatchOptions
    from engine.watch.logs import WatchLog
    from tests.watch.conftest import IMAGE, RunningWatcher, _Lines

    remote = "https://fleet-bot:s3cret/t@ken@git.example.com/ops/fleet.git"
    config = tmp_path / "gitconfig"
    config.write_text(f'[url "{origin.bare}"]\n\tinsteadOf = {remote}\n')  # the address resolves to the test's origin
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    state = tmp_path / "state"
    state.mkdir()
    old_mirror = state / "watch" / "old-layout.git"  # a mirror cloned by an earlier fleetops: the address in its config
    git.Repo.clone_from(origin.bare, old_mirror, mirror=True).git.config("remote.origin.url", remote)
    lines: list[str] = []
    bots = FakeBots(FakeBackend(images=(IMAGE,)))
    watcher = Watcher(Context(state, bots.ports(), lambda _l: None, {}), WatchOptions(remote, "main", 0.2, 0.3),
                      WatchLog("text", _Lines(lines)))  # type: ignore[arg-type]
    watcher.mirror.path = old_mirror
    running = RunningWatcher(watcher, bots, lines)
    running.thread.start()
    try:
        running.until(lambda: running.applied() is not None, what="the first apply")
        assert any("watching https://git.example.com/ops/fleet.git branch main" in line for line in lines), lines
        assert "s3cret" not in "\n".join(lines) and "ken@" not in "\n".join(lines)
        assert "s3cret" not in json.dumps(watcher.status()) and "s3cret" not in watcher.origin
    finally:
        watcher.request_stop()
        bots.backend.close_events()
        running.thread.join(timeout=30)
    leaked = [str(p) for p in state.rglob("*") if p.is_file() and b"s3cret" in p.read_bytes()]
    assert leaked == [], leaked


def test_self_heal_never_deletes_most_of_the_fleet_on_its_own(base_repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A failed revision (rollback off) left six new bots running beside five: the repair back to the applied
    revision deleted six of eleven bots, a plan apply refuses without --allow-mass-delete."""
    from engine.watch.guard import FlapGuard
    from engine.watch.heal import DriftConfirmer, heal
    from tests.live.harness import Harness
    from tests.live.test_apply_with_fakes import add_bot, break_alpha
    from tests.support.repos import commit

    h = Harness(base_repo, tmp_path / "state")
    h.fast_health()
    assert h.apply().status.value == "applied"
    break_alpha(h)  # Alpha@v3 never answers
    for i in range(6):
        add_bot(h, f"new-{i}", "standard")
    (h.root / "fleet/bots.yaml").write_text((h.root / "fleet/bots.yaml").read_text().replace(
        "name: new-0\nwallet: main\nallocation: 100\npool: standard\nstrategy: Alpha@v1", "name: new-0\nwallet: main\nallocation: 100\npool: standard\nstrategy: Alpha@v3"))
    commit(h.repo, "six more bots")
    assert h.apply(rollback=False).status.value == "failed"  # left in place: eleven bots run
    h.backend.log.clear()
    lines: list[str] = []
    heal(h.context(), "testfleet", FlapGuard(), Journal(h.state), [], lines.append, DriftConfirmer(0.0))
    assert any("not repairing by deleting" in line and "deletes 6 of the 11 bots" in line for line in lines), lines
    assert not any("remove" in m for m in h.backend.log), h.backend.log
    assert sorted(p for c in h.backend.units.values() for p in c.programs if p.startswith("new-")) == [f"new-{i}" for i in range(6)]


def test_events_bring_a_stopped_container_back_long_before_the_resync(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    """The container's ``die`` event, not the 30 s resync, starts the repair: back after the drift's 2 s grace."""
    import time

    w: RunningWatcher = watching(resync=30.0)
    w.until(lambda: w.applied() is not None)
    w.until(lambda: w.watcher.live is not None and not w.watcher.confirmer.drifting, what="a quiet fleet")
    stopped = time.monotonic()
    w.backend.stop("testfleet-small-1")
    w.until(lambda: w.backend.units["testfleet-small-1"].state == "running", timeout=10, what="the repair")
    assert time.monotonic() - stopped < 5.0  # well inside the 30 s resync: the event woke it
    assert "repair: container/testfleet-small-1 start" in "\n".join(w.lines)


def test_every_restart_of_a_pool_bot_is_counted_whoever_killed_it(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    """supervisord restarts a killed bot by itself (no repair): each exit is still counted once, from the
    pool's process table, said in the log, in /api/status and in a metric; the third makes it failing."""
    import time

    w: RunningWatcher = watching(resync=30.0, flap_limit=3)
    w.until(lambda: w.applied() is not None)
    time.sleep(1.5)  # exits within 1 s of the watcher's own apply are its own; and the events are followed by then
    unit = w.backend.units["testfleet-standard-1"]
    for kill in range(1, 4):
        pid = unit.pids["beta-1"]
        w.backend.kill_program("testfleet-standard-1", "beta-1", state="RUNNING")  # supervisord's autorestart: a new pid at once
        w.until(lambda pid=pid: f"bot beta-1 restarted: its process exited (pid {pid})" in "\n".join(w.lines), timeout=10,  # type: ignore[misc]
                what=f"kill {kill} counted")
        if kill < 3:
            assert w.watcher.status()["restarts"]["beta-1"]["count"] == kill
    w.until(lambda: "beta-1" in w.watcher.guard.failing, timeout=10, what="the flap guard")
    assert w.watcher.guard.failing["beta-1"].startswith("3 restarts within 300 s (last: its process exited")
    w.until(lambda: unit.programs["beta-1"] == "STOPPED", what="the failing bot stopped")
    assert "bot beta-1 is failing" in "\n".join(w.lines)
    status = w.watcher.status()
    assert status["failing"]["beta-1"] == w.watcher.guard.failing["beta-1"]
    assert status["restarts"]["beta-1"]["count"] == 3 and status["restarts"]["beta-1"]["limit"] == 3
    counted = 'fleetops_bot_restarts_counted_total{bot="beta-1",cause="process_exited"} 3.0'
    w.until(lambda: counted in w.watcher.exposition().decode(), timeout=5, what="the metric (counted once the heal pass returns)")
    assert "supervisor testfleet-standard-1 restart beta-1" not in w.backend.log  # it never needed a repair


def test_an_apply_made_outside_the_watcher_is_out_of_sync_then_brought_back(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    from engine.context import Context
    from engine.flow import apply_plan, plan_commit
    from engine.live.store import apply_lock
    from engine.watch.sync import Sync
    from tests.support.repos import commit

    w: RunningWatcher = watching(resync=30.0)
    head = origin.work.head.commit.hexsha
    w.until(lambda: w.applied() == head)
    w.until(lambda: w.watcher.sync().status is Sync.SYNCED, what="Synced")
    ALPHA = origin.edit(*ALPHA2_STOPLOSS)
    ALPHA(origin.root)
    unpushed = commit(origin.work, "by hand, never pushed")
    ctx = Context(w.watcher.ctx.state_dir, w.bots.ports(), lambda _l: None, {})
    with apply_lock(ctx.state_dir):
        outcome = apply_plan(ctx, plan_commit(ctx, origin.root, unpushed, proof=False), message="by hand")
    assert outcome.revision == 2
    w.until(lambda: "the fleet is OutOfSync: revision 2 was applied from commit " + unpushed[:12] in "\n".join(w.lines), timeout=10,
            what="the out-of-sync line")
    line = next(x for x in w.lines if "the fleet is OutOfSync" in x)
    assert f"applying {head[:12]} again to bring it back to the head of main" in line
    w.until(lambda: w.watcher.sync().status is Sync.SYNCED and w.watcher.sync().revision == 3, timeout=10, what="back at the head")
    revisions = RevisionStore(w.watcher.ctx.state_dir).all()
    assert [(r.number, r.commit, r.status.value) for r in revisions] == [(1, head, "applied"), (2, unpushed, "applied"), (3, head, "applied")]


def test_the_flap_guard_counts_each_restart_once_however_it_is_seen() -> None:
    """An exit seen by an event and again by a pass (its pid changed) is one restart; a death and the repair
    that answers it are one flap; a bot seen running again makes the next repair a new restart."""
    from engine.watch.guard import FlapGuard

    guard = FlapGuard(limit=3, window=300.0, clock=lambda: 1000.0)
    guard.observe_pids({"a": 10})
    assert guard.exited("a", 10, "its process exited (pid 10)") is False
    assert guard.exited("a", 10, "its process exited (pid 10)") is None  # the same exit, told twice
    assert guard.observe_pids({"a": 11}) == []  # the pass sees pid 10 replaced: counted already
    assert guard.recent("a") == 1
    guard.observe_pids({"b": 20})
    assert guard.observe_pids({"b": 21}) == ["b"]  # no event told it (the stream was down): the pass counts it
    assert guard.count("b", "supervisord restarted its process") is False
    assert guard.exited("b", 20, "late event") is None  # the late event for that exit
    assert guard.died("solo", "its container died") is False
    assert guard.restarting("solo", "container/testfleet-bot-solo start") is None  # the same flap
    guard.running({"solo"})
    assert guard.restarting("solo", "container/testfleet-bot-solo start") is False  # a new one
    assert guard.exited("a", 11, "its process exited (pid 11)") is False
    assert guard.exited("a", 12, "its process exited (pid 12)") is True  # the third within the window
    assert guard.failing["a"] == "3 restarts within 300 s (last: its process exited (pid 12))"
    assert guard.restarts() == {
        "a": {"count": 3, "limit": 3, "window": 300.0, "last": "its process exited (pid 12)", "at": guard.restarts()["a"]["at"]},
        "b": {"count": 1, "limit": 3, "window": 300.0, "last": "supervisord restarted its process", "at": guard.restarts()["b"]["at"]},
        "solo": {"count": 2, "limit": 3, "window": 300.0, "last": "container/testfleet-bot-solo start", "at": guard.restarts()["solo"]["at"]}}


def test_unit_events_and_pool_exits_come_in_one_stream_and_a_broken_stream_is_raised() -> None:
    """``engine.backend.unit_events.follow``: the backend's events as they come, an ``exit`` per pid gone from a
    pool's process table (none for a pool that stopped answering, nor for its new pids after), errors re-raised."""
    import queue as queues
    import threading

    from engine.backend.port import ProcessInfo, ProcessTables, UnitEvent
    from engine.backend.unit_events import follow
    from engine.errors import DockerError, SupervisorError

    tables: list[ProcessTables] = [
        {"pool-1": {"a": ProcessInfo("a", "RUNNING", 10), "b": ProcessInfo("b", "RUNNING", 20)}},
        {"pool-1": {"a": ProcessInfo("a", "RUNNING", 11), "b": ProcessInfo("b", "RUNNING", 20)}},  # a killed, restarted
        {"pool-1": {"a": ProcessInfo("a", "BACKOFF", 0), "b": ProcessInfo("b", "RUNNING", 20)}},  # a killed while starting
        {"pool-1": SupervisorError("supervisord in pool-1 did not answer")},  # the container stopped
        {"pool-1": {"a": ProcessInfo("a", "RUNNING", 30), "b": ProcessInfo("b", "RUNNING", 31)}},  # started again: not exits
    ]
    inbox: queues.Queue[UnitEvent | Exception] = queues.Queue()

    def unit_events():  # type: ignore[no-untyped-def]
        while True:
            item = inbox.get()
            if isinstance(item, Exception):
                raise item
            yield item

    looks = iter(tables)
    stream = follow(unit_events, lambda: ["pool-1"], lambda units: next(looks, tables[-1]), interval=0.01)
    seen = [next(stream), next(stream)]
    assert seen == [UnitEvent("pool-1", "exit", bot="a", pid=10), UnitEvent("pool-1", "exit", bot="a", pid=11)]
    threading.Timer(0.3, lambda: inbox.put(UnitEvent("testfleet-bot-solo", "die"))).start()  # after every look above
    assert next(stream) == UnitEvent("testfleet-bot-solo", "die")  # and no exit before it
    inbox.put(DockerError("the Docker event stream ended"))
    with pytest.raises(DockerError, match="the Docker event stream ended"):
        next(stream)
