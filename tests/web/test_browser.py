"""The page to act from in a real browser (Debian's Chromium, driven by Playwright) at laptop (1366 px)
and phone (390 px) widths, against the fakes: a fleet whose last apply was rolled back because a bot
printed FreqTrade's configuration dump before ``Impossible to load Strategy``, a bot the flap guard
stopped, trades, a log with secrets in it. What an operator needs must be on screen without
scrolling sideways: nothing wider than the viewport, the cause above the tail, sync and health in the
header; and the page works with JavaScript off. Screenshots go to ``$FLEETOPS_SHOTS_DIR`` (default
``test-artifacts/``) for a person to look at."""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from engine.backend.fake import Exits, Runs
from engine.live.store import RevisionStatus, RevisionStore
from engine.web.figures import FigureCache
from engine.web.refresher import Refresher
from tests.conftest import ROOT
from tests.live.harness import STANDARD, Harness
from tests.support.browser import chromium
from tests.support.repos import commit
from tests.web.test_pages import serving

pytestmark = pytest.mark.slow

SHOTS = Path(os.environ.get("FLEETOPS_SHOTS_DIR") or ROOT / "test-artifacts")
FREQTRADE_START = [
    "2026-12-01 02:10:00,101 - freqtrade.loggers - INFO - Verbosity set to 0",
    "2026-12-01 02:10:00,102 - freqtrade.configuration.configuration - INFO - Runmode set to dry_run.",
    *[f"2026-12-01 02:10:00,{110 + i} - freqtrade.configuration.configuration - INFO - Using exchange config: "
      f"{{'name': 'binance', 'key': '', 'secret': '', 'ccxt_config': {{'enableRateLimit': True, 'rateLimit': {50 + i}}}, "
      f"'pair_whitelist': ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'], 'pair_blacklist': [], 'markets_refresh_interval': 60}}"
      for i in range(15)],
    "2026-12-01 02:10:01,500 - freqtrade.resolvers.iresolver - ERROR - Impossible to load Strategy 'Alpha'. This class does not exist "
    "or contains Python code errors.",
    "2026-12-01 02:10:01,501 - freqtrade - ERROR - Fatal exception!",
    "Traceback (most recent call last):",
    '  File "/home/ftuser/.local/lib/python3.12/site-packages/freqtrade/resolvers/strategy_resolver.py", line 291, in _load_strategy',
    "freqtrade.exceptions.OperationalException: Impossible to load Strategy 'Alpha'. This class does not exist or contains Python code errors.",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def served(base_repo: git.Repo, tmp_path: Path) -> Iterator[str]:
    h = Harness(base_repo, tmp_path / "state")
    h.fast_health()
    h.environ.update({"K": "exchange-key-1234", "S": "exchange-secret-5678"})
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.10\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    path = h.root / "strategies/Alpha.py"
    path.write_text(path.read_text() + "\n# v2: a syntax error FreqTrade cannot load\n")
    broken = path.read_bytes()
    h.backend.process = lambda s: Exits(tuple(FREQTRADE_START)) if s.files.strategy[1] == broken else Runs()
    commit(h.repo, "Alpha v2: faster exits, with a very long commit subject that a phone has to wrap somewhere sensible", tag="v2")
    h.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")
    assert h.apply().status is RevisionStatus.ROLLED_BACK
    h.bots.open_trades["alpha-1"] = 2
    h.bots.realised["alpha-1"] = 23.75
    h.backend.memory[STANDARD] = 700 << 20
    h.backend.logs.setdefault((STANDARD, "alpha-1"), []).extend([
        "2026-12-01 02:20:00,000 - freqtrade.worker - INFO - Bot heartbeat. PID=12, version='2026.9', state='RUNNING'",
        "2026-12-01 02:20:05,000 - freqtrade.exchange.exchange - INFO - Using key exchange-key-1234 (should never be printed)",
        "2026-12-01 02:20:09,000 - freqtrade.freqtradebot - INFO - Long signal found: about create a new trade for BTC/USDT with stake_amount: "
        "100.0 and a line long enough to need wrapping on any phone screen at all"])
    live = RevisionStore(h.state).latest(good_only=True)
    assert live is not None and live.commit is not None
    status = {"fleet": "testfleet", "branch": "main", "remote": "git@github.com:example/fleet.git", "healthy": True,
              "health_detail": "following main", "failing": {"beta-1": "restarted 4 times in 37 s: stopped by the flap guard"},
              "quarantine": [{"commit": "9" * 40, "reason": "refused: the plan deletes more than half of the fleet's bots"}],
              "sync": {"status": "OutOfSync", "reason": "the branch head 9999999 is quarantined; revision 1 runs commit "
                       f"{live.commit[:7]}", "revision": 1, "commit": live.commit, "branch": "main",
                       "branch_head": "9" * 40, "drift": []}}
    minutes, start = itertools.count(), time.time() - 40 * 60
    clock = lambda: min(time.time(), start + 8 * next(minutes))  # noqa: E731 - the last 40 minutes of figures in a second or two, then now
    refresher = Refresher(h.context(), FigureCache(h.bots, ttl=0.05, clock=clock), watcher=lambda: status, every=0.05)
    refresher.start()
    deadline = time.monotonic() + 20
    while (not (points := refresher.figures.history("alpha-1")) or points[-1][0] < time.time() - 1) and time.monotonic() < deadline:
        h.bots.realised["alpha-1"] = 20 * math.sin(len(points) / 5)  # equity moves: the sparkline has a shape
        time.sleep(0.02)
    assert len(refresher.figures.history("alpha-1")) > 20
    with serving(refresher) as url:
        yield url
    refresher.stop()
    refresher.figures.close()


def fits(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing is wider than the viewport: no sideways scrolling, nothing cut off at the right edge."""
    overflow = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1
                      && !e.closest('details:not([open])'));
        return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className)};
    }""")
    assert overflow["scroll"] <= overflow["width"] and not overflow["wide"], overflow


@pytest.mark.parametrize(("width", "height", "name"), [(1366, 850, "laptop"), (390, 844, "phone")])
def test_the_page_to_act_from_reads_at_laptop_and_phone_widths(browser, served: str, width: int, height: int, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=name == "laptop")
    page = context.new_page()

    page.goto(served + "/")
    assert page.locator("#sync .tile-big").inner_text() == "OutOfSync"
    assert page.locator("#health .tile-big").inner_text() == "1 failing"
    assert page.locator("#sync").bounding_box()["y"] < height  # sync and health are the first thing on screen
    assert page.locator("#bots tbody tr").first.get_attribute("data-name") == "beta-1"  # the failing bot on top
    fits(page)
    page.screenshot(path=str(SHOTS / f"page-fleet-{name}.png"), full_page=True)

    page.click('a.botlink[href="/bots/alpha-1"]')  # no JavaScript needed: a link
    assert page.locator("h1").first.inner_text().startswith("alpha-1")
    assert page.locator("#equity polyline").count() == 1
    assert "*** (should never be printed)" in page.locator("#log").inner_text()
    assert page.locator("#open-trades tbody tr").count() == 2
    fits(page)
    page.screenshot(path=str(SHOTS / f"page-bot-{name}.png"), full_page=True)

    page.goto(served + "/revisions")
    failure = page.locator(".failure").first
    cause = failure.locator(".cause-line")
    assert cause.inner_text().startswith("ERROR Impossible to load Strategy 'Alpha'")
    assert cause.bounding_box()["y"] < failure.locator("pre.log").first.bounding_box()["y"]  # the cause first, then the tail
    assert "Using exchange config" not in failure.locator("pre.log").first.inner_text()  # the dump is one click away, not in the way
    fits(page)
    page.screenshot(path=str(SHOTS / f"page-revisions-{name}.png"), full_page=True)
    context.close()
