"""Benchmark: the status page of a 200-bot fleet, and 50 live clients held for a minute.

The fleet runs on the in-memory fakes (the page serves a cached snapshot, so Docker's speed is
not what is measured; every bot answers with figures, so they are cached too). Over real HTTP
on loopback (uvicorn, httpx clients), it prints:
  - page time: GET / for the 200-bot fleet, median and p95 over 100 requests (client-measured,
    so it includes the loopback round trip; target: median under 100 ms)
  - SSE: 50 clients hold /events for --seconds (default 60) while the fleet changes every 2 s
    (a container stopped or started); each client must receive every change: missed updates
Usage: python benchmarks/status_page.py [--bots 200] [--clients 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from engine.backend.fake import FakeBackend  # noqa: E402
from engine.context import Context  # noqa: E402
from engine.flow import apply_plan, plan_commit  # noqa: E402
from engine.ftapi import RawAnswer  # noqa: E402
from engine.live.fake_bots import FakeBots  # noqa: E402
from engine.watch.server import HttpServer, create_app  # noqa: E402
from engine.web.figures import FigureCache  # noqa: E402
from engine.web.refresher import Refresher  # noqa: E402
from tests.support.bigfleet import make_big_fleet  # noqa: E402


class Figures:
    """Every bot answers its API with plausible trading figures."""

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        return RawAnswer(200, json.dumps({"health": {"last_process_ts": time.time() - 3}, "count": {"current": 1},
                                          "profit": {"profit_all_coin": 12.5, "profit_all_percent": 1.2}, "balance": {"total": 1012.5},
                                          "logs": {"logs": []}}[path.split("?")[0]]).encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def sse_client(url: str, seen: set[int], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=None) as client, client.stream("GET", url) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                seen.add(json.loads(line[6:])["version"])
            if stop.is_set():
                return


async def hold_clients(url: str, clients: int, seconds: float, change: callable) -> tuple[list[set[int]], list[int]]:  # type: ignore[valid-type]
    seen: list[set[int]] = [set() for _ in range(clients)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sse_client(url, s, stop)) for s in seen]
    await asyncio.sleep(2)
    versions = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        versions.append(await asyncio.to_thread(change))
        await asyncio.sleep(2)
    await asyncio.sleep(2)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return seen, versions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetops-page-") as tmp:
        root = Path(tmp)
        make_big_fleet(root / "repo", args.bots)
        backend = FakeBackend(images=("fleetops/standin-bot:1",))
        ctx = Context(root / "state", FakeBots(backend).ports(), lambda _l: None, {})
        assert apply_plan(ctx, plan_commit(ctx, root / "repo", None, proof=False)).status.value == "applied"
        figures = FigureCache(Figures())
        refresher = Refresher(ctx, figures, every=0.5)
        refresher.start()
        port = free_port()
        server = HttpServer(create_app(None, secret=None, branch="", web=refresher), "127.0.0.1", port)
        server.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while sum(1 for b in refresher.snapshot.bots if b.figures and b.figures.last_loop) < args.bots and time.monotonic() < deadline:
            time.sleep(0.2)
        with httpx.Client() as client:
            client.get(url + "/")
            times = []
            for _ in range(100):
                start = time.perf_counter()
                response = client.get(url + "/")
                times.append(time.perf_counter() - start)
                assert response.text.count('<tr data-name="') == args.bots
        times.sort()
        print(f"page: {args.bots}-bot fleet, GET / over loopback: median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {times[94] * 1000:.1f} ms, {len(response.content) / 1024:.0f} KiB (target: median < 100 ms)")
        print(f"bot API requests made for it all: {figures.requests} (5 per bot per 10 s at most, whatever the clients)")

        containers = sorted(backend.units)
        flips = [0]

        def change() -> int:
            name = containers[flips[0] % len(containers)]
            (backend.stop if backend.units[name].state == "running" else backend.start)(name)
            flips[0] += 1
            before = refresher.version
            refresher.poke()
            refresher.wait_change(before, 5)
            return refresher.version

        seen, versions = asyncio.run(hold_clients(url + "/events", args.clients, args.seconds, change))
        expected = set(versions)
        missed = [len(expected - s) for s in seen]
        print(f"SSE: {args.clients} clients for {args.seconds:.0f} s, {len(expected)} changes: every client received "
              f"{min(len(expected & s) for s in seen)}-{max(len(expected & s) for s in seen)} of them; "
              f"missed updates: {sum(missed)} in total")
        server.stop()
        refresher.stop()


if __name__ == "__main__":
    main()
