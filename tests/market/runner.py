"""Start the local market for a test or a benchmark: in a thread, or as a process bots can reach."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from tests.market.server import create_app

__all__ = ["MarketProcess", "MarketThread", "free_port"]

ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v3/ping", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the local market at {url} did not answer")


class MarketThread:
    """The market inside this process (for tests that run FreqTrade on the host)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, seed: int = 7) -> None:
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(create_app(seed), host=host, port=self.port, log_level="warning",
                                                     lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> MarketThread:
        self._thread.start()
        _wait(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


class MarketProcess:
    """The market as its own process, bound where containers can reach it (the bridge gateway)."""

    def __init__(self, host: str, port: int | None = None, seed: int = 7) -> None:
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._args = [sys.executable, "-m", "tests.market", "--host", host, "--port", str(self.port), "--seed", str(seed)]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MarketProcess:
        self._proc = subprocess.Popen(self._args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def stats(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.url}/_market/stats", timeout=5).json())

    def down(self) -> None:
        httpx.post(f"{self.url}/_market/down", timeout=5)

    def up(self) -> None:
        httpx.post(f"{self.url}/_market/up", timeout=5)
