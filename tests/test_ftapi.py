"""A bot's API answer is parsed, never trusted: finite numbers of the documented type, anything else unknown.

One row per answer a bot could send (or a transport could get): the raw status and bytes, the
model it is read as, and the fields that come out. Nothing a bot sends raises.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ftapi import Answer, Balance, BotLogs, LogLine, LoopHealth, Profit, RawAnswer, TradeCount

CASES: list[tuple[str, RawAnswer, type[Answer], dict[str, object]]] = [
    ("a count", RawAnswer(200, b'{"current": 2, "max": 3}'), TradeCount, {"answered": True, "current": 2}),
    ("a negative count is unknown", RawAnswer(200, b'{"current": -1}'), TradeCount, {"answered": True, "current": None}),
    ("a float count is unknown", RawAnswer(200, b'{"current": 2.0}'), TradeCount, {"current": None}),
    ("a bool count is unknown", RawAnswer(200, b'{"current": true}'), TradeCount, {"current": None}),
    ("a string count is unknown", RawAnswer(200, b'{"current": "2"}'), TradeCount, {"current": None}),
    ("a missing count is unknown", RawAnswer(200, b'{}'), TradeCount, {"answered": True, "current": None}),
    ("a body that is not an object", RawAnswer(200, b'[1, 2]'), TradeCount, {"answered": True, "current": None}),
    ("NaN and infinity are unknown", RawAnswer(200, b'{"profit_all_coin": NaN, "profit_all_percent": Infinity, "profit_closed_coin": 1}'),
     Profit, {"profit_all_coin": None, "profit_all_percent": None, "profit_closed_coin": 1.0}),
    ("an int amount is a float", RawAnswer(200, b'{"total": 1000}'), Balance, {"total": 1000.0}),
    ("a huge number that is still finite", RawAnswer(200, b'{"total": 1e308}'), Balance, {"total": 1e308}),
    ("a number too big for a float is unknown", RawAnswer(200, b'{"total": 1e999}'), Balance, {"total": None}),
    ("a bot cannot claim it answered", RawAnswer(500, b'{"answered": true, "why": "ok"}'), Balance,
     {"answered": False, "why": "HTTP 500", "total": None}),
    ("nor smuggle answered in a 200", RawAnswer(200, b'{"answered": false, "total": 5}'), Balance, {"answered": True, "total": 5.0}),
    ("not JSON", RawAnswer(200, b"<html>"), Balance, {"answered": False, "why": "its answer is not JSON"}),
    ("not UTF-8", RawAnswer(200, b'{"total": "\xff"}'), Balance, {"answered": False, "why": "its answer is not JSON"}),
    ("nested past the decoder's depth", RawAnswer(200, b"[" * 200_000), Balance, {"answered": False, "why": "its answer is not JSON"}),
    ("no answer at all", RawAnswer(None, error="ConnectError"), LoopHealth, {"answered": False, "why": "ConnectError", "started": None}),
    ("over the size bound", RawAnswer(200, b'{"bot_start_ts"', error="answer over 1 MiB"), LoopHealth,
     {"answered": False, "why": "answer over 1 MiB"}),
    ("the loop ran since the start", RawAnswer(200, b'{"bot_start_ts": 100, "last_process_ts": 105}'), LoopHealth,
     {"started": 100.0, "last_loop": 105.0, "looped": True}),
    ("older FreqTrade names the start bot_startup_ts", RawAnswer(200, b'{"bot_startup_ts": 100, "last_process_ts": 99}'), LoopHealth,
     {"started": 100.0, "looped": False}),
    ("a bool stamp is not a time", RawAnswer(200, b'{"bot_start_ts": true, "last_process_ts": 105}'), LoopHealth,
     {"started": None, "looped": False}),
    ("log rows of FreqTrade's shape, others left out", RawAnswer(200, b'{"logs": [["d", 1500, "x", "ERROR", "boom"], [1, 2], "row", '
                                                                       b'["d", "soon", "x", 7, {"a": 1}]]}'), BotLogs,
     {"logs": (LogLine(1.5, "ERROR", "boom"), LogLine(None, "7", "{'a': 1}"))}),
    ("logs that are not a list", RawAnswer(200, b'{"logs": {"a": 1}}'), BotLogs, {"answered": True, "logs": ()}),
]


@pytest.mark.parametrize("name, raw, model, expected", CASES, ids=[c[0] for c in CASES])
def test_an_answer_is_parsed_not_trusted(name: str, raw: RawAnswer, model: type[Answer], expected: dict[str, object]) -> None:
    parsed = model.parse(raw)
    assert {key: getattr(parsed, key) for key in expected} == expected


def test_a_long_log_is_bounded() -> None:
    rows = b",".join(b'["d", 1, "x", "ERROR", "' + b"e" * 5000 + b'"]' for _ in range(1500))
    parsed = BotLogs.parse(RawAnswer(200, b'{"logs": [' + rows + b"]}"))
    assert len(parsed.logs) == 1000 and len(parsed.logs[0].message) == 2000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                                  st.sampled_from(["current", "total", "logs", "bot_start_ts", "last_process_ts"]) | st.text(max_size=5),
                                                  inner, max_size=5), max_leaves=20).map(lambda v: json.dumps(v).encode()),
       st.sampled_from([200, 404, 500, None]))
def test_nothing_a_bot_sends_raises(body: bytes, status: int | None) -> None:
    for model in (TradeCount, Profit, Balance, LoopHealth, BotLogs):
        parsed = model.parse(RawAnswer(status, body))
        assert parsed.answered is (status == 200 and parsed.why == "ok")
