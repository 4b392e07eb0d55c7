"""A new user's first hour, from the built wheel alone: init → image build → apply → status, and a trade opens.

The wheel is installed into a fresh venv outside the checkout; every step runs its ``fleetops``
(its own paper exchange, its own image build), against the real Docker engine. The example fleet
is applied as ``init`` writes it — renamed ``testfleet`` (every integration test's fleet name) and
pointed at this test's paper exchange port. Then a strategy that raises on every candle is pinned
to one bot: the apply fails its loop check and is rolled back (exit 3), the fleet keeps trading.

Timings are printed (``-s``): the image build is the cached case whenever the checkout built the
same image (one content hash for both: the recipe ships in the package); see the report in the
README for a cold build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from engine.images import POOL_IMAGE
from tests.conftest import FREQTRADE_CHECK, ROOT
from tests.integration.conftest import FLEET, remove_fleet

pytestmark = [pytest.mark.freqtrade, pytest.mark.slow]

BROKEN = '''
    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        raise RuntimeError("heartbeat skipped a beat")
'''


class Wheel:
    """A venv with only the built wheel, and a fleet state dir of its own, outside the checkout."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.bin = home / "venv" / "bin"
        self.env = {"PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
                    "FLEETOPS_STATE_DIR": str(home / "state"), "NO_COLOR": "1",
                    "FLEETOPS_IMAGE_CACHE": os.environ.get("FLEETOPS_IMAGE_CACHE", "/var/cache/fleetops-images"),
                    "FLEETOPS_CACHE_DIR": FREQTRADE_CHECK["FLEETOPS_CACHE_DIR"]}

    def run(self, *args: str, ok: tuple[int, ...] = (0,), timeout: int = 900) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(args, cwd=self.home, capture_output=True, text=True, timeout=timeout, env=self.env)
        assert proc.returncode in ok, f"{args} exited {proc.returncode}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc

    def fleetops(self, *args: str, ok: tuple[int, ...] = (0,), timeout: int = 900) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "fleetops"), *args, ok=ok, timeout=timeout)

    def git(self, *args: str) -> None:
        self.run("git", "-C", "my-fleet", "-c", "user.name=t", "-c", "user.email=t@t", *args)


@pytest.fixture
def wheel(tmp_path: Path, docker_api: docker.APIClient) -> Iterator[Wheel]:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], check=True, cwd=tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    subprocess.run([str(home / "venv/bin/pip"), "install", "-q", "--disable-pip-version-check", str(next(dist.glob("fleetops-*.whl")))],
                   check=True, cwd=home)
    remove_fleet(docker_api, FLEET)
    yield Wheel(home)
    remove_fleet(docker_api, FLEET)


def wait_for(what: str, predicate, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_wheel_user_gets_an_image_and_a_trading_fleet(wheel: Wheel) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    first = wheel.fleetops("init", "my-fleet").stdout
    assert "fleetops image build" in first and "fleetops paper-exchange --detach" in first and "fleetops apply --yes" in first

    mark = time.monotonic()
    built = wheel.fleetops("image", "build", timeout=1800)
    timings["image build"] = time.monotonic() - mark
    assert f"{POOL_IMAGE} is on the Docker engine" in built.stdout, built.stderr

    exchange = subprocess.Popen([str(wheel.bin / "fleetops"), "paper-exchange", "--port", "0"], cwd=wheel.home, env=wheel.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert exchange.stdout is not None
        port = re.search(r"listening on \S+:(\d+)", exchange.stdout.readline()).group(1)  # type: ignore[union-attr]
        fleet_yaml = wheel.home / "my-fleet/fleet/fleet.yaml"
        text = fleet_yaml.read_text()
        assert "exchange_url: http://172.17.0.1:9100" in text  # what init writes
        fleet_yaml.write_text(text.replace("name: crypto-pilot", f"name: {FLEET}").replace(":9100", f":{port}"))
        wheel.git("commit", "-qam", "this test's fleet name and paper exchange")
        wheel.fleetops("validate", "--repo", "my-fleet")

        mark = time.monotonic()
        applied = wheel.fleetops("apply", "--repo", "my-fleet", "--yes", timeout=900)
        timings["apply (17 bots, loop check)"] = time.monotonic() - mark
        assert "to run their trading loop" in applied.stderr, applied.stderr[-3000:]

        def open_trades() -> int:
            report = json.loads(wheel.fleetops("wallets", "--format", "json").stdout)
            return sum(b.get("open_trades") or 0 for w in report["wallets"] for b in w["bots"])

        mark = time.monotonic()
        assert wait_for("a trade to open", open_trades, 180)
        timings["apply → first open trade"] = time.monotonic() - mark
        status = wheel.fleetops("status", "--format", "json").stdout
        bots = [b for c in json.loads(status)["containers"] for b in c["bots"]]
        running = [b for b in bots if b.get("loop_age") is not None]
        assert len(running) == 17, [(b["name"], b.get("loop_age"), b.get("state")) for b in bots]
        stats = exchange_stats(port)
        assert stats["by_endpoint"].get("GET /api/v3/klines", 0) > 0 and not stats["unknown"], stats["unknown"]

        # A strategy that raises on every candle, pinned to one bot: rolled back, the fleet keeps trading.
        strategy = wheel.home / "my-fleet/strategies/Heartbeat.py"
        source = strategy.read_text()
        head, _, tail = source.partition("    def populate_entry_trend")
        strategy.write_text(head + BROKEN.lstrip("\n") + "\n    def populate_exit_trend" + tail.partition("    def populate_exit_trend")[2])
        scalpers = wheel.home / "my-fleet/fleet/bots/scalpers.yaml"
        wheel.git("commit", "-qam", "Heartbeat v1.2.0: broken")
        wheel.git("tag", "v1.2.0")
        scalpers.write_text(scalpers.read_text().replace("strategy: Heartbeat@v1.1.0        #", "strategy: Heartbeat@v1.2.0        #", 1))
        wheel.git("commit", "-qam", "scalp-btc on Heartbeat v1.2.0")
        mark = time.monotonic()
        broken = wheel.fleetops("apply", "--repo", "my-fleet", "--yes", ok=(3,), timeout=600)
        timings["broken strategy → rolled back"] = time.monotonic() - mark
        assert "its strategy raised since it started" in broken.stderr and "rolled back" in (broken.stdout + broken.stderr), broken.stderr[-3000:]
        history = json.loads(wheel.fleetops("history", "--format", "json").stdout)
        assert [r["status"] for r in history] == ["applied", "rolled_back"], history
        assert wait_for("trades after the rollback", open_trades, 120)
    finally:
        exchange.terminate()
        exchange.wait(timeout=15)
    timings["total"] = time.monotonic() - started
    print("wheel → image → trade:", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def exchange_stats(port: str) -> dict:  # type: ignore[type-arg]
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/_market/stats", timeout=5).json()  # type: ignore[no-any-return]
