"""Benchmark: bots per preloaded pool vs one container per bot (Compose) — real FreqTrade, trading.

Why: the platform fleetops serves claims pooling saves most of a bot's memory; users compare with
what they run today, Compose with one service per bot (the FreqTrade docs' setup). What, in one
run, one layout after another on the same machine (never two at once, so neither steals the
other's CPU), every bot an unmodified ``freqtrade trade`` dry-run against the local market:

  compose   N services, one bot each: fleetops' own render of a pool-less fleet (same image,
            config and strategy), brought up by Compose v2 (PyPI ``docker-compose``)
  preload   one pool container per size (10, 30, 50 bots) with ``preload: true``

Per layout: cold start (until every bot's trading loop ran: ``apply`` returns then; Compose:
``up -d`` then polling ``/api/v1/health``), then while the bots trade ``--minutes``, API latency
(``/api/v1/ping`` and ``/api/v1/status``, one request at a time round the fleet, each bot asked
every 2 s at most by its own keep-alive client, as FreqUI polls), then PSS per bot (/proc/<pid>/smaps_rollup of every process
in the layout's containers and their containerd shims), then recovery: the bot's process killed
(SIGKILL from the host) until its API reports a loop run by a new process, median of
``--kills``. For preloaded pools, what one bot's memory is made of: private pages its process
copied from the preloader (copy-on-write) vs new ones, its launcher, its share of the rest.
Prints tables, writes JSON and draws PSS per bot over bots per pool (matplotlib, Agg).

Usage: python benchmarks/pool_density.py [--sizes 10 30 50] [--compose 50] [--minutes 15] [--kills 5]
                                         [--json benchmarks/results/pool_density.json] [--png docs/pool-memory.png]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleetbench as fb
import memory as mem

from engine.live.secret_values import load_key
from engine.live.secrets import api_credentials
from tests.market.runner import SubprocessMarket

COMPOSE_FLEET, PRELOAD_FLEET = "densc", "densp"
ROUND_SECONDS = 2.0
Endpoint = tuple[str, int, tuple[str, str]]  # ip, port, (user, password)


def endpoints(fleet: str, key: bytes, ports: dict[str, int]) -> dict[str, Endpoint]:
    """bot → where its API answers and its credentials, from the containers' labels and networks."""
    found = {}
    for c in mem.API.containers(filters={"label": f"io.fleetops.fleet={fleet}"}):
        ip = next(iter(c["NetworkSettings"]["Networks"].values()))["IPAddress"]
        for bot in filter(None, (c["Labels"].get("io.fleetops.bots") or "").split(",")):
            creds = api_credentials(key, fleet, bot)
            found[bot] = (ip, ports[bot], (creds["username"], creds["password"]))
    return found


def health(client: httpx.Client, where: Endpoint) -> dict[str, Any] | None:
    ip, port, auth = where
    try:
        answer = client.get(f"http://{ip}:{port}/api/v1/health", auth=auth, timeout=2)
        return answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def looped_since(answer: dict[str, Any] | None, since: float) -> bool:
    """Its loop finished an iteration in a process started at ``since`` or later (whole seconds)."""
    if not answer:
        return False
    started, last = answer.get("bot_startup_ts"), answer.get("last_process_ts")
    return isinstance(started, (int, float)) and isinstance(last, (int, float)) and started >= int(since) - 1 and last >= started


def wait_loops(where: dict[str, Endpoint], since: float, timeout: float = 900) -> float:
    """Seconds (from now) until every bot's loop ran in a process started after ``since``."""
    start = time.monotonic()
    pending = set(where)
    with httpx.Client() as client:
        while pending and time.monotonic() - start < timeout:
            pending = {bot for bot in pending if not looped_since(health(client, where[bot]), since)}
            if pending:
                time.sleep(0.2)
    if pending:
        sys.exit(f"loops never ran: {sorted(pending)[:5]}")
    return time.monotonic() - start


class Latency(threading.Thread):
    """One request at a time round the fleet, ping then status, each bot its own keep-alive client."""

    def __init__(self, where: dict[str, Endpoint]) -> None:
        super().__init__(daemon=True)
        self.where, self.stop = where, threading.Event()
        self.ms: dict[str, list[float]] = {"ping": [], "status": []}
        self.failed = 0

    def run(self) -> None:
        clients = {bot: httpx.Client(timeout=5) for bot in self.where}
        while not self.stop.is_set():
            round_began = time.monotonic()
            for bot, (ip, port, auth) in self.where.items():
                for path in ("ping", "status"):
                    began = time.perf_counter()
                    try:
                        answer = clients[bot].get(f"http://{ip}:{port}/api/v1/{path}", auth=auth)
                        ok = answer.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        self.ms[path].append((time.perf_counter() - began) * 1000)
                    else:
                        self.failed += 1
                if self.stop.is_set():
                    break
            self.stop.wait(ROUND_SECONDS - (time.monotonic() - round_began))  # each bot asked every 2 s at most
        for client in clients.values():
            client.close()

    def summary(self) -> dict[str, Any]:
        def cut(values: list[float]) -> dict[str, float]:
            ordered = sorted(values)
            return {"n": len(ordered), "p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))],
                    "max": ordered[-1]} if ordered else {"n": 0}
        return {path: cut(values) for path, values in self.ms.items()} | {"failed": self.failed}


def main_pid(container: str) -> int:
    return int(mem.API.inspect_container(container)["State"]["Pid"])


def bot_pid(fleet: str, bot: str) -> int:
    """The host pid of ``bot``'s FreqTrade process: in a dedicated container the one running
    ``freqtrade trade`` (under the container's init), in a pool the one whose title starts with the
    bot's name (the preloader names its children)."""
    for c in mem.API.containers(filters={"label": f"io.fleetops.fleet={fleet}"}):
        if bot not in (c["Labels"].get("io.fleetops.bots") or "").split(","):
            continue
        pooled = bool(c["Labels"].get("io.fleetops.pool"))
        for pid, args in mem.API.top(c["Id"], ps_args="-eo pid,args")["Processes"]:
            if args.startswith(f"{bot}: ") if pooled else (" trade --config" in args and "docker-init" not in args):
                return int(pid)
    raise LookupError(bot)


def recovery(fleet: str, where: dict[str, Endpoint], kills: int) -> list[float]:
    """Seconds from SIGKILL of a bot's process to its API reporting a loop of the new process."""
    times = []
    with httpx.Client() as client:
        for bot in sorted(where)[:kills]:
            killed = time.time()
            began = time.monotonic()
            os.kill(bot_pid(fleet, bot), signal.SIGKILL)
            while not looped_since(health(client, where[bot]), killed + 1):
                if time.monotonic() - began > 180:
                    sys.exit(f"{bot} did not come back within 180 s")
                time.sleep(0.05)
            times.append(time.monotonic() - began)
            time.sleep(2)
    return times


def breakdown(fleet: str) -> dict[str, float]:
    """One preloaded bot's memory (MB): private pages in ranges its preloader had (copy-on-write) and in
    new ones, its launcher's PSS, and the layout's PSS per bot."""
    container = mem.API.containers(filters={"label": f"io.fleetops.fleet={fleet}"})[0]
    rows = mem.API.top(container["Id"], ps_args="-eo pid,ppid,args")["Processes"]
    preloader = next(int(pid) for pid, _, args in rows if args.startswith("fleetops-preload"))
    bot = next(int(pid) for pid, ppid, args in rows if int(ppid) == preloader and ": freqtrade" in args)
    launcher = next(int(pid) for pid, _, args in rows if "preload.py launch" in args)
    parent = [(s, e) for s, e, *_ in smaps(preloader)]
    copied = new = 0
    for start, end, name, private in smaps(bot):
        if name in ("", "[heap]"):
            if any(s < end and start < e for s, e in parent):
                copied += private
            else:
                new += private
    return {"copied_mb": copied / 1024, "new_mb": new / 1024, "launcher_mb": mem.pss_kb(launcher) / 1024,
            "bot_pss_mb": mem.pss_kb(bot) / 1024, "preloader_pss_mb": mem.pss_kb(preloader) / 1024}


def smaps(pid: int) -> list[tuple[int, int, str, int]]:
    """(start, end, name, Private_Dirty kB) per mapping."""
    out: list[tuple[int, int, str, int]] = []
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            out.append((start, end, head[5] if len(head) > 5 else "", 0))
        elif head[0] == "Private_Dirty:":
            s, e, n, p = out[-1]
            out[-1] = (s, e, n, p + int(head[1]))
    return out


def trade(where: dict[str, Endpoint], minutes: float, started: float) -> dict[str, Any]:
    """Latency while the bots trade until ``minutes`` after ``started``."""
    probe = Latency(where)
    probe.start()
    time.sleep(max(0.0, started + minutes * 60 - time.monotonic()))
    probe.stop.set()
    probe.join()
    return probe.summary()


def compose_side(tmp: Path, bots: int, market: str, minutes: float, kills: int) -> dict[str, Any]:
    root, state, render = tmp / "compose", tmp / "compose-state", tmp / "compose-render"
    mem.write_repo(root, COMPOSE_FLEET, "dedicated", bots, market)
    _, proc = mem.fleetops(state, "render", "--repo", str(root), "--out", str(render))
    if proc.returncode != 0:
        sys.exit(f"render failed:\n{proc.stdout}\n{proc.stderr}")
    key = b"k" * 32
    fb.materialise_secrets(render, key, COMPOSE_FLEET)
    ports = fb.ports_of(render)
    began, since = time.monotonic(), time.time()
    subprocess.run([fb.COMPOSE, "up", "-d"], cwd=render, check=True, capture_output=True)
    where = endpoints(COMPOSE_FLEET, key, ports)
    cold = time.monotonic() - began + wait_loops(where, since)
    print(f"  compose {bots:3d} services: every loop ran after {cold:6.1f} s", flush=True)
    out: dict[str, Any] = {"bots": bots, "cold": cold, "latency": trade(where, minutes, began)}
    mb, processes = mem.layout_pss_mb(COMPOSE_FLEET)
    out |= {"pss_per_bot_mb": mb / bots, "processes": processes}
    out["recovery"] = recovery(COMPOSE_FLEET, where, kills)
    subprocess.run([fb.COMPOSE, "down", "-t", "2"], cwd=render, check=False, capture_output=True)
    mem.remove(COMPOSE_FLEET)
    return out


def preload_side(tmp: Path, bots: int, market: str, minutes: float, kills: int) -> dict[str, Any]:
    root, state = tmp / f"preload-{bots}", tmp / f"preload-{bots}-state"
    mem.write_repo(root, PRELOAD_FLEET, "preload", bots, market)
    began = time.monotonic()
    cold, proc = mem.fleetops(state, "apply", "--repo", str(root), "--yes")
    if proc.returncode != 0:
        sys.exit(f"apply failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(f"  preload {bots:3d} bots in one pool: apply returned (every loop ran) after {cold:6.1f} s", flush=True)
    status = json.loads(mem.fleetops(state, "status", "--format", "json")[1].stdout)
    ports = {b["name"]: b["port"] for c in status["containers"] for b in c["bots"]}
    where = endpoints(PRELOAD_FLEET, load_key(state) or b"", ports)
    out: dict[str, Any] = {"bots": bots, "cold": cold, "latency": trade(where, minutes, began)}
    mb, processes = mem.layout_pss_mb(PRELOAD_FLEET)
    out |= {"pss_per_bot_mb": mb / bots, "processes": processes, "breakdown": breakdown(PRELOAD_FLEET)}
    out["recovery"] = recovery(PRELOAD_FLEET, where, kills)
    mem.remove(PRELOAD_FLEET)
    return out


def tables(results: dict[str, Any]) -> str:
    """Markdown: memory per bot, API latency, cold start and recovery, each with the ratio to Compose."""
    base = results["compose"]
    rows = ["| layout | bots | PSS per bot | × Compose | cold start (every loop ran) | × Compose | recovery median |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for side in [base, *results["preload"]]:
        name = "Compose, one service per bot" if side is base else "fleetops, one preloaded pool"
        rows.append(f"| {name} | {side['bots']} | {side['pss_per_bot_mb']:.1f} MB | {side['pss_per_bot_mb'] / base['pss_per_bot_mb']:.2f}× "
                    f"| {side['cold']:.1f} s | {side['cold'] / base['cold']:.2f}× | {statistics.median(side['recovery']):.2f} s |")
    rows += ["", "| layout | bots | requests | `/ping` p50 / p95 / max | `/status` p50 / p95 / max | failed |", "|---|---:|---:|---|---|---:|"]
    for side in [base, *results["preload"]]:
        lat = side["latency"]
        cells = [f"{lat[p]['p50']:.1f} / {lat[p]['p95']:.1f} / {lat[p]['max']:.0f} ms" if lat[p]["n"] else "–" for p in ("ping", "status")]
        name = "Compose" if side is base else "preloaded pool"
        rows.append(f"| {name} | {side['bots']} | {lat['ping']['n'] + lat['status']['n']} | {cells[0]} | {cells[1]} | {lat['failed']} |")
    rows += ["", "| bots per pool | copied from the preloader (private) | new (private) | launcher PSS | preloader PSS (shared by all) |",
             "|---:|---:|---:|---:|---:|"]
    for side in results["preload"]:
        b = side["breakdown"]
        rows.append(f"| {side['bots']} | {b['copied_mb']:.1f} MB | {b['new_mb']:.1f} MB | {b['launcher_mb']:.1f} MB | {b['preloader_pss_mb']:.0f} MB |")
    return "\n".join(rows)


def draw(results: dict[str, Any], png: Path) -> None:
    """PSS per bot over bots per pool, Compose's per-bot figure as the line to beat and its quarter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = results["compose"]["pss_per_bot_mb"]
    sizes = [side["bots"] for side in results["preload"]]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.plot(sizes, [side["pss_per_bot_mb"] for side in results["preload"]], marker="o", color="C0", label="fleetops, one preloaded pool")
    ax.axhline(base, color="C1", linestyle="--", label=f"Compose, one service per bot ({results['compose']['bots']} bots)")
    ax.axhline(base / 4, color="gray", linestyle=":", label="a quarter of Compose (the target)")
    for side in results["preload"]:
        ax.annotate(f"{side['pss_per_bot_mb']:.0f} MB ({side['pss_per_bot_mb'] / base:.2f}×)", (side["bots"], side["pss_per_bot_mb"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xticks(sizes)
    ax.set_ylim(0, base * 1.15)
    ax.set_xlabel("real FreqTrade bots trading in the pool")
    ax.set_ylabel("PSS per bot (MB)")
    ax.set_title(f"Memory per bot after {results['minutes']:g} min of trading ({results['machine']})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--compose", type=int, default=50, help="bots in the Compose layout")
    parser.add_argument("--minutes", type=float, default=15.0, help="minutes of trading before memory is sampled")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--json", type=Path, default=fb.ROOT / "benchmarks/results/pool_density.json")
    parser.add_argument("--png", type=Path, default=fb.ROOT / "docs/pool-memory.png")
    parser.add_argument("--from-json", type=Path, help="reprint and redraw a saved run")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(tables(saved))
        draw(saved, args.png)
        return
    subprocess.run([str(fb.ROOT / "scripts/ensure-docker")], check=True)
    subprocess.run([sys.executable, str(fb.ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    for fleet in (COMPOSE_FLEET, PRELOAD_FLEET):
        mem.remove(fleet)
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores, {fb.available_mb() / 1024:.0f} GiB free", "minutes": args.minutes,
                               "date": time.strftime("%Y-%m-%d"), "preload": []}
    with tempfile.TemporaryDirectory(prefix="fleetops-density-") as tmp, SubprocessMarket(host="0.0.0.0") as market:
        url = f"http://{mem.docker0()}:{market.url.rsplit(':', 1)[1]}"
        print(f"real freqtrade trade bots (dry-run, local market {url}), {args.minutes:g} min of trading per layout", flush=True)
        try:
            results["compose"] = compose_side(Path(tmp), args.compose, url, args.minutes, args.kills)
            for bots in args.sizes:
                results["preload"].append(preload_side(Path(tmp), bots, url, args.minutes, args.kills))
                args.json.write_text(json.dumps(results, indent=1))
        finally:
            for fleet in (COMPOSE_FLEET, PRELOAD_FLEET):
                mem.remove(fleet)
    args.json.write_text(json.dumps(results, indent=1))
    print(tables(results))
    draw(results, args.png)
    print(f"\nraw figures: {args.json}; plot: {args.png}")


if __name__ == "__main__":
    main()
