"""The watcher's log: one line per event, for people (default) or as one JSON object per line.

Used by the daemon. Everything logged is already free of secrets (messages come from the
engine, which never holds secret values, and URLs are masked where they are built); control
characters are escaped so a commit subject cannot forge a log line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any, TextIO

from engine.textsafe import one_line

__all__ = ["WatchLog"]


class WatchLog:
    def __init__(self, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def __call__(self, message: str, *, event: str = "progress", level: str = "info", **fields: Any) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        if self.fmt == "json":
            line = json.dumps({"time": now, "level": level, "event": event, "message": message, **fields},
                              ensure_ascii=False, default=str)
        else:
            extra = "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
            line = one_line(f"{now} {level:<5} {event}: {message}{extra}")
        self.stream.write(line + "\n")
        self.stream.flush()
