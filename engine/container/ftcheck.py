"""FreqTrade's own start-up checks over many bots' configs, in one process: the FreqTrade check's worker.

Runs with the Python of the fleet's image (``docker run --network none --read-only``) or of a
local FreqTrade, never inside fleetops' own process: fleetops passes this file's text to
``python3 -c`` and the configs on stdin. Stdlib and FreqTrade only; never imported by the engine
(``engine.check`` reads it as text).

stdin:  {"bots": {NAME: {"config": {...}, "strategy": {...}}}}
        ``config`` is config.json with secrets.json merged over it (placeholders of the same shape
        stand in for secret values); ``strategy`` holds the settings the pinned strategy declares
        literally (``engine.compile.strategy_settings``).
        With "strategies" (and "loader", the text of ``engine/container/ftload.py``, and
        "load_seconds"), those strategies are loaded too, each in a child process (the load check).
stdout: {"freqtrade": VERSION, "bots": {NAME: [{"check": FUNCTION, "message": TEXT, "path": [...]}]},
         "strategies": {KEY: [FINDING]}} (``strategies`` only when asked; see ftload.py)
        or {"unavailable": WHY} when this Python cannot import FreqTrade.

Per bot, what ``freqtrade trade`` does before it needs an exchange's markets or runs strategy
code (freqtrade 2026.9: ``Configuration.load_config``, ``StrategyResolver.load_strategy``, then
``FreqtradeBot.__init__``):
1. the strategy's settings fill what the config leaves unset (``StrategyResolver``: the config
   wins over the strategy), and ``StrategyResolver._strategy_sanity_validations`` judges what the
   strategy declares (a strategy that can short refused in spot markets);
2. ``check_exchange`` — the exchange is one ccxt and FreqTrade support;
3. ``validate_config_schema`` in dry-run or live run mode; every schema error is reported with
   its path (FreqTrade itself shows only the best match);
4. ``validate_config_consistency`` — FreqTrade's consistency checks, each a pure function of the
   config; the first refusal is reported with the name of the check that raised it;
5. the checks of ``Exchange.validate_config`` that need no markets, on the bot's exchange
   object built as FreqTrade builds it but without connecting (``ExchangeResolver`` with
   ``validate=False``; ccxt's and FreqTrade's static facts about the exchange): the timeframe
   (kraken has no ``3m``; nothing below ``1m``), market orders, stop-loss on the exchange, time in
   force, the trading and margin mode, order-book or ticker pricing, public trades, demo trading,
   freqAI's history. Each is reported with the config path it judged.
6. with "strategies", those strategies loaded by FreqTrade's resolver (``ftload.py``, the load check).
Left to the bot's own start-up (and fleetops' health gate): what needs markets from the exchange
(the stake currency, the pairs) or the strategy's code run on candles.
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
    objects: dict[str, Any] = {}
    bots: dict[str, list[dict[str, Any]]] = {}
    for name, bot in sorted(request["bots"].items()):
        conf = copy.deepcopy(bot["config"])
        declared = dict(bot.get("strategy", {}))
        can_short = declared.pop("can_short", None)
        for key, value in declared.items():
            conf.setdefault(key, value)
        conf["runmode"] = RunMode.DRY_RUN if conf.get("dry_run", True) else RunMode.LIVE
        problems: list[dict[str, Any]] = []
        exchange = str((conf.get("exchange") or {}).get("name", ""))
        if exchange not in exchanges:
            exchanges[exchange] = _exchange_problems(conf)
        problems += exchanges[exchange]
        problems += _schema_problems(conf, validate_config_schema)
        problems += _consistency_problems(conf, validate_config_consistency)
        problems += _strategy_problems(conf, can_short, problems)
        if not exchanges[exchange]:
            problems += _exchange_object_problems(conf, objects, problems)
        bots[name] = problems
    for built in objects.values():
        if built is not None:
            try:
                built.close()
            except Exception:  # noqa: BLE001 - closing a never-connected exchange; nothing to report
                pass
    answer: dict[str, Any] = {"freqtrade": getattr(freqtrade, "__version__", "unknown"), "bots": bots}
    if request.get("strategies"):  # the load check: ftload.py's text comes with the request
        loader: dict[str, Any] = {"__name__": "ftload"}
        exec(compile(request["loader"], "ftload.py", "exec"), loader)  # fleetops' own worker code, sent with the request
        answer["strategies"] = loader["load_strategies"](request["strategies"], float(request.get("load_seconds", 20)))
    json.dump(answer, sys.stdout)
    return 0


def _exchange_problems(conf: dict[str, Any]) -> list[dict[str, Any]]:
    from freqtrade.exchange.check_exchange import check_exchange  # type: ignore[import-not-found]

    try:
        check_exchange(conf, (conf.get("experimental") or {}).get("block_bad_exchanges", True))
    except Exception as exc:  # noqa: BLE001
        return [{"check": "check_exchange", "message": _first_line(exc), "path": ["exchange", "name"]}]
    return []


def _strategy_problems(conf: dict[str, Any], can_short: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``StrategyResolver._strategy_sanity_validations`` on what the strategy declares literally,
    with the order types and time in force FreqTrade's strategy will hold (the config's, else
    the strategy's, else ``IStrategy``'s). A mapping the schema already refused is not reported twice.
    Only a strategy that declares ``can_short`` needs it (importing the strategy loader costs ~0.7 s)."""
    if not can_short:
        return []
    try:
        from freqtrade.resolvers.strategy_resolver import StrategyResolver  # type: ignore[import-not-found]
        from freqtrade.strategy.interface import IStrategy  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - another FreqTrade layout: left to the bot's start-up
        return []
    refused = {str(p["path"][0]) for p in found if p.get("path")}
    stand_in = type(str(conf.get("strategy", "Strategy")), (), {})()
    stand_in.config = copy.deepcopy(conf)
    stand_in.order_types = conf.get("order_types") if "order_types" not in refused else dict(IStrategy.order_types)
    stand_in.order_types = stand_in.order_types or dict(IStrategy.order_types)
    stand_in.order_time_in_force = conf.get("order_time_in_force") if "order_time_in_force" not in refused else None
    stand_in.order_time_in_force = stand_in.order_time_in_force or dict(IStrategy.order_time_in_force)
    stand_in.can_short = bool(can_short)
    try:
        StrategyResolver._strategy_sanity_validations(stand_in)
    except Exception as exc:  # noqa: BLE001
        message = _first_line(exc)
        path = ["strategy"] if "short" in message.lower() else (["order_types"] if "Order-types" in message else ["order_time_in_force"])
        return [{"check": "_strategy_sanity_validations", "message": message, "path": path}]
    return []


_EXCHANGE_IDENTITY = ("name", "ccxt_config", "ccxt_sync_config", "ccxt_async_config", "_ft_has_params", "enable_ws", "demo_trading")


def _exchange_object_problems(conf: dict[str, Any], built: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The market-free checks of ``Exchange.validate_config`` on the bot's exchange object, built
    once per distinct exchange settings. An exchange object that cannot be built here is left
    to the bot's start-up (no finding): only FreqTrade's refusals are reported. A setting the
    schema already refused is not judged again (FreqTrade stops at the schema)."""
    exchange_conf = conf.get("exchange") or {}
    identity = json.dumps([{k: exchange_conf.get(k) for k in _EXCHANGE_IDENTITY}, conf.get("trading_mode"), conf.get("margin_mode"),
                           conf.get("dry_run", True)], sort_keys=True, default=str)
    if identity not in built:
        try:
            built[identity] = _build_exchange(copy.deepcopy(conf))
        except Exception:  # noqa: BLE001
            built[identity] = None
    exchange = built[identity]
    if exchange is None:
        return []
    exchange._config = conf  # validate_timeframes reads the run mode from it
    checks: list[tuple[str, list[Any], Any, tuple[Any, ...]]] = [
        ("validate_timeframes", ["timeframe"], exchange.validate_timeframes, (conf.get("timeframe"),)),
        ("validate_stop_ordertypes", ["order_types", "stoploss_on_exchange"], exchange.validate_stop_ordertypes, (conf.get("order_types") or {},)),
        ("validate_ordertypes", ["order_types"], exchange.validate_ordertypes, (conf.get("order_types") or {},)),
        ("validate_order_time_in_force", ["order_time_in_force"], exchange.validate_order_time_in_force, (conf.get("order_time_in_force") or {},)),
        ("validate_trading_mode_and_margin_mode", ["trading_mode"], exchange.validate_trading_mode_and_margin_mode,
         (exchange.trading_mode, exchange.margin_mode)),
        ("validate_pricing", ["entry_pricing", "use_order_book"], exchange.validate_pricing, (conf.get("entry_pricing") or {},)),
        ("validate_pricing", ["exit_pricing", "use_order_book"], exchange.validate_pricing, (conf.get("exit_pricing") or {},)),
        ("validate_orderflow", ["exchange", "use_public_trades"], exchange.validate_orderflow, (exchange_conf,)),
        ("validate_demo_trading", ["exchange", "demo_trading"], exchange.validate_demo_trading, (exchange_conf,)),
        ("validate_freqai", ["freqai", "enabled"], exchange.validate_freqai, (conf,)),
    ]
    problems: list[dict[str, Any]] = []
    refused = {str(p["path"][0]) for p in found if p.get("path")}
    stop_refused = False
    for check, path, function, args in checks:
        if (check == "validate_ordertypes" and stop_refused) or path[0] in refused:
            continue  # it runs the stop-loss check again; the schema refused it
        try:
            function(*args)
        except Exception as exc:  # noqa: BLE001 - FreqTrade refuses with ConfigurationError / OperationalException
            stop_refused = stop_refused or check == "validate_stop_ordertypes"
            problems.append({"check": f"Exchange.{check}", "message": _first_line(exc), "path": path})
    return problems


def _build_exchange(conf: dict[str, Any]) -> Any:
    """The exchange object ``ExchangeResolver.load_exchange`` builds (2026.9: the subclass named
    after the exchange, through ``MAP_EXCHANGE_CHILDCLASS``, else the generic class), without
    connecting. Built here rather than through the resolver: importing ``freqtrade.resolvers``
    imports every resolver (~1 s more per check run)."""
    import freqtrade.exchange as exchanges  # type: ignore[import-not-found]

    name = str(conf["exchange"]["name"])
    class_name = exchanges.MAP_EXCHANGE_CHILDCLASS.get(name, name).title()
    chosen = getattr(exchanges, class_name, None)
    if not (isinstance(chosen, type) and issubclass(chosen, exchanges.Exchange)):
        chosen = exchanges.Exchange
    return chosen(config=conf, validate=False, exchange_config=None, load_leverage_tiers=False)


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
