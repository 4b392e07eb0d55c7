"""Canonical JSON and hashing: one function each, so identical inputs give identical bytes everywhere.

Every JSON fleetops emits (plans, rendered configs, records, hashes) is strict: a NaN or an
infinity is a bug upstream (validation rejects them), so it raises instead of writing ``NaN``,
which strict parsers reject.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "pretty_json", "short_hash"]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the byte form every hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def pretty_json(value: Any, *, sort_keys: bool = True, ascii_only: bool = False) -> str:
    """Indented strict JSON with a final newline: files and CLI output people read.

    ``ascii_only`` escapes every non-ASCII character: for files another program opens in its
    locale's encoding (FreqTrade opens its configs with ``open()``), so they read the same in any."""
    return json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=ascii_only, allow_nan=False) + "\n"


def short_hash(value: Any) -> str:
    """16 hex digits of sha256 over the canonical JSON: short enough for labels, long enough to never collide."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]
