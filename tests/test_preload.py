"""The pool preloader and launcher (engine/container/preload.py) as real processes on this host.

What supervisord relies on is checked here, without Docker: exit codes and signals travel from
the forked bot to its launcher and back; the child holds only its own stdio; each child has its
own process group, seeds and title; a crashing bot leaves the preloader serving; a dead
preloader leaves its bots running and their launchers still learn how they ended; a launcher
killed outright takes its bot with it; no preloader → the command runs unshared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "engine/container/preload.py"

BOT = '''#!/usr/bin/env python3
"""A pretend bot: what it does comes from argv, like freqtrade's subcommands."""
import json, os, random, signal, sys, time
what = sys.argv[1]
if what == "report":
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    print(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "ppid": os.getppid(), "fds": fds, "random": random.random(),
                      "title": open("/proc/self/cmdline", "rb").read().decode(errors="replace") + open("/proc/self/comm").read(), "argv": sys.argv,
                      "env": os.environ.get("BOT_ENV"), "cwd": os.getcwd(), "warm": "decimal" in sys.modules}), flush=True)
elif what == "exit":
    sys.exit(int(sys.argv[2]))
elif what == "raise":
    raise RuntimeError("broken at import")
elif what == "serve":
    def bye(number, frame):
        print("got SIGTERM, closing", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, bye)
    print(json.dumps({"pid": os.getpid()}), flush=True)
    while True:
        time.sleep(0.1)
elif what == "die":
    os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    bot = directory / "fakebot"
    bot.write_text(BOT)
    bot.chmod(0o755)
    (tmp_path / "modules").write_text("# warm\ndecimal\nno_such_module_here\n")
    return directory


def env_with(bin_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **extra}


@pytest.fixture
def preloader(bin_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    sock = tmp_path / "preload.sock"
    log = (tmp_path / "preload.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "serve", "--socket", str(sock), "--modules", str(tmp_path / "modules")],
                            env=env_with(bin_dir), stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "preload.log").read_text()
        time.sleep(0.05)
    yield proc, sock
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def launch(bin_dir: Path, sock: Path, *command: str, wait: float = 10, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), "launch", "--socket", str(sock), "--name", "alpha", "--wait", str(wait),
                             "--", "fakebot", *command], env=env_with(bin_dir, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=bin_dir.parent)


def preloader_children(preloader_pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{preloader_pid}/task/{preloader_pid}/children").read_text().split()]


def test_the_child_is_the_bot_with_only_its_stdio_and_its_own_group_seed_and_title(bin_dir: Path, preloader) -> None:  # type: ignore[no-untyped-def]
    server, sock = preloader
    reports = []
    for _ in range(2):
        launcher = launch(bin_dir, sock, "report", BOT_ENV="from-the-launcher")
        out, _ = launcher.communicate(timeout=20)
        assert launcher.returncode == 0, out
        reports.append(json.loads(out.strip().splitlines()[-1]))
    first, second = reports
    assert first["ppid"] == server.pid  # forked by the preloader, not started by the launcher
    assert first["warm"]  # modules imported before the fork are there without importing them again
    assert first["pgid"] == first["pid"] != os.getpgid(server.pid)
    assert first["fds"][:3] == [0, 1, 2] and len(first["fds"]) <= 5  # stdio, the launcher connection, the listing's own fd
    assert first["env"] == "from-the-launcher" and first["cwd"] == str(bin_dir.parent)
    assert first["argv"][1:] == ["report"] and "alpha" in first["title"]
    assert first["random"] != second["random"]


def test_exit_codes_and_uncaught_exceptions_reach_the_launcher(bin_dir: Path, preloader) -> None:  # type: ignore[no-untyped-def]
    _, sock = preloader
    code = launch(bin_dir, sock, "exit", "3")
    code.communicate(timeout=20)
    assert code.returncode == 3
    crash = launch(bin_dir, sock, "raise")
    out, _ = crash.communicate(timeout=20)
    assert crash.returncode == 1 and "RuntimeError: broken at import" in out
    killed = launch(bin_dir, sock, "die")
    killed.communicate(timeout=20)
    assert killed.returncode == -signal.SIGKILL  # the launcher dies of the same signal, as supervisord expects
    again = launch(bin_dir, sock, "exit", "0")
    again.communicate(timeout=20)
    assert again.returncode == 0  # the preloader survived every one of them


def test_signals_are_relayed_and_a_killed_launcher_takes_its_bot_along(bin_dir: Path, preloader) -> None:  # type: ignore[no-untyped-def]
    server, sock = preloader
    serving = launch(bin_dir, sock, "serve")
    assert serving.stdout is not None
    pid = json.loads(serving.stdout.readline())["pid"]
    serving.send_signal(signal.SIGTERM)
    assert serving.wait(20) == 7 and "got SIGTERM, closing" in serving.stdout.read()
    gone_within(10, pid, server.pid, "the bot outlived the SIGTERM relayed to it")  # the preloader reaps it a moment later

    orphan = launch(bin_dir, sock, "serve")
    assert orphan.stdout is not None
    pid = json.loads(orphan.stdout.readline())["pid"]
    orphan.kill()
    orphan.wait(10)
    gone_within(10, pid, server.pid, "the bot outlived its launcher")


def gone_within(seconds: float, pid: int, preloader: int, why: str) -> None:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and pid in preloader_children(preloader):
        assert time.monotonic() < deadline, why
        time.sleep(0.05)


def test_bots_outlive_a_dead_preloader_and_still_report_their_exit(bin_dir: Path, preloader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, sock = preloader
    serving = launch(bin_dir, sock, "serve")
    assert serving.stdout is not None
    pid = json.loads(serving.stdout.readline())["pid"]
    os.killpg(server.pid, signal.SIGKILL)  # the preloader's whole group: the bot is in a group of its own
    server.wait(10)
    time.sleep(0.3)
    assert Path(f"/proc/{pid}").exists() and serving.poll() is None
    serving.send_signal(signal.SIGTERM)
    assert serving.wait(20) == 7


def test_without_a_preloader_the_launcher_runs_the_command_itself(bin_dir: Path, tmp_path: Path) -> None:
    launcher = launch(bin_dir, tmp_path / "nobody.sock", "report", wait=0.5)
    out, _ = launcher.communicate(timeout=20)
    assert launcher.returncode == 0
    assert "no preloader answered" in out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["pid"] == launcher.pid and not report["warm"]
