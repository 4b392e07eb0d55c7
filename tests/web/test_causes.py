"""The revisions page leads a failure with the line that says why, then the lines worth reading."""

from __future__ import annotations

import pytest

from engine.web.causes import failure_cause, resolved_revision

CONFIG_DUMP = [f"2026-12-01 02:00:{i:02d},000 - freqtrade.configuration - INFO - Using exchange config key{i}: {{'a': {i}}}" for i in range(17)]


@pytest.mark.parametrize(("log", "cause", "tail"), [
    ([*CONFIG_DUMP,
        "2026-12-01 02:00:20,000 - freqtrade.resolvers - ERROR - Impossible to load Strategy 'Alpha'. This class does not exist or contains Python code errors.",
        "2026-12-01 02:00:20,001 - freqtrade - ERROR - Fatal exception!",
        "Traceback (most recent call last):",
        '  File "/freqtrade/main.py", line 42, in main',
        "freqtrade.exceptions.OperationalException: Impossible to load Strategy 'Alpha'."],
     "ERROR Impossible to load Strategy 'Alpha'. This class does not exist or contains Python code errors.",
     ["2026-12-01 02:00:20,001 - freqtrade - ERROR - Fatal exception!", "Traceback (most recent call last):",
      '  File "/freqtrade/main.py", line 42, in main', "freqtrade.exceptions.OperationalException: Impossible to load Strategy 'Alpha'."]),
    (["Traceback (most recent call last):", "RuntimeError: strategy crashed"], "RuntimeError: strategy crashed",
     ["Traceback (most recent call last):"]),
    (["supervisord: spawnerr: can't find command 'freqtrade'"], "spawnerr: can't find command 'freqtrade'", []),
    (["2026-12-01 02:00:00,000 - freqtrade - INFO - still starting"], "no answer from its API after 30 s", []),
])
def test_the_cause_comes_first_and_the_config_dump_is_filtered_out(log: list[str], cause: str, tail: list[str]) -> None:
    found = failure_cause("no answer from its API after 30 s", log)
    assert (found["cause"], found["tail"]) == (cause, tail)
    assert found["hidden"] == len(log) - len(tail) - (cause != "no answer from its API after 30 s")


def test_a_failed_revision_is_resolved_once_a_newer_one_runs() -> None:
    live = {"revision": 5, "commit": "f" * 40}
    assert resolved_revision({"revision": 4, "status": "rolled_back"}, live) == {"revision": 5, "commit": "f" * 40}
    assert resolved_revision({"revision": 6, "status": "rolled_back"}, live) is None  # newer than what runs: still the news
    assert resolved_revision({"revision": 3, "status": "applied"}, live) is None
