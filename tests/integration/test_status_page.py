"""The status page in a real browser (Debian's Chromium, driven by Playwright) against a watcher
running a real fleet: every bot listed, a stopped container seen within 2 s, an apply seen as it
runs, markup shown as text. Screenshots (desktop and phone) are saved under test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import git
import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.browser import chromium
from tests.support.repos import commit, edit

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def watcher(live: LiveFleetHelper, tmp_path: Path) -> Iterator[tuple[str, git.Repo]]:
    bare = tmp_path / "origin.git"
    git.Repo.clone_from(live.root, bare, bare=True)
    work = git.Repo.clone_from(bare, tmp_path / "work")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(live.state)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(bare), "--interval", "1", "--resync", "10",
                             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/status", timeout=1).json()["queue"]["applied"] == work.head.commit.hexsha:
                break
        except (httpx.HTTPError, KeyError, TypeError):
            pass
        time.sleep(0.3)
    yield url, work
    proc.terminate()
    proc.wait(timeout=60)


def state_of(page, bot: str) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(f'#bots tr[data-name="{bot}"] td[data-label="State"]').inner_text()).strip()


def test_the_page_shows_the_fleet_live(browser, watcher: tuple[str, git.Repo], live: LiveFleetHelper) -> None:  # type: ignore[no-untyped-def]
    url, work = watcher
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 850})
    page.goto(url)
    page.wait_for_selector("#live.on")
    expected = {"alpha-1": "standard", "alpha-2": "standard", "beta-1": "standard", "euro-1": "small", "solo": "(dedicated)"}
    for bot, pool in expected.items():
        assert page.locator(f'#bots tr[data-name="{bot}"] td[data-label="Pool"]').inner_text() == pool
    # The snapshot the page opened with may come from a refresh that began while the apply still ran
    # (a pool's supervisord not answering yet: "unknown"); the live page catches up by itself.
    names = list(expected)
    page.wait_for_function("names => names.every(n => document.querySelector(`#bots tr[data-name=\"${n}\"] td[data-label=\"State\"]`)"
                           "?.textContent.trim() === 'running')", arg=names, timeout=20000)
    assert [state_of(page, bot) for bot in names] == ["running"] * len(names)
    page.wait_for_function("() => [...document.querySelectorAll('#bots td[data-label=\"Loop age\"]')].every(td => td.textContent.trim() !== '–')",
                           timeout=30000)  # the bots' own figures arrived (their trading loops tick)

    live.api.stop(f"{FLEET}-small-1", timeout=1)
    stopped = time.monotonic()
    page.wait_for_function("() => document.querySelector('#bots tr[data-name=\"euro-1\"] .badge').textContent === 'stopped'", timeout=5000)
    seen = time.monotonic() - stopped
    assert seen < 2.0, f"the page showed the stopped container after {seen:.2f} s"

    root = Path(work.working_dir)
    (root / "strategies/Alpha.py").write_text((root / "strategies/Alpha.py").read_text() + "\nimport time\ntime.sleep(4)\n")
    commit(work, "Alpha v5: slow to start", tag="v5")
    edit(root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v5\npairs: [SOL/USDT]")
    commit(work, "alpha-2 on v5 <img src=x onerror=alert(1)>")
    work.git.push("-q", "origin", "main", "--tags")
    page.wait_for_selector("#summary dt:text-is('Applying')", timeout=15000)  # the apply shows while it runs
    page.screenshot(path=str(ARTIFACTS / "status-applying.png"), full_page=True)
    page.wait_for_function("() => document.querySelector('#summary').textContent.includes('alpha-2 on v5')", timeout=30000)
    assert page.locator("#summary img").count() == 0  # the commit subject's markup is text
    assert "<img src=x onerror=alert(1)>" in page.locator("#summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "status-desktop.png"), full_page=True)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    phone.goto(url + "/?q=standard")
    phone.wait_for_selector("#live.on")
    assert phone.locator("#bots tbody tr:not([hidden])").count() == 3
    phone.screenshot(path=str(ARTIFACTS / "status-phone.png"), full_page=True)
    phone.click('a.botlink[href="/bots/alpha-1"]')  # a real pool bot's page: its supervisord program log, read from the host
    assert "alpha-1 serving on port" in phone.locator("#log").inner_text()
    assert phone.locator("#settings").inner_text().count("BTC/USDT, ETH/USDT") == 1
    assert phone.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    phone.screenshot(path=str(ARTIFACTS / "status-bot-phone.png"), full_page=True)
    revisions = browser.new_page(viewport={"width": 1366, "height": 850})
    revisions.goto(url + "/revisions")
    revisions.screenshot(path=str(ARTIFACTS / "status-revisions.png"), full_page=True)
    print(f"screenshots in {ARTIFACTS}; stopped container shown after {seen:.2f} s")
