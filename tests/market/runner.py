"""Run the market from tests: in a background thread of the test process, or as a subprocess.

Why both: a thread is cheapest and lets a test read the app state directly; a subprocess is
what a long-lived market for Docker bots looks like (``fleetops paper-exchange``) and survives
the test process's GIL-heavy work. Either way the socket is bound before uvicorn starts, so
``port=0`` gives a free port with no race, and start returns only once the market answers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from engine.paper.app import create_app
from engine.paper.serve import bind, uvicorn_server

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = re.compile(r"fleetops paper exchange listening on (\S+):(\d+)")


def wait_until_answering(url: str, timeout: float = 15.0) -> None:
    """Poll ``url/_market/stats`` until it answers 200; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_market/stats", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"market at {url} did not answer within {timeout} s: {last}")


class ThreadedMarket:
    """The market app served by uvicorn on a daemon thread; use as a context manager."""

    def __init__(
        self,
        seed: int = 7,
        pairs: Iterable[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start: float | None = None,
        volatility: float = 0.002,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = create_app(seed, pairs, start=start, volatility=volatility, clock=clock)
        self._sock = bind(host, port)
        self.host, self.port = host, self._sock.getsockname()[1]
        self._server = uvicorn_server(self.app)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="market")

    @property
    def url(self) -> str:
        """Base URL as seen from this host (a wildcard bind is reached through loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else ("[::1]" if self.host == "::" else self.host)
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        wait_until_answering(self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class SubprocessMarket:
    """``fleetops paper-exchange`` (``python -m engine``) as a child process; the port is read from its ready line."""

    def __init__(self, seed: int = 7, pairs: Iterable[str] | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 python: str = sys.executable, extra_args: Iterable[str] = ()) -> None:
        self.host = host
        args = [python, "-m", "engine", "paper-exchange", "--host", host, "--port", str(port), "--seed", str(seed), *extra_args]
        if pairs is not None:
            args += ["--pairs", ",".join(pairs)]
        self._args = args
        self.proc: subprocess.Popen[str] | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> Self:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(self._args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the first line, printed once the socket is bound
        match = READY_LINE.search(line)
        if not match:
            self.stop()
            raise RuntimeError(f"market did not start: {line!r}")
        self.port = int(match.group(2))
        wait_until_answering(self.url, timeout)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
