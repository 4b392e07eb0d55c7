"""The engine's layers hold: import-linter's contracts (pyproject.toml) pass, and can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept() -> None:
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_a_wrong_way_import_breaks_a_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "engine", tmp_path / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "engine/plan/model.py"
    model.write_text(model.read_text() + "\nimport engine.live.observe  # the pure plan package reaching for Docker\n")
    proc = lint(tmp_path)
    assert proc.returncode == 1
    assert "engine.plan.model -> engine.live.observe" in proc.stdout
