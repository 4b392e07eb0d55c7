"""Docker's API over its local unix socket with the stdlib alone: for the calls that run on every no-op.

Used by the no-op proof (which must answer before importing the Docker SDK) and by the Docker
adapter's ``inspect_many``. Inspecting every container through the SDK costs ~1.1 ms each even
from 8 threads (requests' per-call overhead, held by the GIL); sending every request on its own
connection before reading any answer lets dockerd answer them in parallel: ~0.13 ms each at 100
containers (``benchmarks/inspect_cost.py``). Answers are bounded: the engine is trusted to be
Docker, not to be small.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["MAX_INSPECT_BYTES", "UnixHTTPConnection", "inspect_documents"]

API_VERSION = "1.41"
MAX_INSPECT_BYTES = 4 << 20


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to a unix socket (Docker's ``/var/run/docker.sock``)."""

    def __init__(self, path: str, timeout: float = 10) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def inspect_documents(socket_path: str, containers: Mapping[str, str]) -> dict[str, Any]:
    """Name → ``GET /containers/{id or name}/json``'s answer, all asked at once; a container that
    is gone (404) is left out. Raises OSError when the socket does not answer, ValueError for an
    answer that is not JSON or over the bound, ``http.client.HTTPException`` for a broken one."""
    asked: dict[str, UnixHTTPConnection] = {}
    found: dict[str, Any] = {}
    try:
        for name, reference in containers.items():
            connection = UnixHTTPConnection(socket_path)
            asked[name] = connection
            connection.request("GET", f"/v{API_VERSION}/containers/{quote(reference, safe='')}/json")
        for name, connection in asked.items():
            response = connection.getresponse()
            body = response.read(MAX_INSPECT_BYTES + 1)
            if response.status == 404:
                continue
            if response.status != 200 or len(body) > MAX_INSPECT_BYTES:
                raise ValueError(f"inspect of {name}: HTTP {response.status}, {len(body)} bytes")
            found[name] = json.loads(body)
    finally:
        for connection in asked.values():
            connection.close()
    return found
