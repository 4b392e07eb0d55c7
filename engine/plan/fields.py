"""Field-level diffs of essences, in the form plans show them.

Used by ``engine.plan.diff``. Secret references are never shown, only that they changed;
numbers are shown without a spurious ``.0``; nested blocks are flattened to dotted paths.
"""

from __future__ import annotations

from typing import Any

from engine.plan.model import FieldDiff

__all__ = ["SECRET_CHANGED", "diff_essences", "display_number"]

SECRET_CHANGED = "(secret changed)"
_HIDDEN = frozenset({"strategy_class", "strategy_sha256", "currency", "port"})
_FLATTENED = frozenset({"trailing_stop", "freqtrade", "secrets"})


def display_number(value: Any) -> Any:
    """1500.0 → 1500, so plans read the way specs are written."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [display_number(v) for v in value]
    if isinstance(value, dict):
        return {k: display_number(v) for k, v in value.items()}
    return value


def diff_essences(before: dict[str, Any] | None, after: dict[str, Any] | None, *, show_all: bool = False) -> tuple[FieldDiff, ...]:
    """Every shown field that differs (``show_all``: every shown field, for creates and deletes)."""
    flat_before = _flatten(before or {})
    flat_after = _flatten(after or {})
    diffs = []
    for path in sorted(set(flat_before) | set(flat_after), key=_path_order(before or after or {})):
        old, new = flat_before.get(path), flat_after.get(path)
        if old == new and not show_all:
            continue
        if old is None and new is None:
            continue
        if path.startswith("secrets."):
            old, new = _mask_secret(old, new)
        diffs.append(FieldDiff(path, display_number(old), display_number(new)))
    return tuple(diffs)


def _mask_secret(old: Any, new: Any) -> tuple[str | None, str | None]:
    """Secret references are shown only as present, set or changed."""
    shown_old = "(secret)" if old is not None else None
    if new is None:
        return shown_old, None
    if old is None:
        return None, "(secret set)"
    return shown_old, "(secret)" if old == new else SECRET_CHANGED


def _flatten(essence: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in essence.items():
        if key in _HIDDEN:
            continue
        if key in _FLATTENED and isinstance(value, dict):
            for sub_path, sub_value in _flatten_all(value, key).items():
                flat[sub_path] = sub_value
        else:
            flat[key] = value
    return flat


def _flatten_all(value: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in value.items():
        path = f"{prefix}.{key}"
        if isinstance(sub, dict) and sub:
            out.update(_flatten_all(sub, path))
        else:
            out[path] = sub
    return out


def _path_order(essence: dict[str, Any]) -> Any:
    """Keep the essence's field order (spec order), sub-paths beside their parent."""
    order = {key: i for i, key in enumerate(essence)}

    def key(path: str) -> tuple[int, str]:
        return (order.get(path.split(".", 1)[0], len(order)), path)

    return key
