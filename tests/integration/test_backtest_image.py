"""``plan --backtest`` run by the FreqTrade inside the fleet's own image, through the real Docker engine.

One throwaway container per candle set (no network, read-only, the candles sent on stdin), the
same figures as the local FreqTrade of the same version gives on the same inputs, and a second
plan answered from the cache without a container.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import git
import pytest

from tests.conftest import FREQTRADE_CHECK, ROOT, Run
from tests.integration.test_freqtrade_check import checker_containers_created
from tests.support.repos import commit, edit

pytestmark = pytest.mark.freqtrade  # runs the real FreqTrade


def test_the_images_freqtrade_backtests_like_the_local_one_and_caches(docker_api: docker.APIClient, base_repo: git.Repo,
                                                                       fleetops: Callable[..., Run], tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    root = Path(base_repo.working_dir)
    edit(root / "fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: fleetops/freqtrade:2026.9")
    commit(base_repo, "the real FreqTrade image")
    edit(root / "strategies/Alpha.py", "rolling(20).mean()", "rolling(50).mean()")
    commit(base_repo, "Alpha v2", tag="v2")
    edit(root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")
    args = ("plan", "--repo", str(root), "--against", "HEAD", "--backtest", "--backtest-days", "3", "--format", "json")
    image = {"FLEETOPS_FREQTRADE_CHECK": "image", "FLEETOPS_FREQTRADE_PYTHON": "", "FLEETOPS_CACHE_DIR": str(tmp_path / "cache")}
    started = time.time()

    first = fleetops(*args, env=image)
    assert first.code == 0, first.err
    report = json.loads(first.out)["backtest"]
    assert (report["judge"], report["freqtrade"], report["notes"]) == ("image fleetops/freqtrade:2026.9", "2026.9", [])
    [bot] = report["bots"]
    assert bot["address"] == "bot/alpha-2" and bot["old"]["trades"] > 0 and bot["new"]["trades"] > 0
    assert checker_containers_created(docker_api, started) == 2  # the FreqTrade check's, and the backtests' (both versions)

    again = time.time()
    cached = fleetops(*args, env=image)
    assert cached.code == 0 and json.loads(cached.out)["backtest"] == report
    assert checker_containers_created(docker_api, again) == 0

    local = fleetops(*args, env={**FREQTRADE_CHECK, "FLEETOPS_CACHE_DIR": str(tmp_path / "local-cache")})
    assert local.code == 0, local.err
    mine = json.loads(local.out)["backtest"]
    assert mine["judge"].startswith("local ") and mine["results_sha256"] == report["results_sha256"]  # same FreqTrade, same inputs: same results
