"""SIGKILL ``fleetops apply`` part-way through a large change, for several k: the next apply recovers.

After each kill the next apply reports the interrupted revision, converges (its next plan is
empty), leaves no container that no revision knows, and no bot ever runs twice (counted on the
host's process table, where every container's processes are visible).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.live.store import RevisionStore
from tests.conftest import ROOT
from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import edit


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
    assert [r["status"] for r in history] == ["applied", "interrupted", "applied"]
    containers = set(live.containers())
    payload = RevisionStore(live.state).get(3).payload
    assert containers == set(payload["containers"])  # no container that no revision knows
    assert max(bot_processes().values()) == 1 and len(bot_processes()) == 8, bot_processes()
    assert all(state == "RUNNING" for state, _ in live.programs(f"{FLEET}-standard-1").values())
