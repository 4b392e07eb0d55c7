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
from dataclasses import dataclass
from typing import Any

from engine.spec.pyclasses import bound_classes

__all__ = ["CHANGELOG_SETTINGS", "STRATEGY_SETTINGS", "NotLiteral", "declared_attributes", "declared_order_types", "strategy_settings"]

STRATEGY_SETTINGS = ("order_types", "order_time_in_force", "unfilledtimeout", "trailing_stop_positive", "can_short")
"""The attributes FreqTrade copies into the config that its consistency checks read and that
fleetops does not always render itself, and ``can_short``, which its strategy loader judges
against the trading mode (not a config key: the check takes it out)."""


CHANGELOG_SETTINGS = ("INTERFACE_VERSION", "timeframe", "can_short", "stoploss", "minimal_roi", "trailing_stop",
                      "trailing_stop_positive", "trailing_stop_positive_offset", "trailing_only_offset_is_reached",
                      "use_custom_stoploss", "use_exit_signal", "exit_profit_only", "ignore_roi_if_entry_signal",
                      "process_only_new_candles", "startup_candle_count", "position_adjustment_enable",
                      "max_entry_position_adjustment", "order_types", "order_time_in_force", "unfilledtimeout")
"""The class attributes a pin change's changelog compares (``engine.plan.changelog``): the ones that
decide how a strategy trades and that FreqTrade reads off the class (``IStrategy``; the config
overrides most of them, ``StrategyResolver.load_strategy``, 2026.9), in the order plans list them."""


@dataclass(frozen=True)
class NotLiteral:
    """A class attribute assigned something ``ast.literal_eval`` cannot read (a call, a name, a
    comprehension): its value exists only once the code runs, which the planner never does.
    ``source`` is the expression as written (``ast.unparse``, at most 200 characters): two versions
    compare equal when they assign the same expression."""

    source: str

    def __str__(self) -> str:
        return "(not a literal)"


def declared_attributes(text: str, class_name: str) -> dict[str, Any]:
    """``{attribute: literal value or NotLiteral}`` for the CHANGELOG_SETTINGS the class ``class_name``
    of the strategy file ``text`` (or a base class of the same file) assigns in its body, in the
    lookup order of ``strategy_settings``; an attribute never assigned is absent (FreqTrade's
    default, or a base from another module, applies). Read with ``ast``, never executed: the file
    may come from an untrusted pull request. Raises SyntaxError (with its line and column) when
    ``text`` does not parse; a class the file does not define gives {}. Shared: do not change it."""
    return _attributes(text, class_name)


@functools.lru_cache(maxsize=64)
def _attributes(text: str, class_name: str) -> dict[str, Any]:
    try:
        tree = ast.parse(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SyntaxError(f"cannot be parsed as Python ({type(exc).__name__})") from None
    return _in_lookup_order(bound_classes(tree), class_name, frozenset(CHANGELOG_SETTINGS))


def _in_lookup_order(classes: dict[str, ast.ClassDef], class_name: str, names: frozenset[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in _lookup_order(classes, class_name):
        for target, value in _declared(node, names).items():
            found.setdefault(target, value)  # the first class in lookup order that declares it wins
    return found


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
    found = _in_lookup_order(bound_classes(tree), class_name, frozenset(STRATEGY_SETTINGS))
    return {target: value for target, value in found.items() if not isinstance(value, NotLiteral)}


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


def _declared(node: ast.ClassDef, names: frozenset[str]) -> dict[str, Any]:
    """The ``names`` a class body assigns, each a literal or NotLiteral (a later assignment wins)."""
    found: dict[str, Any] = {}
    for statement in node.body:
        target, value = _assignment(statement)
        if target in names and value is not None:
            try:
                found[target] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found[target] = NotLiteral(_source(value))  # not known here, and it hides what a base declares
    return found


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def _source(value: ast.expr) -> str:
    try:
        return ast.unparse(value)[:200]
    except (ValueError, RecursionError, MemoryError):
        return ast.dump(value)[:200]
