"""The known ``freqtrade:`` keys (engine/spec/freqtrade_keys.py) are what the installed FreqTrade's schema says.

The engine warns about keys outside that list without importing FreqTrade; this test runs the
generator (scripts/gen-freqtrade-keys) with .venv-freqtrade's Python, whose FreqTrade is the one
the images run, and fails when the checked-in module differs: regenerate it after a FreqTrade upgrade.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.spec.freqtrade_keys import SECTION_KEYS, TOP_LEVEL_KEYS
from tests.conftest import FREQTRADE_CHECK, ROOT


@pytest.mark.freqtrade
def test_the_known_keys_are_current_with_the_installed_freqtrade() -> None:
    python = FREQTRADE_CHECK["FLEETOPS_FREQTRADE_PYTHON"]
    check = subprocess.run([python, str(ROOT / "scripts" / "gen-freqtrade-keys"), "--check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    schema = subprocess.run([python, "-c", "import json; from freqtrade.config_schema.config_schema import CONF_SCHEMA as s; "
                             "print(json.dumps(sorted(s['properties'])))"], capture_output=True, text=True, timeout=120, check=True)
    assert sorted(TOP_LEVEL_KEYS) == json.loads(schema.stdout)
    assert {"stoploss", "process_only_new_candles", "unfilledtimeout"} <= TOP_LEVEL_KEYS
    assert "exit_timeout_count" in SECTION_KEYS["unfilledtimeout"] and "ccxt_config" in SECTION_KEYS["exchange"]
