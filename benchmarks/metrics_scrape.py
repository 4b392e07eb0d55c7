"""Benchmark: ``/metrics`` of a 200-bot fleet — scrape time, and the bot API calls it costs.

The fleet runs on the in-memory fakes (FAKES, not Docker and not FreqTrade: the scrape reads the
refresher's cached snapshot, so neither is what is measured); every bot answers its API with
plausible figures. ``fleetops serve``'s app over real HTTP on loopback (uvicorn, httpx), the
refresher and figure cache at their production settings (a snapshot a second, each bot asked at
most once per 10 s). It prints:
  - scrape time: GET /metrics (client-measured: the loopback round trip is included; target:
    p95 <= 100 ms): the first scrape, which waits for the render; --paced scrapes 1.1 s apart, as
    Prometheus scrapes (the text is re-rendered in the background once a second while scrapes
    come, so a scrape gets text at most 2 s old); --scrapes back to back; the same with --scrapers
    clients at once; the exposition's size and sample count; and the render's own CPU time (in
    process, no HTTP, --paced renders): what keeping it warm costs each second, and what a scrape
    after a quiet spell waits for;
  - bot API calls: those the figure cache made over the whole run, and those made from any other
    thread (a scrape, a page): target 0, i.e. at most the collector's calls whatever the scrapers.
Usage: python benchmarks/metrics_scrape.py [--bots 200] [--paced 30] [--scrapes 200] [--scrapers 10]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from engine.backend.fake import FakeBackend  # noqa: E402
from engine.context import Context  # noqa: E402
from engine.flow import apply_plan, plan_commit  # noqa: E402
from engine.ftapi import RawAnswer  # noqa: E402
from engine.live.fake_bots import FakeBots  # noqa: E402
from engine.watch.metrics import exposition_of  # noqa: E402
from engine.watch.runner import fleet_collector  # noqa: E402
from engine.watch.server import HttpServer, create_app  # noqa: E402
from engine.watch.sync import sync_from_state  # noqa: E402
from engine.web.figures import FigureCache  # noqa: E402
from engine.web.refresher import Refresher  # noqa: E402
from tests.support.bigfleet import make_big_fleet  # noqa: E402


def figures_answer(path: str) -> dict[str, object]:
    """A trading bot's answer to each route the figure cache asks."""
    started = time.time() - 3600
    return {"health": {"bot_start_ts": started, "last_process_ts": time.time() - 3},
            "count": {"current": 1, "max": 3, "total_stake": 20.0},
            "profit": {"profit_all_coin": 12.5, "profit_all_percent": 1.2, "profit_all_ratio": 0.012, "profit_closed_coin": 10.0,
                       "closed_trade_count": 4, "current_drawdown": 0.01},
            "balance": {"total": 1012.5}, "logs": {"logs": []}}[path.split("?")[0]]


class Figures:
    """Every bot answers with ``figures_answer``; calls are counted by the thread that made them."""

    def __init__(self) -> None:
        self.by_cache = 0
        self.by_others = 0
        self.lock = threading.Lock()

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        with self.lock:
            if threading.current_thread().name.startswith("fleetops-figures"):
                self.by_cache += 1
            else:
                self.by_others += 1
        return RawAnswer(200, json.dumps(figures_answer(path)).encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed_scrape(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and "freqtrade_bot_up" in response.text
    return elapsed


def p95(times: list[float]) -> float:
    return sorted(times)[max(0, int(len(times) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--paced", type=int, default=30)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--scrapers", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetops-metrics-") as tmp:
        root = Path(tmp)
        make_big_fleet(root / "repo", args.bots)
        backend = FakeBackend(images=("fleetops/standin-bot:1",))
        ctx = Context(root / "state", FakeBots(backend).ports(), lambda _l: None, {})
        assert apply_plan(ctx, plan_commit(ctx, root / "repo", None, proof=False)).status.value == "applied"
        api = Figures()
        figures = FigureCache(api)
        refresher = Refresher(ctx, figures, every=1.0)
        began = time.monotonic()
        refresher.start()
        port = free_port()
        metrics = exposition_of(fleet_collector(refresher, lambda: sync_from_state(ctx.state_dir, ctx.read_store(), None)))
        server = HttpServer(create_app(None, secret=None, branch="", web=refresher, metrics=metrics), "127.0.0.1", port)
        server.start()
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        while sum(1 for b in refresher.snapshot.bots if b.figures and b.figures.up) < args.bots and time.monotonic() < deadline:
            time.sleep(0.2)
        with httpx.Client() as client:
            first = timed_scrape(client, url)
            text = client.get(url).text
            paced = []
            for _ in range(args.paced):
                time.sleep(1.1)
                paced.append(timed_scrape(client, url))
            sequential = [timed_scrape(client, url) for _ in range(args.scrapes)]
        samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        print(f"/metrics of a {args.bots}-bot fleet (fakes): {len(text) / 1024:.0f} KiB, {samples} samples")
        print(f"first scrape (renders while it waits): {first * 1000:.1f} ms")
        print(f"paced (1.1 s apart, kept warm): {args.paced} scrapes, median {statistics.median(paced) * 1000:.1f} ms, "
              f"p95 {p95(paced) * 1000:.1f} ms, max {max(paced) * 1000:.1f} ms (target: p95 <= 100 ms)")
        print(f"back to back: {args.scrapes} scrapes, median {statistics.median(sequential) * 1000:.1f} ms, "
              f"p95 {p95(sequential) * 1000:.1f} ms (target: p95 <= 100 ms)")

        def scraper(_: int) -> list[float]:
            with httpx.Client() as client:
                return [timed_scrape(client, url) for _ in range(args.scrapes // args.scrapers)]

        with ThreadPoolExecutor(args.scrapers) as pool:
            concurrent = [t for times in pool.map(scraper, range(args.scrapers)) for t in times]
        render = exposition_of(fleet_collector(refresher, lambda: sync_from_state(ctx.state_dir, ctx.read_store(), None)), max_age=0)
        cpu = []
        for _ in range(args.paced):
            start = time.process_time()
            render()
            cpu.append(time.process_time() - start)
        print(f"render CPU time (in process, {args.paced} renders): median {statistics.median(cpu) * 1000:.1f} ms, p95 {p95(cpu) * 1000:.1f} ms")
        print(f"{args.scrapers} scrapers at once: {len(concurrent)} scrapes, median {statistics.median(concurrent) * 1000:.1f} ms, "
              f"p95 {p95(concurrent) * 1000:.1f} ms")
        seconds = time.monotonic() - began
        print(f"bot API calls over {seconds:.0f} s: {api.by_cache} by the figure cache ({api.by_cache / args.bots:.1f} per bot: "
              f"5 per bot per 10 s at most), {api.by_others} by anything else (scrapes included; target 0)")
        server.stop()
        refresher.stop()
        figures.close()


if __name__ == "__main__":
    main()
