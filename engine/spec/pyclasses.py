"""Which classes a Python module defines, read from its syntax tree the way an import binds them.

Used by ``engine.spec.pins`` (does the pinned file define the strategy class?) and
``engine.compile.strategy_settings`` (what the class, and the classes of the same file it
inherits from, declare). FreqTrade's resolver imports the file and takes the module attribute of
the class's name (``IResolver._get_valid_object``, 2026.9), so a class defined twice is the last
definition, and only module-level definitions count (inside ``if``/``try``/``with`` blocks too,
never inside a function or another class, nor under ``if TYPE_CHECKING:`` or ``if False:``, which
an import skips). Pure: nothing is executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

__all__ = ["bound_classes", "module_classes"]


def module_classes(body: list[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Every class definition an import of the module runs at module level, in source order."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If) and _never_true(node.test):  # `if TYPE_CHECKING:`, `if False:`: only its else runs
            yield from module_classes(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith)):
            for block in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", []),
                          *(handler.body for handler in getattr(node, "handlers", []))):
                yield from module_classes(block)


def bound_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """Class name → the definition the module attribute holds after an import: the last one."""
    return {node.name: node for node in module_classes(tree.body)}


def _never_true(test: ast.expr) -> bool:
    """A condition that is false whenever the module is imported: a false constant, or
    ``TYPE_CHECKING`` (``typing.TYPE_CHECKING`` is False at run time)."""
    if isinstance(test, ast.Constant):
        return not test.value
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
    return name == "TYPE_CHECKING"
