"""The engine's layers hold: import-linter's contracts (pyproject.toml) pass, and each can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept() -> None:
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 kept, 0 broken" in proc.stdout


WRONG_WAY = [
    ("engine/plan/model.py", "engine.live.observe", "the pure plan package reaching for Docker", "engine.plan.model -> engine.live.observe"),
    ("engine/live/observe.py", "engine.backend.docker.site", "the pipeline naming a concrete backend",
     "engine.live.observe -> engine.backend.docker.site"),
    ("engine/status.py", "engine.flow", "status importing the apply pipeline", "engine.status -> engine.flow"),
    ("engine/live/drift.py", "sqlite3", "SQLite outside its adapter", "engine.live.drift -> sqlite3"),
    ("engine/backend/port.py", "engine.live.observe", "the port importing the stage above it", "engine.backend.port -> engine.live.observe"),
]


@pytest.mark.parametrize("module, imported, why, reported", WRONG_WAY, ids=[w[2] for w in WRONG_WAY])
def test_a_wrong_way_import_breaks_a_contract(module: str, imported: str, why: str, reported: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "engine", tmp_path / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / module
    path.write_text(path.read_text() + f"\nimport {imported}  # {why}\n")
    proc = lint(tmp_path)
    assert proc.returncode == 1
    assert reported in proc.stdout


HEAVY = ("pydantic", "docker", "git", "httpx", "jinja2", "ruamel", "engine.compile", "engine.live.liveplan", "engine.backend.docker.api")


def test_the_no_op_answer_imports_nothing_heavy() -> None:
    """What the CLI imports to answer an unchanged fleet from its no-op proof (before the proof fails over to the
    full plan): none of the libraries the full plan needs. engine.live.ports once pulled pydantic in through the
    bots' API models, and the no-op plan of 50 bots went from ~80 ms to ~165 ms."""
    probe = ("import sys, engine.cli, engine.flow, engine.context, engine.live.noop_proof, engine.backend.registry\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_the_console_entry_answers_without_the_cli() -> None:
    """``engine.entry`` (the ``fleetops`` script) checks the proof before the CLI: what it imports on that path
    holds neither click nor the CLI's modules (they cost ~35 ms of a ~0.14 s no-op at 50 bots)."""
    probe = ("import sys, engine.entry, engine.live.noop_proof, engine.backend.registry, engine.backend.docker.noop, "
             "engine.backend.docker.address, engine.live.store, engine.timing\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {(*HEAVY, 'click')!r} or m in {HEAVY!r} "
             "or m.startswith('engine.cli')))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
