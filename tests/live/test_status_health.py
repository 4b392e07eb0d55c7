"""``fleetops status`` shows each bot's health: one look with the fleet's checks, against the fakes.

Each case does one thing to the applied test fleet (its host or its bots' APIs) and states the
health ``status --format json`` gives every bot, and the detail of the one it is about.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from engine.ftapi import RawAnswer
from engine.live.fake_bots import STRATEGY_ERROR, Behaviour, BotCall
from engine.live.store import RevisionStatus
from engine.status import fleet_report, fleet_status, status_to_text
from tests.live.harness import SMALL, STANDARD, Harness

ALL_HEALTHY = {"alpha-1": "healthy", "alpha-2": "healthy", "beta-1": "healthy", "euro-1": "healthy", "solo": "healthy"}


def loop_stalled_an_hour_ago(call: BotCall) -> RawAnswer | None:
    if call.bot == "alpha-2" and call.path == "health":
        return RawAnswer(200, json.dumps({"bot_start_ts": time.time() - 7200, "last_process_ts": time.time() - 3600}).encode())
    return None


@dataclass
class StatusCase:
    name: str
    change: Callable[[Harness], None]
    health: dict[str, str | None]
    bot: str = ""
    detail: str = ""
    errors: int | None = 0
    """The bot's strategy errors column (None: not asked)."""


CASES = [
    StatusCase("an applied fleet is healthy", lambda h: None, ALL_HEALTHY, "alpha-1", "its trading loop runs (last at "),
    StatusCase("a stopped container: its bot is missing", lambda h: h.backend.stop(SMALL), {**ALL_HEALTHY, "euro-1": "missing"},
               "euro-1", "its container is exited", None),
    StatusCase("a dead process: failed", lambda h: h.backend.kill_program(STANDARD, "beta-1"), {**ALL_HEALTHY, "beta-1": "failed"},
               "beta-1", "its process is EXITED (supervisord)", None),
    StatusCase("an API that does not answer: degraded", lambda h: h.bots.behave(Behaviour(answers=False), bot="alpha-1"),
               {**ALL_HEALTHY, "alpha-1": "degraded"}, "alpha-1", "it does not answer its ping (ConnectError)", None),
    StatusCase("a loop that stopped an hour ago: degraded", lambda h: setattr(h.bots, "handler", loop_stalled_an_hour_ago),
               {**ALL_HEALTHY, "alpha-2": "degraded"}, "alpha-2", "its trading loop last ran at "),
    StatusCase("a strategy that raises: failed", lambda h: h.bots.behave(Behaviour(strategy_errors=(STRATEGY_ERROR,)), bot="solo"),
               {**ALL_HEALTHY, "solo": "failed"}, "solo", f"its strategy raised since it started: {STRATEGY_ERROR}", 1),
    StatusCase("a disabled bot is not looked at", lambda h: (h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nenabled: false"),
                                                          h.apply()), {**ALL_HEALTHY, "alpha-2": None}, "alpha-2", "", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_status_shows_each_bots_health(case: StatusCase, base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    case.change(h)
    report = fleet_status(h.context(), "testfleet")
    bots = {b["name"]: b for c in report["containers"] for b in c["bots"]}
    assert {name: b["health"]["status"] if b["health"] else None for name, b in bots.items()} == case.health
    looked = bots[case.bot]["health"]
    assert (looked["detail"] if looked else "").startswith(case.detail)
    assert bots[case.bot]["errors"] == case.errors
    text = status_to_text(fleet_report(h.context(), "testfleet"))
    row = next(line for line in text.splitlines() if line.startswith(f"{case.bot} "))
    assert row.split()[2] == (case.health[case.bot] or "-")  # BOT STATE HEALTH …
    if case.health[case.bot] not in ("healthy", None):
        assert f"{case.bot}: {case.health[case.bot]}: {case.detail}" in text  # each bot that is not healthy, and why


def test_status_asks_each_running_bot_its_ping_health_and_log_once(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    asked: list[str] = []
    h.bots.handler = lambda call: asked.append(f"{call.bot} {call.path}")  # type: ignore[func-returns-value]
    started = time.monotonic()
    fleet_status(h.context(), "testfleet")
    assert sorted(asked) == sorted(f"{b} {p}" for b in ALL_HEALTHY for p in ("health", "logs?limit=200", "profit"))
    assert time.monotonic() - started < 5


def test_status_shows_each_containers_memory_and_limit(base_repo: git.Repo, tmp_path: Path) -> None:
    """Each running container's memory in use (what its site's ``memory_of`` reads: cgroups on Docker, the node's
    agent on a swarm) and the memory limit it was applied with; a stopped one's memory is null."""
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    h.backend.memory.update({STANDARD: 300 << 20, SMALL: 90 << 20})
    h.backend.stop(SMALL)
    containers = {c["name"]: c for c in fleet_status(h.context(), "testfleet")["containers"]}
    assert {name: (c["memory"], c["memory_limit"]) for name, c in containers.items()} == {
        STANDARD: (300 << 20, "1g"), SMALL: (None, None), "testfleet-bot-solo": (None, None)}  # small and solo set no limit


def test_status_shows_memory_uptime_health_and_profit_columns(base_repo: git.Repo, tmp_path: Path) -> None:
    """``fleetops status``: each container's memory against its limit, each bot's uptime (its API's start
    time), health and P/L (its API's ``profit_all_coin``, in its stake currency); '-' where nothing answered."""
    h = Harness(base_repo, tmp_path / "state")
    assert h.apply().status is RevisionStatus.APPLIED
    h.backend.memory.update({STANDARD: 300 << 20})

    def answers(call: BotCall) -> RawAnswer | None:
        if call.bot == "alpha-1" and call.path == "profit":
            return RawAnswer(200, json.dumps({"profit_all_coin": -3.456, "profit_all_percent": -1.2, "profit_closed_coin": 1.0}).encode())
        if call.bot == "alpha-1" and call.path == "health":
            return RawAnswer(200, json.dumps({"bot_start_ts": time.time() - 3 * 3600 - 5 * 60 - 30, "last_process_ts": time.time()}).encode())
        return None

    h.bots.handler = answers
    h.bots.behave(Behaviour(answers=False), bot="beta-1")
    report = fleet_report(h.context(), "testfleet")
    bots = {b["name"]: b for c in report.to_json()["containers"] for b in c["bots"]}
    assert (bots["alpha-1"]["profit"], bots["alpha-1"]["profit_pct"]) == (-3.456, -1.2)
    assert 3 * 3600 + 5 * 60 + 29 <= bots["alpha-1"]["uptime"] <= 3 * 3600 + 5 * 60 + 35
    assert (bots["beta-1"]["uptime"], bots["beta-1"]["profit"]) == (None, None)
    text = status_to_text(report)
    header = next(line for line in text.splitlines() if line.startswith("BOT "))
    assert header.split()[:10] == ["BOT", "STATE", "HEALTH", "PROCESS", "PORT", "UPTIME", "LOOP", "ERRORS", "P/L", "CONTAINER"]
    alpha = next(line for line in text.splitlines() if line.startswith("alpha-1 ")).split()
    assert alpha[2] == "healthy" and alpha[5] == "3h05m" and alpha[9:11] == ["-3.46", "USDT"]  # LOOP is "0 s"
    beta = next(line for line in text.splitlines() if line.startswith("beta-1 ")).split()
    assert beta[2] == "degraded" and beta[5] == "-" and beta[8] == "-"
    standard = next(line for line in text.splitlines() if line.startswith(f"{STANDARD} "))
    assert standard.endswith("3/3   300 MiB / 1g")
    solo = next(line for line in text.splitlines() if line.startswith("testfleet-bot-solo "))
    assert solo.split()[-1] == "-"  # no figure, no limit
