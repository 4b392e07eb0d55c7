"""The example fleet and strategies shipped in this repository are real and valid."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import git
import pytest

from engine.demo_repo import EXAMPLE_ROOT, GITIGNORE, build_demo_repo
from engine.offline import compile_at
from engine.paper import DOCKER_HOST_URL, PAPER_PAIRS
from tests.conftest import ROOT, Run
from tests.test_render import FREQTRADE_PYTHON


def test_example_fleet_validates_and_looks_like_a_real_one(tmp_path: Path, fleetops: Callable[..., Run]) -> None:
    repo = build_demo_repo(tmp_path / "fleet")
    result = fleetops("validate", "--repo", str(repo), "--format", "json")
    assert result.code == 0, result.err
    loaded, desired = compile_at(repo, None)
    spec = loaded.spec
    assert len(spec.wallets) == 3 and len(spec.pools) == 3 and 15 <= len(spec.bots) <= 25
    # It trades for real, offline: every bot on Binance's API, served by the paper exchange on this host.
    assert {b.exchange or spec.fleet.defaults.exchange for b in spec.bots.values()} == {"binance"}
    assert spec.fleet.defaults.exchange_url == DOCKER_HOST_URL and not any(b.exchange_url for b in spec.bots.values())
    assert spec.fleet.defaults.bot_command.split()[:2] == ["freqtrade", "trade"] and spec.fleet.health.check == "loop"
    assert {p for b in spec.bots.values() for p in b.pairs} <= set(PAPER_PAIRS)
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
    assert proc.stdout.count("ok ") == 7  # three strategies at v1.0.0, four at v1.1.0 (Heartbeat is new there)


def test_init_commits_no_python_caches_and_ignores_them(tmp_path: Path) -> None:
    """An installed package's strategies may have been compiled (``__pycache__`` beside them): none of it
    reaches the user's repository, in the tagged versions or at HEAD, and a ``.gitignore`` keeps it out."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE_ROOT / "examples", source / "examples")
    for part in ("fleet", "strategies"):
        shutil.copytree(EXAMPLE_ROOT / part, source / part)
    for directory in (source / "strategies", *(source / "examples" / "strategy-history").iterdir()):
        (directory / "__pycache__").mkdir(exist_ok=True)
        (directory / "__pycache__" / "MeanRevert.cpython-311.pyc").write_bytes(b"\x00compiled")
    repo = build_demo_repo(tmp_path / "fleet", source=source)
    tracked = git.Repo(repo).git.execute(["git", "log", "--all", "--name-only", "--format="]).split()
    assert tracked and not [name for name in tracked if "__pycache__" in name or name.endswith(".pyc")], tracked
    assert (repo / ".gitignore").read_text() == GITIGNORE and ".gitignore" in tracked


def test_commands_find_the_repository_from_a_subdirectory(tmp_path: Path, fleetops: Callable[..., Run]) -> None:
    repo = build_demo_repo(tmp_path / "fleet")
    for where in (repo / "fleet", repo / "strategies"):
        result = fleetops("validate", cwd=where)
        assert result.code == 0 and "fleet 'crypto-pilot' is valid" in result.out, (where, result.out, result.err)
    explicit = fleetops("validate", "--repo", ".", cwd=repo / "fleet")  # said explicitly: taken as it is
    assert explicit.code == 1 and "no 'fleet/' directory in" in explicit.err
    (tmp_path / "elsewhere").mkdir()
    assert "no 'fleet/' directory in" in fleetops("validate", cwd=tmp_path / "elsewhere").err
