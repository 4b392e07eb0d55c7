"""The health gate: run each bot's checks until every one is healthy, one fails, or time is up.

Called through ``engine.live.health.gate_bots`` (the flow after converging and after a rollback,
the watcher's heal after a repair, the next run finishing a killed apply) and
``engine.live.health.wait_answering`` (the executor, before a moved bot's old copy goes). Pure:
what a bot shows comes from its ``Subject``.

The row (``engine.health.table``) is run step by step, all bots of a step in parallel (at most
16 at once): "waiting for N bot(s) to <goal>", then each round looks at the row's checks in order
— the guards, the steps already passed skipped — up to this step. A verdict of ``failed`` or worse
ends that bot's gate at once (today's fail-fast: a dead process, a strategy that raises); a step
that is not healthy yet ends the round, and the bot is looked at again after the step's pace;
once the step's window passes, the bot gets the worst of that round's verdicts, the step's own
made ``overdue``. A bot passes when the last step is healthy. ``look_once`` is one such round with
no waiting: what ``status``, the page and the watcher show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from engine.health.check import Check, Subject
from engine.health.status import HealthStatus, Verdict, worst
from engine.timing import stage

__all__ = ["BotHealth", "look_once", "run_gate", "unhealthy"]

WORKERS = 16


@dataclass(frozen=True)
class BotHealth:
    """One bot's gate result: its status, why, and how long the gate took for it."""

    bot: str
    status: HealthStatus
    detail: str
    seconds: float
    log: tuple[str, ...] = ()
    """The bot's last log lines (secrets masked) when it did not pass."""

    @property
    def passed(self) -> bool:
        return self.status is HealthStatus.HEALTHY

    def record(self) -> dict[str, Any]:
        """What a revision keeps of a bot that failed its gate (``RevisionStore.finish(details=…)``)."""
        return {"status": self.status.value, "detail": self.detail, "log": list(self.log)}


def unhealthy(results: Mapping[str, BotHealth]) -> list[BotHealth]:
    """The bots whose status is worse than healthy: any one of them fails the revision."""
    return [h for h in results.values() if h.status.worse_than(HealthStatus.HEALTHY)]


def _round(subject: Subject, checks: Sequence[Check], passed: set[Check]) -> tuple[list[Verdict], Check | None]:
    """Look at ``checks`` in order (skipping passed steps): the verdicts, and the step that holds the bot."""
    seen: list[Verdict] = []
    for check in checks:
        if check in passed:
            continue
        verdict = check.look(subject)
        if verdict is None:
            continue
        seen.append(verdict)
        if verdict.status.final:
            return seen, None
        if check.waits and verdict.status is not HealthStatus.HEALTHY:
            return seen, check
    return seen, None


def look_once(subject: Subject, checks: Sequence[Check]) -> Verdict | None:
    """One round over the row with no waiting: the worst verdict, or None when nothing was observed."""
    seen, _holding = _round(subject, checks, set())
    return worst(seen)


def _until(subject: Subject, checks: Sequence[Check], passed: set[Check], step: Check, window: float,
           clock: Callable[[], float], sleep: Callable[[float], None]) -> Verdict:
    deadline = clock() + window
    interval, slowest = step.pace
    while True:
        subject.forget()  # a new round: every observation is taken again
        seen, holding = _round(subject, checks, passed)
        if seen and seen[-1].status.final:
            return seen[-1]
        if holding is None:  # the step passed (a guard's "not yet", a STARTING process, does not hold it)
            return seen[-1] if seen and seen[-1].status is HealthStatus.HEALTHY else Verdict(HealthStatus.HEALTHY, f"{step.name}: passed")
        if clock() >= deadline:
            return worst([*seen[:-1], holding.overdue(seen[-1], window)]) or seen[-1]
        sleep(interval)
        interval = min(interval * 2, slowest)


def run_gate(subjects: Mapping[str, Subject], checks: Sequence[Check], timeout: float, *,
             progress: Callable[[str], None] = lambda _line: None, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> dict[str, BotHealth]:
    """Every bot's ``BotHealth`` after the row ``checks``, with ``timeout`` (the fleet's
    ``health.timeout_seconds``) as each step's window unless the step gives a shorter one."""
    started = clock()
    results: dict[str, BotHealth] = {}
    remaining = sorted(subjects)
    passed: set[Check] = set()
    last: dict[str, Verdict] = {}
    for index, step in enumerate(checks):
        if not step.waits:
            continue
        if remaining:
            progress(f"waiting for {len(remaining)} bot(s) to {step.goal}")
        window = step.window(timeout)
        upto = checks[:index + 1]
        with stage(f"health: {step.stage}"):
            if remaining:
                with ThreadPoolExecutor(max_workers=min(WORKERS, len(remaining))) as pool:
                    futures = {bot: pool.submit(_until, subjects[bot], upto, passed, step, window, clock, sleep) for bot in remaining}
                    verdicts = {bot: future.result() for bot, future in futures.items()}
            else:
                verdicts = {}
        for bot, verdict in verdicts.items():
            if verdict.status is HealthStatus.HEALTHY:
                last[bot] = verdict
            else:
                results[bot] = BotHealth(bot, verdict.status, verdict.detail, clock() - started)
        remaining = [bot for bot in remaining if bot not in results]
        passed.add(step)
    for bot in remaining:
        verdict = last.get(bot, Verdict(HealthStatus.HEALTHY, "no step to wait for"))
        results[bot] = BotHealth(bot, verdict.status, verdict.detail, clock() - started)
    return dict(sorted(results.items()))
