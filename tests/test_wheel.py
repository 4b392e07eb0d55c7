"""A wheel is a product too: a fresh venv with only the built wheel runs init, validate, render, plan.

The templates, the example fleet and the strategies must travel inside the package; run from
outside the checkout so nothing can be found in it by accident.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FREQTRADE_CHECK, ROOT


def run(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "FLEETOPS_FREQTRADE_CHECK": "local",  # the installed checker script, judged by FreqTrade
           "FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_CHECK["FLEETOPS_FREQTRADE_PYTHON"]}
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode in (0, 2), f"{args}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


@pytest.mark.freqtrade
@pytest.mark.slow
def test_the_built_wheel_works_without_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT), cwd=tmp_path)
    wheel = next(dist.glob("fleetops-*.whl"))
    run(sys.executable, "-m", "venv", str(tmp_path / "venv"), cwd=tmp_path)
    pip = tmp_path / "venv/bin/pip"
    run(str(pip), "install", "-q", "--disable-pip-version-check", str(wheel), cwd=tmp_path)
    fleetops = str(tmp_path / "venv/bin/fleetops")
    site = run(str(tmp_path / "venv/bin/python"), "-c", "import engine, engine.watch.runner, engine.web.pages; print(engine.__file__)",
               cwd=tmp_path).stdout
    assert str(tmp_path / "venv") in site  # the installed package, not the checkout

    run(fleetops, "init", "my-fleet", cwd=tmp_path)
    valid = run(fleetops, "validate", "--repo", "my-fleet", "--format", "json", cwd=tmp_path)
    assert json.loads(valid.stdout)["counts"]["bots"] == 19
    assert {row["freqtrade"] for row in json.loads(valid.stdout)["freqtrade_check"]} == {"2026.9"}
    rendered = run(fleetops, "render", "--repo", "my-fleet", "--out", "out", cwd=tmp_path)
    assert "rendered" in rendered.stdout and (tmp_path / "out/docker-compose.yml").is_file()
    assert list((tmp_path / "out/containers").glob("*/etc/supervisord.conf"))
    statics = run(str(tmp_path / "venv/bin/python"), "-c", "from engine.resources import template_dir; "
                  "print(sorted(p.name for p in (template_dir() / 'web' / 'static').iterdir()))", cwd=tmp_path).stdout
    assert "app.css" in statics and "app.js" in statics  # the status page's assets ship too
    monitoring = run(str(tmp_path / "venv/bin/python"), "-c", "from engine.resources import monitoring_dir; "
                     "print(sorted(str(p.relative_to(monitoring_dir())) for p in monitoring_dir().rglob('*.*')))", cwd=tmp_path).stdout
    assert "alerts.yml" in monitoring and "dashboards/fleet.json" in monitoring and ".py" not in monitoring  # alerts and dashboards ship too
    bots = tmp_path / "my-fleet/fleet/bots/standard.yaml"
    bots.write_text(bots.read_text().replace("stoploss: -0.1\n", "stoploss: -0.11\n", 1))
    run("git", "-C", "my-fleet", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tighten", cwd=tmp_path)
    plan = run(fleetops, "plan", "--repo", "my-fleet", "--against", "HEAD~1", "--format", "json", cwd=tmp_path)
    assert [c["action"] for c in json.loads(plan.stdout)["changes"]] == ["reload"]
    scalpers = tmp_path / "my-fleet/fleet/bots/scalpers.yaml"  # a pin moved: the backtest worker and the market ship too
    scalpers.write_text(scalpers.read_text().replace("strategy: MeanRevert@v1.0.0", "strategy: MeanRevert@v1.1.0", 1))
    tested = run(fleetops, "plan", "--repo", "my-fleet", "--against", "HEAD", "--backtest", "--backtest-days", "1", "--format", "json", cwd=tmp_path)
    [bot] = json.loads(tested.stdout)["backtest"]["bots"]
    assert bot["address"] == "bot/scalp-sol" and bot["old"] is not None and bot["new"] is not None, bot
