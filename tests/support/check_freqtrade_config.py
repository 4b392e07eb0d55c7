"""Validate rendered bot configs with FreqTrade's own code (run with a Python that has freqtrade).

Usage: python check_freqtrade_config.py CONFIG.json SECRETS.json [CONFIG.json SECRETS.json ...]
Each pair is merged the way ``freqtrade --config a --config b`` merges them, then checked by
``validate_config_schema`` (dry-run mode) and ``validate_config_consistency``. Prints one line
per bot and exits 1 if any failed.
"""

from __future__ import annotations

import copy
import sys

from freqtrade.configuration.config_validation import validate_config_consistency, validate_config_schema
from freqtrade.configuration.load_config import load_from_files
from freqtrade.enums import RunMode


def main(paths: list[str]) -> int:
    failed = 0
    for config, secrets in zip(paths[::2], paths[1::2], strict=True):
        merged = load_from_files([config, secrets])
        merged["runmode"] = RunMode.DRY_RUN
        try:
            checked = validate_config_schema(copy.deepcopy(merged))
            validate_config_consistency(checked)
            print(f"ok {config}")
        except Exception as exc:  # report every bot, then fail
            failed += 1
            print(f"FAILED {config}: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
