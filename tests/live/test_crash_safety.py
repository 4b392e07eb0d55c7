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

from engine.live.fakes import Killed
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
    for name, container in h.engine.containers.items():
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
    before = h.engine.mutations
    big_change(h)
    assert h.apply().status is RevisionStatus.APPLIED
    return h.engine.mutations - before


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
    h.engine.crash_after = h.engine.mutations + k
    with pytest.raises(Killed):
        h.apply()
    assert max(running_copies(h).values()) == 1
    h.engine.crash_after = None
    outcome = h.apply()
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    statuses = h.statuses()
    assert statuses[1] == "interrupted" and statuses[-1] == "applied"
    assert h.actions() == []
    assert max(running_copies(h).values()) == 1
    known = set(RevisionStore(h.state).latest(good_only=True).payload["containers"])  # type: ignore[union-attr]
    assert set(h.engine.containers) == known
    for name, container in h.engine.containers.items():  # every running bot runs the config on disk
        for bot in container.started_with:
            running = h.engine.running_config(name, bot)
            config = h.state / "runtime/testfleet" / name / "etc/bots" / bot / "config.json"
            assert running is None or running == config.read_text(), f"{bot} in {name} runs a stale config"


def test_the_table_covers_every_mutation(total: int) -> None:
    assert total <= 12, f"the big change makes {total} mutations; widen the parametrised range"
