"""Reading a Docker Engine API document strictly: each field is of the type the API documents, or an error.

Used where an answer of the Engine API is parsed into the port's values: a container's inspect
(``engine.backend.docker.inspect``) and a Swarm service's spec (``engine.backend.swarm.service``).
The engine is trusted less than that: what a person, a plugin or another tool put there may be
anything, and a wrong type must say so (``ValueError``, which the callers turn into one-line
errors) rather than be compared as if it were a setting. A missing field (None) reads as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["mapping", "number", "sequence", "text"]


def mapping(value: Any) -> Mapping[str, Any]:
    """An object (a JSON ``{}``); None is ``{}``. Raises ValueError for anything else."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def sequence(value: Any) -> list[Any]:
    """A list; None is ``[]``. Raises ValueError for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def text(value: Any) -> str:
    """A string; None is ``""``. Raises ValueError for anything else."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def number(value: Any) -> int:
    """A whole number (not a bool); None is 0. Raises ValueError for anything else."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {type(value).__name__}")
    return int(value)
