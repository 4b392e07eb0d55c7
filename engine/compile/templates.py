"""The jinja2 environment over ``templates/``, with the escaping filters each target format needs.

Used by ``engine.compile.render``; ``template_version`` is folded into every hash so that a change to a
template (a fleetops upgrade) shows up as a change of the bots and containers it renders.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.compile.ftconfig import CONFIG_VERSION
from engine.resources import template_dir

if TYPE_CHECKING:
    import jinja2

__all__ = ["TEMPLATE_DIR", "environment", "template_version"]

TEMPLATE_DIR = template_dir()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _supervisor(value: Any) -> str:
    """One value on one line of a supervisord conf, exactly as supervisord will read it back.

    supervisord reads its conf with ``UnhosedConfigParser`` (``supervisor.options``, 4.x): a ``;``
    or ``#`` after whitespace starts an inline comment (there is no escape for it) and ``%(…)s``
    is expanded, so ``%`` is doubled and a value a comment would cut is refused (ValueError).
    """
    text = str(value)
    if any(c in text for c in "\r\n\x00"):
        raise ValueError(f"refusing to write a line break into supervisord.conf: {text!r}")
    if _comment_starts(text):
        raise ValueError(f"supervisord would read {text!r} as cut by an inline comment (whitespace before ';' or '#')")
    return text.replace("%", "%%")


def _comment_starts(text: str) -> list[int]:
    """Where configparser's inline-comment rule would cut ``text``: a ``;`` or ``#`` after any
    character ``str.isspace`` calls whitespace (configparser's own test, Unicode spaces included)."""
    return [i for i in range(1, len(text)) if text[i] in ";#" and text[i - 1].isspace()]


def _supervisor_command(argv: Sequence[str]) -> str:
    """An argv as a ``command=`` value that supervisord turns back into exactly ``argv``.

    supervisord splits ``command`` with ``shlex.split`` after its config parser has cut inline
    comments and expanded ``%``. Each word is quoted for shlex; where whitespace inside a quoted
    word is followed by ``;`` or ``#`` the quotes are closed and reopened between them
    (``'a '';b'`` is the one word ``a ;b`` to shlex, and no comment to configparser).
    """
    words = []
    for word in argv:
        quoted = shlex.quote(word)
        for i in reversed(_comment_starts(quoted)):
            quoted = quoted[:i] + "''" + quoted[i:]
        words.append(quoted)
    return _supervisor(" ".join(words))


def _supervisor_environment(variables: Mapping[str, str]) -> str:
    """``KEY="value",…`` as supervisord's ``environment=`` parser (``dict_of_key_value_pairs``,
    a non-POSIX ``shlex`` that keeps quotes and then strips quote characters from both ends)
    reads it back; a value it cannot carry unchanged is refused (ValueError)."""
    pairs = []
    for key, value in variables.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{key!r} is not an environment variable name supervisord can parse")
        quote = next((q for q in '"\'' if q not in value), None)
        if quote is None or (value and (value[0] in "'\"" or value[-1] in "'\"")):
            raise ValueError(f"supervisord's environment= parser cannot carry the value of {key} unchanged (quotes)")
        pairs.append(f"{key}={quote}{value}{quote}")
    return _supervisor(",".join(pairs))


def _compose(value: Any) -> str:
    """A JSON scalar (valid YAML) with ``$`` doubled so compose does not interpolate it."""
    return _json(value).replace("$", "$$")


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2  # only rendering needs it; plans hash template texts without it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["json"] = _json
    env.filters["supervisor"] = _supervisor
    env.filters["supervisor_command"] = _supervisor_command
    env.filters["supervisor_environment"] = _supervisor_environment
    env.filters["compose"] = _compose
    return env


RENDERED = ("compose", "supervisord")
"""The templates whose output reaches a container (the status page's templates do not)."""


@functools.cache
def template_version() -> str:
    """A short hash over every template's text and the FreqTrade config builder's version."""
    digest = hashlib.sha256(CONFIG_VERSION.encode())
    for path in sorted(p for kind in RENDERED for p in (TEMPLATE_DIR / kind).rglob("*.j2")):
        digest.update(path.relative_to(TEMPLATE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
