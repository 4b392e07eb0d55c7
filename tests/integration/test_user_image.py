"""The user's own image, against the real engine: what it lacks is said before anything changes,
and a container or program that cannot start fails the apply at once with its own words.

Images are built here from fleetops/standin-bot:1 (no registry, no network: COPY only).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import edit

NO_UID_1000 = "fleetops-test/nouser:1"
BAD_SUPERVISORD = "fleetops-test/badsup:1"
ENTRYPOINT = "fleetops-test/entrypoint:1"


def build(api: docker.APIClient, tag: str, context: Path, files: dict[str, tuple[str, int]], *more: str) -> None:
    """``docker build`` of ``FROM fleetops/standin-bot:1`` plus files copied in (path → text, mode) and ``more`` lines."""
    context.mkdir(parents=True, exist_ok=True)
    lines = ["FROM fleetops/standin-bot:1"]
    for i, (target, (text, mode)) in enumerate(sorted(files.items())):
        (context / f"f{i}").write_text(text)
        os.chmod(context / f"f{i}", mode)
        lines.append(f"COPY f{i} {target}")
    lines.extend(more)
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    for chunk in api.build(path=str(context), tag=tag, rm=True, decode=True):
        assert "error" not in chunk, chunk


@pytest.fixture
def images(docker_api: docker.APIClient, tmp_path: Path) -> Iterator[None]:
    build(docker_api, NO_UID_1000, tmp_path / "nouser", {
        "/etc/passwd": ("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0o644)})
    build(docker_api, BAD_SUPERVISORD, tmp_path / "badsup", {  # found first on the PATH: exits at once, as a broken one would
        "/usr/local/bin/supervisord": ("#!/bin/sh\necho 'Error: this supervisord cannot start (test image)' >&2\nexit 2\n", 0o755)})
    build(docker_api, ENTRYPOINT, tmp_path / "entrypoint", {  # as FreqTrade's image (ENTRYPOINT ["freqtrade"], USER ftuser)
        "/usr/local/bin/entry.sh": ("#!/bin/sh\necho \"entry.sh ran instead of: $*\"\nexit 0\n", 0o755)},
        "USER bot", 'ENTRYPOINT ["/usr/local/bin/entry.sh"]')
    yield
    for tag in (NO_UID_1000, BAD_SUPERVISORD, ENTRYPOINT):
        docker_api.remove_image(tag, force=True)


def test_an_image_without_the_bots_user_is_refused_in_one_line_before_any_change(live: LiveFleetHelper, images: None) -> None:
    assert live.apply().code == 0
    before = {name: row["Id"] for name, row in live.containers().items()}
    edit(live.root / "fleet/pools.yaml", "capacity: 2", f"capacity: 2\nimage: {NO_UID_1000}")
    expected = (f"fleetops: error: image {NO_UID_1000} cannot run what fleetops renders: no user with uid 1000 in /etc/passwd "
                "(for pool small: set run_as to a user the image has, or add it to the image)\n")
    for command in (live.plan(), live.apply()):
        assert (command.code, command.err) == (1, expected), command.out + command.err
    assert {name: row["Id"] for name, row in live.containers().items()} == before  # nothing was touched
    assert [r["status"] for r in json.loads(live.run("history", "--format", "json").out)] == ["applied"]
    edit(live.root / "fleet/pools.yaml", f"image: {NO_UID_1000}", f"image: {NO_UID_1000}\nrun_as: nobody")  # a user it has
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert "user=nobody" in (live.state / "runtime" / FLEET / f"{FLEET}-small-1" / "etc/supervisord.conf").read_text()
    assert live.programs(f"{FLEET}-small-1") == {"euro-1": ("RUNNING", live.programs(f"{FLEET}-small-1")["euro-1"][1])}
    assert live.plan("--detailed-exitcode").code == 0
    assert list((live.state / "images").glob("*.json"))  # the answer is kept per image ID


def test_a_pool_whose_supervisord_exits_at_start_fails_at_once_with_its_log(live: LiveFleetHelper, images: None) -> None:
    edit(live.root / "fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 180")
    assert live.apply().code == 0
    edit(live.root / "fleet/pools.yaml", "capacity: 2", f"capacity: 2\nimage: {BAD_SUPERVISORD}")
    started = time.monotonic()
    result = live.apply()
    elapsed = time.monotonic() - started
    assert result.code == 3, result.out + result.err
    assert elapsed < 90, f"waited {elapsed:.0f} s: the health timeout (180 s), not the container's failure"
    assert "euro-1: its container restarted" in result.err
    assert "| Error: this supervisord cannot start (test image)" in result.err  # the container's own last lines
    history = json.loads(live.run("history", "--format", "json").out)
    assert [r["status"] for r in history] == ["applied", "rolled_back"]
    assert "Error: this supervisord cannot start (test image)" in history[1]["failures"]["euro-1"]["log"]
    assert live.containers()[f"{FLEET}-small-1"]["Image"] == "fleetops/standin-bot:1"  # the previous revision runs again
    assert live.programs(f"{FLEET}-small-1")["euro-1"][0] == "RUNNING"


@pytest.mark.parametrize(("damage", "reason"), [
    (["rm", "/usr/local/bin/standin-bot"], "NO_FILE: can't find command 'standin-bot'"),  # the container lost the bot's command
    (["chmod", "a-x", "/usr/local/bin/standin-bot"], "NOT_EXECUTABLE: command at '/usr/local/bin/standin-bot' is not executable"),
], ids=["command-gone", "command-not-executable"])
def test_a_program_supervisord_cannot_spawn_carries_supervisords_reason(damage: list[str], reason: str, live: LiveFleetHelper) -> None:
    edit(live.root / "fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 180")
    assert live.apply().code == 0
    standard = f"{FLEET}-standard-1"
    exec_id = live.api.exec_create(standard, damage)
    live.api.exec_start(exec_id)
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07")
    result = live.apply()
    assert result.code == 3, result.out + result.err
    assert "alpha-2: supervisord could not start it" in result.err
    failure = json.loads(live.run("history", "--format", "json").out)[1]["failures"]["alpha-2"]
    assert failure["log"] == [f"supervisord: supervisord in {standard} refused to start program alpha-2: {reason}"], failure


def test_an_images_entrypoint_and_user_never_change_what_fleetops_renders(live: LiveFleetHelper, images: None) -> None:
    """Docker put the image's ENTRYPOINT before the command: FreqTrade's own image (``freqtrade``) ran ``freqtrade
    supervisord …`` in a pool and ``freqtrade freqtrade trade …`` in a dedicated container; a script exited at once.
    And a pool's supervisord ran as the image's USER, which cannot start programs as another user: it restarted in a loop."""
    edit(live.root / "fleet/fleet.yaml", "image: fleetops/standin-bot:1", f"image: {ENTRYPOINT}")
    result = live.apply()
    assert result.code == 0, result.out + result.err
    for name, row in live.containers().items():
        info = live.api.inspect_container(name)
        assert info["Config"]["Entrypoint"] == [] and info["RestartCount"] == 0 and row["State"] == "running", (name, info["Config"])
        assert info["Config"]["User"] == ("1000:1000" if name == f"{FLEET}-bot-solo" else "0:0")  # supervisord as root
    assert {bot: state for bot, (state, _) in live.programs(f"{FLEET}-standard-1").items()} == {
        "alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    assert live.plan("--detailed-exitcode").code == 0
