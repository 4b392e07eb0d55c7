"""From the snapshot to what a person reads: rows filtered and sorted, ages, sizes, links.

Pure functions, used by the pages for both the full page and the fragments streamed to it, so
the page without JavaScript and the live one show the same thing.
"""

from __future__ import annotations

import re
import time
from typing import Any

__all__ = ["SORT_KEYS", "bot_rows", "commit_link", "container_rows", "format_age", "format_bytes", "web_url"]

SORT_KEYS = ("name", "pool", "container", "state", "strategy", "exchange", "allocation", "loop", "open", "profit")
STATE_ORDER = {"failing": 0, "stopped": 1, "unknown": 2, "draining": 3, "running": 4, "disabled": 5}


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


def bot_rows(snapshot: dict[str, Any], query: str = "", sort: str = "name", now: float | None = None) -> list[dict[str, Any]]:
    """The bots to show: matching ``query`` in any shown field, ordered by ``sort`` (``-`` prefix: descending)."""
    now = time.time() if now is None else now
    rows = []
    for bot in snapshot.get("bots", []):
        loop_age = now - bot["last_loop"] if bot.get("last_loop") else None
        row = {
            "name": bot["name"], "pool": bot.get("pool") or "(dedicated)", "container": bot["container"], "state": bot["state"],
            "strategy": bot.get("strategy") or "(record unreadable)", "exchange": bot.get("exchange") or "–",
            "pairs": ", ".join(bot.get("pairs") or []), "allocation": bot.get("allocation"),
            "allocation_text": f"{_number(bot.get('allocation'), 0)} {bot.get('currency') or ''}".strip(), "loop_age": loop_age, "loop_text": format_age(loop_age),
            "open": bot.get("open_trades"), "open_text": "–" if bot.get("open_trades") is None else str(bot["open_trades"]),
            "profit": bot.get("profit"), "profit_text": _number(bot.get("profit")),
            "profit_class": "" if not bot.get("profit") else ("gain" if bot["profit"] > 0 else "loss"),
            "failing": bot.get("failing") or "",
        }
        rows.append(row)
    needle = query.strip().lower()
    if needle:
        rows = [r for r in rows if any(needle in str(r[k]).lower() for k in
                                       ("name", "pool", "container", "state", "strategy", "exchange", "pairs"))]
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key = "name"

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        value = {"state": STATE_ORDER.get(row["state"], 9), "loop": row["loop_age"], "open": row["open"],
                 "profit": row["profit"]}.get(key, row.get(key))
        return (value is None, value if value is not None else 0, row["name"])

    rows.sort(key=order, reverse=descending)
    return rows


def container_rows(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**c, "pool": c.get("pool") or "(dedicated)", "memory_text": format_bytes(c.get("memory")),
             "use": f"{c['bots']}/{c['capacity']}" if c.get("pool") else str(c["bots"])}
            for c in snapshot.get("containers", [])]


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
