"""The gate: each bot's checks until every one is healthy, one fails (at once), or the window passes.

Bots are scripted subjects (what they show round after round) on a fake clock that moves only
when the gate sleeps, so a case states exactly when a bot passes or fails and how often each
thing was asked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pytest

from engine.ftapi import BotLogs, LoopHealth, RawAnswer
from engine.health.check import PingSeen, ProcessSeen
from engine.health.gate import look_once, run_gate
from engine.health.status import HealthStatus
from engine.health.table import CHECKS, checks_of

START = 1_800_000_000.0
ERROR = "Strategy caused the following exception: ZeroDivisionError('division by zero')"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


RUNNING, PONG, NO_PONG = ProcessSeen("RUNNING"), PingSeen("10.0.0.2", True, "pong"), PingSeen("10.0.0.2", False, "ConnectError")


def loop(looped: bool) -> LoopHealth:
    body = {"bot_start_ts": START, "last_process_ts": START + 1 if looped else None}
    return LoopHealth.parse(RawAnswer(200, json.dumps(body).encode()))


def logs(*messages: str) -> BotLogs:
    rows = [["d", (START + 0.5) * 1000, "freqtrade.strategy", "ERROR", m] for m in messages]
    return BotLogs.parse(RawAnswer(200, json.dumps({"logs": rows}).encode()))


@dataclass
class Script:
    """A bot that shows ``rounds[i]`` in the gate's round i (the last one from then on; the rounds
    go on from one step to the next). Like the real subjects, it is asked each thing once a round."""

    rounds: list[dict[str, object]]
    waiting: bool = True
    round: int = -1
    asked: dict[str, int] = field(default_factory=dict)
    _this_round: set[str] = field(default_factory=set)

    def now(self) -> float:
        return START + 5

    def forget(self) -> None:
        self.round += 1
        self._this_round.clear()

    def _show(self, what: str) -> object:
        if what not in self._this_round:
            self._this_round.add(what)
            self.asked[what] = self.asked.get(what, 0) + 1
        return self.rounds[min(max(self.round, 0), len(self.rounds) - 1)].get(what)

    def process(self) -> ProcessSeen | None:
        return self._show("process")  # type: ignore[return-value]

    def ping(self) -> PingSeen | None:
        return self._show("ping")  # type: ignore[return-value]

    def loop(self) -> LoopHealth | None:
        return self._show("loop")  # type: ignore[return-value]

    def logs(self) -> BotLogs | None:
        return self._show("logs")  # type: ignore[return-value]


def up(**more: object) -> dict[str, object]:
    return {"process": RUNNING, "ping": PONG, "loop": loop(True), "logs": logs(), **more}


@dataclass
class GateCase:
    name: str
    kind: str
    rounds: list[dict[str, object]]
    status: str
    detail: str
    asked: dict[str, int]
    """How often the gate asked the bot for each observation."""
    timeout: float = 60.0
    most_seconds: float = 60.0
    """The fake clock when it ended is at most this: a bot that fails fast does not wait out the timeout."""


CASES = [
    GateCase("pong at the third look", "ping", [up(ping=NO_PONG), up(ping=NO_PONG), up()], "healthy", "pong",
             {"process": 3, "ping": 3}, most_seconds=0.5),
    GateCase("its process dies while the gate waits: failed at once", "ping",
             [up(ping=NO_PONG), up(ping=NO_PONG, process=ProcessSeen("FATAL"))], "failed", "its process is FATAL (supervisord)",
             {"process": 2, "ping": 1}, most_seconds=0.5),
    GateCase("no pong within the timeout: degraded", "ping", [up(ping=NO_PONG)], "degraded", "no pong within the timeout (last: ConnectError)",
             {"process": 6, "ping": 6}, timeout=1.0, most_seconds=1.5),
    GateCase("a STARTING process does not hold its ping", "ping", [up(process=ProcessSeen("STARTING"))], "healthy", "pong",
             {"process": 1, "ping": 1}),
    GateCase("no address: missing at once", "ping", [up(ping=PingSeen(None, False, "no address"))], "missing",
             "its container has no address (not running?)", {"process": 1, "ping": 1}, most_seconds=0.0),
    GateCase("a container Docker restarts fails before any ping", "loop", [up(process=ProcessSeen(None, "restarting", 1))], "failed",
             "its container restarted 1 time(s) since it started (it is restarting)", {"process": 1}, most_seconds=0.0),
    GateCase("the loop runs at the third look; the ping is not asked again", "loop",
             [up(loop=loop(False)), up(loop=loop(False)), up(loop=loop(False)), up()],  # round 0 is the ping's
             "healthy", "its trading loop runs (last at 08:00:01 UTC)", {"process": 4, "ping": 1, "loop": 3, "logs": 3}),
    GateCase("a strategy error fails it at once, looped or not", "loop", [up(logs=logs(ERROR))], "failed",
             f"its strategy raised since it started: {ERROR}", {"process": 2, "ping": 1, "loop": 1, "logs": 1}, most_seconds=0.0),
    GateCase("a stalled loop is degraded once its window passes (the timeout, if shorter than 30 s)", "loop", [up(loop=loop(False))],
             "degraded", "its trading loop has not run since it started 3 s ago (last_process_ts None, started 1800000000.0): "
             "is its exchange reachable?", {"process": 7, "ping": 1, "loop": 6, "logs": 6}, timeout=3.0, most_seconds=4.0),
    GateCase("with check: ping the loop is never asked", "ping", [up(loop=loop(False))], "healthy", "pong", {"process": 1, "ping": 1}),
    GateCase("the worst status when time is up: degraded over a guard's progressing", "ping",
             [up(process=ProcessSeen("STARTING"), ping=NO_PONG)], "degraded", "no pong within the timeout (last: ConnectError)",
             {"process": 6, "ping": 6}, timeout=1.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gate(case: GateCase) -> None:
    clock, bot = Clock(), Script(case.rounds)
    result = run_gate({"b": bot}, checks_of(case.kind), case.timeout, clock=clock, sleep=clock.sleep)["b"]  # type: ignore[dict-item]
    assert (result.status.value, result.detail) == (case.status, case.detail)
    assert bot.asked == case.asked
    assert clock() <= case.most_seconds


def test_the_gate_says_what_it_waits_for_and_passes_only_the_bots_that_pass_each_step() -> None:
    clock, lines = Clock(), []
    bots = {"good": Script([up()]), "mute": Script([up(ping=NO_PONG)]), "dead": Script([up(process=ProcessSeen("EXITED"))])}
    results = run_gate(bots, CHECKS["loop"], 1.0, progress=lines.append, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert lines == ["waiting for 3 bot(s) to answer /api/v1/ping", "waiting for 1 bot(s) to run their trading loop"]
    assert {b: h.status for b, h in results.items()} == {"dead": HealthStatus.FAILED, "good": HealthStatus.HEALTHY,
                                                          "mute": HealthStatus.DEGRADED}
    assert [h.bot for h in results.values() if h.passed] == ["good"] and bots["mute"].asked.get("loop") is None


def test_one_look_without_waiting_is_the_worst_of_the_checks_it_reached() -> None:
    stalled = Script([up(ping=NO_PONG)], waiting=False)
    verdict = look_once(stalled, CHECKS["loop"])  # type: ignore[arg-type]
    assert verdict is not None and (verdict.status, verdict.detail) == (HealthStatus.DEGRADED, "it does not answer its ping (ConnectError)")
    assert "loop" not in stalled.asked  # the steps after one that is not healthy are not looked at
    assert look_once(Script([{}], waiting=False), CHECKS["loop"]) is None  # nothing observed: nothing said  # type: ignore[arg-type]


def test_every_kind_of_the_table_ends_with_a_step_and_is_what_a_spec_may_name() -> None:
    from typing import get_args

    from engine.compile.essence import HealthSettings
    from engine.spec.models import Health

    assert all(row and row[-1].waits for row in CHECKS.values())  # guards after the last step would never be looked at
    assert get_args(Health.model_fields["check"].annotation) == tuple(CHECKS) == get_args(HealthSettings.model_fields["check"].annotation)
    assert len({c.name for row in CHECKS.values() for c in row}) == len({id(c) for row in CHECKS.values() for c in row})
