"""Adapter to a bot's own FreqTrade REST API, authenticated: what a bot says about its trading.

Implements the transport ``engine.ftapi.BotApiPort`` (``Ports.bot_api``): one request, its raw
answer. Every answer is input from a container: read with a size bound and a timeout, and handed
on as bytes to ``engine.ftapi``, which parses it (finite numbers of the documented type, else
unknown) — never a bot's text into a page or a log unescaped. Credentials are the per-bot ones
derived from the state dir's key (``engine.live.secrets``).
"""

from __future__ import annotations

from pathlib import Path

from engine.ftapi import RawAnswer
from engine.live.probe import read_bounded
from engine.live.secrets import api_credentials

__all__ = ["HttpBotApi", "read_key"]

_MAX_BODY = 1 << 20


def read_key(state_dir: Path) -> bytes | None:
    """The state dir's API key if an apply created one (reading never creates it)."""
    try:
        return (state_dir / "api.key").read_bytes()
    except OSError:
        return None


class HttpBotApi:
    """Reads the state dir's key when first needed: a watcher starts before its first apply creates it."""

    def __init__(self, state_dir: Path, timeout: float = 2.0) -> None:
        import httpx  # only commands that talk to bots pay for the import

        self._httpx = httpx
        self._state_dir = state_dir
        self._key: bytes | None = None
        self._client = httpx.Client(timeout=timeout)

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        httpx = self._httpx
        self._key = self._key or read_key(self._state_dir)
        if self._key is None:
            return RawAnswer(None, error="no API key in the state dir yet")
        creds = api_credentials(self._key, fleet, bot)
        url = f"http://{address}:{port}/api/v1/{path}"
        try:
            status, body = read_bounded(self._client, method, url, _MAX_BODY, auth=(creds["username"], creds["password"]))
        except (httpx.HTTPError, ValueError) as exc:
            return RawAnswer(None, error=type(exc).__name__)
        if body is None:
            return RawAnswer(status, error="answer over 1 MiB")
        return RawAnswer(status, body)

    def close(self) -> None:
        self._client.close()
