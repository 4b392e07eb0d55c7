"""Real ``freqtrade trade`` bots (dry-run) in a pool, trading against the local market.

One fleet, driven through the things a trader cares about: the bots open and close trades and
their loops advance; ``fleetops wallets`` shows their equity; a strategy that raises on every
candle, one that raises at import, and a bot whose exchange hangs each fail the gate and are
rolled back (fast, with the reason from the bot's log); a ``drain`` bot with an open trade stops
entering and changes only once the trade closed; a move never runs a bot twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import git
import httpx
import pytest

from engine.demo_repo import commit_all
from engine.live.secrets import api_credentials
from tests.conftest import ROOT
from tests.integration.conftest import remove_fleet
from tests.market.runner import SubprocessMarket

pytestmark = pytest.mark.freqtrade  # runs the real FreqTrade

FLEET = "trading"
CASES = ROOT / "tests/cases/trading"
WHEN = "2026-01-01T00:00:00+00:00"


def docker0() -> str:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True).stdout
    return re.search(r"inet ([0-9.]+)/", out).group(1)  # type: ignore[union-attr]


def fleet_yaml(market: str) -> str:
    return f"""kind: Fleet
name: {FLEET}
defaults:
  image: fleetops/freqtrade:2026.9
  bot_command: freqtrade trade --config {{config}} --config {{secrets}} --userdir {{userdir}}
  exchange: binance
  exchange_url: {market}
  timeframe: 1m
health:
  timeout_seconds: 90
---
kind: Wallet
name: main
currency: USDT
balance: 10000
---
kind: Pool
name: traders
capacity: 3
memory: 2g
---
kind: Pool
name: others
capacity: 2
memory: 2g
"""


def bot_yaml(name: str, strategy: str, extra: str = "") -> str:
    return (f"---\nkind: Bot\nname: {name}\nwallet: main\nallocation: 1000\npool: traders\nstrategy: {strategy}\n"
            f"pairs: [BTC/USDT, ETH/USDT]\nmax_open_trades: 2\nstake_amount: 50\nstoploss: -0.10\n"
            f'minimal_roi: {{"0": 0.5}}\n{extra}')


class Trading:
    def __init__(self, root: Path, state: Path, repo: git.Repo) -> None:
        self.root, self.state, self.repo = root, state, repo
        self.key = b""

    def run(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "FLEETOPS_STATE_DIR": str(self.state), "NO_COLOR": "1"}
        return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    def apply(self) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "--repo", str(self.root), "--yes")

    def bots_file(self, text: str) -> None:
        (self.root / "fleet/bots.yaml").write_text(text)

    def api(self, bot: str, path: str) -> object:
        status = json.loads(self.run("status", "--format", "json").stdout)
        container = next(c for c in status["containers"] if any(b["name"] == bot for b in c["bots"]))
        port = next(b["port"] for b in container["bots"] if b["name"] == bot)
        creds = api_credentials((self.state / "api.key").read_bytes(), FLEET, bot)
        return httpx.get(f"http://{container['ip']}:{port}/api/v1/{path}", auth=(creds["username"], creds["password"]), timeout=10).json()

    def until(self, predicate, what: str, timeout: float = 120):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except (httpx.HTTPError, KeyError, StopIteration, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(1)


def bot_processes(bot: str) -> list[int]:
    """FreqTrade processes running ``bot`` on this host (every container's processes are visible here)."""
    marker = f"/fleet/etc/bots/{bot}/config.json".encode()
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def market_stats(market: SubprocessMarket) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{market.url}/_market/stats", timeout=5).json()  # type: ignore[no-any-return]


@contextlib.contextmanager
def hang_after_markets_load(market: SubprocessMarket) -> Iterator[None]:
    """Puts ``market`` into hang mode the moment a bot has loaded its markets and asked the server
    time (FreqTrade's start-up calls, after which its API comes up), before its first candles."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if market_stats(market)["by_endpoint"].get("GET /api/v3/time"):
                httpx.post(f"{market.url}/_market/down", params={"mode": "hang"}, timeout=5)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        httpx.post(f"{market.url}/_market/up", timeout=5)


@pytest.fixture
def trading(docker_api, tmp_path: Path) -> Iterator[tuple[Trading, SubprocessMarket]]:  # type: ignore[no-untyped-def]
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    remove_fleet(docker_api, FLEET)
    with SubprocessMarket(host="0.0.0.0") as market:
        root = tmp_path / "repo"
        (root / "strategies").mkdir(parents=True)
        repo = git.Repo.init(root, initial_branch="main")
        shutil.copy(CASES / "strategies/Scalp.py", root / "strategies/Scalp.py")
        commit_all(repo, "Scalp", when=WHEN, tag="v1")
        for name in ("Raising", "Broken"):
            shutil.copy(CASES / f"strategies/{name}.py", root / f"strategies/{name}.py")
        commit_all(repo, "Raising and Broken", when=WHEN, tag="v2")
        (root / "fleet").mkdir()
        (root / "fleet/fleet.yaml").write_text(fleet_yaml(f"http://{docker0()}:{market.url.rsplit(':', 1)[1]}"))
        (root / "fleet/bots.yaml").write_text(bot_yaml("t1", "Scalp@v1", "on_change: drain\ndrain_timeout: 120\n") + bot_yaml("t2", "Scalp@v1"))
        commit_all(repo, "fleet", when=WHEN)
        yield Trading(root, tmp_path / "state", repo), market
    remove_fleet(docker_api, FLEET)


def test_bots_trade_and_operations_respect_it(trading: tuple[Trading, SubprocessMarket]) -> None:
    t, market = trading
    first = t.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "waiting for 2 bot(s) to run their trading loop" in first.stderr

    # They trade: a trade opens and closes, the loop advances, the market was asked.
    closed = t.until(lambda: t.api("t2", "profit")["closed_trade_count"] >= 1, "a closed trade")
    one = t.api("t2", "health")["last_process_ts"]
    assert t.until(lambda: t.api("t2", "health")["last_process_ts"] > one, "the loop to advance", 30)
    assert closed and market_stats(market)["by_endpoint"]["GET /api/v3/klines"] > 0
    wallets = json.loads(t.run("wallets", "--format", "json").stdout)
    equity = {b["name"]: b["equity"] for w in wallets["wallets"] for b in w["bots"]}
    assert all(isinstance(v, float) and v > 900 for v in equity.values()), equity

    # A drain bot with an open trade: no new entries, changed only after the trade closed.
    t.until(lambda: t.api("t1", "count")["current"] >= 1, "t1 to hold a trade")
    neighbour = bot_processes("t2")
    t.bots_file((t.root / "fleet/bots.yaml").read_text().replace("stoploss: -0.10", "stoploss: -0.09", 1))
    started = time.monotonic()
    drained = t.apply()
    assert drained.returncode == 0, drained.stdout + drained.stderr
    lines = drained.stderr
    assert lines.index("draining t1:") < lines.index("t1 drained: no open trades") < lines.index("reload bot t1")
    assert bot_processes("t2") == neighbour  # the neighbour was never touched
    timeline = [line for line in lines.splitlines() if re.search(r"drain|t1|healthy", line)]
    print(f"drain of t1: {time.monotonic() - started:.1f} s from apply to healthy (stopbuy, trade closed, reload):", *timeline, sep="\n  ")

    # A strategy that raises on every candle: its loop runs, its log says why it fails.
    t.bots_file((t.root / "fleet/bots.yaml").read_text().replace("name: t2\nwallet: main\nallocation: 1000\npool: traders\nstrategy: Scalp@v1",
                                                               "name: t2\nwallet: main\nallocation: 1000\npool: traders\nstrategy: Raising@v2"))
    raising = t.apply()
    assert raising.returncode == 3 and "its strategy raised since it started" in raising.stderr, raising.stderr[-3000:]

    # A strategy that raises at import never reaches a bot: the plan's load check (the image's FreqTrade
    # loading it, no network) refuses it at the pin, and nothing changes.
    t.bots_file((t.root / "fleet/bots.yaml").read_text().replace("strategy: Raising@v2", "strategy: Broken@v2"))
    neighbour = bot_processes("t2")
    started = time.monotonic()
    broken = t.apply()
    seconds = time.monotonic() - started
    assert broken.returncode == 1 and re.search(r"^fleet/bots\.yaml:\d+:\d+: error: .*broken at import", broken.stderr, re.M), broken.stderr[-3000:]
    assert bot_processes("t2") == neighbour
    print(f"broken at import: refused by the plan's load check after {seconds:.1f} s")

    # An exchange that hangs once the bot has loaded its markets: the API answers, the loop never completes.
    with SubprocessMarket(host="0.0.0.0") as hanging:
        port = hanging.url.rsplit(":", 1)[1]
        t.bots_file((t.root / "fleet/bots.yaml").read_text().replace("strategy: Broken@v2", f"strategy: Scalp@v1\nexchange_url: http://{docker0()}:{port}"))
        with hang_after_markets_load(hanging):
            stalled = t.apply()
        assert stalled.returncode == 3 and "its trading loop has not run since it started" in stalled.stderr, stalled.stderr[-3000:]

    # A move never runs the bot twice: sample every process table through the move.
    text = re.sub(r"exchange_url: .*\n", "", (t.root / "fleet/bots.yaml").read_text())
    t.bots_file(text.replace("name: t2\nwallet: main\nallocation: 1000\npool: traders", "name: t2\nwallet: main\nallocation: 1000\npool: others"))
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(len(bot_processes("t2")))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    moved = t.apply()
    done.set()
    sampler.join()
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert max(samples) == 1 and len(samples) > 20, f"processes of t2 per sample: max {max(samples)} over {len(samples)} samples"
    assert t.until(lambda: t.api("t2", "health")["last_process_ts"], "t2 trading in its new pool", 60)
