"""``fleetops logs`` and the page's tail read one log reader: pool and dedicated bots, masked, --since, --follow (fakes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from engine.cli.logs import show_logs
from engine.errors import StateError
from engine.live.botlogs import Masker, follow, parse_since, source_of, tail
from engine.live.observe import observe
from engine.live.secret_values import load_key
from engine.live.secrets import api_credentials
from engine.live.store import RevisionStatus
from tests.live.harness import FLEET, SOLO, STANDARD, Harness


@pytest.fixture
def h(base_repo: git.Repo, tmp_path: Path) -> Harness:
    h = Harness(base_repo, tmp_path / "state")
    h.environ.update({"K": "exchange-key-1234", "S": "exchange-secret-5678"})
    for stoploss in ("-0.08", "-0.15"):  # alpha-2 (pool standard) and solo (dedicated) trade with exchange keys
        h.edit("fleet/bots.yaml", f"stoploss: {stoploss}", f"stoploss: {stoploss}\nsecrets: {{exchange_key: 'env:K', exchange_secret: 'env:S'}}")
    assert h.apply().status is RevisionStatus.APPLIED
    return h


def password(h: Harness, bot: str) -> str:
    key = load_key(h.state)
    assert key is not None
    return api_credentials(key, FLEET, bot)["password"]


def printed(h: Harness, bot: str, **options: object) -> list[str]:
    lines: list[str] = []
    show_logs(h.context(), bot, fleet=None, lines=int(options.get("lines", 100)), since=options.get("since"),  # type: ignore[arg-type]
              following=False, echo=lines.append)
    return lines


LOG = [
    "2026-12-01 01:00:00,000 - freqtrade - INFO - Starting freqtrade",
    "2026-12-01 02:00:00,000 - freqtrade.exchange - INFO - key exchange-key-1234 secret exchange-secret-5678",
    "2026-12-01 02:00:01,000 - freqtrade - INFO - api password {password}",
    "2026-12-01 02:00:02,000 - strategy - INFO - config {{'secret': 'not-resolvable-here', 'password=abcd1234'}}",
    "2026-12-01 02:30:00,000 - freqtrade - ERROR - Impossible to load Strategy 'Alpha' \x1b[31m",
    "Traceback (most recent call last):",
]
MASKED = [
    "2026-12-01 01:00:00,000 - freqtrade - INFO - Starting freqtrade",
    "2026-12-01 02:00:00,000 - freqtrade.exchange - INFO - key *** secret ***",
    "2026-12-01 02:00:01,000 - freqtrade - INFO - api password ***",
    "2026-12-01 02:00:02,000 - strategy - INFO - config {'secret': '***', 'password=***'}",
    "2026-12-01 02:30:00,000 - freqtrade - ERROR - Impossible to load Strategy 'Alpha' \\x1b[31m",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize(("bot", "options", "expected"), [
    ("alpha-2", {}, MASKED),
    ("alpha-2", {"lines": 2}, MASKED[-2:]),
    ("alpha-2", {"since": "2026-12-01T02:00:01"}, MASKED[2:]),  # a traceback line goes with the stamped line before it
    ("solo", {}, MASKED),  # the dedicated bot's log is its unit's output
])
def test_a_bots_log_is_read_where_it_runs_and_masked(h: Harness, bot: str, options: dict[str, object], expected: list[str]) -> None:
    lines = [line.format(password=password(h, bot)) for line in LOG]
    if bot == "solo":
        h.backend.units[SOLO].output.extend((time.time(), line) for line in lines)
    else:
        h.backend.logs.setdefault((STANDARD, bot), []).extend(lines)
    assert printed(h, bot, **options) == expected


def test_since_reaches_a_dedicated_bots_unit_and_bad_input_is_a_sentence(h: Harness) -> None:
    h.backend.units[SOLO].output.extend([(time.time() - 7200, "old line"), (time.time(), "new line")])
    assert printed(h, "solo", since="1h") == ["new line"]
    with pytest.raises(StateError, match=r"--since 'yesterday': expected a duration such as 10m, 2h or 1d"):
        printed(h, "solo", since="yesterday")
    with pytest.raises(StateError, match=r"fleet testfleet has no bot nosuch \(its bots: alpha-1, alpha-2, beta-1, euro-1, solo\)"):
        printed(h, "nosuch")
    assert parse_since("90s", 1000.0) == 910.0 and parse_since("2026-12-01T00:00:00+00:00", 0) == 1796083200.0


def collect(lines: Iterator[str], want: int, into: list[str]) -> threading.Thread:
    def run() -> None:
        for line in lines:
            into.append(line)
            if len(into) == want:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("bot", ["alpha-2", "solo"])
def test_follow_prints_only_new_lines_masked_as_they_come(h: Harness, bot: str) -> None:
    site = h.context().site(FLEET)
    source = source_of(observe(site, with_processes=False), bot)
    mask = Masker.for_bot(source, load_key(h.state), h.environ)

    def write(line: str) -> None:
        if bot == "solo":
            h.backend.units[SOLO].output.append((time.time(), line))
        else:
            h.backend.logs.setdefault((STANDARD, bot), []).append(line)

    write("before the follow began")
    got: list[str] = []
    thread = collect(follow(site, source, mask), 2, got)
    time.sleep(0.2)
    write("first exchange-secret-5678")
    write("second")
    thread.join(timeout=5)
    assert got == ["first ***", "second"]
    assert tail(site, source, mask, 1) == ["second"]  # the page's tail reads the same lines
