"""The revision store and the apply lock."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from engine.errors import StateError
from engine.live.store import RevisionStatus, RevisionStore, apply_lock


def test_revisions_are_monotonic_and_an_interrupted_apply_is_detected(tmp_path: Path) -> None:
    store = RevisionStore(tmp_path)
    first = store.begin("f", "a" * 40, "HEAD", False, {"changes": []}, {"fleet": "f"})
    store.finish(first, RevisionStatus.APPLIED)
    second = store.begin("f", "b" * 40, "HEAD", True, {"changes": [1]}, {"fleet": "f"})
    store.close()  # the process dies here, mid-apply
    reopened = RevisionStore(tmp_path)
    assert reopened.mark_interrupted() == [second]
    assert [r.status for r in reopened.all()] == [RevisionStatus.APPLIED, RevisionStatus.INTERRUPTED]
    assert reopened.latest(good_only=True).number == first  # type: ignore[union-attr]
    third = reopened.begin("f", None, None, False, {}, {})
    assert third == second + 1
    with pytest.raises(StateError, match="revision 99 does not exist"):
        reopened.get(99)


def test_a_pending_revision_keeps_how_its_apply_ran_and_an_older_store_reads_without_it(tmp_path: Path) -> None:
    import sqlite3

    store = RevisionStore(tmp_path)
    number = store.begin("f", None, None, False, {}, {}, {"rollback": False})
    store.note(number, entries_stopped=["alpha-2"])
    store.finish(number, RevisionStatus.FAILED)
    store.note(number, entries_stopped=[])  # a finished revision is not rewritten
    assert store.get(number).options == {"rollback": False, "entries_stopped": ["alpha-2"]}
    store.close()
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / "revisions.sqlite")  # written before options (and phases) were kept
    db.execute("create table revisions (number integer primary key, fleet text not null, commit_sha text, ref text, "
               "dirty integer not null, status text not null, started_at text not null, finished_at text, message text not null "
               "default '', plan text not null, payload text not null, details text not null default '{}')")
    db.execute("insert into revisions (fleet, dirty, status, started_at, plan, payload) values ('f', 0, 'pending', 'now', '{}', '{}')")
    db.commit()
    db.close()
    readonly = RevisionStore.open_readonly(old)
    assert readonly is not None and readonly.pending()[0].options == {} and readonly.pending()[0].phase == ""
    assert readonly.pending()[0].summary()["subject"] is None and readonly.pending()[0].summary()["duration_seconds"] is None
    assert RevisionStore(old).pending()[0].options == {}  # and a writer adds the columns
    writer = RevisionStore(old)
    finished = writer.begin("f", "c" * 40, "HEAD", False, {}, {}, subject="Add a bot")
    writer.finish(finished, RevisionStatus.APPLIED)
    assert writer.get(finished).subject == "Add a bot" and writer.get(finished).summary()["duration_seconds"] in (0, 1)


def _hold_lock(state_dir: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with apply_lock(Path(state_dir)):
        ready.set()
        time.sleep(5)


def test_one_apply_at_a_time(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(StateError, match=rf"another apply is running on {tmp_path} \(held by pid {holder.pid} since [0-9T:+-]+\)"):
            with apply_lock(tmp_path):
                pass
    finally:
        holder.terminate()
        holder.join()
    with apply_lock(tmp_path):  # released when its holder died
        pass
