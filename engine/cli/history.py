"""``fleetops history`` as a table: a header row, then one row per revision (and per quarantined
commit), each with how long its apply took and the subject of the commit it applied, and the
self-heal repairs beneath the revision they restored.

Rows are ``Revision.summary()`` dicts (plus ``repairs``; quarantined commits as
``engine.watch.journal.with_quarantines`` adds them). Every text from git or the store passes
``one_line``, so a commit subject cannot print a line that looks like another revision.
"""

from __future__ import annotations

from typing import Any

from engine.textsafe import one_line

__all__ = ["HEADER", "format_duration", "history_lines"]

SUBJECT_WIDTH = 50
"""Characters of a commit subject the table shows (the JSON has it whole, as recorded)."""

_COLUMNS = (("REV", 4, ">"), ("STATUS", 12, "<"), ("STARTED", 25, "<"), ("DURATION", 8, ">"), ("FLEET", 16, "<"),
            ("COMMIT", 14, "<"), ("CHANGES", 7, ">"))
HEADER = "  ".join(f"{name:{align}{width}}" for name, width, align in _COLUMNS) + "  SUBJECT"


def format_duration(seconds: int | None) -> str:
    """``4s``, ``2m05s``, ``1h03m``; ``-`` when unknown (still running, or recorded without an end)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def history_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The table ``fleetops history`` prints: ``HEADER``, then per row its number (``-`` for a commit
    quarantined before any revision), status, start, duration, fleet, short commit (``+dirty``),
    number of changes, the commit's subject (``-`` when not recorded) and, after `` — ``, the
    revision's message; each repair on a line of its own beneath."""
    if not rows:
        return ["no revisions yet"]
    lines = [HEADER]
    for row in rows:
        commit = (row["commit"] or "-")[:7] + ("+dirty" if row["dirty"] else "")
        number = "-" if row["revision"] is None else str(row["revision"])
        subject = row.get("subject") or "-"
        if len(subject) > SUBJECT_WIDTH:
            subject = subject[:SUBJECT_WIDTH - 1] + "…"
        cells = (number, row["status"], row["started_at"], format_duration(row.get("duration_seconds")), row["fleet"], commit,
                 str(row["changes"]))
        table = "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, _COLUMNS, strict=True))
        message = f" — {row['message']}" if row["message"] else ""
        lines.append(one_line(f"{table}  {subject}{message}"))
        for repair in row.get("repairs", []):
            lines.append(one_line(f"      repair       {repair['at']}  {', '.join(repair['actions'])} ({repair['result']})"))
    return lines
