"""The sync status (``engine.watch.sync``): Argo CD's Synced / OutOfSync / Unknown for a fleet and its branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.live.store import Revision, RevisionStatus, RevisionStore
from engine.watch.journal import Journal
from engine.watch.mirror import GitMirror, recorded_head
from engine.watch.sync import Sync, sync_from_state, sync_info
from tests.watch.conftest import Origin, RunningWatcher

HEAD = "a" * 40
OTHER = "b" * 40


def _revision(number: int = 4, commit: str | None = HEAD, dirty: bool = False) -> Revision:
    return Revision(number, "testfleet", commit, "main", dirty, RevisionStatus.APPLIED, "2026-12-01T00:00:00+00:00", None, "", "{}", {}, {})


@pytest.mark.parametrize(("live", "head", "unchanged_at", "drift", "status", "reason"), [
    (_revision(), HEAD, None, (), Sync.SYNCED, ""),
    (_revision(commit=OTHER), HEAD, None, (), Sync.OUT_OF_SYNC, f"revision 4 was applied from commit {OTHER[:12]}, not from the head of "
                                                                f"main ({HEAD[:12]})"),
    (_revision(commit=OTHER), HEAD, 4, (), Sync.SYNCED, ""),  # the head changed nothing in the fleet while revision 4 ran
    (_revision(number=5, commit=OTHER), HEAD, 4, (), Sync.OUT_OF_SYNC, f"revision 5 was applied from commit {OTHER[:12]}, not from the "
                                                                      f"head of main ({HEAD[:12]})"),  # applied by hand since
    (_revision(dirty=True), HEAD, None, (), Sync.OUT_OF_SYNC, f"revision 4 was applied from a working tree with uncommitted changes, "
                                                            f"not from main ({HEAD[:12]})"),
    (_revision(commit=None), HEAD, None, (), Sync.OUT_OF_SYNC, f"revision 4 was applied from no commit, not from the head of main "
                                                             f"({HEAD[:12]})"),
    (_revision(), HEAD, None, ("container/testfleet-small-1", "bot/a", "bot/b", "bot/c"), Sync.OUT_OF_SYNC,
     "the live fleet drifts from revision 4: container/testfleet-small-1, bot/a, bot/b (+1 more)"),
    (_revision(), None, None, (), Sync.UNKNOWN, "the head of branch main is not known (no watcher has fetched it from this state dir)"),
    (None, HEAD, None, (), Sync.UNKNOWN, "no revision of this fleet was applied yet"),
])
def test_sync_status_from_its_facts(live: Revision | None, head: str | None, unchanged_at: int | None, drift: tuple[str, ...],
                                    status: Sync, reason: str) -> None:
    info = sync_info(live, head, branch="main", head_unchanged_at=unchanged_at, drift=drift)
    assert (info.status, info.reason) == (status, reason)
    assert info.labels() == {"revision": "" if live is None else str(live.number), "commit": (live.commit or "") if live else "",
                             "branch_head": head or "", "status": status.value}
    assert info.out_of_band == (status is Sync.OUT_OF_SYNC and not drift and head is not None)


def test_the_head_a_watcher_fetched_is_read_from_its_mirror_without_git(origin: Origin, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert recorded_head(state, "main") is None
    mirror = GitMirror(str(origin.bare), state, "main")
    head = mirror.fetch()
    assert recorded_head(state, "main") == head == origin.work.head.commit.hexsha
    mirror._git("pack-refs", "--all", cwd=mirror.path)  # packed, as git gc leaves them
    assert not (mirror.path / "refs" / "heads" / "main").exists()
    assert recorded_head(state, "main") == head
    assert recorded_head(state, "nope") is None


def test_the_watcher_and_serve_agree_on_the_sync_status(origin: Origin, watching) -> None:  # type: ignore[no-untyped-def]
    w: RunningWatcher = watching()
    head = origin.work.head.commit.hexsha
    w.until(lambda: w.applied() == head, what="the first apply")
    w.until(lambda: w.watcher.status()["sync"]["status"] == "Synced", what="Synced")
    assert w.watcher.status()["sync"] == {"status": "Synced", "reason": "", "revision": 1, "commit": head, "branch": "main",
                                          "branch_head": head, "drift": []}
    state = w.watcher.ctx.state_dir
    assert sync_from_state(state, RevisionStore.open_readonly(state), None).to_json() == w.watcher.status()["sync"]
    readme = origin.push("docs only", lambda root: (root / "README.md").write_text("no fleet change\n"))
    w.until(lambda: w.applied() == readme, what="the docs-only commit")
    assert Journal(state).get(readme).status == "unchanged"  # type: ignore[union-attr]
    w.until(lambda: w.watcher.sync().branch_head == readme)
    assert (w.watcher.sync().status, w.watcher.sync().revision, w.watcher.sync().commit) == (Sync.SYNCED, 1, head)
    assert sync_from_state(state, RevisionStore.open_readonly(state), "testfleet").status is Sync.SYNCED
