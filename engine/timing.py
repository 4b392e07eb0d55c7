"""Per-stage wall-clock timings, printed to stderr when ``FLEETOPS_TIMINGS=1``.

Used by the pipeline's stages so benchmarks can show which stage is slow without a profiler.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["report", "stage"]

_ENABLED = bool(os.environ.get("FLEETOPS_TIMINGS"))
_STARTED = time.perf_counter()
_stages: list[tuple[str, float]] = []


@contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if _ENABLED:
            _stages.append((name, time.perf_counter() - start))


def report() -> None:
    """Print the recorded stages (and the time since the engine was imported) to stderr."""
    if not _ENABLED:
        return
    for name, seconds in _stages:
        print(f"timing: {name:<28} {seconds * 1000:8.1f} ms", file=sys.stderr)
    print(f"timing: {'total since engine import':<28} {(time.perf_counter() - _STARTED) * 1000:8.1f} ms", file=sys.stderr)
