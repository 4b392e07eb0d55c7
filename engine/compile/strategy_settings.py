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
The class is the one an import binds to its name (the last module-level definition,
``engine.spec.pyclasses``), and what it inherits from classes of the same file counts, in the
order Python looks attributes up (the class, then its bases left to right, each with its own
bases first): a base class declaring market entries gives them to every strategy built on it.
"""

from __future__ import annotations

import ast
import copy
import functools
from typing import Any

from engine.spec.pyclasses import bound_classes

__all__ = ["STRATEGY_SETTINGS", "declared_order_types", "strategy_settings"]

STRATEGY_SETTINGS = ("order_types", "order_time_in_force", "unfilledtimeout", "trailing_stop_positive", "can_short")
"""The attributes FreqTrade copies into the config that its consistency checks read and that
fleetops does not always render itself, and ``can_short``, which its strategy loader judges
against the trading mode (not a config key: the check takes it out)."""


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
    classes = bound_classes(tree)
    found: dict[str, Any] = {}
    for node in _lookup_order(classes, class_name):
        for target, value in _declared(node).items():
            found.setdefault(target, value)  # the first class in lookup order that declares it wins
    return {target: value for target, value in found.items() if value is not _COMPUTED}


def _lookup_order(classes: dict[str, ast.ClassDef], name: str) -> list[ast.ClassDef]:
    """The class and the bases of the same file, depth first, left to right, each once (Python's
    MRO for the single inheritance strategies use; a base from another module is not read)."""
    order: list[ast.ClassDef] = []

    def visit(current: str) -> None:
        node = classes.get(current)
        if node is None or node in order or len(order) > 50:
            return
        order.append(node)
        for base in node.bases:
            if isinstance(base, ast.Name):
                visit(base.id)

    visit(name)
    return order


def _declared(node: ast.ClassDef) -> dict[str, Any]:
    """The STRATEGY_SETTINGS a class body assigns literally (a later assignment wins)."""
    found: dict[str, Any] = {}
    for statement in node.body:
        target, value = _assignment(statement)
        if target in STRATEGY_SETTINGS and value is not None:
            try:
                found[target] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found[target] = _COMPUTED  # not known here, and it hides what a base declares
    return found


_COMPUTED: Any = object()


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None
