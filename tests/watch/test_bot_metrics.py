"""The per-bot series of ``/metrics`` over real HTTP against the fakes: values, labels, no ``*_created``,
and scrapes that never reach a bot (the collector's cache is the only caller of the bots' APIs)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import git
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.ftapi import RawAnswer
from engine.live.fake_bots import STRATEGY_ERROR, Behaviour, BotCall
from engine.live.store import RevisionStatus
from engine.watch.bot_metrics import SERIES, FleetCollector
from engine.watch.metrics import WatchMetrics, exposition_of
from engine.watch.runner import fleet_collector, serve_metrics
from engine.watch.server import HttpServer, create_app
from engine.watch.sync import Sync, SyncInfo
from engine.web.figures import FigureCache
from engine.web.refresher import Refresher
from tests.live.harness import SMALL, SOLO, STANDARD, Harness
from tests.web.test_pages import free_port

RUNNING = ("alpha-1", "alpha-2", "beta-1", "euro-1", "solo")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Served:
    def __init__(self, harness: Harness, url: str, refresher: Refresher, calls: list[str], clock: Clock) -> None:
        self.h, self.url, self.refresher, self.calls, self.clock = harness, url, refresher, calls, clock

    def scrape(self) -> str:
        response = httpx.get(self.url + "/metrics", timeout=5)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        return response.text

    def wait_figures(self, check: object = None, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            figures = {b.name: b.figures for b in self.refresher.snapshot.bots}
            if all(figures.get(b) is not None for b in RUNNING) and (check is None or check(figures)):  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError(f"figures never arrived: {figures}")


@pytest.fixture
def served(base_repo: git.Repo, tmp_path: Path) -> Iterator[Served]:
    """``fleetops serve``'s app over a fake fleet whose five bots trade; every bot API call is recorded."""
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    calls: list[str] = []
    lock = threading.Lock()

    def record(call: BotCall) -> RawAnswer | None:
        with lock:
            calls.append(f"{call.bot} {call.path}")
        return None

    h.bots.handler = record
    h.bots.open_trades["alpha-1"] = 2
    h.bots.realised["alpha-1"] = 12.5
    h.bots.behave(Behaviour(strategy_errors=(STRATEGY_ERROR,)), bot="beta-1")
    h.bots.behave(Behaviour(loop=False), bot="euro-1")
    h.backend.memory.update({STANDARD: 300 * 2**20, SMALL: 100 * 2**20, SOLO: 90 * 2**20})
    h.backend.cpu_seconds.update({STANDARD: 12.5})
    time.sleep(0.6)  # the strategy error is logged half a second after the start
    clock = Clock()
    refresher = Refresher(h.context(), FigureCache(h.bots, ttl=60, clock=clock), every=0.1)
    refresher.start()
    port = free_port()
    app = create_app(None, secret=None, branch="", web=refresher, metrics=serve_metrics(h.context(), refresher))
    server = HttpServer(app, "127.0.0.1", port)
    server.start()
    yield Served(h, f"http://127.0.0.1:{port}", refresher, calls, clock)
    server.stop()
    refresher.stop()
    refresher.figures.close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [v for (n, ls), v in samples(text).items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def test_serve_exports_each_bots_trading_health_and_container_figures(served: Served) -> None:
    served.wait_figures()
    text = served.scrape()
    assert value(text, "freqtrade_bot_up", bot="alpha-1", fleet="testfleet", pool="standard") == 1.0
    assert value(text, "freqtrade_bot_open_trades", bot="alpha-1") == 2.0 and value(text, "freqtrade_bot_open_trades", bot="alpha-2") == 0.0
    assert value(text, "freqtrade_bot_max_open_trades", bot="alpha-1") == 3.0
    assert value(text, "fleetops_bot_profit_realised", bot="alpha-1") == 12.5
    assert value(text, "freqtrade_bot_balance", bot="alpha-1") == 1012.5
    assert value(text, "fleetops_bot_strategy_errors", bot="beta-1") == 1.0 and value(text, "fleetops_bot_strategy_errors", bot="alpha-1") == 0.0
    assert value(text, "fleetops_bot_last_loop_timestamp_seconds", bot="euro-1") is None  # it never looped:
    assert value(text, "fleetops_bot_loop_age_seconds", bot="euro-1") is not None  # its age counts from its start
    assert value(text, "fleetops_bot_state", bot="solo", state="running", pool="") == 1.0
    assert value(text, "fleetops_bot_state", bot="solo", state="stopped") is None  # the state it is in only
    assert value(text, "fleetops_bot_health_status", bot="alpha-1", status="healthy") == 1.0
    bot = next(b for b in served.refresher.snapshot.bots if b.name == "euro-1")
    assert value(text, "freqtrade_bot_up", bot="euro-1", exchange=bot.exchange or "", strategy=bot.strategy or "") == 1.0
    assert value(text, "fleetops_bot_allocation", bot="euro-1") == bot.allocation
    assert value(text, "fleetops_container_memory_bytes", container=STANDARD, pool="standard") == 300 * 2**20
    assert value(text, "fleetops_container_cpu_seconds_total", container=STANDARD) == 12.5
    assert value(text, "fleetops_container_cpu_seconds_total", container=SMALL) is None  # unknown: no series
    assert value(text, "fleetops_pool_utilisation_ratio", pool="standard") is not None
    wallets = served.refresher.snapshot.wallets
    assert wallets and all(value(text, "fleetops_wallet_balance", wallet=name) == w.balance for name, w in wallets.items())
    assert value(text, "fleetops_sync_info", status="Unknown", revision="1") == 1.0  # no watcher ever fetched a branch head here
    assert value(text, "fleetops_collector_requests_total") == len(served.calls)


def test_scrapes_never_call_a_bot_whatever_the_number_of_scrapers(served: Served) -> None:
    """Five bots, five requests each per ttl (health, count, profit, balance, logs), however many scrape."""
    served.wait_figures()
    time.sleep(0.3)  # a few more rounds of the refresher: still within the ttl
    before = list(served.calls)
    assert len(before) == 5 * len(RUNNING)
    threads = [threading.Thread(target=lambda: [served.scrape() for _ in range(10)]) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert served.calls == before
    served.clock.now += 61  # the ttl passes: the cache (not a scrape) asks each bot once more
    served.wait_figures(lambda figures: all(f.fetched_at >= served.clock.now for f in figures.values() if f is not None))
    assert len(served.calls) == 2 * 5 * len(RUNNING)


def test_a_restart_is_counted_once_from_the_bots_own_start_time(served: Served) -> None:
    """FreqTrade's ``bot_startup_ts`` is this process's start; ``bot_start_ts`` its first start ever, which stays."""
    served.wait_figures()
    starts = {"solo": 1000.0}

    def restarted(call: BotCall) -> RawAnswer | None:
        if call.bot == "solo" and call.path == "health":
            return RawAnswer(200, f'{{"bot_start_ts": 500, "bot_startup_ts": {starts["solo"]}, "last_process_ts": {starts["solo"] + 5}}}'.encode())
        return None

    served.h.bots.handler = restarted
    for start in (1000.0, 2000.0, 2000.0, 3000.0):
        starts["solo"] = start
        served.clock.now += 61
        served.wait_figures(lambda figures: figures["solo"].fetched_at >= served.clock.now)
    assert value(served.scrape(), "fleetops_bot_restarts_total", bot="solo") == 3.0  # the real start, then two changes


def test_no_created_series_and_every_documented_series_is_exposed(served: Served) -> None:
    """On the watcher's whole registry (engine series, counters incremented, and the per-bot collector)."""
    served.wait_figures()
    metrics = WatchMetrics()
    metrics.applies.labels("applied").inc()
    metrics.repairs.labels("restart").inc()
    metrics.add_collector(FleetCollector(lambda: served.refresher.snapshot, lambda: 7,
                                         sync=lambda: SyncInfo(Sync.OUT_OF_SYNC, "applied by hand", 3, "a" * 40, "main", "b" * 40)))
    text = metrics.exposition().decode()
    names = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    assert not [n for n in names if n.endswith("_created")] and "fleetops_applies_total" in names
    families = {family.name for family in text_string_to_metric_families(text)}
    assert set(SERIES) <= families, set(SERIES) - families
    assert value(text, "fleetops_sync_info", status="OutOfSync", revision="3", commit="a" * 40) == 1.0
    assert not [n for n in {s.name for f in text_string_to_metric_families(served.scrape()) for s in f.samples} if n.endswith("_created")]


def test_every_metric_the_dashboards_and_alerts_use_is_exposed(served: Served) -> None:
    """Each name in an expression of the shipped dashboards (regenerated) and alert rules is a family or a
    sample of a real exposition: the watcher's registry with the per-bot collector, as ``watch --listen`` serves it."""
    from tests.test_monitoring import MONITORING, dashboards_script

    served.wait_figures()
    metrics = WatchMetrics()
    metrics.add_collector(fleet_collector(served.refresher, lambda: SyncInfo(Sync.SYNCED, "", 3, "a" * 40, "main", "a" * 40)))
    families = list(text_string_to_metric_families(metrics.exposition().decode()))
    exposed = {f.name for f in families} | {s.name for f in families for s in f.samples} | {f"{f.name}_total" for f in families if f.type == "counter"}
    script = dashboards_script()
    used = {name for text in script.build().values() for expr in script.expressions(json.loads(text))
            for name in script.METRIC.findall(expr)}
    used |= set(script.METRIC.findall((MONITORING / "alerts.yml").read_text()))
    assert len(used) > 30 and used <= exposed, sorted(used - exposed)


def test_scrapers_at_the_same_moment_share_one_render() -> None:
    """``/metrics`` formats the collectors' families at most once per second, however many scrape."""
    from prometheus_client.core import GaugeMetricFamily

    collected: list[float] = []

    class Counting:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            collected.append(now.now)
            yield GaugeMetricFamily("fleetops_example", "Renders so far", value=len(collected))

    now = Clock()
    render = exposition_of(Counting(), max_age=1.0, keep_warm=0, clock=now)  # type: ignore[arg-type]
    first = render()
    threads = [threading.Thread(target=render) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert render() == first and b"fleetops_example 1.0" in first and len(collected) == 1
    now.now += 1.0
    assert b"fleetops_example 2.0" in render() and len(collected) == 2


def test_while_scrapes_come_the_text_is_kept_warm_and_then_left_alone() -> None:
    """A scrape is handed text rendered in the background (at most twice ``max_age`` old); a minute's
    worth (here ``keep_warm``) after the last scrape, nothing renders any more."""
    from prometheus_client.core import GaugeMetricFamily

    class Stamped:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield GaugeMetricFamily("fleetops_example_timestamp_seconds", "When rendered", value=time.monotonic())

    render = exposition_of(Stamped(), max_age=0.1, keep_warm=0.5)  # type: ignore[arg-type]
    render()
    time.sleep(0.35)
    renders = render.renders  # type: ignore[attr-defined]
    assert renders >= 3  # the first scrape's, then the background's without a scrape
    stamp = float(render().decode().split("fleetops_example_timestamp_seconds ")[-1])
    assert time.monotonic() - stamp < 0.25
    time.sleep(1.0)
    settled = render.renders  # type: ignore[attr-defined]
    time.sleep(0.4)
    assert render.renders == settled  # type: ignore[attr-defined]


def test_on_a_swarm_every_bot_and_container_series_carries_its_node(served: Served) -> None:
    for unit, node in ((STANDARD, "w1"), (SMALL, "w2"), (SOLO, "w2")):
        served.h.backend.units[unit].node = node
    served.wait_figures(lambda _: all(c.node for c in served.refresher.snapshot.containers))
    time.sleep(2.1)  # the text kept warm since the fixture's first scrape, if any, is re-rendered
    text = served.scrape()
    assert value(text, "freqtrade_bot_up", bot="alpha-1", node="w1") == 1.0 and value(text, "freqtrade_bot_up", bot="solo", node="w2") == 1.0
    assert value(text, "fleetops_container_memory_bytes", container=SMALL, node="w2") == 100 * 2**20
