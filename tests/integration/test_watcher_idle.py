"""An idle watcher costs nothing: 1,000 poll cycles on an unchanged repo make no Docker mutation."""

from __future__ import annotations

from pathlib import Path

import git

from engine.context import Context
from engine.live.adapters import real_ports
from engine.watch.daemon import Watcher, WatchOptions
from engine.watch.logs import WatchLog
from tests.integration.conftest import FLEET, LiveFleetHelper

STANDARD = f"{FLEET}-standard-1"


def test_a_thousand_idle_polls_touch_nothing(live: LiveFleetHelper, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git.Repo.clone_from(live.root, bare, bare=True)
    ports = real_ports(None, live.state)
    watcher = Watcher(Context(live.state, ports, lambda _l: None, {}), WatchOptions(str(bare), resync=1.0),
                      WatchLog("text", open("/dev/null", "w")))
    assert watcher.poll_once()
    sha = watcher.queue.take()
    assert sha is not None
    watcher._apply(sha)  # the first apply: the fleet now runs the head
    assert watcher.last_apply is not None and watcher.last_apply["result"] == "applied", watcher.last_apply
    pids = live.programs(STANDARD)
    calls, mutations = ports.backend.calls, ports.backend.mutations
    for cycle in range(1000):
        assert watcher.poll_once()
        assert watcher.queue.take() is None  # nothing new to apply
        if cycle % 20 == 0:
            watcher.heal_once()  # 50 resyncs among them
    assert ports.backend.mutations == mutations  # 0 mutations
    assert live.programs(STANDARD) == pids  # 0 restarts
    assert watcher.fetches == 1001 and watcher.journal.repairs() == []
    print(f"1,000 idle polls + 50 resyncs: {ports.backend.calls - calls} Docker calls (reads only)")
