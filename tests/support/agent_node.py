"""A node without Docker: a root directory as the agent's ``/var/lib/fleetops``, real supervisords in it.

Used by tests/agent and benchmarks/agent_roundtrip.py. A pool unit's supervisord runs from the conf
the agent wrote (``etc/supervisord.conf``) and binds its socket in the unit's ``data/``, as in a
task; its programs are small Python programs (``SLEEPER``: prints its pid, then sleeps; or the
stand-in bot). The supervisord is the one in .venv (the supervisor package, the same as the
fleet image's Debian package, 4.2).
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from engine.agent.files import NodeFiles
from engine.agent.ops import Ops
from engine.agent.supervisord import Supervisord
from engine.backend.swarm.agent_spec import agent_zip

ROOT = Path(__file__).resolve().parents[2]
SUPERVISORD = ROOT / ".venv" / "bin" / "supervisord"
FLEET = "testfleet"
UNIT = "testfleet-pool-1"
SLEEPER = "import os, sys, time\nprint('started', os.getpid(), flush=True)\ntime.sleep(3600)\n"
PLAIN_PYTHON = "/usr/bin/python3"
"""Debian's python3, run with -I -S: the standard library and nothing else, as in the fleet image."""


def program(name: str, command: str, data: Path, *, autostart: bool = True) -> str:
    return (f"[program:{name}]\ncommand={command}\ndirectory={data}/bots/{name}\nautostart={'true' if autostart else 'false'}\n"
            f"autorestart=true\nstartsecs=0\nstopsignal=TERM\nstopwaitsecs=5\nstopasgroup=true\nkillasgroup=true\n"
            f"redirect_stderr=true\nstdout_logfile={data}/bots/{name}/bot.log\nstdout_logfile_maxbytes=1MB\n")


def supervisord_conf(data: Path, programs: dict[str, str]) -> bytes:
    """A pool's conf as fleetops renders it (templates/supervisord), with this node's paths; ``programs``: name → command."""
    head = (f"[unix_http_server]\nfile={data}/supervisor.sock\nchmod=0700\n\n[supervisord]\nnodaemon=true\n"
            f"logfile={data}/supervisord.log\npidfile={data}/supervisord.pid\nchildlogdir=/tmp\n\n"
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
    return (head + "\n".join(program(name, command, data) for name, command in programs.items())).encode()


@dataclass
class Node:
    """One node's root, its agent's commands run in this process (``ops``), its supervisords."""

    root: Path
    scripts: Path
    blobs: dict[str, bytes] = field(default_factory=dict)
    uploaded: dict[str, bytes] = field(default_factory=dict)
    reported: list[str] = field(default_factory=list)
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.files = NodeFiles(self.root, FLEET, report=self.reported.append)
        self.ops = Ops("node1", self.files, self._fetch, self._upload, relay_host="127.0.0.1", cgroup_root=self.root / "cgroup")

    def _fetch(self, sha: str, out: BinaryIO, limit: int) -> int:
        data = {**self.blobs, **self.uploaded}[sha]
        out.write(data)
        return len(data)

    def _upload(self, sha: str, source: BinaryIO, size: int) -> None:
        data = source.read(size)
        assert hashlib.sha256(data).hexdigest() == sha
        self.uploaded[sha] = data

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    def run(self, op: str, **args: object) -> dict[str, object]:
        """The command's value; fails the test with the agent's message when it answered an error."""
        answer = self.ops.execute(op, args)
        assert answer["ok"], answer
        value: dict[str, object] = answer["value"]
        return value

    def data(self, unit: str = UNIT) -> Path:
        return self.files.data_dir(unit)

    def sleeper(self) -> str:
        path = self.scripts / "sleeper.py"
        path.write_text(SLEEPER)
        return f"{sys.executable} -u {path}"

    def put_unit(self, programs: dict[str, str], unit: str = UNIT) -> None:
        self.run("put_unit", unit=unit, conf=self.put(supervisord_conf(self.data(unit), programs)), bots=dict.fromkeys(programs))

    def start_supervisord(self, unit: str = UNIT) -> subprocess.Popen[bytes]:
        """supervisord on the unit's conf, as the unit's task would start it; returns once it answers."""
        conf = self.files.unit_dir(unit) / "etc" / "supervisord.conf"
        process = subprocess.Popen([str(SUPERVISORD), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        self.running.append(process)
        Supervisord(unit, self.data(unit), 5.0).wait_ready(20.0)
        return process

    def pids(self, unit: str = UNIT) -> dict[str, tuple[str, int]]:
        table = self.run("processes", units=[unit])["units"][unit]  # type: ignore[index]
        return {name: (row[0], row[1]) for name, row in table["programs"].items()}

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def wait_for(what: str, check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def write_agent_zip(directory: Path) -> Path:
    path = directory / "agent.pyz"
    path.write_bytes(agent_zip())
    return path


def tar_of(members: list[tuple[str, bytes | str | None]]) -> bytes:
    """A tar of regular files (bytes), directories (None) and symbolic links (str: the target), in order."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
