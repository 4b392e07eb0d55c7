"""Field-level diffs of essences, in the form plans show them.

Used by ``engine.plan.diff``. Nested blocks are flattened to paths kept as tuples, so
``{"a.b": 1}`` and ``{a: {b: 1}}`` are different paths (a key that needs it is shown quoted:
``freqtrade["a.b"]``). Secret references are never shown, only that they changed; notify URLs
are shown without anything that could be a credential; numbers without a spurious ``.0``. A
secret's keyed value digest (``secret_digests``, stamped by live plans) is folded into its
reference, so a rotated value behind the same reference shows as ``(secret changed)`` too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.plan.model import FieldDiff
from engine.textsafe import mask_url

__all__ = ["BOT_HIDDEN", "SECRET_CHANGED", "diff_essences", "display_number", "show_path"]

SECRET_CHANGED = "(secret changed)"
BOT_HIDDEN = frozenset({"strategy_class", "strategy_sha256", "currency", "port"})
"""Bot fields derived from others (shown through them): the strategy pin, the wallet, the placement."""
_FLATTENED = frozenset({"trailing_stop", "freqtrade", "secrets", "health", "order_types", "entry_pricing", "exit_pricing", "backend"})
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

Path = tuple[str, ...]


def display_number(value: Any) -> Any:
    """1500.0 → 1500, so plans read the way specs are written."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return [display_number(v) for v in value]
    if isinstance(value, dict):
        return {k: display_number(v) for k, v in value.items()}
    return value


def show_path(path: Path) -> str:
    """``freqtrade.exchange.ccxt_config`` or ``freqtrade["a.b"]`` when a key needs quoting."""
    out = path[0]
    for key in path[1:]:
        out += f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key, ensure_ascii=False)}]"
    return out


def diff_essences(before: dict[str, Any] | None, after: dict[str, Any] | None, *, show_all: bool = False,
                   hidden: frozenset[str] = frozenset()) -> tuple[FieldDiff, ...]:
    """Every shown field that differs (``show_all``: every shown field, for creates and deletes)."""
    flat_before = _flatten(before or {}, hidden)
    flat_after = _flatten(after or {}, hidden)
    diffs = []
    for path in sorted(set(flat_before) | set(flat_after), key=_path_order(before or after or {})):
        old, new = flat_before.get(path, _ABSENT), flat_after.get(path, _ABSENT)
        if old == new and not show_all:
            continue
        old, new = (None if old is _ABSENT else old), (None if new is _ABSENT else new)
        if old is None and new is None:
            continue
        if path[0] == "secrets":
            old, new = _mask_secret(old, new)
        elif path[0] == "notify":
            old, new = _mask_urls(old), _mask_urls(new)
        diffs.append(FieldDiff(show_path(path), display_number(old), display_number(new)))
    return tuple(diffs)


_ABSENT: Any = object()


def _mask_secret(old: Any, new: Any) -> tuple[str | None, str | None]:
    """Secret references are shown only as present, set or changed."""
    shown_old = "(secret)" if old is not None else None
    if new is None:
        return shown_old, None
    if old is None:
        return None, "(secret set)"
    return shown_old, "(secret)" if old == new else SECRET_CHANGED


def _mask_urls(value: Any) -> Any:
    if isinstance(value, list):
        return [{**t, "url": mask_url(t["url"])} if isinstance(t, dict) and isinstance(t.get("url"), str) else t for t in value]
    return value


def _flatten(essence: dict[str, Any], hidden: frozenset[str]) -> dict[Path, Any]:
    flat: dict[Path, Any] = {}
    digests = essence.get("secret_digests")
    for key, value in essence.items():
        if key in hidden or key == "secret_digests":
            continue
        if key == "secrets" and isinstance(value, dict) and isinstance(digests, dict):
            value = {name: [reference, digests.get(name)] for name, reference in value.items()}
        if key in _FLATTENED and isinstance(value, dict):
            flat.update(_flatten_all(value, (key,)))
        else:
            flat[(key,)] = value
    return flat


def _flatten_all(value: dict[str, Any], prefix: Path) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    for key, sub in value.items():
        path = (*prefix, str(key))
        if isinstance(sub, dict) and sub:
            out.update(_flatten_all(sub, path))
        else:
            out[path] = sub
    return out


def _path_order(essence: dict[str, Any]) -> Any:
    """Keep the essence's field order (spec order), sub-paths beside their parent."""
    order = {key: i for i, key in enumerate(essence)}

    def key(path: Path) -> tuple[int, Path]:
        return (order.get(path[0], len(order)), path)

    return key
