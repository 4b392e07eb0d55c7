"""``fleetops adopt`` against a real compose setup: three FreqTrade bots (dry-run, trading on the local
market) with open trades are adopted, and the first apply takes them over with their trades.

The setup is FreqTrade's documented one (one service per bot, ``./<bot>/user_data`` mounted,
``trade --db-url … --config … --strategy Scalp``), run by the real ``docker-compose``. After adopt
and apply: the same trades (ids and pairs) are open in the bots fleetops runs, the old containers
exist and are stopped (restart policy ``no``), and a second plan finds nothing to take over. A trade
is compared by id, pair, opening time and rate: a new database would reuse the ids and pairs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.live.secrets import api_credentials
from tests.adopt.setups import STRATEGY, write_setup
from tests.conftest import ROOT
from tests.integration.conftest import FLEET, remove_fleet
from tests.integration.test_trading import docker0
from tests.market.runner import SubprocessMarket

pytestmark = pytest.mark.freqtrade

PROJECT = "fleetops-adopt-lab"
BOTS = ["alpha", "beta", "gamma"]
COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or "docker-compose"


def compose(setup: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COMPOSE, "-p", PROJECT, "-f", str(setup), *args], capture_output=True, text=True, timeout=300)


def holding(config: dict[str, Any]) -> None:
    """Trades that stay open: no ROI exit, the strategy never leaves (HOLD below), a stoploss far off."""
    config["minimal_roi"] = {"0": 10}
    config["stoploss"] = -0.5


def until(predicate, what: str, timeout: float = 180):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, KeyError, StopIteration, ValueError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(2)


def open_trades(url: str, auth: tuple[str, str]) -> set[tuple[int, str, int, float]]:
    """Each open trade as (id, pair, when it opened in ms, its open rate): a trade opened anew after
    the takeover would have the same id and pair, never the same opening."""
    return {(t["trade_id"], t["pair"], t["open_timestamp"], t["open_rate"])
            for t in httpx.get(f"{url}/api/v1/status", auth=auth, timeout=10).json()}


def container(name_or_id: str) -> dict[str, Any]:
    return json.loads(subprocess.run(["docker", "inspect", name_or_id], capture_output=True, text=True, check=True).stdout)[0]  # type: ignore[no-any-return]


@pytest.fixture
def lab(docker_api, tmp_path: Path) -> Iterator[tuple[Path, Path]]:  # type: ignore[no-untyped-def]
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    remove_fleet(docker_api, FLEET)
    with SubprocessMarket(host="0.0.0.0") as market:
        url = f"http://{docker0()}:{market.url.rsplit(':', 1)[1]}"
        setup = write_setup(tmp_path / "ft", BOTS, market_url=url, edit=lambda _bot, config: holding(config),
                            strategy=STRATEGY.replace("HOLD = 15", "HOLD = 86400"), compose_extra=f"name: {PROJECT}\n")
        compose(setup, "down", "--remove-orphans")
        try:
            up = compose(setup, "up", "-d")
            assert up.returncode == 0, up.stderr
            yield setup, tmp_path
        finally:
            compose(setup, "down", "--remove-orphans")
            remove_fleet(docker_api, FLEET)


def test_adopt_takes_over_running_bots_with_their_open_trades(lab: tuple[Path, Path]) -> None:
    setup, tmp = lab
    state = tmp / "state"
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(state), "NO_COLOR": "1"}

    def fleetops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)

    # The compose bots trade: each holds open trades on both pairs.
    old = {bot: container(f"{PROJECT}-{bot}-1") for bot in BOTS}
    before = {}
    for i, bot in enumerate(BOTS):
        ip = next(iter(old[bot]["NetworkSettings"]["Networks"].values()))["IPAddress"]
        url = f"http://{ip}:{8080 + i}"
        before[bot] = until(lambda url=url: len(trades := open_trades(url, ("ftuser", "market-test-password"))) >= 2 and trades,
                            f"{bot} to hold two open trades")

    started = time.monotonic()
    adopted = fleetops("adopt", str(setup), "--into", str(tmp / "fleet"), "--name", FLEET)
    adopt_seconds = time.monotonic() - started
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    for bot in BOTS:
        assert f"takeover on the first apply: {bot} <- container {PROJECT}-{bot}-1" in adopted.stdout
    # the fleet repo is committed: the working tree is clean, the pins point at the tag
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp / "fleet", capture_output=True, text=True, check=True).stdout
    assert status == ""
    assert "strategy: Scalp@adopted-v1" in (tmp / "fleet/fleet/bots.yaml").read_text()

    plan = fleetops("plan", "--repo", str(tmp / "fleet"))
    assert plan.returncode == 0, plan.stderr
    for bot in BOTS:
        assert f"takes over container {PROJECT}-{bot}-1 ({PROJECT}/{bot}, running: stopped first" in plan.stdout, plan.stdout

    started, applied_at = time.monotonic(), time.time()
    applied = fleetops("apply", "--repo", str(tmp / "fleet"), "--yes")
    apply_seconds = time.monotonic() - started
    assert applied.returncode == 0, applied.stdout + applied.stderr[-4000:]
    for bot in BOTS:
        assert f"carried {bot}'s trade database from {PROJECT}-{bot}-1" in applied.stderr
        # the old container is kept, stopped, for a manual rollback
        kept = container(old[bot]["Id"])
        assert kept["State"]["Running"] is False and kept["State"]["Status"] == "exited"
        assert kept["HostConfig"]["RestartPolicy"]["Name"] == "no"  # a daemon restart does not bring the old copy back

    # The same trades are open in the bots fleetops runs.
    report = json.loads(fleetops("status", "--format", "json").stdout)
    for bot in BOTS:
        unit = next(c for c in report["containers"] if any(b["name"] == bot for b in c["bots"]))
        port = next(b["port"] for b in unit["bots"] if b["name"] == bot)
        creds = api_credentials((state / "api.key").read_bytes(), FLEET, bot)
        url = f"http://{unit['ip']}:{port}"
        after = until(lambda url=url, creds=creds: open_trades(url, (creds["username"], creds["password"])), f"{bot}'s trades under fleetops")
        assert before[bot] <= after, f"{bot}: open before {sorted(before[bot])}, under fleetops {sorted(after)}"
        assert all(opened < applied_at * 1000 for _, _, opened, _ in before[bot])

    print(f"adopt: {adopt_seconds:.1f} s; first apply (takeover of {len(BOTS)} bots, health gate): {apply_seconds:.1f} s")
    print(plan.stdout)
    again = fleetops("plan", "--repo", str(tmp / "fleet"), "--detailed-exitcode")
    assert again.returncode == 0 and "takes over" not in again.stdout, again.stdout + again.stderr
