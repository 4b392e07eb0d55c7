"""FreqTrade's config files as data that remembers where each value was written.

Read by ``engine.adopt.bots`` for every ``--config`` file of an adopted bot. FreqTrade reads its
configs with rapidjson in a lenient mode (``freqtrade.configuration.load_config``, 2026.9:
``PM_COMMENTS | PM_TRAILING_COMMAS``), so ``//`` and ``/* */`` comments and a comma before a
closing bracket are accepted here too; anything else that is not JSON is a located error. The
standard library's parser keeps no positions, so this is a small recursive-descent parser whose
strings and numbers are JSON's own (``json.decoder.scanstring``, JSON's number grammar).
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.errors import Problem

__all__ = ["JsonDocument", "JsonSyntaxError", "parse_jsonc"]

Loc = tuple[str | int, ...]
MAX_DEPTH = 64
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*", re.S)
_LITERALS = {"true": True, "false": False, "null": None}


class JsonSyntaxError(ValueError):
    """Not JSON as FreqTrade reads it; ``problem`` says where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class JsonDocument:
    """One config file: ``data`` and the line/column (1-based) of every value by its location."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self._text = text
        self._lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[Loc, tuple[int, int]] = {}
        pos = self._skip(0)
        self.data: Any = self._value(pos, (), 0)[0]
        end = self._skip(self._end)
        if end != len(text):
            raise self._error(end, "unexpected text after the end of the JSON value")

    def position(self, loc: Loc) -> tuple[int, int]:
        """Where ``loc`` was written, or its nearest written ancestor (the whole file: 1:1)."""
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.positions:
                return self.positions[loc[:cut]]
        return (1, 1)

    def problem(self, loc: Loc, message: str, severity: str = "error") -> Problem:
        line, col = self.position(loc)
        return Problem(self.path, line, col, message, "warning" if severity == "warning" else "error")

    # -- parsing ---------------------------------------------------------------------------

    def _line_col(self, offset: int) -> tuple[int, int]:
        low, high = 0, len(self._lines) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self._lines[mid] <= offset:
                low = mid
            else:
                high = mid - 1
        return low + 1, offset - self._lines[low] + 1

    def _error(self, offset: int, message: str, suffix: str = " (FreqTrade could not read this config either)") -> JsonSyntaxError:
        line, col = self._line_col(offset)
        return JsonSyntaxError(Problem(self.path, line, col, message + suffix))

    def _skip(self, pos: int) -> int:
        match = _WHITESPACE.match(self._text, pos)
        end = match.end() if match else pos
        if self._text.startswith("/*", end):
            raise self._error(end, "a comment is not closed")
        return end

    def _value(self, pos: int, loc: Loc, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise self._error(pos, f"nested more than {MAX_DEPTH} levels deep")
        self.positions[loc] = self._line_col(pos)
        text = self._text
        char = text[pos:pos + 1]
        if char == "{":
            return self._object(pos + 1, loc, depth)
        if char == "[":
            return self._array(pos + 1, loc, depth)
        if char == '"':
            return self._string(pos)
        match = _NUMBER.match(text, pos)
        if match:
            self._end = match.end()
            number = match.group(0)
            return (float(number) if match.group(1) or match.group(2) else int(number)), match.end()
        for word, value in _LITERALS.items():
            if text.startswith(word, pos):
                self._end = pos + len(word)
                return value, pos + len(word)
        raise self._error(pos, "expected a value" if char else "the file ends where a value was expected")

    def _string(self, pos: int) -> tuple[str, int]:
        try:
            value, end = json.decoder.scanstring(self._text, pos + 1, True)  # type: ignore[attr-defined]  # JSON's own string reader
        except json.JSONDecodeError as exc:
            raise self._error(exc.pos, exc.msg.lower()) from None
        self._end = end
        return value, end

    def _object(self, pos: int, loc: Loc, depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        pos = self._skip(pos)
        while self._text[pos:pos + 1] != "}":
            if self._text[pos:pos + 1] != '"':
                raise self._error(pos, "expected a key in double quotes or '}'")
            key, pos = self._string(pos)
            if key in result:
                raise self._error(pos - len(key) - 2, f"key {key!r} is written twice in this object; keep one "
                                  "(FreqTrade silently reads only one of them)", "")
            pos = self._skip(pos)
            if self._text[pos:pos + 1] != ":":
                raise self._error(pos, "expected ':' after the key")
            value, pos = self._value(self._skip(pos + 1), (*loc, key), depth + 1)
            result[key] = value
            pos = self._skip(pos)
            if self._text[pos:pos + 1] == ",":
                pos = self._skip(pos + 1)
            elif self._text[pos:pos + 1] != "}":
                raise self._error(pos, "expected ',' or '}'")
        self._end = pos + 1
        return result, pos + 1

    def _array(self, pos: int, loc: Loc, depth: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        pos = self._skip(pos)
        while self._text[pos:pos + 1] != "]":
            value, pos = self._value(pos, (*loc, len(result)), depth + 1)
            result.append(value)
            pos = self._skip(pos)
            if self._text[pos:pos + 1] == ",":
                pos = self._skip(pos + 1)
            elif self._text[pos:pos + 1] != "]":
                raise self._error(pos, "expected ',' or ']'")
        self._end = pos + 1
        return result, pos + 1

    _end = 0


def parse_jsonc(path: str, data: bytes) -> JsonDocument:
    """``data`` (the file at ``path``, for messages) as a located document; raises JsonSyntaxError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonSyntaxError(Problem(path, 1, 1, f"is not UTF-8 text (byte {exc.start})")) from None
    return JsonDocument(path, text)
