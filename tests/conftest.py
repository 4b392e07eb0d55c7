"""Shared fixtures: real git repositories, and the CLI run as a whole process or through its entry point."""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from tests.support.repos import make_base_repo

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration needs the Docker engine, and every test under tests/swarm
    the swarm lab on it: mark them, so the fast lane (``scripts/test --fast``: ``-m "not docker and
    not slow"``) leaves them out without a list to keep, and ``-m "not swarm"`` leaves out the lab."""
    integration, swarm = ROOT / "tests" / "integration", ROOT / "tests" / "swarm"
    for item in items:
        path = Path(str(item.path))
        if path.is_relative_to(integration) or path.is_relative_to(swarm):
            item.add_marker(pytest.mark.docker)
        if path.is_relative_to(swarm):
            item.add_marker(pytest.mark.swarm)


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


@pytest.fixture
def fleetops_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``fleetops ARGS`` through its console entry point (``engine.cli.main``) in this process: the
    same exit code and the same stdout and stderr, byte for byte, without starting an interpreter
    and importing the engine per call (~0.3 s here). For the case tables, which run the CLI a few
    hundred times; ``fleetops`` keeps the whole process for everything else."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
        from engine.cli import main

        out, err = io.StringIO(), io.StringIO()
        environ = {"FLEETOPS_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1", **FREQTRADE_CHECK, **(env or {})}
        thresholds = gc.get_threshold()  # main() tunes the collector for a short-lived CLI process
        with monkeypatch.context() as patch:
            for key, value in environ.items():
                patch.setenv(key, value)
            patch.chdir(cwd or ROOT)
            patch.setattr(sys, "argv", ["fleetops", *args])
            try:
                with redirect_stdout(out), redirect_stderr(err):
                    main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                gc.set_threshold(*thresholds)
        return Run(code, out.getvalue(), err.getvalue())

    return run
