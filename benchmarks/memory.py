"""Benchmark: memory of 10 real FreqTrade bots trading, dedicated vs pooled vs pooled with preload.

All three layouts run side by side in one run, each its own fleet, every bot an unmodified
``freqtrade trade`` dry-run against the local market (tests/market) at the docker0 address:
  dedicated   10 containers, one bot each
  pool        one pool container, 10 supervisord programs
  preload     one pool container with ``preload: true`` (one FreqTrade import, forked per bot)
Prints, per layout: cold start (``fleetops apply`` wall time, which waits until every bot's
trading loop ran), then the sum of PSS (/proc/<pid>/smaps_rollup) of every process in the
layout's containers plus their containerd shims, per bot, at each sample time; then the time
from ``supervisorctl restart`` of one bot to its ping answering, pooled vs preloaded.
Usage: python benchmarks/memory.py [--bots 10] [--samples 1,5,15]   (minutes of trading)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import git
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from engine.backend.docker.supervisor import connect_supervisor  # noqa: E402
from engine.demo_repo import commit_all  # noqa: E402
from engine.naming import Labels  # noqa: E402
from tests.market.runner import SubprocessMarket  # noqa: E402

API = docker.APIClient(version="1.41")
LAYOUTS = {"dedicated": "memd", "pool": "memp", "preload": "meml"}


def docker0() -> str:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True).stdout
    return re.search(r"inet ([0-9.]+)/", out).group(1)  # type: ignore[union-attr]


def write_repo(root: Path, fleet: str, layout: str, bots: int, market: str) -> None:
    (root / "strategies").mkdir(parents=True)
    shutil.copy(ROOT / "tests/cases/trading/strategies/Scalp.py", root / "strategies/Scalp.py")
    repo = git.Repo.init(root, initial_branch="main")
    commit_all(repo, "Scalp", when="2026-01-01T00:00:00+00:00", tag="v1")
    (root / "fleet").mkdir()
    preload = "preload: true\n" if layout == "preload" else ""
    (root / "fleet/fleet.yaml").write_text(
        f"kind: Fleet\nname: {fleet}\ndefaults:\n  image: fleetops/freqtrade:2026.9\n"
        "  bot_command: freqtrade trade --config {config} --config {secrets} --userdir {userdir}\n"
        f"  exchange: binance\n  exchange_url: {market}\n  timeframe: 1m\nhealth:\n  timeout_seconds: 600\n"
        f"---\nkind: Wallet\nname: main\ncurrency: USDT\nbalance: {bots * 1000}\n"
        f"---\nkind: Pool\nname: p\ncapacity: {bots}\nmemory: 8g\n{preload}")
    pool = "" if layout == "dedicated" else "pool: p\n"
    docs = [f"kind: Bot\nname: b{i:02d}\nwallet: main\nallocation: 1000\n{pool}strategy: Scalp@v1\npairs: [BTC/USDT, ETH/USDT]\n"
            f'max_open_trades: 2\nstake_amount: 50\nstoploss: -0.10\nminimal_roi: {{"0": 0.5}}\n' for i in range(bots)]
    (root / "fleet/bots.yaml").write_text("---\n".join(docs))
    commit_all(repo, "fleet", when="2026-01-01T00:00:00+00:00")


def fleetops(state: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(state), "NO_COLOR": "1"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    return time.monotonic() - started, proc


def remove(fleet: str) -> None:
    for container in API.containers(all=True, filters={"label": f"{Labels.FLEET}={fleet}"}):
        API.remove_container(container["Id"], force=True)
    for network in API.networks(names=[f"fleetops-{fleet}"]):
        API.remove_network(network["Id"])


def pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def shims() -> dict[str, int]:
    """container id → its containerd shim's pid."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and b"-id" in argv:
            found[argv[argv.index(b"-id") + 1].decode()] = int(pid)
    return found


def layout_pss_mb(fleet: str) -> tuple[float, int]:
    """(PSS of every process in the fleet's containers + their shims, MB; process count)."""
    shim_of = shims()
    total, count = 0, 0
    for container in API.containers(filters={"label": f"{Labels.FLEET}={fleet}"}):
        top = API.top(container["Id"], ps_args="-eo pid")
        for row in top["Processes"]:
            total += pss_kb(int(row[0]))
            count += 1
        if container["Id"] in shim_of:
            total += pss_kb(shim_of[container["Id"]])
    return total / 1024, count


def bot_ping_url(state: Path, fleet: str, bot: str) -> tuple[str, str]:
    status = json.loads(fleetops(state, "status", "--format", "json")[1].stdout)
    container = next(c for c in status["containers"] if any(b["name"] == bot for b in c["bots"]))
    port = next(b["port"] for b in container["bots"] if b["name"] == bot)
    return container["name"], f"http://{container['ip']}:{port}/api/v1/ping"


def reload_seconds(state: Path, fleet: str, bot: str) -> float:
    """supervisorctl restart of one bot (what fleetops' reload does) → its ping answers."""
    container, url = bot_ping_url(state, fleet, bot)
    supervisor = connect_supervisor(container, state / "runtime" / fleet / container / "data", 60)
    started = time.monotonic()
    supervisor.restart(bot)
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--samples", default="1,5,15", help="minutes of trading after which PSS is sampled")
    args = parser.parse_args()
    samples = [float(m) for m in args.samples.split(",")]
    subprocess.run([str(ROOT / "scripts/ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    for fleet in LAYOUTS.values():
        remove(fleet)
    with tempfile.TemporaryDirectory(prefix="fleetops-memory-") as tmp, SubprocessMarket(host="0.0.0.0") as market:
        url = f"http://{docker0()}:{market.url.rsplit(':', 1)[1]}"
        states: dict[str, Path] = {}
        print(f"{args.bots} real freqtrade trade bots per layout (dry-run, local market {url})\n\ncold start (apply until every loop ran):")
        try:
            for layout, fleet in LAYOUTS.items():
                root, states[layout] = Path(tmp) / layout, Path(tmp) / f"{layout}-state"
                write_repo(root, fleet, layout, args.bots, url)
                seconds, proc = fleetops(states[layout], "apply", "--repo", str(root), "--yes")
                if proc.returncode != 0:
                    sys.exit(f"{layout}: apply failed:\n{proc.stdout}\n{proc.stderr[-4000:]}")
                print(f"  {layout:<9} {seconds:6.1f} s", flush=True)
            print("\nreload of one bot → its ping answers (median of 3):")
            reloads = {}
            for layout in ("pool", "preload"):
                times = sorted(reload_seconds(states[layout], LAYOUTS[layout], f"b0{i}") for i in range(3))
                reloads[layout] = times[1]
                print(f"  {layout:<9} {times[1]:6.2f} s  (all: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
            print(f"  ratio preload / pool: {reloads['preload'] / reloads['pool']:.2f}x")
            started = time.monotonic()
            print("\nPSS per bot (all processes in the layout's containers + containerd shims):")
            print(f"  {'minutes':>7} " + " ".join(f"{layout:>18}" for layout in LAYOUTS) + "   preload/dedicated  pool/dedicated")
            for minutes in samples:
                time.sleep(max(0.0, started + minutes * 60 - time.monotonic()))
                per_bot = {}
                cells = []
                for layout, fleet in LAYOUTS.items():
                    mb, processes = layout_pss_mb(fleet)
                    per_bot[layout] = mb / args.bots
                    cells.append(f"{per_bot[layout]:7.1f} MB ({processes:2d} p)")
                print(f"  {minutes:7.0f} " + " ".join(f"{c:>18}" for c in cells)
                      + f"   {per_bot['preload'] / per_bot['dedicated']:17.2f}x {per_bot['pool'] / per_bot['dedicated']:14.2f}x", flush=True)
            trading = {layout: json.loads(fleetops(states[layout], "wallets", "--format", "json")[1].stdout) for layout in LAYOUTS}
            for layout, wallets in trading.items():
                bots = [b for w in wallets["wallets"] for b in w["bots"]]
                answering = sum(1 for b in bots if isinstance(b.get("equity"), float))
                print(f"  {layout}: {answering}/{len(bots)} bots answered /balance at the end")
        finally:
            for fleet in LAYOUTS.values():
                remove(fleet)


if __name__ == "__main__":
    main()
