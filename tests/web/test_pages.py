"""The status page over real HTTP against the fakes: content, escaping, live events, token, headers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import git
import httpx
import pytest

from engine.live.store import RevisionStatus
from engine.watch.server import HttpServer, create_app
from engine.web.figures import FigureCache
from engine.web.refresher import Refresher
from tests.live.harness import SMALL, STANDARD, Harness

MARKUP = "<img src=x onerror=alert(1)>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(refresher: Refresher) -> Iterator[str]:
    """The status page of ``refresher`` on a free loopback port (no token, no webhook); its URL."""
    port = free_port()
    server = HttpServer(create_app(None, secret=None, branch="", web=refresher, token=None), "127.0.0.1", port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class Page:
    def __init__(self, harness: Harness, url: str, refresher: Refresher) -> None:
        self.h, self.url, self.refresher = harness, url, refresher

    def get(self, path: str = "/", **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def page(base_repo: git.Repo, tmp_path: Path) -> Iterator[Page]:
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    from engine.watch.sync import sync_from_state

    # as ``fleetops serve`` builds it: the sync status read from the state dir (no watcher followed a branch from it here)
    refresher = Refresher(h.context(), FigureCache(None), every=0.2,
                          sync=lambda: sync_from_state(h.state, h.context().read_store(), None).to_json())
    refresher.start()
    with serving(refresher) as url:
        yield Page(h, url, refresher)
    refresher.stop()


def test_the_page_lists_every_bot_with_its_pool_and_state(page: Page) -> None:
    html = page.get().text
    for bot, pool in [("alpha-1", "standard"), ("alpha-2", "standard"), ("beta-1", "standard"), ("euro-1", "small"), ("solo", "(dedicated)")]:
        row = html.split(f'<tr data-name="{bot}"')[1].split("</tr>")[0]
        assert f'<td data-label="Pool">{pool}</td>' in row and ">running</span>" in row
        assert '<td data-label="Health"><span class="badge health-healthy">healthy</span>' in row  # why, only when not healthy
    sync = html.split('id="sync"')[1].split('id="health"')[0]
    assert '<strong class="tile-big">Unknown</strong>' in sync and '<span class="tile-why">' in sync
    assert '<strong class="tile-big">All 5 healthy</strong>' in html.split('id="health"')[1]
    filtered = page.get("/?q=kraken&sort=-allocation").text
    assert filtered.count('<tr data-name="') == 1 and 'data-name="euro-1"' in filtered  # works without JavaScript


def test_values_from_records_logs_and_git_are_shown_as_text(page: Page) -> None:
    record = page.h.record(SMALL, "euro-1")
    data = json.loads(record.read_text())
    data["essence"]["pairs"] = [MARKUP]
    record.write_text(json.dumps(data))
    page.refresher.poke()
    time.sleep(0.5)
    html = page.get().text
    assert MARKUP not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.replace('<script src="/static/app.js" defer></script>', "")
    policy = page.get().headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy


def test_failure_logs_on_the_revisions_page_are_escaped(page: Page) -> None:
    from tests.live.test_apply_with_fakes import break_alpha

    page.h.fast_health()
    break_alpha(page.h)
    from engine.backend.fake import Exits, Runs
    from tests.support.repos import commit

    (page.h.root / "strategies/Alpha.py").write_text((page.h.root / "strategies/Alpha.py").read_text() + "\n# v4\n")
    v4 = (page.h.root / "strategies/Alpha.py").read_bytes()
    page.h.backend.process = lambda s: Exits(("Traceback (most recent call last):", f"RuntimeError: strategy crashed {MARKUP}")) \
        if s.files.strategy[1] == v4 else Runs()  # a process started with v4 dies at once, its log quoting markup

    commit(page.h.repo, f"v4 {MARKUP}", tag="v4")
    page.h.edit("fleet/bots.yaml", "strategy: Alpha@v3", "strategy: Alpha@v4")
    assert page.h.apply().status is RevisionStatus.ROLLED_BACK
    page.refresher.poke()
    time.sleep(0.5)
    html = page.get("/revisions").text
    assert "rolled_back" in html and "RuntimeError: strategy crashed" in html and "bot/alpha-2" in html
    failure = html.split('<section class="failure">')[1].split("</section>")[0]
    assert '<strong>alpha-2</strong> <span class="badge health-failed">failed</span>' in failure
    cause = failure.split('<span class="cause-line">')[1].split("</span>")[0]  # the cause leads, before the filtered tail
    assert cause == "RuntimeError: strategy crashed &lt;img src=x onerror=alert(1)&gt;"
    assert '<p class="muted detail">its process is BACKOFF (supervisord)' in failure
    assert MARKUP not in html


def test_the_event_stream_sends_a_change_within_two_seconds(page: Page) -> None:
    with httpx.stream("GET", page.url + "/events", timeout=10) as stream:
        lines = stream.iter_lines()
        first = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
        assert 'data-name="euro-1"' in first["bots"]
        page.h.backend.stop(SMALL)
        stopped = time.monotonic()
        while True:
            line = next(lines)
            if line.startswith("data: "):
                update = json.loads(line[6:])
                row = update["bots"].split('data-name="euro-1"')[1].split("</tr>")[0]
                if ">stopped</span>" in row:
                    assert 'title="its container is exited">missing</span>' in row
                    break
        assert time.monotonic() - stopped < 2.0


def test_a_token_guards_everything_but_health_login_and_assets(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    refresher = Refresher(h.context(), FigureCache(None))
    refresher.start()
    port = free_port()
    server = HttpServer(create_app(None, secret=None, branch="", web=refresher, token="t0k3n"), "127.0.0.1", port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(url + "/api/fleet").status_code == 401
        assert httpx.get(url + "/events").status_code == 401  # the event stream closes at once
        assert httpx.get(url + "/", headers={"Accept": "text/html"}).headers["location"] == "/login"
        assert httpx.get(url + "/healthz").status_code == 200 and httpx.get(url + "/static/app.css").status_code == 200
        assert httpx.post(url + "/login", data={"token": "wrong"}).status_code == 401
        login = httpx.post(url + "/login", data={"token": "t0k3n"})
        assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
        assert httpx.get(url + "/", cookies={"fleetops_token": "t0k3n"}).status_code == 200
        assert httpx.get(url + "/api/fleet", headers={"Authorization": "Bearer t0k3n"}).status_code == 200
    finally:
        server.stop()
        refresher.stop()


def test_another_fleet_name_still_running_from_the_state_dir_is_on_the_page(page: Page, tmp_path: Path) -> None:
    copy = git.Repo.clone_from(page.h.repo.working_dir, tmp_path / "copy")
    other = Harness(copy, page.h.state, page.h.backend)
    (other.root / "fleet/fleet.yaml").write_text((other.root / "fleet/fleet.yaml").read_text().replace("name: testfleet", "name: oldname"))
    assert other.apply().status is RevisionStatus.APPLIED  # now the latest revision's fleet: the page shows it, and testfleet beside it
    deadline = time.monotonic() + 10
    while "Also running from this state dir" not in (html := page.get().text) and time.monotonic() < deadline:
        time.sleep(0.1)
    banner = html.split('class="banner bad other-fleet"')[1].split("</div>")[0]
    assert "<strong>testfleet</strong>" in banner and "5 running" in banner
    assert "<code>testfleet-standard-1</code> running: alpha-1 (running), alpha-2 (running), beta-1 (running)" in banner
    assert page.get("/api/fleet").json()["other_fleets"][0]["fleet"] == "testfleet"


def test_the_page_and_the_metrics_carry_each_units_node(page: Page) -> None:
    """On a swarm (units listed with their node) the containers table has a Node column and the metrics count
    each node's bots by state; on one host (no node) the page has no such column."""
    from engine.watch.metrics import WatchMetrics

    assert '<th>Node</th>' not in page.get().text
    for unit, node in (("testfleet-standard-1", "w1"), ("testfleet-small-1", "w2"), ("testfleet-bot-solo", "w2")):
        page.h.backend.units[unit].node = node
    deadline = time.monotonic() + 5
    while not (page.refresher.snapshot.view and page.refresher.snapshot.view.node_bots) and time.monotonic() < deadline:
        time.sleep(0.05)
    html = page.get().text
    assert '<th>Node</th>' in html
    row = html.split('<td data-label="Container">testfleet-small-1')[-1].split("</tr>")[0]  # the containers table comes last
    assert '<td data-label="Node">w2</td>' in row
    metrics = WatchMetrics()
    metrics.set_nodes(page.refresher.snapshot.view.node_bots)  # type: ignore[union-attr]
    text = metrics.exposition().decode()
    assert 'fleetops_node_bots{node="w1",state="running"} 3.0' in text and 'fleetops_node_bots{node="w2",state="running"} 2.0' in text


def settled(read: Callable[[], int], quiet: float = 0.5, timeout: float = 10.0) -> int:
    """``read()`` once it has not changed for ``quiet`` seconds (fetches in flight have landed)."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        if (now := read()) != value:
            value, since = now, time.monotonic()
    return value


@pytest.fixture
def trading(base_repo: git.Repo, tmp_path: Path) -> Iterator[Page]:
    """A page whose refresher asks the fake bots (figures every 0.05 s), beta-1 stopped by the flap guard,
    one quarantined commit, the fleet out of sync, and alpha-2 trading with exchange keys it must not show."""
    h = Harness(base_repo, tmp_path / "state")
    h.environ.update({"K": "exchange-key-1234", "S": "exchange-secret-5678"})
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    h.bots.open_trades["alpha-2"] = 1
    h.bots.realised["alpha-2"] = 12.5
    h.backend.memory[STANDARD] = 900 << 20
    h.backend.logs.setdefault((STANDARD, "alpha-2"), []).extend([
        "2026-12-01 02:00:00,000 - freqtrade.exchange - INFO - Using key exchange-key-1234 and secret exchange-secret-5678",
        f"2026-12-01 02:00:01,000 - freqtrade - WARNING - odd {MARKUP}"])
    status = {"fleet": "testfleet", "failing": {"beta-1": "restarted 4 times in 37 s (flap guard)"},
              "quarantine": [{"commit": "c" * 40, "reason": "the specs do not validate"}],
              "sync": {"status": "OutOfSync", "reason": "the live revision was applied from a commit that is not the branch head",
                       "revision": 1, "commit": "a" * 40, "branch": "main", "branch_head": "b" * 40, "drift": []}}
    refresher = Refresher(h.context(), FigureCache(h.bots, ttl=0.05), watcher=lambda: status, every=0.1)
    refresher.start()
    with serving(refresher) as url:
        yield Page(h, url, refresher)
    refresher.stop()
    refresher.figures.close()


def test_the_header_tells_sync_and_health_and_failing_bots_come_first(trading: Page) -> None:
    html = trading.get().text
    sync = html.split('id="sync"')[1].split('id="health"')[0]
    assert '<strong class="tile-big">OutOfSync</strong>' in sync and "main @ <code>bbbbbbb</code>" in sync
    assert "not the branch head" in sync and "running revision 1 (<code>aaaaaaa</code>)" in sync
    health = html.split('id="health"')[1].split("</div>")[0]
    assert '<strong class="tile-big">1 failing</strong>' in health
    order = [row.split('"')[0] for row in html.split('<tr data-name="')[1:]]
    assert order[0] == "beta-1" and "restarted 4 times in 37 s (flap guard)</div>" in html  # the why shows without hovering
    assert '<a class="botlink" href="/bots/alpha-2">' in html
    assert '<span class="badge failed">blocked</span> <code>cccccccccccc</code>' in html  # the fleet is not synced: still blocking
    synced = {"status": "Synced", "reason": "", "revision": 2, "commit": "d" * 40, "branch": "main", "branch_head": "d" * 40, "drift": []}
    trading.refresher.watcher = lambda: {"fleet": "testfleet", "quarantine": [{"commit": "c" * 40, "reason": "invalid"}], "sync": synced}
    trading.refresher.poke()
    deadline = time.monotonic() + 5
    while "Synced</strong>" not in (html := trading.get().text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '<span class="badge applied">resolved</span> <code>cccccccccccc</code>' in html  # a newer commit applied since
    assert '<strong class="tile-big">All 5 healthy</strong>' in html


def test_the_bot_page_shows_trades_equity_log_settings_and_memory_at_two_bot_calls(trading: Page) -> None:
    figures = trading.refresher.figures
    trading.refresher.detail.ttl = 3600.0  # every view below falls within one ttl, however loaded the machine
    deadline = time.monotonic() + 30
    while len(figures.history("alpha-2")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    trading.refresher.stop()  # the figures' own pace stops with it: what is asked from here on, page views asked
    calls = settled(lambda: figures.requests)
    pages = [trading.get("/bots/alpha-2").text for _ in range(20)]
    assert trading.refresher.detail.requests == 2  # /status and /trades once for twenty views (within the ttl)
    assert figures.requests == calls  # the sparkline and the figures come from what the refresher fetched
    html = pages[-1]
    assert MARKUP not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    log = html.split('<pre class="log" id="log">')[1].split("</pre>")[0]
    assert "Using key *** and secret ***" in log and "exchange-secret-5678" not in html and "exchange-key-1234" not in html
    assert '<td data-label="Pair">BTC/USDT</td>' in html.split('id="open-trades"')[1].split("</table>")[0]
    recent = html.split('id="recent-trades"')[1].split("</table>")[0]
    assert '<td data-label="Pair">ETH/USDT</td>' in recent and '<td data-label="P/L" class="num gain">12.50 +2.00%</td>' in recent
    assert '<polyline points="' in html and "1,012.50 USDT</strong>" in html  # allocation 1000 + profit, from the figures' history
    memory = html.split('id="memory"')[1].split("</div>")[0]
    assert "<strong>900 MiB of 1024 MiB</strong>" in memory and 'value="88"' in memory and "shared by its 3 bots" in memory
    settings = html.split('id="settings"')[1].split("</dl>")[0]
    assert "<dt>Pairs</dt><dd>SOL/USDT</dd>" in settings and "<dt>Stoploss</dt><dd>-8.00%</dd>" in settings
    assert "<dt>Secrets</dt><dd>exchange_key, exchange_secret</dd>" in settings
    assert "<script" not in html.replace('<script src="/static/app.js" defer></script>', "") and " style=" not in html
    assert trading.get("/bots/nosuch").status_code == 404
