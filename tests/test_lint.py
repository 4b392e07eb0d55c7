"""The code passes ruff (rules in pyproject.toml), as the CI workflow's lint job checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    proc = subprocess.run([str(ruff), "check", "engine", "tests", "benchmarks", "scripts"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pre_commit_runs_ruff_mypy_and_import_linter_from_the_venv() -> None:
    """.pre-commit-config.yaml is valid for pre-commit itself and runs, with local hooks only (no
    downloads), the three checks this suite runs: ruff, mypy --strict and the import contracts."""
    from ruamel.yaml import YAML

    config = ROOT / ".pre-commit-config.yaml"
    proc = subprocess.run([str(Path(sys.executable).with_name("pre-commit")), "validate-config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = [hook for repo in YAML(typ="safe").load(config.read_text())["repos"] for hook in repo["hooks"]]
    assert [h["id"] for h in hooks] == ["ruff", "mypy", "import-linter"]
    assert all(h["language"] == "system" and (ROOT / h["entry"].split()[0]).exists() for h in hooks)
