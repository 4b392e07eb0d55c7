"""The one table from a fleet's ``health.check`` kind to the checks its bots must pass, in order.

Read by the spec and the compiled settings (the kinds a fleet may name are this table's keys:
``CheckKind``), by the gate (``engine.health.gate``) and by the one-off looks of ``status``, the
page and the watcher. A new check is one module (a ``Check`` subclass and its instance) and its
place in a row; a new kind is one row. Each row starts with its guards and ends with a step
(``engine.health.check``): the gate looks at the checks in this order on every round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from engine.health.check import Check
from engine.health.loop import LOOP
from engine.health.ping import PING
from engine.health.process import PROCESS
from engine.health.strategy_errors import STRATEGY_ERRORS

__all__ = ["CHECKS", "DEFAULT_KIND", "CheckKind", "checks_of"]

CHECKS: dict[str, tuple[Check, ...]] = {
    "loop": (PROCESS, PING, STRATEGY_ERRORS, LOOP),  # the API answers, the loop runs, no strategy error (trade mode)
    "ping": (PROCESS, PING),  # the API answers (webserver mode has no trading loop)
}
DEFAULT_KIND = "loop"

if TYPE_CHECKING:
    CheckKind = str
else:
    CheckKind = Literal[tuple(CHECKS)]
    """The kinds a spec may name: derived from the table (pydantic validates and words errors as for
    any Literal: "Input should be 'loop' or 'ping'"); mypy sees a str, which ``checks_of`` looks up."""


def checks_of(kind: str) -> tuple[Check, ...]:
    """The row of ``kind`` (a validated spec never names another; KeyError if one does)."""
    return CHECKS[kind]
