"""The example fleet and strategies shipped in this repository are real and valid."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.demo_repo import build_demo_repo
from engine.offline import compile_at
from tests.conftest import ROOT, Run
from tests.test_render import FREQTRADE_PYTHON


def test_example_fleet_validates_and_looks_like_a_real_one(tmp_path: Path, fleetops: Callable[..., Run]) -> None:
    repo = build_demo_repo(tmp_path / "fleet")
    result = fleetops("validate", "--repo", str(repo), "--format", "json")
    assert result.code == 0, result.err
    loaded, desired = compile_at(repo, None)
    spec = loaded.spec
    assert len(spec.wallets) == 3 and len(spec.pools) == 3 and 15 <= len(spec.bots) <= 25
    assert len({b.exchange or spec.fleet.defaults.exchange for b in spec.bots.values()}) >= 4
    assert len({b.timeframe or spec.fleet.defaults.timeframe for b in spec.bots.values()}) >= 4
    assert sum(1 for c in desired.containers.values() if c.dedicated) >= 2
    assert {p.ref for p in spec.pins.values()} == {"v1.0.0", "v1.1.0"}
    assert len({p.commit for p in spec.pins.values()}) == 2


def test_init_refuses_a_non_empty_directory(tmp_path: Path, fleetops: Callable[..., Run]) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = fleetops("init", str(tmp_path / "taken"))
    assert result.code == 1 and "exists and is not empty" in result.err


@pytest.mark.freqtrade
def test_example_strategies_load_and_run_in_freqtrade() -> None:
    proc = subprocess.run(
        [str(FREQTRADE_PYTHON), str(ROOT / "tests/support/check_strategies.py"), str(ROOT / "strategies"),
         str(ROOT / "examples/strategy-history/v1.0.0")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == 6
