"""YAML text → plain Python documents that remember where every value was written.

Called by ``engine.spec.source`` for each spec file. Every later stage (pydantic validation,
cross-reference checks, the plan's diff) reports problems by *location in data*
(``("pairs", 1)``); this module is what turns such a location back into ``file:line:col``.
It composes with ruamel.yaml's libyaml-based parser (the composer keeps marks, the C parser
makes it ~6x faster than the pure-Python one) and builds values itself so duplicate keys and
non-string keys become located problems instead of silent overwrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from engine.errors import Problem

__all__ = ["Loc", "RawDocument", "parse_documents"]

Loc = tuple[str | int, ...]
"""A location in a document's data: keys and list indexes from the document root."""


@dataclass
class RawDocument:
    """One YAML document, not yet validated, with a position for every key and value."""

    path: str
    index: int
    data: dict[str, Any]
    value_pos: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        kind = self.data.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def name(self) -> str:
        name = self.data.get("name")
        return name if isinstance(name, str) else ""

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """Line/column of ``loc``, or of its nearest located ancestor (a missing key points at its parent)."""
        table = self.key_pos if at_key else self.value_pos
        if loc in table:
            return table[loc]
        for cut in range(len(loc) - 1, -1, -1):
            if loc[:cut] in self.value_pos:
                return self.value_pos[loc[:cut]]
        return (1, 1)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> Problem:
        line, col = self.position(loc, at_key=at_key)
        return Problem(self.path, line, col, message)


class _MemoResolver(VersionedResolver):
    """Tag resolution memoised per (kind, text): specs repeat the same keys and values thousands
    of times, and ruamel's resolver is pure Python (it was 40 % of loading a 1,000-bot fleet)."""

    _memo: dict[tuple[Any, Any, Any], Any] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        key = (kind, value, implicit)
        tag = self._memo.get(key)
        if tag is None:
            tag = self._memo[key] = super().resolve(kind, value, implicit)
        return tag


_yaml = YAML(typ="safe", pure=False)
_yaml.Resolver = _MemoResolver


def parse_documents(path: str, text: str) -> tuple[list[RawDocument], list[Problem]]:
    """Every mapping document of one file, plus the problems found while reading it."""
    try:
        nodes = list(_yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        return [], [Problem(path, line, col, f"YAML syntax error: {reason}")]
    except YAMLError as exc:
        return [], [Problem(path, 1, 1, f"YAML syntax error: {exc}")]
    documents: list[RawDocument] = []
    problems: list[Problem] = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        doc = RawDocument(path, index, {})
        builder = _Builder(doc, problems)
        data = builder.build(node, ())
        if not isinstance(data, dict):
            line, col = _pos(node)
            problems.append(Problem(path, line, col, "a spec document must be a mapping with 'kind' and 'name'"))
            continue
        doc.data = data
        documents.append(doc)
    return documents, problems


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Builds plain values from composed nodes, recording positions as it goes."""

    def __init__(self, doc: RawDocument, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems

    def build(self, node: Node, loc: Loc) -> Any:
        self.doc.value_pos[loc] = _pos(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return _scalar(node)

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, col = _pos(key_node)
                self.problems.append(Problem(self.doc.path, line, col, "mapping keys must be plain strings"))
                continue
            key = str(key_node.value)
            if key in result:
                line, col = _pos(key_node)
                self.problems.append(Problem(self.doc.path, line, col, f"duplicate key '{key}'"))
                continue
            self.doc.key_pos[(*loc, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result


def _scalar(node: Node) -> Any:
    """Construct a scalar the YAML 1.2 way, keeping timestamps and odd tags as their text."""
    assert isinstance(node, ScalarNode)
    kind = _SCALAR_KINDS.get(str(node.ctag))
    if kind is None:
        return str(node.value)
    key = (kind, node.value)
    if key not in _scalar_memo:
        _scalar_memo[key] = _yaml.constructor.construct_object(node, deep=True)
    return _scalar_memo[key]


_SCALAR_KINDS = {f"tag:yaml.org,2002:{k}": k for k in ("int", "float", "bool", "null")}
_scalar_memo: dict[tuple[str, str], Any] = {}
