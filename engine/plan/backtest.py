"""The backtest section of a plan (``plan --backtest``): old and new strategy version side by side, per bot.

Made by ``engine.backtest`` (which runs FreqTrade); here only the values and how each format shows
them, so the plan's formatters call one function each (``backtest_text_lines``,
``backtest_markdown_lines``, ``BacktestReport.as_json``). Pure: nothing here runs anything.

What the numbers are (FreqTrade's backtesting report, freqtrade 2026.9, ``results["strategy"]``):
``trades`` its ``total_trades``; ``profit %`` its ``profit_total`` (profit over the starting
wallet); ``max drawdown %`` its ``max_drawdown_account`` (the deepest fall of the account from a
high); ``win rate %`` its ``winrate`` (wins over trades; none without trades). The delta is new
minus old. Synthetic candles are labelled as what they are: a check of what the code does on one
price path, not a forecast of what it earns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from engine.hashing import canonical_json
from engine.textsafe import md_code, md_text, one_line

__all__ = ["SYNTHETIC_LABEL", "BacktestMetrics", "BacktestReport", "BotBacktest", "DataSet", "Lookahead", "backtest_markdown_lines",
           "backtest_text_lines", "report_from_json"]

SYNTHETIC_LABEL = "behaviour check, not a profit forecast"
_COLUMNS = ("trades", "profit %", "max drawdown %", "win rate %")


@dataclass(frozen=True)
class BacktestMetrics:
    """One backtest's figures (percentages in percent, e.g. 1.5 for 1.5 %), and the sha256 of its trade list."""

    trades: int
    profit_pct: float
    max_drawdown_pct: float
    win_rate_pct: float | None
    trades_sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"trades": self.trades, "profit_pct": self.profit_pct, "max_drawdown_pct": self.max_drawdown_pct,
                "win_rate_pct": self.win_rate_pct, "trades_sha256": self.trades_sha256}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BacktestMetrics:
        win = data.get("win_rate_pct")
        return cls(int(data["trades"]), float(data["profit_pct"]), float(data["max_drawdown_pct"]),
                   None if win is None else float(win), str(data.get("trades_sha256", "")))


@dataclass(frozen=True)
class Lookahead:
    """FreqTrade's lookahead-analysis of the new version: ``signals`` re-run on cut candles, ``bias``
    (None: too few trades to judge), the entry and exit signals and indicators that saw the future."""

    signals: int
    bias: bool | None
    false_entries: int = 0
    false_exits: int = 0
    biased_indicators: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"signals": self.signals, "bias": self.bias, "false_entries": self.false_entries, "false_exits": self.false_exits,
                "biased_indicators": list(self.biased_indicators)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lookahead:
        bias = data.get("bias")
        return cls(int(data["signals"]), None if bias is None else bool(bias), int(data.get("false_entries", 0)),
                   int(data.get("false_exits", 0)), tuple(str(n) for n in data.get("biased_indicators", [])))

    @property
    def summary(self) -> str:
        if self.bias is None:
            return f"too few trades to judge ({self.signals} checked; FreqTrade needs 10): backtest more days"
        if not self.bias:
            return f"no lookahead bias in {self.signals} signals"
        parts = [f"{self.false_entries} of {self.signals} entry signals", f"{self.false_exits} exit signals"]
        if self.biased_indicators:
            parts.append(f"indicators {', '.join(self.biased_indicators)}")
        return "LOOKAHEAD BIAS: " + ", ".join(parts) + " change when later candles are cut off (the strategy sees the future)"


@dataclass(frozen=True)
class DataSet:
    """The candles a backtest ran on: how the plan names them, their sha256, pairs, timeframe and timerange."""

    name: str
    sha256: str
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str | None
    synthetic: bool

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "pairs": list(self.pairs), "timeframe": self.timeframe,
                "timerange": self.timerange, "synthetic": self.synthetic}


@dataclass(frozen=True)
class BotBacktest:
    """One bot's pin change backtested: both pins, the data set (its sha256), both results, and a
    note when one could not be run (the result is then None)."""

    address: str
    before: str
    after: str
    data: str
    old: BacktestMetrics | None
    new: BacktestMetrics | None
    notes: tuple[str, ...] = ()
    lookahead: Lookahead | None = None
    """The new version's lookahead-analysis (None: not run)."""

    def delta(self) -> dict[str, float | None]:
        """New minus old per figure; None where either side has none."""
        if self.old is None or self.new is None:
            return {"trades": None, "profit_pct": None, "max_drawdown_pct": None, "win_rate_pct": None}
        win = None if self.old.win_rate_pct is None or self.new.win_rate_pct is None else round(self.new.win_rate_pct - self.old.win_rate_pct, 6)
        return {"trades": self.new.trades - self.old.trades, "profit_pct": round(self.new.profit_pct - self.old.profit_pct, 6),
                "max_drawdown_pct": round(self.new.max_drawdown_pct - self.old.max_drawdown_pct, 6), "win_rate_pct": win}

    def as_json(self) -> dict[str, Any]:
        return {"address": self.address, "before": self.before, "after": self.after, "data": self.data,
                "old": self.old.as_json() if self.old else None, "new": self.new.as_json() if self.new else None,
                "delta": self.delta(), "lookahead": self.lookahead.as_json() if self.lookahead else None, "notes": list(self.notes)}


@dataclass(frozen=True)
class BacktestReport:
    """Every moved pin's backtest in one plan: which FreqTrade ran them (``judge``, ``freqtrade``),
    the settings all of them share (``settings``), the data sets, the bots (by address), and notes."""

    freqtrade: str
    judge: str
    settings: str
    datasets: tuple[DataSet, ...]
    bots: tuple[BotBacktest, ...]
    notes: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        return any(d.synthetic for d in self.datasets)

    @property
    def results_sha256(self) -> str:
        """sha256 of the results alone (data sets and figures, not who ran them): two runs on the same inputs give the same."""
        body = {"datasets": [d.as_json() for d in self.datasets], "bots": [b.as_json() for b in self.bots], "freqtrade": self.freqtrade}
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {"freqtrade": self.freqtrade, "judge": self.judge, "settings": self.settings,
                "label": SYNTHETIC_LABEL if self.synthetic else "", "datasets": [d.as_json() for d in self.datasets],
                "bots": [b.as_json() for b in self.bots], "notes": list(self.notes), "results_sha256": self.results_sha256}


def report_from_json(data: dict[str, Any]) -> BacktestReport:
    """``BacktestReport.as_json``'s output as a value again (a stored plan)."""
    datasets = tuple(DataSet(str(d["name"]), str(d["sha256"]), tuple(d.get("pairs", [])), str(d.get("timeframe", "")), d.get("timerange"),
                             bool(d.get("synthetic"))) for d in data.get("datasets", []))
    bots = tuple(BotBacktest(str(b["address"]), str(b.get("before", "")), str(b.get("after", "")), str(b.get("data", "")),
                             BacktestMetrics.from_json(b["old"]) if isinstance(b.get("old"), dict) else None,
                             BacktestMetrics.from_json(b["new"]) if isinstance(b.get("new"), dict) else None,
                             tuple(str(n) for n in b.get("notes", [])),
                             Lookahead.from_json(b["lookahead"]) if isinstance(b.get("lookahead"), dict) else None)
                 for b in data.get("bots", []))
    return BacktestReport(str(data.get("freqtrade", "")), str(data.get("judge", "")), str(data.get("settings", "")), datasets, bots,
                          tuple(str(n) for n in data.get("notes", [])))


def _figure(value: float | int | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _rows(bot: BotBacktest) -> list[tuple[str, list[str]]]:
    rows = []
    for label, metrics in (("old", bot.old), ("new", bot.new)):
        if metrics is not None:
            rows.append((label, [_figure(metrics.trades), _figure(metrics.profit_pct), _figure(metrics.max_drawdown_pct), _figure(metrics.win_rate_pct)]))
    if bot.old is not None and bot.new is not None:
        d = bot.delta()
        rows.append(("delta", [_figure(d["trades"], True), _figure(d["profit_pct"], True), _figure(d["max_drawdown_pct"], True),
                               _figure(d["win_rate_pct"], True)]))
    return rows


def _short(datasets: tuple[DataSet, ...], sha: str) -> str:
    index = next((n for n, d in enumerate(datasets) if d.sha256 == sha), None)
    return f"data {index + 1}" if index is not None else "no data"


def backtest_text_lines(report: BacktestReport | None) -> list[str]:
    """The plan's backtest section for a terminal (empty without one)."""
    if report is None:
        return []
    label = f": {SYNTHETIC_LABEL} (synthetic candles)" if report.synthetic else ""
    lines = ["", f"Backtests, old and new strategy version side by side (FreqTrade {one_line(report.freqtrade)}, {one_line(report.judge)}){label}",
             f"  settings: {one_line(report.settings)}"]
    for n, d in enumerate(report.datasets, 1):
        lines.append(f"  data {n}: {one_line(d.name)}; sha256 {d.sha256}")
    for bot in report.bots:
        lines.append(f"  {one_line(bot.address)}  {one_line(bot.before)} -> {one_line(bot.after)}  ({_short(report.datasets, bot.data)})")
        rows = _rows(bot)
        if rows:
            lines.append("      " + " " * 6 + "".join(f"{c:>16}" for c in _COLUMNS))
            lines += ["      " + f"{label:<6}" + "".join(f"{v:>16}" for v in values) for label, values in rows]
        if bot.lookahead is not None:
            lines.append(f"      lookahead-analysis of the new version: {one_line(bot.lookahead.summary)}")
        lines += [f"      note: {one_line(note)}" for note in bot.notes]
    lines += [f"  note: {one_line(note)}" for note in report.notes]
    lines.append(f"  results sha256 {report.results_sha256}")
    return lines


def backtest_markdown_lines(report: BacktestReport | None) -> list[str]:
    """The plan's backtest section for a pull-request comment (empty without one); user text escaped."""
    if report is None:
        return []
    out = ["", "#### Backtests: old and new strategy version side by side", ""]
    if report.synthetic:
        out += ["> [!NOTE]", f"> Synthetic candles: a **{SYNTHETIC_LABEL}**.", ""]
    out.append(f"FreqTrade {md_code(report.freqtrade)} ({md_text(report.judge)}); {md_text(report.settings)}.")
    out.append("")
    out += [f"- data {n}: {md_text(d.name)}; sha256 {md_code(d.sha256)}" for n, d in enumerate(report.datasets, 1)]
    out += ["", "| bot | version | data | " + " | ".join(_COLUMNS) + " |", "|---|---|---|" + "---:|" * len(_COLUMNS)]
    for bot in report.bots:
        for label, values in _rows(bot):
            version = {"old": md_code(bot.before), "new": md_code(bot.after), "delta": "**delta**"}[label]
            out.append(f"| {md_code(bot.address)} | {version} | {_short(report.datasets, bot.data)} | " + " | ".join(values) + " |")
        if not _rows(bot):
            out.append(f"| {md_code(bot.address)} | {md_code(bot.after)} | {_short(report.datasets, bot.data)} |" + " - |" * len(_COLUMNS))
    biased = [bot for bot in report.bots if bot.lookahead is not None and bot.lookahead.bias]
    if biased:
        out += ["", "> [!WARNING]"] + [f"> {md_code(bot.address)} {md_code(bot.after)}: {md_text(bot.lookahead.summary)}" for bot in biased
                                       if bot.lookahead is not None]
    checked = [f"{bot.address}: {bot.lookahead.summary}" for bot in report.bots if bot.lookahead is not None and not bot.lookahead.bias]
    if checked:
        out += ["", "Lookahead-analysis of the new versions: " + md_text("; ".join(checked)) + "."]
    notes = [f"{bot.address}: {note}" for bot in report.bots for note in bot.notes] + list(report.notes)
    out += [""] + [f"> {md_text(note)}" for note in notes] if notes else []
    out += ["", f"Results sha256 {md_code(report.results_sha256)}."]
    return out
