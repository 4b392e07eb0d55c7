"""The changelog of a strategy pin change: commits, lines, and the strategy's own settings, with risk.

Called by ``engine.changelog`` (which reads both versions and their history from git) for every
bot whose pin moved, in the offline plan (``plan --against``), the live plan and ``plan --ref``
alike. Pure: what git said comes in as ``PinVersions``; nothing here reads git or runs a strategy.

The settings are the class attributes of ``CHANGELOG_SETTINGS``, read with ``ast`` from the class
the pin names (``engine.compile.strategy_settings.declared_attributes``): a pull request's strategy
is untrusted code, never imported by the planner. Whether a setting's change reaches the bot is
decided by the bot's rendered FreqTrade config (``engine.compile.ftconfig``): FreqTrade gives a key
the config sets precedence over the strategy's attribute (``StrategyResolver.load_strategy`` and
``_override_attribute_helper``, freqtrade 2026.9: "Prevalence: Configuration, Strategy, default").
fleetops always renders ``stoploss``, ``minimal_roi``, ``timeframe`` and ``trailing_stop`` from the
spec, and ``order_types``, the trailing details and any ``freqtrade:`` key when the spec sets them.
A change the config overrides is LOW risk with a note saying so — except a ``timeframe`` the
strategy now declares otherwise than the bot runs it (MEDIUM: indicators written for other
candles); a change that takes effect is rated by ``engine.plan.risk.strategy_setting_risk``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.compile.essence import BotEssence
from engine.compile.ftconfig import freqtrade_config
from engine.compile.strategy_settings import CHANGELOG_SETTINGS, NotLiteral, declared_attributes
from engine.plan.model import Change, Plan, Risk, SettingChange, StrategyChange
from engine.plan.risk import strategy_setting_risk
from engine.spec.history import PinHistory

__all__ = ["NOT_A_LITERAL", "NOT_SET", "PinVersions", "strategy_change", "with_strategy_changes"]

NOT_A_LITERAL = "(not a literal)"
NOT_SET = "(not set)"
_TRAILING_DETAILS = frozenset({"trailing_stop_positive", "trailing_stop_positive_offset", "trailing_only_offset_is_reached"})


@dataclass(frozen=True)
class PinVersions:
    """Both versions of a moved pin as git gave them (``engine.changelog``): the strategy files'
    texts (None: not read, ``notes`` say why), their ``history`` when both are the same file, the
    lines added and removed between them, and notes on what could not be read."""

    old_text: str | None
    new_text: str | None
    history: PinHistory | None = None
    lines: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()


def strategy_change(bot: str, before: BotEssence, after: BotEssence, versions: PinVersions) -> StrategyChange:
    """The changelog of ``bot``'s pin change from the essence ``before`` to ``after``: its history,
    lines, and every setting of ``CHANGELOG_SETTINGS`` that differs, each with its risk for this bot
    (its config, built from ``after``, decides what is overridden)."""
    file = f"strategies/{after.strategy_class}.py"
    history = versions.history
    notes = list(versions.notes)
    if before.strategy_class != after.strategy_class:
        relation = "replaced"
    elif history is not None:
        relation = history.relation
    else:
        relation = "unknown"
    old = _attributes(versions.old_text, before.strategy_class, "old", f"strategies/{before.strategy_class}.py", notes)
    new = _attributes(versions.new_text, after.strategy_class, "new", file, notes)
    settings: tuple[SettingChange, ...] = ()
    if old is not None and new is not None:
        config = freqtrade_config(bot, after)
        settings = tuple(_setting(name, old.get(name, NOT_SET), new.get(name, NOT_SET), config, after)
                         for name in CHANGELOG_SETTINGS if old.get(name, NOT_SET) != new.get(name, NOT_SET))
    lines = versions.lines if versions.lines is not None else (history.added, history.removed) if history is not None else None
    return StrategyChange(
        address=f"bot/{bot}", before=before.strategy, after=after.strategy, file=file, relation=relation,
        commits=history.commits if history is not None else (), touching=history.touching if history is not None else 0,
        behind=history.behind if history is not None else 0, undone=history.undone if history is not None else 0,
        added=lines[0] if lines is not None else None, removed=lines[1] if lines is not None else None,
        settings=settings, notes=tuple(notes),
    )


def with_strategy_changes(plan: Plan, found: Iterable[StrategyChange]) -> Plan:
    """``plan`` carrying the changelogs ``found``, each bot change's risk raised to its settings'
    (their reasons added to its risk notes when at least medium) and a downgrade named there too."""
    by_address = {s.address: s for s in found}
    if not by_address:
        return plan
    changes = tuple(_with_risk(c, by_address[c.address]) if c.address in by_address else c for c in plan.changes)
    return dataclasses.replace(plan, changes=changes, strategy_changes=tuple(by_address[a] for a in sorted(by_address)))


def _with_risk(change: Change, strategy: StrategyChange) -> Change:
    """Worst first, as ``bot_risk`` orders its notes: the strategy's when they outrank the change's own."""
    raised = [(s.risk, s.note) for s in strategy.settings if s.risk >= Risk.MEDIUM]
    if strategy.relation == "downgrade":
        raised.append((Risk.MEDIUM, f"strategy downgrade: {strategy.behind} commit{'s' * (strategy.behind != 1)} back"))
    if not raised:
        return change
    raised.sort(key=lambda r: -r[0])
    ours = tuple(note for _, note in raised)
    notes = (*ours, *change.risk_notes) if raised[0][0] > change.risk else (*change.risk_notes, *ours)
    return dataclasses.replace(change, risk=max(change.risk, raised[0][0]), risk_notes=tuple(dict.fromkeys(notes)))


def _attributes(text: str | None, class_name: str, side: str, file: str, notes: list[str]) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return declared_attributes(text, class_name)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}, column {exc.offset}" if exc.lineno else ""
        notes.append(f"the {side} version of {file} does not parse as Python{where} ({exc.msg}): its settings are not compared")
        return None


def _setting(name: str, before: Any, after: Any, config: Mapping[str, Any], essence: BotEssence) -> SettingChange:
    shown_before, shown_after = _shown(before), _shown(after)
    overridden = _override(name, config, essence)
    if overridden is None:
        risk, note = strategy_setting_risk(name, shown_before, shown_after, live=not essence.dry_run)
        if name == "can_short" and after is True and config.get("trading_mode", "spot") == "spot":
            note += "; this bot trades spot, where FreqTrade refuses a short strategy: it would not start"
        return SettingChange(name, shown_before, shown_after, risk, note)
    if name == "timeframe" and isinstance(after, str) and after != config.get("timeframe"):
        note = (f"the strategy now declares timeframe {after}, and this bot runs it on {config.get('timeframe')} (its config's, "
                f"from its spec): indicators written for {after} candles see {config.get('timeframe')} ones")
        return SettingChange(name, shown_before, shown_after, Risk.MEDIUM, note, overridden=True)
    return SettingChange(name, shown_before, shown_after, Risk.LOW, overridden, overridden=True)


def _override(name: str, config: Mapping[str, Any], essence: BotEssence) -> str | None:
    """Why the strategy's ``name`` does not take effect on this bot, or None when it does."""
    if name in config:
        if name == "trailing_stop" and essence.trailing_stop is None:
            return "overridden: the bot's config sets trailing_stop false (its spec has no trailing_stop), which FreqTrade uses instead: no effect on this bot"
        origin = f"its spec's freqtrade.{name}" if name in essence.freqtrade else "rendered from its spec"
        return f"overridden: the bot's config sets {name} ({_compact(config[name])}, {origin}), which FreqTrade uses instead: no effect on this bot"
    if name in _TRAILING_DETAILS and config.get("trailing_stop") is False:
        return "no effect on this bot: its trailing stop is off (its spec's trailing_stop)"
    return None


def _shown(value: Any) -> Any:
    return NOT_A_LITERAL if isinstance(value, NotLiteral) else value


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
