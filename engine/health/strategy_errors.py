"""Check: the bot's log has no strategy error since the bot started.

A guard, looked at with the loop (it reads the same ``/api/v1/health`` for the start time, and
``/api/v1/logs``). A strategy that raises on every candle is caught per pair by FreqTrade and
logged while its loop goes on, so the loop check alone would pass it; one such line since the
start fails the bot at once. The lines are FreqTrade's own wording for an exception in strategy
code (``freqtrade/strategy/strategy_wrapper.py``, ``interface.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.health.check import Check, Subject
from engine.health.status import HealthStatus, Verdict

if TYPE_CHECKING:
    from engine.ftapi import BotLogs, LoopHealth

__all__ = ["STRATEGY_ERROR", "STRATEGY_ERRORS", "StrategyErrorsCheck", "strategy_errors"]

STRATEGY_ERROR = re.compile(r"Strategy caused the following exception|Unable to analyze candle|Unexpected error .* calling|"
                            r"Unable to populate|Exception in ", re.IGNORECASE)
_LEVELS = frozenset({"ERROR", "WARNING", "CRITICAL"})


def strategy_errors(health: LoopHealth, logs: BotLogs) -> tuple[str, ...]:
    """Strategy error lines logged since the bot started (newest last), each cut to 300 characters."""
    started = health.started
    return tuple(line.message[:300] for line in logs.logs
                 if not (line.at is not None and started is not None and line.at < started)
                 and line.level in _LEVELS and STRATEGY_ERROR.search(line.message))


class StrategyErrorsCheck(Check):
    name = "strategy-errors"

    def look(self, subject: Subject) -> Verdict | None:
        health = subject.loop()
        if health is None or not health.answered:
            return None  # no start time to read the log from: the loop check says why
        logs = subject.logs()
        if logs is None or not logs.answered:
            return None
        errors = strategy_errors(health, logs)
        if errors:
            return Verdict(HealthStatus.FAILED, f"its strategy raised since it started: {errors[-1]}")
        return Verdict(HealthStatus.HEALTHY, "no strategy error logged since it started")


STRATEGY_ERRORS = StrategyErrorsCheck()
