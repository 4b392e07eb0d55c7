"""Adapter to a bot's own HTTP API for pings (``engine.live.botapi`` makes the authenticated calls).

Implements ``engine.live.ports.ProbePort``. A bot answers at its container's address on the
bridge network; its answer is input like any other, so only a 200 with ``{"status": "pong"}``
counts, and bodies are read with a size bound (``read_bounded``, shared with botapi).
"""

from __future__ import annotations

from typing import Any

from engine.live.ports import ProbeAnswer

__all__ = ["HttpProbe", "read_bounded"]

_MAX_BODY = 64 << 10


def read_bounded(client: Any, method: str, url: str, limit: int, auth: tuple[str, str] | None = None) -> tuple[int, bytes | None]:
    """(HTTP status, body) of one request through an ``httpx.Client``; the body is None when the
    answer passed ``limit`` bytes — reading stops there, so a container cannot make us buffer more."""
    with client.stream(method, url, auth=auth) as response:
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                return response.status_code, None
    return response.status_code, body


class HttpProbe:
    """Pings bots over HTTP; one client per probe so connections are reused across polls."""

    def __init__(self, timeout: float = 2.0) -> None:
        import httpx  # imported here: it costs ~50 ms at start-up and only applies use it

        self._httpx = httpx
        self._client = httpx.Client(timeout=timeout)

    def ping(self, address: str, port: int) -> ProbeAnswer:
        httpx = self._httpx
        try:
            status, body = read_bounded(self._client, "GET", f"http://{address}:{port}/api/v1/ping", _MAX_BODY)
            if body is None:
                return ProbeAnswer(False, "answer too large")
            if status != 200:
                return ProbeAnswer(False, f"HTTP {status}")
            import json

            data = json.loads(body)
            if isinstance(data, dict) and data.get("status") == "pong":
                return ProbeAnswer(True, "pong")
            return ProbeAnswer(False, "answered without pong")
        except (httpx.HTTPError, ValueError) as exc:
            return ProbeAnswer(False, type(exc).__name__)

    def close(self) -> None:
        self._client.close()
