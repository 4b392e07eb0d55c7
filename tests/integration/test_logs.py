"""``fleetops logs`` against the real engine: a pool bot's log is its supervisord program's log file,
a dedicated bot's is its container's output; both masked, with ``--since`` and ``--follow``.

The strategy prints the bot's secrets.json at load (a strategy that dumps its config is the case the
masking is for) and a heartbeat every second (something to follow)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import FREQTRADE_CHECK, ROOT
from tests.integration.conftest import LiveFleetHelper
from tests.support.repos import commit, edit

LEAKY = '''
import sys, threading, time
_args = sys.argv
for _i, _a in enumerate(_args[:-1]):
    if _a in ("-c", "--config") and _args[_i + 1].endswith("secrets.json"):
        print("loaded secrets: " + open(_args[_i + 1]).read().replace("\\n", " "), flush=True)
def _beat():
    n = 0
    while True:
        n += 1
        print(f"heartbeat {n}", flush=True)
        time.sleep(1)
threading.Thread(target=_beat, daemon=True).start()
'''
SECRETS = {"K": "exchange-key-1234", "S": "exchange-secret-5678"}


@pytest.fixture
def leaky(live: LiveFleetHelper) -> LiveFleetHelper:
    """alpha-2 (pool standard) and solo (dedicated) run a strategy that prints its secrets, with exchange keys."""
    path = live.root / "strategies/Alpha.py"
    path.write_text(path.read_text() + LEAKY)
    commit(live.repo, "Alpha v9: prints its secrets and a heartbeat", tag="v9")
    for pairs, stoploss in (("[SOL/USDT]", "-0.08"), ("[ETH/USDT]", "-0.15")):
        edit(live.root / "fleet/bots.yaml", f"strategy: Alpha@v1\npairs: {pairs}", f"strategy: Alpha@v9\npairs: {pairs}")
        edit(live.root / "fleet/bots.yaml", f"stoploss: {stoploss}", f"stoploss: {stoploss}\nsecrets: {{exchange_key: 'env:K', exchange_secret: 'env:S'}}")
    commit(live.repo, "alpha-2 and solo on v9, with keys")
    result = live.run("apply", "--repo", str(live.root), "--yes", env=SECRETS)
    assert result.code == 0, result.err
    return live


@pytest.mark.parametrize("bot", ["alpha-2", "solo"])
def test_logs_of_a_pool_bot_and_a_dedicated_bot_are_masked(leaky: LiveFleetHelper, bot: str) -> None:
    deadline = time.monotonic() + 20
    while "heartbeat 2" not in (out := leaky.run("logs", bot, env=SECRETS).out) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "loaded secrets: " in out and "heartbeat 2" in out, out
    assert "exchange-key-1234" not in out and "exchange-secret-5678" not in out and '"key": "***"' in out
    without = leaky.run("logs", bot, "--tail", "500")  # the references cannot be resolved here: the keys mask them
    assert without.code == 0 and "exchange-secret-5678" not in without.out and '"secret": "***"' in without.out
    assert len(leaky.run("logs", bot, "--tail", "2", env=SECRETS).out.splitlines()) == 2
    assert leaky.run("logs", bot, "--since", "2099-01-01T00:00", env=SECRETS).out == ""
    missing = leaky.run("logs", "nosuch")
    assert missing.code != 0 and "fleet testfleet has no bot nosuch" in missing.err


@pytest.mark.parametrize("bot", ["alpha-2", "solo"])
def test_logs_follow_prints_new_lines_as_they_come(leaky: LiveFleetHelper, bot: str) -> None:
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(leaky.state), **FREQTRADE_CHECK, **SECRETS}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "logs", bot, "--follow", "--tail", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)  # a follow that prints nothing must not hang the suite
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(4)]  # the last line, then three heartbeats written after it
        beats = [int(line.split()[1]) for line in seen if line.startswith("heartbeat ")]
        assert len(beats) >= 3 and beats == sorted(beats) and len(set(beats)) == len(beats), seen
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=10)
