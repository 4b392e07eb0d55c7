"""Settings a pinned strategy declares as plain literals, read from its source without running it.

FreqTrade copies some strategy class attributes into the config when the config does not set
them (``StrategyResolver._override_attribute_helper``, 2026.9: the config wins, then the
strategy, then a default) and only then runs its consistency checks. Two readers need what a
strategy would bring: ``engine.compile.desired`` (a bot whose strategy places market entries gets
the price side FreqTrade requires for them) and the FreqTrade check (``engine.check``), which
checks the config as FreqTrade will hold it after the strategy loaded.

The source is parsed, never executed: a strategy is code from whoever opened the pull request,
and these readers run in CI and in the engine. Only literal values count (``order_types = {...}``
written out); a computed value is not known here and FreqTrade's own start-up remains its judge.
"""

from __future__ import annotations

import ast
import copy
import functools
from typing import Any

__all__ = ["STRATEGY_SETTINGS", "declared_order_types", "strategy_settings"]

STRATEGY_SETTINGS = ("order_types", "order_time_in_force", "unfilledtimeout", "trailing_stop_positive")
"""The attributes FreqTrade copies into the config that its consistency checks read and that
fleetops does not always render itself."""


def strategy_settings(text: str, class_name: str) -> dict[str, Any]:
    """``{attribute: literal value}`` for the STRATEGY_SETTINGS the class body assigns literally.

    ``text`` is the pinned file (already parsed once by ``engine.spec.pins``); anything that does
    not parse or is not a literal is left out. A deep copy: the caller may change it.
    """
    return copy.deepcopy(_settings(text, class_name))


def declared_order_types(text: str, class_name: str) -> dict[str, Any]:
    """The strategy's literal ``order_types`` ({} when it declares none): read-only, shared."""
    order_types = _settings(text, class_name).get("order_types")
    return order_types if isinstance(order_types, dict) else {}


@functools.lru_cache(maxsize=256)
def _settings(text: str, class_name: str) -> dict[str, Any]:
    try:
        tree = ast.parse(text.removeprefix("\ufeff"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for statement in node.body:
                target, value = _assignment(statement)
                if target in STRATEGY_SETTINGS and value is not None:
                    try:
                        found[target] = ast.literal_eval(value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        continue
            break
    return found


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None
