"""Adapter to a bot's own HTTP API: the only module of the live half that imports httpx.

Implements ``engine.live.ports.ProbePort``. A bot answers at its container's address on the
bridge network; its answer is input like any other, so only a 200 with ``{"status": "pong"}``
counts, and bodies are read with a size bound.
"""

from __future__ import annotations

from engine.live.ports import ProbeAnswer

__all__ = ["HttpProbe"]

_MAX_BODY = 64 << 10


class HttpProbe:
    """Pings bots over HTTP; one client per probe so connections are reused across polls."""

    def __init__(self, timeout: float = 2.0) -> None:
        import httpx  # imported here: it costs ~50 ms at start-up and only applies use it

        self._httpx = httpx
        self._client = httpx.Client(timeout=timeout)

    def ping(self, address: str, port: int) -> ProbeAnswer:
        httpx = self._httpx
        try:
            with self._client.stream("GET", f"http://{address}:{port}/api/v1/ping") as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_BODY:
                        return ProbeAnswer(False, "answer too large")
            if response.status_code != 200:
                return ProbeAnswer(False, f"HTTP {response.status_code}")
            import json

            data = json.loads(body)
            if isinstance(data, dict) and data.get("status") == "pong":
                return ProbeAnswer(True, "pong")
            return ProbeAnswer(False, "answered without pong")
        except (httpx.HTTPError, ValueError) as exc:
            return ProbeAnswer(False, type(exc).__name__)

    def close(self) -> None:
        self._client.close()
