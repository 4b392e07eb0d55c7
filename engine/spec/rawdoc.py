"""YAML text → plain Python documents that remember where every value was written.

Called by ``engine.spec.source`` for each spec file. Every later stage (pydantic validation,
cross-reference checks, the plan's diff) reports problems by *location in data*
(``("pairs", 1)``); this module is what turns such a location back into ``file:line:col``.
It composes with ruamel.yaml's libyaml-based parser (the composer keeps marks, the C parser
makes it ~6x faster than the pure-Python one) and builds values itself so duplicate keys and
non-string keys become located problems instead of silent overwrites.

YAML features a spec does not use are located errors, because each would make fleetops and
the tools around it (FreqTrade, a reviewer, another YAML library) read one file two ways:
- tags, all of them (``!!str``, ``!!binary``, ``!!python/…``, ``!custom``, the bare ``!``):
  a spec value means what its text says under its key, and quoting is the one way to make a
  value text — no tag is needed, so none is accepted, not even one that would change nothing;
- ``%YAML`` directives other than 1.2 (1.1 reads ``yes``/``on`` as booleans and ``010`` as
  eight) and ``%TAG`` directives;
- merge keys (``<<: *base``): they would otherwise reach FreqTrade as a literal ``"<<"`` key
  it ignores;
- two keys of one mapping that a consumer merges: the same key written two ways (``1`` and
  ``"1"``, ``0x1`` and ``1``, ``1.0`` and ``1``, ``"01"`` and ``1`` — FreqTrade reads
  ``minimal_roi`` keys with ``int()`` —, ``~`` and ``null``).
Anchors and aliases stay allowed (bounded by ``MAX_VALUES``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import DocumentStartEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from engine.errors import Problem
from engine.spec.snapshot import MAX_FILE_BYTES  # a file over it is an error, reported without reading it

__all__ = ["MAX_DEPTH", "MAX_DOCUMENTS", "MAX_FILE_BYTES", "MAX_VALUES", "Loc", "RawDocument", "parse_documents"]

MAX_DEPTH = 32
MAX_VALUES = 100_000
MAX_DOCUMENTS = 1_000
MAX_INT_DIGITS = 100

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
    reported: set[Loc] = field(default_factory=set)
    """Locations already reported while reading (a number too long): validation stays quiet there."""

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
    of times, and ruamel's resolver is pure Python (it was 40 % of loading a 1,000-bot fleet).
    The memo is bounded, and only short texts are remembered, so a long-running watcher reading
    new values every commit does not grow."""

    _memo: ClassVar[dict[tuple[Any, Any, Any], Any]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        key = (kind, value, implicit)
        tag = self._memo.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._memo) < _MEMO_LIMIT and (not isinstance(value, str) or len(value) <= 40):
                self._memo[key] = tag
        return tag


_MEMO_LIMIT = 20_000


_yaml = YAML(typ="safe", pure=False)
_yaml.Resolver = _MemoResolver


def parse_documents(path: str, data: bytes, size: int | None = None) -> tuple[list[RawDocument], list[Problem]]:
    """Every mapping document of one file, plus the problems found while reading it."""
    size = len(data) if size is None else size
    if size > MAX_FILE_BYTES:
        return [], [Problem(path, 1, 1, f"file is {size} bytes; spec files are limited to {MAX_FILE_BYTES} bytes (1 MiB)")]
    text, problem = _decode(path, data)
    if problem is not None:
        return [], [problem]
    too_deep = _too_deep(path, text)
    if too_deep is not None:
        return [], [too_deep]
    problems: list[Problem] = []
    if "!" in text or text.startswith("%") or "\n%" in text:  # a tag or a directive may be there: ask the parser
        problems, versioned = _tags_and_directives(path, text)
        if versioned:  # reported; the rest is read as the YAML 1.2 every spec is (same lines and columns)
            text = _VERSION_DIRECTIVE.sub(lambda m: "#" + " " * (len(m.group()) - 1), text)
    try:
        nodes = list(_yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        return [], [Problem(path, line, col, f"YAML syntax error: {reason}")]
    except YAMLError as exc:
        return [], [Problem(path, 1, 1, f"YAML syntax error: {str(exc).splitlines()[0] if str(exc) else 'invalid YAML'}")]
    except RecursionError:
        return [], [Problem(path, 1, 1, f"YAML nested more than {MAX_DEPTH} levels deep")]
    if len(nodes) > MAX_DOCUMENTS:
        return [], [Problem(path, 1, 1, f"{len(nodes)} documents in one file; the limit is {MAX_DOCUMENTS}")]
    documents: list[RawDocument] = []
    budget = _Budget()
    for index, node in enumerate(nodes):
        if node is None:
            continue
        doc = RawDocument(path, index, {})
        builder = _Builder(doc, problems, budget)
        try:
            built = builder.build(node, ())
        except _TooMany as exc:
            problems.append(Problem(path, exc.line, exc.col, f"more than {MAX_VALUES} values once aliases are expanded; "
                                    "aliases this deep are not allowed in specs"))
            return documents, problems
        if not isinstance(built, dict):
            line, col = _pos(node)
            problems.append(Problem(path, line, col, "a spec document must be a mapping with 'kind' and 'name'"))
            continue
        doc.data = built
        documents.append(doc)
    return documents, problems


def _decode(path: str, data: bytes) -> tuple[str, Problem | None]:
    """UTF-8 text (a leading BOM dropped), or the located problem of the first bad byte or NUL."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        return "", Problem(path, line, col, f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot start or continue a character")
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return "", Problem(path, line, col, "NUL byte in a spec file")
    return text, None


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", "replace")) + 1


_TAG_EVENTS = (ScalarEvent, MappingStartEvent, SequenceStartEvent)
_YAML_ORG = "tag:yaml.org,2002:"


def _tags_and_directives(path: str, text: str) -> tuple[list[Problem], bool]:
    """Every explicit tag and unsupported directive, located; True when a ``%YAML`` directive
    other than 1.2 must be taken out before composing (it changes how every value resolves)."""
    problems: list[Problem] = []
    versioned = False
    try:
        for event in _yaml.parse(text):
            line, col = event.start_mark.line + 1, event.start_mark.column + 1
            if isinstance(event, DocumentStartEvent):
                version = getattr(event, "version", None)
                if version is not None and tuple(version) != (1, 2):
                    problems.append(Problem(path, line, col, f"'%YAML {version[0]}.{version[1]}' directive: specs are read as YAML 1.2 "
                                            "(where yes, no, on and off are text and 010 is ten); remove the directive"))
                    versioned = True
                if getattr(event, "tags", None):
                    problems.append(Problem(path, line, col, "'%TAG' directive: specs use no YAML tags; remove the directive"))
            elif isinstance(event, _TAG_EVENTS) and event.tag is not None:
                tag = str(event.tag)
                shown = "!!" + tag.removeprefix(_YAML_ORG) if tag.startswith(_YAML_ORG) else tag
                problems.append(Problem(path, line, col, f"YAML tag '{shown}' is not supported in specs: a value means what its text "
                                        "says under its key; remove the tag (quote the value to keep it as text)"))
    except (YAMLError, RecursionError):
        pass  # composing reports the syntax error, located
    return problems, versioned


_VERSION_DIRECTIVE = re.compile(r"^%YAML[ \t][^\n]*", re.MULTILINE)


_BRACKETS = re.compile(r"[\[\]{}\"'#\n]")


def _too_deep(path: str, text: str) -> Problem | None:
    """Flow nesting (``[[[…``) deeper than MAX_DEPTH, found by a scan that skips quotes and comments.

    Block nesting needs two spaces of indentation per level, so a file deep enough to hurt the
    composer would be caught by its size first; flow brackets are what a short file can nest.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth, line, line_start, quote, comment = 0, 1, 0, "", False
    for match in _BRACKETS.finditer(text):
        char, at = match.group(), match.start()
        if char == "\n":
            line, line_start, comment = line + 1, at + 1, False
            if quote == "'":  # plain YAML allows multi-line quoted scalars; keep the quote open
                continue
        if comment:
            continue
        if quote:
            if char == quote and not (quote == '"' and text[at - 1] == "\\"):
                quote = ""
            continue
        if char in "\"'":
            quote = char
        elif char == "#" and (at == line_start or text[at - 1] in " \t"):
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return Problem(path, line, at - line_start + 1, f"YAML nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


class _TooMany(Exception):
    def __init__(self, line: int, col: int) -> None:
        self.line, self.col = line, col


class _Budget:
    """How many values a file may still build (aliases count every time they are expanded)."""

    def __init__(self) -> None:
        self.left = MAX_VALUES


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Builds plain values from composed nodes, recording positions as it goes."""

    def __init__(self, doc: RawDocument, problems: list[Problem], budget: _Budget) -> None:
        self.doc = doc
        self.problems = problems
        self.budget = budget

    def build(self, node: Node, loc: Loc) -> Any:
        self.budget.left -= 1
        if self.budget.left < 0:
            raise _TooMany(*_pos(node))
        self.doc.value_pos[loc] = _pos(node)
        if len(loc) > MAX_DEPTH:
            line, col = _pos(node)
            self.problems.append(Problem(self.doc.path, line, col, f"YAML nested more than {MAX_DEPTH} levels deep"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        try:
            return _scalar(node)
        except (ValueError, OverflowError):
            line, col = _pos(node)
            self.problems.append(Problem(self.doc.path, line, col, f"number with more than {MAX_INT_DIGITS} digits"))
            self.doc.reported.add(loc)
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        typed: dict[Any, str] = {}  # keys that stand for a number, a boolean or null: what they are → the text first seen
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
            if key_node.tag != _STR_TAG or key[:1] in _NUMBER_START:  # most keys are names: one comparison each
                if key_node.tag == _MERGE_TAG:
                    line, col = _pos(key_node)
                    self.problems.append(Problem(self.doc.path, line, col, "YAML merge keys ('<<') are not supported in specs: "
                                                 "write the keys out in full"))
                    continue
                identity = _key_identity(key_node, key)
                if identity in typed:
                    line, col = _pos(key_node)
                    first = typed[identity]
                    first_line = self.doc.key_pos[(*loc, first)][0]
                    self.problems.append(Problem(self.doc.path, line, col, f"key '{key}' is the same key as '{first}' on line "
                                                 f"{first_line} (both are {_meaning(identity)}); keep one of them"))
                    continue
                if identity is not None:
                    typed[identity] = key
            self.doc.key_pos[(*loc, key)] = _pos(key_node)
            try:
                result[key] = self.build(value_node, (*loc, key))
            except _TooMany:
                if loc:
                    raise
                raise _TooMany(*_pos(key_node)) from None  # report the top-level key whose value exploded
        return result


def _scalar(node: Node) -> Any:
    """Construct a scalar the YAML 1.2 way, keeping timestamps and odd tags as their text."""
    assert isinstance(node, ScalarNode)
    kind = _SCALAR_KINDS.get(str(node.ctag))
    if kind is None:
        return str(node.value)
    if kind == "int" and len(str(node.value)) > MAX_INT_DIGITS:
        raise ValueError("too many digits")
    key = (kind, node.value)
    value = _scalar_memo.get(key, _MISSING)
    if value is _MISSING:
        value = _yaml.constructor.construct_object(node, deep=True)
        if len(_scalar_memo) < _MEMO_LIMIT:
            _scalar_memo[key] = value
    return value


def _key_identity(node: ScalarNode, text: str) -> Any:
    """The number (or boolean, or null) a key stands for once a consumer reads it; None when it is
    just its text (two such keys collide only when their texts do, a duplicate key). YAML types
    plain keys (``0x1``, ``1.0`` and ``1`` are one number); FreqTrade reads ``minimal_roi`` keys
    with ``int()`` (``"01"`` and ``"1"`` are one minute)."""
    if not node.style and str(node.tag) in _SCALAR_KINDS:
        try:
            value = _scalar(node)
        except (ValueError, OverflowError):
            return None
        if value is None or isinstance(value, bool):
            return ("value", value)
        if isinstance(value, float):
            return ("number", int(value) if value.is_integer() else repr(value))
        return ("number", value)
    if text[:1] in _NUMBER_START and _DECIMAL.fullmatch(text):
        try:
            return ("number", int(text))
        except ValueError:
            return None
    return None


def _meaning(identity: Any) -> str:
    kind, value = identity
    if kind == "value":
        return "null" if value is None else str(value).lower()
    return f"the number {value}"


_NUMBER_START = frozenset("0123456789+-")
_DECIMAL = re.compile(r"[+-]?[0-9][0-9_]*")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SCALAR_KINDS = {f"tag:yaml.org,2002:{k}": k for k in ("int", "float", "bool", "null")}
_scalar_memo: dict[tuple[str, str], Any] = {}
_MISSING: Any = object()
