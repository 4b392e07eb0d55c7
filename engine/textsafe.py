"""Printing strings a stranger wrote: nothing they type can forge a line of our output.

Used wherever user-controlled text (spec keys and values, bot names from Docker, messages from
a bot's API) reaches an error line, a text plan, a markdown comment or a log. Control characters
(C0, DEL, C1) and the Unicode bidi/line separators become visible escapes, so a key holding a
newline cannot start a fake ``file:line: error:`` line or a fake ``+ bot/x create`` line.
"""

from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import urlsplit

__all__ = ["mask_url", "md_code", "md_text", "one_line"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}")


def one_line(text: str) -> str:
    """``text`` with every control or line-breaking character shown as an escape."""
    return _UNSAFE.sub(_escape, text)


_MD_ACTIVE = re.compile(r"&#x27;|[\\`*_\[\]|~!#:@]")
"""Markdown's active characters, after ``html.escape``: its ``&#x27;`` (an apostrophe) is kept whole,
or its ``#`` would become an entity too and the comment would show ``&#x27;`` instead of ``'``."""


def _entities(text: str) -> str:
    """Every character markdown or HTML could act on, as a numeric entity (rendered as itself)."""
    return _MD_ACTIVE.sub(lambda m: m.group() if len(m.group()) > 1 else f"&#{ord(m.group())};", html.escape(one_line(text), quote=True))


def md_text(text: str) -> str:
    """Text for a markdown table cell or paragraph: no markup, no links, no pipes, no line breaks."""
    return _entities(text)


def md_code(text: str) -> str:
    """Inline code no user text can break out of: an HTML ``<code>`` element whose content has
    every markdown-active character as an entity (GitHub parses markdown inside inline HTML, so a
    backtick there could open a code span reaching past ``</code>``)."""
    return "<code>" + _entities(text) + "</code>"


def mask_url(url: str) -> str:
    """``https://hooks.example.com/… (#1a2b3c4d)``: host kept, path/query/userinfo (where tokens live) hidden."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":?"
    rest = url.split(parts.netloc, 1)[-1] if parts.netloc else url
    tail = "/…" if rest.strip("/") or parts.username else ""
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{parts.scheme}://{host}{port}{tail} (#{digest})"
