"""SIGKILL ``fleetops apply`` part-way through a large change, for several k: the next apply recovers.

After each kill the next apply reports the interrupted revision, converges (its next plan is
empty), leaves no container that no revision knows, and no bot ever runs twice (counted on the
host's process table, where every container's processes are visible).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.live.store import RevisionStore
from tests.conftest import ROOT
from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import commit, edit


def bot_processes() -> dict[str, int]:
    """Stand-in bot processes per bot, from the host's /proc (containers share the host's kernel)."""
    counts: dict[str, int] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # the image's standin-bot console script (python3 /usr/local/bin/standin-bot …), never a preload launcher
        if len(args) > 1 and args[1].endswith(b"/standin-bot"):
            config = next((a.decode() for a in args if a.endswith(b"/config.json")), "")
            bot = config.split("/bots/")[-1].split("/")[0]
            counts[bot] = counts.get(bot, 0) + 1
    return counts


def big_change(live: LiveFleetHelper) -> None:
    bots = live.root / "fleet/bots.yaml"
    edit(bots, "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
         "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]")  # move alpha-2
    edit(bots, "stoploss: -0.15", "stoploss: -0.14")  # solo (dedicated): restart
    edit(bots, "stoploss: -0.10", "stoploss: -0.11")  # alpha-1: reload
    bots.write_text(bots.read_text() + "".join(
        f"---\nkind: Bot\nname: new-{i}\nwallet: main\nallocation: 100\npool: standard\nstrategy: Alpha@v1\n"
        "pairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n" for i in range(3)))  # a new container


@pytest.mark.parametrize("k", [0, 2, 4, 6, 9])
def test_sigkill_during_apply_is_recovered(k: int, live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    big_change(live)
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(live.state), "NO_COLOR": "1"}
    killed = subprocess.run([sys.executable, str(ROOT / "tests/support/killing_apply.py"), str(k), "apply", "--repo",
                             str(live.root), "--yes"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    where = next(line for line in killed.stderr.splitlines() if line.startswith("killed before"))
    print(f"k={k}: {where}")
    assert max(bot_processes().values(), default=1) == 1, bot_processes()
    recovered = live.apply()
    assert recovered.code == 0, recovered.out + recovered.err
    assert "revision 2 was interrupted" in recovered.err
    final = live.plan("--detailed-exitcode")
    assert final.code == 0, killed.stderr + recovered.err + final.out
    history = json.loads(live.run("history", "--format", "json").out)
    statuses = [r["status"] for r in history]
    # killed part-way: it stays interrupted, and the recovering apply records its own revision; killed after its
    # last change (nothing left to do): its bots' health gate ran, so it is recorded applied and nothing follows
    assert statuses in (["applied", "interrupted", "applied"], ["applied", "applied"]), statuses
    containers = set(live.containers())
    payload = RevisionStore(live.state).get(len(statuses)).payload
    assert containers == set(payload["containers"])  # no container that no revision knows
    assert max(bot_processes().values()) == 1 and len(bot_processes()) == 8, bot_processes()
    assert all(state == "RUNNING" for state, _ in live.programs(f"{FLEET}-standard-1").values())


def raise_every_candle(live: LiveFleetHelper) -> str:
    """alpha-1 and alpha-2 move to Alpha@v3, whose loop raises on every candle (their health gate fails); returns v1's sha256."""
    strategy = live.root / "strategies/Alpha.py"
    v1 = hashlib.sha256(strategy.read_bytes()).hexdigest()
    strategy.write_text(strategy.read_text() + "\nSTANDIN_LOOP_ERROR = \"ZeroDivisionError('division by zero')\"\n")
    commit(live.repo, "Alpha v3 raises every candle", tag="v3")
    for pairs in ("[BTC/USDT, ETH/USDT]", "[SOL/USDT]"):
        edit(live.root / "fleet/bots.yaml", f"strategy: Alpha@v1\npairs: {pairs}", f"strategy: Alpha@v3\npairs: {pairs}")
    return v1


# In the health wait (both bots reloaded onto v3, no verdict yet); in the rollback its failed gate began: before its
# first change, and after it stopped alpha-1 (supervisord re-read its conf, stopped alpha-1; killed before starting it).
@pytest.mark.parametrize("where", ["health", "rollback:0", "rollback:2"])
def test_sigkill_in_the_health_wait_or_the_rollback_is_finished_by_the_next_apply(where: str, live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    v1 = raise_every_candle(live)
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(live.state), "NO_COLOR": "1"}
    killed = subprocess.run([sys.executable, str(ROOT / "tests/support/killing_apply.py"), where, "apply", "--repo",
                             str(live.root), "--yes"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    print(f"{where}: " + next(line for line in killed.stderr.splitlines() if line.startswith("killed before")))
    assert max(bot_processes().values(), default=1) == 1, bot_processes()
    status = live.run("status")
    assert status.code == 0 and status.out.startswith(f"fleet {FLEET}: ") and "revision 2" in status.out.splitlines()[0], status.out
    plan = live.plan()
    assert plan.code == 0 and "note: revision 2 was interrupted" in plan.err and "revision 1" in plan.err, plan.err
    recovered = live.apply()
    assert recovered.code == 3, recovered.out + recovered.err  # exactly as the uninterrupted apply: rolled back, exit 3
    assert "rolled back to revision 1" in recovered.err
    history = json.loads(live.run("history", "--format", "json").out)
    assert [r["status"] for r in history] == ["applied", "rolled_back"], history
    status = live.run("status")
    assert status.out.splitlines()[0].startswith(f"fleet {FLEET}: revision 1 (applied"), status.out
    for bot, port in (("alpha-1", 8081), ("alpha-2", 8082)):  # both run revision 1's strategy again
        assert live.show_config(f"{FLEET}-standard-1", bot, port)["strategy_version"] == v1
    assert max(bot_processes().values()) == 1
    assert live.plan("--detailed-exitcode").code == 2  # the specs still ask for v3, as after an uninterrupted rollback


def test_sigkill_in_the_health_wait_of_an_apply_without_rollback_leaves_it_failed(live: LiveFleetHelper) -> None:
    """``apply --no-rollback``, uninterrupted, leaves a revision that fails its gate in place (failed, exit 1): the
    next apply used to finish it with its own setting, and rolled it back."""
    assert live.apply().code == 0
    v1 = raise_every_candle(live)
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(live.state), "NO_COLOR": "1"}
    killed = subprocess.run([sys.executable, str(ROOT / "tests/support/killing_apply.py"), "health", "apply", "--repo",
                             str(live.root), "--yes", "--no-rollback"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    plan = live.plan()
    assert "mark it failed and leave it in place (it was applied without rollback)" in plan.err, plan.err
    recovered = live.apply()
    assert recovered.code == 1, recovered.out + recovered.err
    assert "not rolled back" in recovered.err
    assert [r["status"] for r in json.loads(live.run("history", "--format", "json").out)] == ["applied", "failed"]
    for bot, port in (("alpha-1", 8081), ("alpha-2", 8082)):  # left in place, as --no-rollback leaves it
        assert live.show_config(f"{FLEET}-standard-1", bot, port)["strategy_version"] != v1
