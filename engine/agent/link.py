"""The agent's HTTP link to the controller: long polls, results, heartbeats, blobs. Stdlib only.

Every request carries ``Authorization: Bearer <the node's credential>`` (read from its Swarm secret
file by ``engine.agent.main``; never printed). Each thread keeps its own keep-alive connection
(the poll loop, the heartbeat and each worker post at once); a broken one is dropped and the
request fails with ``LinkError``, which the caller retries with backoff. Answers are bounded: a
poll's or a result's answer by ``MAX_ANSWER``, a blob by the limit its caller gives, and a blob
is checked against the sha256 that names it before anything uses it.

Errors: ``LinkError`` (no answer, or an HTTP status other than 200/204), ``Refused`` (401/403:
this credential is not accepted — retrying soon will not help), ``BadBlob`` (a blob whose bytes
do not hash to its name, or over its limit).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

__all__ = ["MAX_ANSWER", "BadBlob", "Gone", "Link", "LinkError", "Refused"]

POLL_SLACK = 10.0
"""Seconds a poll's answer may be late past its wait before the poll is given up (a dead connection)."""
MAX_ANSWER = 16 << 20
"""Bytes of a poll's or a post's answer read at most (commands carry blob names, not contents)."""
_CHUNK = 1 << 20


class LinkError(Exception):
    """The controller did not answer, or answered with an unexpected HTTP status."""


class Refused(LinkError):
    """The controller refused this agent's credential (HTTP 401/403)."""


class NotListening(LinkError):
    """Nothing listens on the controller's address (connection refused): no watcher runs and no command
    serves the agents right now. Asking again is a refused connect, cheap for both sides."""


class Gone(LinkError):
    """The controller no longer has what was asked for (HTTP 410: a command withdrawn)."""


class BadBlob(LinkError):
    """A blob that is not what its name says (its sha256), or larger than allowed."""


class Link:
    """HTTP to ``controller`` (``http://HOST:PORT[/prefix]`` or ``https://…``) as ``node`` of ``fleet``."""

    def __init__(self, controller: str, fleet: str, node: str, credential: str, *, timeout: float = 30.0,
                 ca_file: str | None = None) -> None:
        parts = urlsplit(controller)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the controller URL {controller!r} is not http://HOST:PORT or https://HOST:PORT")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = f"{parts.path.rstrip('/')}/agent/v1/{quote(fleet, safe='')}/{quote(node, safe='')}"
        self._auth = f"Bearer {credential}"
        self._timeout = timeout
        self._tls = ssl.create_default_context(cafile=ca_file) if self._https else None
        self._local = threading.local()
        self._polling: http.client.HTTPConnection | None = None
        self.where = f"{parts.scheme}://{parts.netloc}"
        """The controller as messages name it (no credential is ever in a URL)."""

    # -- the requests --------------------------------------------------------------------------

    def poll(self, got: list[str], wait: float) -> list[dict[str, Any]]:
        """Commands for this node, waiting up to ``wait`` s for one; ``got`` acknowledges the last answer's ids."""
        query = f"?wait={wait:g}&got={quote(','.join(got), safe=',')}"
        try:
            answer = self._json("GET", f"/commands{query}", None, timeout=wait + POLL_SLACK, polling=True)
        finally:
            self._polling = None
        commands = answer.get("commands") if isinstance(answer, dict) else None
        if not isinstance(commands, list):
            raise LinkError("the controller's answer to a poll has no command list")
        return [c for c in commands if isinstance(c, dict)]

    def post_result(self, result: Mapping[str, Any]) -> None:
        self._json("POST", "/results", result)

    def claim(self, ident: str) -> bool:
        """Whether the command ``ident`` may still run (its caller waits for it); LinkError when unknown."""
        try:
            self._send("POST", f"/claims/{quote(ident, safe='')}", b"", {}).read(MAX_ANSWER)
        except Gone:
            return False
        return True

    def heartbeat(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Post a heartbeat; the controller's answer (``{"repoll": bool}``)."""
        answer = self._json("POST", "/heartbeat", payload)
        return answer if isinstance(answer, dict) else {}

    def abort_poll(self) -> None:
        """Cut the poll in flight (from another thread): it fails at once and the loop polls again."""
        polling = self._polling
        sock = polling.sock if polling is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def fetch(self, sha: str, out: BinaryIO, limit: int) -> int:
        """Write blob ``sha`` to ``out``, checking its hash as it streams; its size. BadBlob when it is
        not ``sha`` or passes ``limit`` bytes (``out`` then holds garbage: the caller drops it)."""
        response = self._send("GET", f"/blobs/{sha}", None, {})
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BadBlob(f"blob {sha[:12]} is larger than {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise LinkError(f"the controller at {self.where} broke off blob {sha[:12]}: {exc}") from None
        if digest.hexdigest() != sha:
            raise BadBlob(f"blob {sha[:12]} from {self.where} does not hash to its name")
        return size

    def upload(self, sha: str, source: BinaryIO, size: int) -> None:
        """PUT ``size`` bytes of ``source`` as blob ``sha`` (the controller checks the hash too)."""
        response = self._send("PUT", f"/blobs/{sha}", source, {"Content-Length": str(size), "Content-Type": "application/octet-stream"})
        response.read(MAX_ANSWER)

    # -- plumbing ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, payload: Mapping[str, Any] | None, timeout: float | None = None, polling: bool = False) -> Any:
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        response = self._send(method, path, body, headers, timeout, polling)
        try:
            data = response.read(MAX_ANSWER + 1)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise LinkError(f"the controller at {self.where} broke off its answer: {exc}") from None
        if len(data) > MAX_ANSWER:
            self._drop()
            raise LinkError(f"the controller's answer is over {MAX_ANSWER} bytes")
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise LinkError(f"the controller at {self.where} answered something that is not JSON") from None

    def _send(self, method: str, path: str, body: bytes | BinaryIO | None, headers: dict[str, str],
              timeout: float | None = None, polling: bool = False) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            connection = self._connection()
            if polling:
                self._polling = connection
            reused = connection.sock is not None
            connection.timeout = timeout or self._timeout
            if connection.sock is not None:
                connection.sock.settimeout(connection.timeout)
            try:
                connection.request(method, self._prefix + path, body, {**headers, "Authorization": self._auth})
                response = connection.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                # a kept-alive connection the server closed meanwhile: once more on a new one (not a stream: it was read)
                if attempt == 1 and reused and isinstance(body, bytes | None) and isinstance(exc, ConnectionError | http.client.RemoteDisconnected):
                    continue
                kind = NotListening if isinstance(exc, ConnectionRefusedError) else LinkError
                raise kind(f"the controller at {self.where} did not answer: {type(exc).__name__}: {exc}") from None
        if response.status in (401, 403):
            self._drop()
            raise Refused(f"the controller at {self.where} refused this node's credential (HTTP {response.status})")
        if response.status == 410:
            response.read(MAX_ANSWER)
            raise Gone(f"the controller at {self.where} no longer has {path.split('?')[0]}")
        if response.status not in (200, 204):
            self._drop()
            raise LinkError(f"the controller at {self.where} answered HTTP {response.status} to {method} {path.split('?')[0]}")
        return response

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._tls is not None:
                connection = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._tls)
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
