"""Why a revision failed, cause first: what the revisions page and the header lead with.

Used by ``engine.web.pages``. A failed health gate stores, per bot, its verdict's detail and the
bot's last log lines (``engine.live.processes``: this run's, secrets masked). FreqTrade prints its
whole exchange configuration at start, so the one line that says why — ``ERROR … Impossible to load
Strategy`` — can come after a screen of settings. ``failure_cause`` picks that line out (an ``ERROR``
or ``CRITICAL`` line that is not a generic one, else the exception a traceback ends with, else
supervisord's reason, else the verdict's detail) and filters the tail to the lines worth reading
(warnings, errors, the traceback, supervisord's words); the whole log stays one click away.

``resolved`` marks what a newer applied commit has made history: a failed or rolled-back revision
older than the live one, and a quarantined commit once the fleet is Synced to its branch head or a
newer revision than the quarantined commit's applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TAIL_LINES", "failure_cause", "resolved_quarantine", "resolved_revision"]

TAIL_LINES = 12
"""Lines of the filtered tail shown under the cause."""

_LEVEL = re.compile(r" - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - ")
_BARE_LEVEL = re.compile(r"\b(ERROR|CRITICAL)\b:?\s*")
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit)\b(?::.*)?$")
_GENERIC = re.compile(r"(?i)fatal exception!?$|^\s*$")
_TRACE = re.compile(r"^(Traceback \(most recent call last\):|  File \"|    \S|During handling of the above)")


def _message(line: str) -> str:
    """``ERROR Impossible to load Strategy …`` from FreqTrade's ``<time> - <logger> - ERROR - <message>``."""
    match = _LEVEL.search(line)
    if match is not None:
        return f"{match.group(1)} {line[match.end():].strip()}"
    return line.removeprefix("supervisord: ").strip()


def failure_cause(detail: str, log: Sequence[str]) -> dict[str, Any]:
    """``{cause, tail, hidden}``: the line that says why (or ``detail`` when the log does not say), the
    filtered tail (at most ``TAIL_LINES``, in log order, without the cause line) and how many lines the filter left out."""
    lines = [str(line) for line in log]
    cause_at: int | None = None
    for i, line in enumerate(lines):  # the first specific error: later ones are usually its consequences
        level = _LEVEL.search(line)
        if level is not None and level.group(1) in ("ERROR", "CRITICAL") and not _GENERIC.search(line[level.end():]):
            cause_at = i
            break
        if level is None and _BARE_LEVEL.search(line) and not _GENERIC.search(_BARE_LEVEL.split(line, 1)[-1]):
            cause_at = i
            break
    if cause_at is None:
        exceptions = [i for i, line in enumerate(lines) if _EXCEPTION.match(line.strip())]
        supervisor = [i for i, line in enumerate(lines) if line.startswith("supervisord: ")]
        cause_at = exceptions[-1] if exceptions else (supervisor[-1] if supervisor else None)
    cause = _message(lines[cause_at]) if cause_at is not None else detail
    kept = [line for i, line in enumerate(lines) if i != cause_at and _worth_reading(line)]
    tail = kept[-TAIL_LINES:]
    return {"cause": cause, "tail": tail, "hidden": len(lines) - len(tail) - (cause_at is not None)}


def _worth_reading(line: str) -> bool:
    level = _LEVEL.search(line)
    if level is not None:
        return level.group(1) in ("WARNING", "ERROR", "CRITICAL")
    return bool(_TRACE.match(line) or _EXCEPTION.match(line.strip()) or line.startswith("supervisord: ") or _BARE_LEVEL.search(line))


def resolved_revision(revision: Mapping[str, Any], live: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{revision, commit}`` of the live revision when it is newer than a failed one (that failure is history); else None."""
    if live is None or revision.get("status") not in ("failed", "rolled_back", "invalid", "interrupted"):
        return None
    number, newer = revision.get("revision"), live.get("revision")
    if not isinstance(number, int) or not isinstance(newer, int) or newer <= number:
        return None
    return {"revision": newer, "commit": live.get("commit")}


def resolved_quarantine(commit: str, sync: Mapping[str, Any] | None, revisions: Sequence[Mapping[str, Any]],
                        live: Mapping[str, Any] | None) -> bool:
    """A quarantined commit is history once the fleet is Synced to its branch head (which is then not
    that commit) or once the live revision is newer than the one made from that commit."""
    if sync is not None and sync.get("status") == "Synced" and sync.get("commit") != commit:
        return True
    made = [r.get("revision") for r in revisions if r.get("commit") == commit and isinstance(r.get("revision"), int)]
    newer = live.get("revision") if live is not None else None
    return bool(made) and isinstance(newer, int) and newer > max(int(n) for n in made if n is not None)
