"""Shared fixtures: real git repositories and the CLI run as a whole process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from tests.support.repos import make_base_repo

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration needs the Docker engine: mark it, so the fast lane
    (``scripts/test --fast``: ``-m "not docker and not slow"``) leaves it out without a list to keep."""
    integration = ROOT / "tests" / "integration"
    for item in items:
        if Path(str(item.path)).is_relative_to(integration):
            item.add_marker(pytest.mark.docker)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def base_repo(tmp_path: Path) -> git.Repo:
    return make_base_repo(tmp_path / "fleet-repo")


FREQTRADE_CHECK = {
    "FLEETOPS_FREQTRADE_CHECK": "local",
    "FLEETOPS_FREQTRADE_PYTHON": os.environ.get("FLEETOPS_FREQTRADE_PYTHON", str(ROOT / ".venv-freqtrade" / "bin" / "python")),
    "FLEETOPS_CACHE_DIR": os.environ.get("FLEETOPS_CACHE_DIR", f"/tmp/fleetops-test-cache-{os.getuid()}"),
}
"""The test fleet runs the stand-in image (no FreqTrade in it): every CLI run judges its configs with
the real FreqTrade of .venv-freqtrade (the README's test setup installs it), answers cached across
runs by what was judged. tests/integration/test_freqtrade_check.py runs the image's own."""


@pytest.fixture
def fleetops(tmp_path: Path) -> Callable[..., Run]:
    """Run ``fleetops ARGS`` as its own process (exit codes and stderr as a user sees them)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
        env = {**os.environ, "FLEETOPS_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1", **FREQTRADE_CHECK, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "engine", *args], cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run
