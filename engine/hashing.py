"""Canonical hashing: one function, so identical inputs give identical hashes everywhere."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "short_hash"]


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the byte form every hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value: Any) -> str:
    """16 hex digits of sha256 over the canonical JSON: short enough for labels, long enough to never collide."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]
