"""The FreqTrade check judged by the FreqTrade inside the fleet's own image, through the real Docker engine.

One throwaway container per image (no network, read-only, removed after), the findings at the
spec's file:line:col, the CI plan (`plan --against`) judged the same way, answers cached so an
unchanged fleet starts no container, and an image without FreqTrade named in a warning.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import git
import pytest

from engine.backend.docker.oneshot import CHECK_LABEL
from engine.naming import Labels
from tests.conftest import ROOT, Run
from tests.integration.conftest import FLEET, remove_fleet
from tests.support.repos import commit, edit
from tests.test_bad_specs import BAD_SPECS, apply_case

pytestmark = pytest.mark.freqtrade  # runs the real FreqTrade

REFUSAL = ("fleet/bots.yaml:32:18: error: bot 'beta-1': FreqTrade 2026.9 would refuse to start with this config: "
           "`max_open_trades` and `stake_amount` cannot both be unlimited. (spec keys: max_open_trades, stake_amount)")


def checker_containers_created(api: docker.APIClient, since: float) -> int:
    events = api.events(since=int(since), until=int(time.time()) + 1, decode=True,
                        filters={"type": "container", "event": "create", "label": CHECK_LABEL})
    return sum(1 for _ in events)


def test_the_fleets_own_image_judges_its_configs(docker_api: docker.APIClient, base_repo: git.Repo, fleetops: Callable[..., Run],
                                                 tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    remove_fleet(docker_api, FLEET)
    root = Path(base_repo.working_dir)
    edit(root / "fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: fleetops/freqtrade:2026.9")
    commit(base_repo, "the real FreqTrade image")
    edit(root / "fleet/bots.yaml", "stake_amount: unlimited", "stake_amount: unlimited\nmax_open_trades: -1")
    env = {"FLEETOPS_FREQTRADE_CHECK": "auto", "FLEETOPS_FREQTRADE_PYTHON": "", "FLEETOPS_CACHE_DIR": str(tmp_path / "cache")}
    started = time.time()

    refused = fleetops("validate", "--repo", str(root), env=env)
    assert (refused.code, refused.err.splitlines()) == (1, [REFUSAL])
    ci_plan = fleetops("plan", "--repo", str(root), "--against", "HEAD", env=env)  # what CI runs on the pull request
    assert (ci_plan.code, ci_plan.err.splitlines()) == (1, [REFUSAL])
    applied = fleetops("apply", "--repo", str(root), "--yes", env=env)
    assert (applied.code, applied.err.splitlines()) == (1, [REFUSAL])
    assert docker_api.containers(all=True, filters={"label": f"{Labels.FLEET}={FLEET}"}) == []  # apply changed nothing
    assert checker_containers_created(docker_api, started) == 1  # the later runs were answered from the cache

    edit(root / "fleet/bots.yaml", "max_open_trades: -1", "max_open_trades: 5")
    accepted = fleetops("validate", "--repo", str(root), "--format", "json", env=env)
    assert accepted.code == 0 and accepted.err == "", accepted.err
    assert json.loads(accepted.out)["freqtrade_check"] == [
        {"image": "fleetops/freqtrade:2026.9", "bots": 5, "judge": "image fleetops/freqtrade:2026.9", "freqtrade": "2026.9"}]
    assert checker_containers_created(docker_api, started) == 2  # only beta-1 was asked about, in one more container
    assert docker_api.containers(all=True, filters={"label": CHECK_LABEL}) == []  # none left behind


def test_an_image_without_freqtrade_is_named_in_a_warning(docker_api: docker.APIClient, base_repo: git.Repo,
                                                          fleetops: Callable[..., Run]) -> None:
    env = {"FLEETOPS_FREQTRADE_CHECK": "auto", "FLEETOPS_FREQTRADE_PYTHON": ""}
    result = fleetops("validate", "--repo", base_repo.working_dir, env=env)
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        "fleetops: warning: the FreqTrade check of 5 bot(s) on image fleetops/standin-bot:1 could not run: image fleetops/standin-bot:1 has "
        "no FreqTrade its Python can import (ModuleNotFoundError: No module named 'freqtrade'), and no local FreqTrade was found; it was "
        "skipped. To run it, make the image available to Docker or set FLEETOPS_FREQTRADE_PYTHON to a Python that has freqtrade"]
    required = fleetops("validate", "--repo", base_repo.working_dir, env={**env, "FLEETOPS_FREQTRADE_CHECK": "image"})
    assert required.code == 1 and "could not run" in required.err and "(FLEETOPS_FREQTRADE_CHECK=image)" in required.err


def test_a_throwaway_container_is_sandboxed_bounded_and_removed(docker_api: docker.APIClient) -> None:
    import pytest

    from engine.backend.docker.oneshot import OneShot
    from engine.errors import DockerError

    engine = OneShot(None)
    probe = ("import os, socket, sys; data = sys.stdin.read()\n"
             "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1); net = 'net'\nexcept OSError:\n    net = 'no-net'\n"
             "try:\n    open('/x', 'w'); fs = 'writable'\nexcept OSError:\n    fs = 'read-only'\n"
             "print(len(data), net, fs, open('/proc/self/status').read().split('CapEff:')[1].split()[0])")
    result = engine.run("fleetops/standin-bot:1", ["python3", "-c", probe], b"x" * 300_000, deadline=30)
    assert (result.exit_code, result.stdout.split()) == (0, [b"300000", b"no-net", b"read-only", b"0000000000000000"])
    started = time.monotonic()
    with pytest.raises(DockerError, match="did not finish within 2 s"):
        engine.run("fleetops/standin-bot:1", ["python3", "-c", "import time; time.sleep(60)"], b"", deadline=2)
    assert time.monotonic() - started < 15
    hog = engine.run("fleetops/standin-bot:1", ["python3", "-c", "b = bytearray(2 << 30)"], b"", deadline=30, memory="256m")
    assert hog.exit_code != 0  # killed or refused by its memory limit
    assert docker_api.containers(all=True, filters={"label": CHECK_LABEL}) == []


IMAGE_ENV = {"FLEETOPS_FREQTRADE_CHECK": "image", "FLEETOPS_FREQTRADE_PYTHON": ""}
LOAD_CASES = [case for case in BAD_SPECS if case["name"].startswith("load-")]


def on_freqtrade_image(repo: git.Repo) -> Path:
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    root = Path(repo.working_dir)
    edit(root / "fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: fleetops/freqtrade:2026.9")
    commit(repo, "the real FreqTrade image")
    return root


@pytest.mark.parametrize("case", LOAD_CASES, ids=[c["name"] for c in LOAD_CASES])
def test_the_images_freqtrade_loads_each_changed_strategy(case: dict[str, Any], docker_api: docker.APIClient, base_repo: git.Repo,
                                                          fleetops: Callable[..., Run], tmp_path: Path) -> None:
    """The load-check cases of bad_specs.yaml, judged by the image's FreqTrade in its throwaway container:
    the same lines, the image named where the local judge names its Python; the CI plan says the same."""
    on_freqtrade_image(base_repo)
    root = apply_case(base_repo, case)
    env = {**IMAGE_ENV, "FLEETOPS_CACHE_DIR": str(tmp_path / "cache")}
    expect = [line.replace("the local FreqTrade's Python", "fleetops/freqtrade:2026.9") for line in case["expect"]]
    validated = fleetops("validate", "--repo", str(root), env=env)
    assert (validated.code, validated.err.splitlines()) == (case.get("exit", 1), expect)
    ci_plan = fleetops("plan", "--repo", str(root), "--against", "HEAD", env={**env, "FLEETOPS_CACHE_DIR": str(tmp_path / "cold")})
    assert ci_plan.err.splitlines() == expect and ci_plan.code == (1 if expect else 0), ci_plan.out
    assert docker_api.containers(all=True, filters={"label": CHECK_LABEL}) == []


HOSTILE = '''import socket

from freqtrade.strategy import IStrategy

tried = []
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3).close()
    tried.append("network: reached 1.1.1.1")
except OSError as exc:
    tried.append(f"network: {exc.strerror or exc}")
for path in ("/etc/owned", "/tmp/owned", "owned"):
    try:
        with open(path, "w") as out:
            out.write("x" * 100)
        tried.append(f"{path}: written")
    except OSError as exc:
        tried.append(f"{path}: {exc.strerror}")
raise RuntimeError("; ".join(tried))


class Alpha(IStrategy):
    INTERFACE_VERSION = 3
'''
HANGS = "from freqtrade.strategy import IStrategy\n\nwhile True:\n    pass\n\n\nclass Beta(IStrategy):\n    INTERFACE_VERSION = 3\n"


def test_a_hostile_strategy_is_contained_and_stopped_at_its_deadline(docker_api: docker.APIClient, base_repo: git.Repo,
                                                                      fleetops: Callable[..., Run]) -> None:
    """A pull request's strategy that reaches for the network and the file system finds neither
    (it reports what it found by raising), and one that never finishes loading is stopped at its
    deadline and named; the check itself finishes and leaves no container."""
    root = on_freqtrade_image(base_repo)
    (root / "strategies/Alpha.py").write_text(HOSTILE)
    (root / "strategies/Beta.py").write_text(HANGS)
    commit(base_repo, "hostile strategies", tag="v2")
    edit(root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [ETH/USDT]", "strategy: Alpha@v2\npairs: [ETH/USDT]")
    edit(root / "fleet/bots.yaml", "strategy: Beta@v1\npairs: [BTC/USDT]", "strategy: Beta@v2\npairs: [BTC/USDT]")
    started = time.monotonic()
    result = fleetops("plan", "--repo", str(root), "--against", "HEAD", env={**IMAGE_ENV, "FLEETOPS_STRATEGY_LOAD_SECONDS": "3"})
    assert time.monotonic() - started < 40
    assert result.code == 1 and result.err.splitlines() == [
        "fleet/bots.yaml:28:11: error: bot 'beta-1': FreqTrade 2026.9 cannot load strategy Beta@v2: loading did not finish within 3 s; "
        "it was stopped; a strategy must load in seconds: do no work at import",
        "fleet/bots.yaml:50:11: error: bot 'solo': FreqTrade 2026.9 cannot load strategy Alpha@v2 (strategies/Alpha.py, line 18): "
        "RuntimeError: network: Network is unreachable; /etc/owned: Read-only file system; /tmp/owned: File too large; "
        "owned: File too large; the strategy raised while FreqTrade imported or created it: fix the code at that line"]
    assert docker_api.containers(all=True, filters={"label": CHECK_LABEL}) == []
