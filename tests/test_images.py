"""What ``fleetops image`` needs and says: the shipped Dockerfile, the errors that name commands, not scripts.

The builds themselves run against the real engine: tests/integration/test_wheel_trades.py (from the
wheel), and every integration test's fixture (scripts/build-images, which calls the same recipe).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ImageBuildError
from engine.images import POOL_IMAGE, debian, missing_image_hint
from tests.conftest import ROOT


def test_the_shipped_dockerfile_starts_from_freqtrades_image() -> None:
    """For machines that can pull (this one cannot: Docker Hub is unreachable here, so it is checked as
    text): FreqTrade's own image at fleetops' FreqTrade version, supervisord added, FreqTrade's
    entrypoint cleared, the pool's command."""
    proc = subprocess.run([sys.executable, "-m", "engine", "image", "dockerfile"], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    instructions = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert lines[0] == f"FROM freqtradeorg/freqtrade:{POOL_IMAGE.split(':')[1]}"
    assert set(instructions) <= {"FROM", "USER", "RUN", "ENV", "WORKDIR", "ENTRYPOINT", "CMD", "LABEL"}, instructions
    assert all(line.endswith("\\") for line in lines[:-1] if lines[lines.index(line) + 1].startswith(" "))  # continuations
    assert "ENTRYPOINT []" in lines and 'CMD ["supervisord", "-n", "-c", "/fleet/supervisord.conf"]' in lines
    assert "ENV PYTHONUSERBASE=/home/ftuser/.local PYTHONUNBUFFERED=1" in lines
    assert re.search(r"pip install --no-cache-dir supervisor==[\d.]+ setproctitle==[\d.]+", proc.stdout)


def test_missing_images_name_the_command_that_builds_them() -> None:
    assert "`fleetops image build` builds fleetops/freqtrade:" in missing_image_hint(POOL_IMAGE)
    other = missing_image_hint("example/bot:1")
    assert "docker pull example/bot:1" in other and "fleetops image build" in other
    engine = ROOT / "engine"
    scripts = [f"{p.relative_to(ROOT)}:{n}" for p in engine.rglob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
               if re.search(r"scripts/(build-images|ensure-docker)", line)]
    assert scripts == [], "the package names checkout scripts a wheel user does not have"


def test_an_offline_build_without_debian_tools_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian.shutil, "which", lambda tool: None if tool in ("apt-get", "chroot") else f"/usr/bin/{tool}")
    with pytest.raises(ImageBuildError, match=r"needs apt-get, chroot on this host .* use `fleetops image build --from official`"):
        debian.require_tools()


def test_the_cli_reports_a_failed_build_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no apt, no docker: the offline build cannot start
    proc = subprocess.run([sys.executable, "-m", "engine", "image", "build"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fleetops: error: building images offline needs apt-get, apt-cache, dpkg-deb, chroot, tar, docker"), proc.stderr
