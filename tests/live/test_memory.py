"""A day of a watcher's work does not grow its memory: 500 in-process plans of a 200-bot fleet.

At one poll every 3 minutes a watcher plans ~500 times a day, each time against specs that
may have changed (new blobs). The plans run in a child process against the fakes; its resident
memory, sampled every 50 plans, must stop growing once warm (caches bounded, nothing kept per run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLANS = 500
WARM = 150
ALLOWED_GROWTH_KIB = 4096
"""Allocator noise over 350 plans; an entry kept per plan (~70 KiB each here) would be 24 MiB."""


@pytest.mark.slow
def test_resident_memory_stops_growing_after_warm_up(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tests/support/memory_probe.py"), str(tmp_path), "200", str(PLANS)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = {s["plans"]: s["rss_kib"] for s in json.loads(proc.stdout)}
    assert sorted(samples) == list(range(50, PLANS + 1, 50))
    warm = samples[WARM]
    growth = max(samples[n] for n in samples if n >= WARM) - warm
    assert growth < ALLOWED_GROWTH_KIB, f"RSS grew {growth} KiB after warm-up: {samples}"
