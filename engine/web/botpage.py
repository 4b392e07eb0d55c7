"""From the snapshot, the bot's record and its detail to what the per-bot page shows.

Pure functions, used by ``engine.web.pages`` for ``/bots/<name>``: the settings the running
revision gave the bot (its record's essence), the changelog of its strategy pin (the stored plans'
``strategy_changes`` of the revisions that moved it: no git read), its equity over the last hours
as an inline SVG polyline (no script, no style attribute: the page's CSP allows neither inline), and
memory against its container's limit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.web.view import format_age, memory_limit_of, memory_use

if TYPE_CHECKING:
    from engine.compile.essence import BotEssence
    from engine.fleetview import BotView
    from engine.ftapi import Trade
    from engine.web.refresher import PageSnapshot

__all__ = ["SPARK_HEIGHT", "SPARK_WIDTH", "bot_memory", "bot_settings", "loop_text", "pin_changelog", "sparkline", "trade_rows"]

SPARK_WIDTH = 320
SPARK_HEIGHT = 60


def bot_settings(essence: BotEssence) -> list[tuple[str, str]]:
    """(label, value) rows of what the bot runs with, in the order an operator asks for them (no secret values: names only)."""
    trailing = essence.trailing_stop
    rows = [
        ("Strategy", f"{essence.strategy_class} · {essence.strategy}"),
        ("Strategy sha256", essence.strategy_sha256[:16]),
        ("Mode", "dry-run" if essence.dry_run else "LIVE"),
        ("Exchange", essence.exchange),
        ("Pairs", ", ".join(essence.pairs)),
        ("Timeframe", essence.timeframe),
        ("Wallet", f"{essence.wallet}: {essence.allocation:,.0f} {essence.currency}"),
        ("Stake", f"{essence.stake_amount} · at most {essence.max_open_trades} open"),
        ("Stoploss", f"{essence.stoploss:.2%}"),
        ("Minimal ROI", ", ".join(f"{k} min: {v:.2%}" for k, v in essence.minimal_roi.items()) or "–"),
        ("Trailing stop", "off" if trailing is None else trailing.model_dump_json(exclude_none=True)),
        ("Runs in", f"{essence.container} (pool {essence.pool})" if essence.pool else f"{essence.container} (dedicated)"),
        ("API port", str(essence.port)),
        ("On change", essence.on_change + (f" (drain up to {essence.drain_timeout} s)" if essence.on_change == "drain" else "")),
        ("Enabled", "yes" if essence.enabled else "no"),
        ("Secrets", ", ".join(sorted(essence.secrets)) or "none"),
    ]
    return rows


def pin_changelog(revisions: Sequence[Mapping[str, Any]], bot: str) -> list[dict[str, Any]]:
    """Each stored pin move of ``bot`` (newest first): the revision, its status, and the plan's changelog entry."""
    entries = []
    for revision in revisions:
        plan = revision.get("plan") or {}
        for change in plan.get("strategy_changes") or []:
            if isinstance(change, dict) and change.get("address") == f"bot/{bot}":
                entries.append({"revision": revision.get("revision"), "status": revision.get("status"),
                                "started_at": revision.get("started_at"), **change})
    return entries


def sparkline(points: Sequence[tuple[float, float]], base: float = 0.0,
              width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> dict[str, Any] | None:
    """``{points, first, last, low, high, span}`` for an SVG polyline of ``base`` + each value (equity:
    the allocation plus profit), scaled into ``width`` × ``height``; None with fewer than two points."""
    if len(points) < 2:
        return None
    values = [base + v for _, v in points]
    t0, t1 = points[0][0], points[-1][0]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    duration = (t1 - t0) or 1.0
    pad = 2
    coords = " ".join(f"{pad + (t - t0) / duration * (width - 2 * pad):.1f},{pad + (high - v) / spread * (height - 2 * pad):.1f}"
                      for (t, _), v in zip(points, values, strict=True))
    return {"points": coords, "first": values[0], "last": values[-1], "low": low, "high": high, "span": format_age(t1 - t0),
            "width": width, "height": height, "trend": "gain" if values[-1] > values[0] else ("loss" if values[-1] < values[0] else "")}


def trade_rows(trades: Sequence[Trade]) -> list[dict[str, Any]]:
    return [{"id": t.trade_id if t.trade_id is not None else "–", "pair": t.pair or "–", "opened": t.open_date or "–",
             "closed": t.close_date or "–", "stake": "–" if t.stake_amount is None else f"{t.stake_amount:,.2f}",
             "profit": "–" if t.profit_abs is None else f"{t.profit_abs:,.2f}",
             "ratio": "" if t.profit_ratio is None else f"{t.profit_ratio:+.2%}",
             "profit_class": "" if not t.profit_abs else ("gain" if t.profit_abs > 0 else "loss"), "reason": t.exit_reason or ""}
            for t in trades]


def bot_memory(snapshot: PageSnapshot, bot: BotView) -> dict[str, Any]:
    """Its container's memory against the container's limit (a pool's bots share both: ``shared`` says by how many)."""
    container = next((c for c in snapshot.containers if c.name == bot.container), None)
    use = memory_use(snapshot.memory.get(bot.container), memory_limit_of(snapshot, bot.container))
    return {**use, "container": bot.container, "shared": len(container.bots) if container is not None and bot.pool else 1}


def loop_text(bot: BotView, now: float | None = None) -> str:
    last = bot.figures.last_loop if bot.figures is not None else None
    return format_age((now or time.time()) - last) + " ago" if last else "–"
