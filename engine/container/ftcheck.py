"""FreqTrade's own start-up checks over many bots' configs, in one process: the FreqTrade check's worker.

Runs with the Python of the fleet's image (``docker run --network none --read-only``) or of a
local FreqTrade, never inside fleetops' own process: fleetops passes this file's text to
``python3 -c`` and the configs on stdin. Stdlib and FreqTrade only; never imported by the engine
(``engine.check`` reads it as text).

stdin:  {"bots": {NAME: {"config": {...}, "strategy": {...}}}}
        ``config`` is config.json with secrets.json merged over it (placeholders of the same shape
        stand in for secret values); ``strategy`` holds the settings the pinned strategy declares
        literally (``engine.compile.strategy_settings``).
stdout: {"freqtrade": VERSION, "bots": {NAME: [{"check": FUNCTION, "message": TEXT, "path": [...]}]}}
        or {"unavailable": WHY} when this Python cannot import FreqTrade.

Per bot, what ``freqtrade trade`` does before it needs an exchange or runs strategy code
(freqtrade 2026.9: ``Configuration.load_config``, then ``FreqtradeBot.__init__``):
1. the strategy's settings fill what the config leaves unset (``StrategyResolver``: the config
   wins over the strategy);
2. ``check_exchange`` — the exchange is one ccxt and FreqTrade support;
3. ``validate_config_schema`` in dry-run or live run mode; every schema error is reported with
   its path (FreqTrade itself shows only the best match);
4. ``validate_config_consistency`` — FreqTrade's consistency checks, each a pure function of the
   config; the first refusal is reported with the name of the check that raised it.
Left to the bot's own start-up (and fleetops' health gate): what needs markets from the exchange
(``Exchange.validate_config``) or the strategy's code executed.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sys
from typing import Any


def main() -> int:
    request = json.load(sys.stdin)
    try:
        import freqtrade  # type: ignore[import-not-found]
        from freqtrade.configuration.config_validation import validate_config_consistency, validate_config_schema  # type: ignore[import-not-found]
        from freqtrade.enums import RunMode  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - any failure to import means: no usable FreqTrade here
        json.dump({"unavailable": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        return 0
    logging.disable(logging.CRITICAL)  # FreqTrade logs every refusal too; the answer carries them
    exchanges: dict[str, list[dict[str, Any]]] = {}
    bots: dict[str, list[dict[str, Any]]] = {}
    for name, bot in sorted(request["bots"].items()):
        conf = copy.deepcopy(bot["config"])
        for key, value in bot.get("strategy", {}).items():
            conf.setdefault(key, value)
        conf["runmode"] = RunMode.DRY_RUN if conf.get("dry_run", True) else RunMode.LIVE
        problems: list[dict[str, Any]] = []
        exchange = str((conf.get("exchange") or {}).get("name", ""))
        if exchange not in exchanges:
            exchanges[exchange] = _exchange_problems(conf)
        problems += exchanges[exchange]
        problems += _schema_problems(conf, validate_config_schema)
        problems += _consistency_problems(conf, validate_config_consistency)
        bots[name] = problems
    json.dump({"freqtrade": getattr(freqtrade, "__version__", "unknown"), "bots": bots}, sys.stdout)
    return 0


def _exchange_problems(conf: dict[str, Any]) -> list[dict[str, Any]]:
    from freqtrade.exchange.check_exchange import check_exchange  # type: ignore[import-not-found]

    try:
        check_exchange(conf, (conf.get("experimental") or {}).get("block_bad_exchanges", True))
    except Exception as exc:  # noqa: BLE001
        return [{"check": "check_exchange", "message": _first_line(exc), "path": ["exchange", "name"]}]
    return []


def _schema_problems(conf: dict[str, Any], validate_config_schema: Any) -> list[dict[str, Any]]:
    """FreqTrade's schema validation; on a refusal, every error with its path (FreqTrade's own
    validator class and schema, as ``validate_config_schema`` builds them for this run mode)."""
    try:
        validate_config_schema(copy.deepcopy(conf))
        return []
    except Exception as exc:  # noqa: BLE001
        refusal = _first_line(exc)
    found = []
    try:
        from freqtrade.config_schema.config_schema import CONF_SCHEMA, SCHEMA_TRADE_REQUIRED  # type: ignore[import-not-found]
        from freqtrade.configuration.config_validation import FreqtradeValidator  # type: ignore[import-not-found,unused-ignore]

        schema = copy.deepcopy(CONF_SCHEMA)
        schema["required"] = SCHEMA_TRADE_REQUIRED
        for error in FreqtradeValidator(schema).iter_errors(copy.deepcopy(conf)):
            path = list(error.absolute_path)
            missing = re.fullmatch(r"'(.+)' is a required property", error.message) if error.validator == "required" else None
            found.append({"check": "schema", "message": error.message, "path": path + ([missing.group(1)] if missing else [])})
    except Exception:  # noqa: BLE001 - another FreqTrade layout: its one message, unlocated
        found = []
    found.sort(key=lambda p: [str(part) for part in p["path"]])
    return found or [{"check": "schema", "message": refusal, "path": []}]


def _consistency_problems(conf: dict[str, Any], validate_config_consistency: Any) -> list[dict[str, Any]]:
    """FreqTrade's consistency checks, every refusal rather than the first: the checks
    ``validate_config_consistency`` calls, in its own order (read from its code), each run on the
    same config as there (earlier checks migrate deprecated settings for later ones), then its
    closing schema check is the one reported above. A FreqTrade laid out otherwise: the one call."""
    module = sys.modules[validate_config_consistency.__module__]
    checks = [getattr(module, n) for n in validate_config_consistency.__code__.co_names
              if n.startswith(("_validate", "validate_migrated")) and callable(getattr(module, n, None))]
    conf = copy.deepcopy(conf)
    problems = []
    for check in checks or [validate_config_consistency]:
        try:
            check(conf, **({"preliminary": False} if "preliminary" in check.__code__.co_varnames else {}))
        except Exception as exc:  # noqa: BLE001 - FreqTrade refuses with ConfigurationError, or crashes on odd types
            problems.append({"check": _raised_in(exc), "message": _first_line(exc), "path": []})
    return problems


def _raised_in(exc: BaseException) -> str:
    """Which of FreqTrade's checks refused: the innermost function of its config_validation
    module on the traceback (else the innermost FreqTrade function)."""
    check = anywhere = "unknown"
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module == "freqtrade.configuration.config_validation":
            check = tb.tb_frame.f_code.co_name
        if module.startswith("freqtrade."):
            anywhere = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return check if check != "unknown" else anywhere


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


if __name__ == "__main__":
    sys.exit(main())
