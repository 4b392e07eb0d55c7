"""Renders the shipped Grafana dashboards to PNGs for the README, with data from a real Prometheus.

    .venv/bin/python scripts/render_dashboards.py [--seconds 120]

No Docker: a 12-bot fleet on the in-memory fakes (engine.backend.fake) whose bots answer with
simulated trading figures (profit drifting, trades opening and closing; one bot's loop stalls, one
logs strategy errors, one restarts) is served by ``fleetops serve``'s app with the watcher's engine
series beside it (a few applies, repairs and a quarantine counted by hand). Debian's Prometheus
(scripts/setup-prometheus) scrapes it every second with the shipped alert rules; then every panel of
monitoring/dashboards/*.json is queried (``query_range`` for graphs, ``query`` for stats) and drawn
where its gridPos puts it: docs/dashboard-<name>.png. The figures are simulated; the queries,
layout and Prometheus are the real ones.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from engine.backend.fake import FakeBackend  # noqa: E402
from engine.context import Context  # noqa: E402
from engine.demo_repo import commit_all  # noqa: E402
from engine.flow import apply_plan, plan_commit  # noqa: E402
from engine.ftapi import RawAnswer  # noqa: E402
from engine.live.fake_bots import FakeBots  # noqa: E402
from engine.watch.metrics import WatchMetrics  # noqa: E402
from engine.watch.runner import fleet_collector  # noqa: E402
from engine.watch.server import HttpServer, create_app  # noqa: E402
from engine.watch.sync import Sync, SyncInfo  # noqa: E402
from engine.web.figures import FigureCache  # noqa: E402
from engine.web.refresher import Refresher  # noqa: E402
from tests.support.bigfleet import make_big_fleet  # noqa: E402

STRATEGY_ERROR = "Strategy caused the following exception: ZeroDivisionError('division by zero')"


class Market:
    """Each bot's simulated figures, drifting with time (seeded: the same pictures each run)."""

    def __init__(self, stall: str, erring: str, restarting: str) -> None:
        self.random = random.Random(7)
        self.began = time.time()
        self.stall, self.erring, self.restarting = stall, erring, restarting
        self.state: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        with self.lock:
            now = time.time()
            s = self.state.setdefault(bot, {"profit": 0.0, "closed": 0.0, "trades": 0.0, "closed_count": 0.0, "high": 1000.0,
                                            "start": self.began - 600, "bias": self.random.uniform(-0.4, 0.6)})
            s["profit"] += self.random.gauss(s["bias"], 2.0)
            if self.random.random() < 0.3:
                s["trades"] = max(0.0, min(3.0, s["trades"] + self.random.choice((-1, 1))))
                if s["trades"] == 0:
                    s["closed"], s["closed_count"] = s["profit"], s["closed_count"] + 1
            if bot == self.restarting and now - self.began > 45 and s["start"] < self.began:
                s["start"] = now
            equity = 1000 + s["profit"]
            s["high"] = max(s["high"], equity)
            stalled = bot == self.stall and now - self.began > 20
            route = path.split("?")[0]
            data: Any = {
                "health": {"bot_start_ts": s["start"], "last_process_ts": (self.began + 20) if stalled else now - 2},
                "count": {"current": int(s["trades"]), "max": 3, "total_stake": 20.0 * s["trades"]},
                "profit": {"profit_all_coin": s["profit"], "profit_all_ratio": s["profit"] / 1000, "profit_all_percent": s["profit"] / 10,
                           "profit_closed_coin": s["closed"], "closed_trade_count": int(s["closed_count"]),
                           "current_drawdown": (s["high"] - equity) / s["high"]},
                "balance": {"total": equity},
                "logs": {"logs": [["", (s["start"] + 5) * 1000, "freqtrade.strategy", "ERROR", STRATEGY_ERROR]] if bot == self.erring else []},
            }[route]
        return RawAnswer(200, json.dumps(data).encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def legend(fmt: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt) or ",".join(f"{k}={v}" for k, v in labels.items())


def query(prom: str, expr: str, fleet: str, bot: str, start: float, end: float, ranged: bool) -> list[dict[str, Any]]:
    expr = expr.replace("$fleet", fleet).replace("$bot", bot)
    if ranged:
        answer = httpx.get(f"{prom}/api/v1/query_range", params={"query": expr, "start": start, "end": end, "step": 2}, timeout=10).json()
    else:
        answer = httpx.get(f"{prom}/api/v1/query", params={"query": expr, "time": end}, timeout=10).json()
    return answer["data"]["result"] if answer.get("status") == "success" else []  # type: ignore[no-any-return]


def draw(document: dict[str, Any], prom: str, fleet: str, bot: str, start: float, end: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = document["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(20, rows * 0.42))
    fig.suptitle(f"{document['title']}   (fleet {fleet}" + (f", bot {bot}" if "$bot" in json.dumps(document) else "") + ";  simulated figures, real Prometheus)",
                 fontsize=14, x=0.01, ha="left")
    for p in panels:
        g = p["gridPos"]
        left, width = 0.035 + g["x"] / 24 * 0.96, g["w"] / 24 * 0.96
        ax = fig.add_axes((left + 0.006, 1 - (g["y"] + g["h"]) / rows * 0.95 - 0.03 + 0.012, width - 0.03, g["h"] / rows * 0.95 - 0.03))
        ax.set_title(p["title"], fontsize=10, loc="left")
        if p["type"] == "stat":
            shown = []
            for t in p["targets"]:
                for r in query(prom, t["expr"], fleet, bot, start, end, ranged=False):
                    value = float(r["value"][1])
                    name = legend(t.get("legendFormat", ""), r["metric"])
                    if p["options"].get("textMode") == "name":
                        shown.append(re.sub(r"\b([0-9a-f]{12})[0-9a-f]{28}\b", r"\1", name))  # SHAs as people quote them
                    else:
                        unit = p["fieldConfig"]["defaults"].get("unit", "")
                        shown.append(f"{value:,.0f} s" if unit == "s" else f"{value:,.2f}".rstrip("0").rstrip("."))
            ax.text(0.5, 0.42, " / ".join(shown[:3]) or "no data", fontsize=18 if len(" ".join(shown)) < 14 else 9, ha="center", va="center",
                    color="#1f6feb" if shown else "#999")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_facecolor("#f4f8fd")
            continue
        count = 0
        for t in p["targets"]:
            for r in query(prom, t["expr"], fleet, bot, start, end, ranged=True):
                xs = [float(v[0]) - end for v in r["values"]]
                ys = [float(v[1]) for v in r["values"]]  # NaN (a quantile of no observations yet) is a gap
                if any(math.isfinite(y) for y in ys):
                    ax.plot(xs, ys, linewidth=1.2, label=legend(t.get("legendFormat", ""), r["metric"])[:28])
                    count += 1
        if count == 0:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="#999")
        elif count <= 8:
            ax.legend(fontsize=7, loc="upper left", ncol=2)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("seconds before now", fontsize=7)
        ax.grid(alpha=0.3)
    fig.savefig(out, dpi=72)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "setup-prometheus")], check=True)
    with tempfile.TemporaryDirectory(prefix="fleetops-dashboards-") as tmp:
        root = Path(tmp)
        repo = make_big_fleet(root / "repo", 12, per_pool=4)
        pools = root / "repo" / "fleet" / "pools.yaml"
        pools.write_text(pools.read_text().replace("capacity: 4\n", "capacity: 5\nmemory: 512m\ncpus: 0.5\n"))
        commit_all(repo, "limits", when="2026-01-01T00:00:00+00:00")
        backend = FakeBackend(images=("fleetops/standin-bot:1",))
        ctx = Context(root / "state", FakeBots(backend).ports(), lambda _l: None, {})
        assert apply_plan(ctx, plan_commit(ctx, root / "repo", None, proof=False)).status.value == "applied"
        market = Market(stall="bot-0005", erring="bot-0007", restarting="bot-0002")
        refresher = Refresher(ctx, FigureCache(market, ttl=2), every=1.0)
        refresher.start()
        metrics = WatchMetrics()
        metrics.add_collector(fleet_collector(refresher, lambda: SyncInfo(Sync.SYNCED, "", 3, "9f2c4e1" + "0" * 33, "main", "9f2c4e1" + "0" * 33)))
        metrics.revision.set(3)
        port = free_port()
        server = HttpServer(create_app(None, secret=None, branch="", web=refresher, metrics=metrics.exposition), "127.0.0.1", port)
        server.start()
        prom_port = free_port()
        rules = ROOT / "monitoring" / "alerts.yml"
        (root / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "fleetops", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
        prom = subprocess.Popen(["prometheus", f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.time()
        rnd = random.Random(3)
        cpu = dict.fromkeys(backend.units, 0.0)
        try:
            while time.time() - start < args.seconds:
                t = time.time() - start
                for unit in backend.units:
                    backend.memory[unit] = int((180 + 60 * math.sin(t / 20 + len(unit)) + rnd.uniform(0, 20)) * 2**20)
                    cpu[unit] += rnd.uniform(0.05, 0.35)
                    backend.cpu_seconds[unit] = cpu[unit]
                if rnd.random() < 0.25:
                    metrics.applies.labels(rnd.choice(("applied", "applied", "unchanged", "rolled_back"))).inc()
                    metrics.apply_duration.observe(rnd.uniform(3, 40))
                    metrics.commit_to_healthy.observe(rnd.uniform(8, 60))
                if rnd.random() < 0.1:
                    metrics.repairs.labels(rnd.choice(("restart", "recreate"))).inc()
                if 60 < t < 62:
                    metrics.quarantines.labels("invalid").inc()
                    metrics.quarantined.set(1)
                metrics.last_fetch.set(time.time() - rnd.uniform(0, 2))
                view = refresher.snapshot.view
                if view is not None:
                    metrics.set_pools(view.pool_bots, view.pool_capacity)
                time.sleep(1)
            end = time.time()
            out = ROOT / "docs"
            for path in sorted((ROOT / "monitoring" / "dashboards").glob("*.json")):
                draw(json.loads(path.read_text()), f"http://127.0.0.1:{prom_port}", "big", "bot-0005", start, end, out / f"dashboard-{path.stem}.png")
                print(f"wrote docs/dashboard-{path.stem}.png")
            alerts = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            print("alerts:", sorted({(a["labels"]["alertname"], a["labels"].get("bot", ""), a["state"]) for a in alerts}))
        finally:
            prom.terminate()
            prom.wait(timeout=20)
            server.stop()
            refresher.stop()


if __name__ == "__main__":
    main()
