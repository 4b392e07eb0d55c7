"""From the snapshot to what a person reads: rows filtered and sorted, ages, sizes, links.

Pure functions, used by the pages for both the full page and the fragments streamed to it, so
the page without JavaScript and the live one show the same thing.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from engine.health.status import HealthStatus

if TYPE_CHECKING:
    from engine.web.refresher import PageSnapshot

__all__ = ["SORT_KEYS", "bot_rows", "commit_link", "container_rows", "fleet_header", "format_age", "format_bytes", "memory_limit_of", "web_url"]

SORT_KEYS = ("attention", "name", "pool", "container", "state", "health", "strategy", "exchange", "allocation", "loop", "open", "profit")
STATE_ORDER = {"failing": 0, "stopped": 1, "unknown": 2, "draining": 3, "running": 4, "disabled": 5}
HEALTH_ORDER = {status.value: -status.rank for status in HealthStatus}
"""Worst first when sorted by health (a bot not looked at, disabled, last)."""
ATTENTION = {"failing": 0, "running": 2, "draining": 3, "stopped": 4, "unknown": 5, "disabled": 6}
"""The page's default order: failing bots on top, then running ones (those whose health is not
``healthy`` first: rank 1), then the rest; ``attention_rank`` is the row's place in it."""


def attention_rank(state: str, health: str) -> int:
    if state == "running" and health not in ("healthy", "–"):
        return 1
    return ATTENTION.get(state, 5)


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024 / 1024:.0f} MiB"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def bot_rows(snapshot: PageSnapshot, query: str = "", sort: str = "attention", now: float | None = None) -> list[dict[str, Any]]:
    """The bots to show: matching ``query`` in any shown field, ordered by ``sort`` (``-`` prefix: descending)."""
    now = time.time() if now is None else now
    rows = []
    for bot in snapshot.bots:
        figures = bot.figures
        last_loop = figures.last_loop if figures is not None else None
        loop_age = now - last_loop if last_loop else None
        open_trades = figures.open_trades if figures is not None else None
        profit = figures.profit if figures is not None else None
        row = {
            "name": bot.name, "pool": bot.pool or "(dedicated)", "container": bot.container, "state": bot.state,
            "health": bot.health.status.value if bot.health is not None else "–", "health_detail": bot.health.detail if bot.health else "",
            "health_class": f"health-{bot.health.status.value}" if bot.health is not None else "health-none",
            "strategy": bot.strategy or "(record unreadable)", "exchange": bot.exchange or "–",
            "pairs": ", ".join(bot.pairs), "allocation": bot.allocation,
            "allocation_text": f"{_number(bot.allocation, 0)} {bot.currency or ''}".strip(), "loop_age": loop_age, "loop_text": format_age(loop_age),
            "open": open_trades, "open_text": "–" if open_trades is None else str(open_trades),
            "profit": profit, "profit_text": _number(profit),
            "profit_class": "" if not profit else ("gain" if profit > 0 else "loss"),
            "failing": bot.failing or "",
        }
        row["rank"] = attention_rank(str(row["state"]), str(row["health"]))
        rows.append(row)
    needle = query.strip().lower()
    if needle:
        rows = [r for r in rows if any(needle in str(r[k]).lower() for k in
                                       ("name", "pool", "container", "state", "health", "strategy", "exchange", "pairs"))]
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key = "attention"

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        value = {"attention": row["rank"], "state": STATE_ORDER.get(row["state"], 9), "health": HEALTH_ORDER.get(row["health"], 9), "loop": row["loop_age"],
                 "open": row["open"], "profit": row["profit"]}.get(key, row.get(key))
        return (value is None, value if value is not None else 0, row["name"])

    rows.sort(key=order, reverse=descending)
    return rows


def memory_limit_of(snapshot: PageSnapshot, container: str) -> int | None:
    """The container's memory limit in bytes as the engine enforces it (its inspect); None: none set or unknown."""
    limits = snapshot.limits.get(container)
    return limits.memory if limits is not None else None


def memory_use(used: int | None, limit: int | None) -> dict[str, Any]:
    """``123 MiB of 512 MiB`` and the share (0-100, None without a limit) for a bar; ``high`` from 85 %."""
    share = None if used is None or not limit else min(100.0, 100.0 * used / limit)
    text = format_bytes(used) + (f" of {format_bytes(limit)}" if limit else (" (no limit)" if used is not None else ""))
    return {"text": text, "share": share, "high": share is not None and share >= 85.0}


def container_rows(snapshot: PageSnapshot) -> list[dict[str, Any]]:
    rows = []
    for c in snapshot.containers:
        memory = memory_use(snapshot.memory.get(c.name), memory_limit_of(snapshot, c.name))
        rows.append({"name": c.name, "state": c.state, "capacity": c.capacity, "bots": len(c.bots), "supervisor": c.supervisor,
                     "pool": c.pool or "(dedicated)", "memory_text": memory["text"], "memory": memory, "node": c.node or "",
                     "use": f"{len(c.bots)}/{c.capacity}" if c.pool else str(len(c.bots))})
    return rows


SYNC_CLASS = {"Synced": "synced", "OutOfSync": "outofsync"}


def fleet_header(snapshot: PageSnapshot) -> dict[str, Any]:
    """What the top of every page says at a glance: sync against the branch head, and health.

    ``sync``: the watcher's (or ``serve``'s) ``SyncInfo`` JSON (``engine.watch.sync``), None when no
    one gave one; ``health``: worst-first (status, count) pairs of the bots looked at, and the
    one-word verdict (``healthy``, or the worst status seen)."""
    sync = dict(snapshot.sync) if snapshot.sync else None
    if sync is not None:
        sync["css"] = SYNC_CLASS.get(str(sync.get("status")), "unknownsync")
    counts = snapshot.view.health_counts if snapshot.view is not None else {}
    ordered = sorted(counts.items(), key=lambda kv: (HEALTH_ORDER.get(kv[0], 9), kv[0]))
    failing = snapshot.counts.get("failing", 0)
    worst = "failing" if failing else (ordered[0][0] if ordered else "unknown")
    if not failing and ordered and all(status == "healthy" for status, _ in ordered):
        worst = "healthy"
    return {"sync": sync, "health": ordered, "worst": worst, "failing": failing, "bots": len(snapshot.bots)}


_SCP = re.compile(r"git@([\w.-]+):([\w.-]+/[\w.-]+?)(?:\.git)?$")
_HTTPS = re.compile(r"https://([\w.-]+)/([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def web_url(remote: str | None) -> str | None:
    """``https://github.com/o/r`` for a GitHub or GitLab remote (https or scp-like); None otherwise."""
    if not remote:
        return None
    match = _HTTPS.fullmatch(remote) or _SCP.fullmatch(remote)
    if match is None or not any(host in match.group(1) for host in ("github", "gitlab")):
        return None
    return f"https://{match.group(1)}/{match.group(2)}"


def commit_link(base: str | None, sha: str | None) -> str | None:
    if not base or not sha or not re.fullmatch(r"[0-9a-f]{7,40}", sha):
        return None
    return f"{base}/commit/{sha}"
