"""The jinja2 environment over ``templates/``, with the escaping filters each target format needs.

Used by ``engine.compile.render``; ``template_version`` is folded into every hash so that a change to a
template (a fleetops upgrade) shows up as a change of the bots and containers it renders.
"""

from __future__ import annotations

import functools
import hashlib
import json
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
    """A value safe on one line of a supervisord conf: no line breaks, ``%`` escaped for its expansion."""
    text = str(value)
    if any(c in text for c in "\r\n\x00"):
        raise ValueError(f"refusing to write a line break into supervisord.conf: {text!r}")
    return text.replace("%", "%%")


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
