"""The load check: which pinned strategies FreqTrade must load, what it is given, and where a failure is shown.

Called by ``engine.check.freqtrade`` beside the config check; the loading itself is
``engine/container/ftload.py``'s, in the same throwaway container (or local FreqTrade process).

What is loaded. A strategy is loaded with what a bot's FreqTrade gives its resolver: the pinned
file alone in the strategy directory (fleetops writes ``strategies/<Class>.py`` and nothing
beside it into a bot's directory — ``engine.live.materials``, ``engine.compile.render`` — so a
helper module next to it in the repository is not there for the bot either), and the settings of
the bot's rendered config that ``StrategyResolver.load_strategy`` reads (``LOAD_SETTINGS``,
freqtrade 2026.9: the attributes it overrides, the trading mode that decides ``can_short``).
Bots that share a strategy version and the settings that can change the outcome are loaded once,
with the first such bot's settings (``LoadRequest.digest``, also the cache key, with the judge's
identity: image ID or interpreter and FreqTrade version). What can change the outcome
(``OUTCOME_SETTINGS``, read from the resolver's code): the order types and time in force
(``_strategy_sanity_validations``), the trading and margin mode (``can_short``, ``validate_strategy``),
the run mode, and which attributes the config sets at all (a set one replaces the strategy's, so
the strategy's own value is never normalised); the override values themselves pass the config
schema first. So a fleet of 500 bots of one strategy that differ in stake, stop-loss and ROI is
one load, not 500. Not covered: a strategy whose own ``__init__`` reads those values and fails on
some of them.

Which bots. Against a baseline (``plan --against``: the base ref's bots), a bot whose strategy
version or load settings differ from its baseline's (new bots included): what the pull request
changes. Without one (``validate``, ``render``, and the live plan of ``plan``, ``apply`` and the
watcher), every bot: unchanged strategies are answered from the cache after their first load, so
they cost nothing on a machine with a state dir or ``FLEETOPS_CACHE_DIR``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.compile.desired import DesiredBot
from engine.compile.essence import BotEssence
from engine.compile.ftconfig import freqtrade_config
from engine.errors import Problem
from engine.hashing import canonical_json
from engine.spec.fleetspec import FleetSpec

__all__ = ["LOAD_SETTINGS", "LoadRequest", "load_problem", "load_request", "to_load"]

LOAD_SETTINGS = (
    "minimal_roi", "timeframe", "stoploss", "trailing_stop", "trailing_stop_positive", "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached", "use_custom_stoploss", "process_only_new_candles", "order_types", "order_time_in_force",
    "stake_currency", "stake_amount", "startup_candle_count", "unfilledtimeout", "use_exit_signal", "exit_profit_only",
    "ignore_roi_if_entry_signal", "exit_profit_offset", "disable_dataframe_checks", "ignore_buying_expired_candle_after",
    "position_adjustment_enable", "max_entry_position_adjustment", "max_open_trades", "trading_mode", "margin_mode", "dry_run",
)
"""The config keys ``StrategyResolver.load_strategy`` reads (freqtrade 2026.9: its override list, then
``_strategy_sanity_validations``' trading mode; ``dry_run`` picks the run mode)."""
OUTCOME_SETTINGS = ("order_types", "order_time_in_force", "trading_mode", "margin_mode", "dry_run")
"""Of those, the ones whose value (not only presence) can decide whether the strategy loads."""


@dataclass(frozen=True)
class LoadRequest:
    """One strategy version with one set of load settings: ``{"class", "text", "settings",
    "siblings"}`` as ``ftload.py`` reads it, and its digest (the cache key)."""

    payload: dict[str, Any]
    digest: str


def _settings(name: str, essence: BotEssence) -> dict[str, Any]:
    config = freqtrade_config(name, essence)
    return {key: config[key] for key in LOAD_SETTINGS if key in config}


def _outcome(settings: Mapping[str, Any]) -> list[Any]:
    return [{key: settings[key] for key in OUTCOME_SETTINGS if key in settings}, sorted(settings)]


def _identity(name: str, essence: BotEssence) -> str:
    return canonical_json([essence.strategy_class, essence.strategy_sha256, _outcome(_settings(name, essence))])


def to_load(bots: Mapping[str, DesiredBot], baseline: Mapping[str, BotEssence] | None) -> list[str]:
    """The bots whose strategy must be loaded, sorted: all without a baseline, else those whose
    strategy version or load settings differ from their baseline bot's (or that have none)."""
    if baseline is None:
        return sorted(bots)
    return sorted(name for name, bot in bots.items()
                  if name not in baseline or _identity(name, baseline[name]) != _identity(name, bot.essence))


def load_request(bot: DesiredBot, siblings: tuple[str, ...]) -> LoadRequest:
    """What ``ftload.py`` loads for ``bot``; ``siblings``: the other modules in ``strategies/`` at
    the pinned commit (named in the error when the strategy imports one)."""
    settings = _settings(bot.name, bot.essence)
    payload = {"class": bot.essence.strategy_class, "text": bot.strategy_text, "settings": settings, "siblings": sorted(siblings)}
    key = [bot.essence.strategy_class, bot.essence.strategy_sha256, _outcome(settings), sorted(siblings)]
    return LoadRequest(payload, hashlib.sha256(canonical_json(key).encode()).hexdigest())


def load_problem(spec: FleetSpec, bot: str, finding: Mapping[str, Any], version: str, judge: str) -> Problem:
    """A failed load as an error at the bot's ``strategy:`` value: FreqTrade's message on one line,
    where in the strategy file, and what to do."""
    pin = spec.bots[bot].strategy
    cls = pin.split("@", 1)[0]
    file = f"strategies/{cls}.py"
    line = finding.get("line")
    where = f" ({file}, line {line})" if isinstance(line, int) else ""
    kind, module = str(finding.get("kind", "")), str(finding.get("module") or "")
    message = str(finding.get("message", "")).rstrip(".")
    runs_on = judge.removeprefix("image ") if judge.startswith("image ") else "the local FreqTrade's Python"
    hint = {
        "import": f"module '{module}' is not in {runs_on}: add it to the bot's image or remove the import",
        "sibling": (f"strategies/{module}.py is beside it in the repository, but a bot gets only {file} "
                    f"(fleetops ships no other file of strategies/): move what it needs into {file}"),
        "syntax": f"fix the syntax of {file} at that line",
        "not-a-strategy": f"class {cls} in {file} must subclass IStrategy (FreqTrade finds it by the text 'class {cls}(')",
        "not-found": f"FreqTrade finds a class by the text 'class {cls}(' in {file}",
        "raised": "the strategy raised while FreqTrade imported or created it: fix the code at that line",
        "refused": "change the strategy or the bot's settings",
        "timeout": "a strategy must load in seconds: do no work at import",
        "crashed": "a strategy must load within the memory and time a bot's start-up has",
    }.get(kind, "")
    text = f"bot '{bot}': FreqTrade {version} cannot load strategy {pin}{where}: {message}" + (f"; {hint}" if hint else "")
    return spec.documents[("Bot", bot)].problem(("strategy",), text)
