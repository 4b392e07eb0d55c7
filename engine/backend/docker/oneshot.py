"""Adapter: run one short, sandboxed process in a throwaway container of an image, input on stdin.

Used by the FreqTrade check (``engine.check``) to run FreqTrade's own checks with the FreqTrade
version an image holds. The container is created for the call and removed after it, whatever
happens: no network (``--network none``), a read-only root file system with a small ``/tmp``,
every capability dropped and no privilege gain, a memory and process cap, and a deadline after
which it is killed. It carries no fleet label, so no fleet ever observes it. The SDK is the
client (no ``docker`` CLI needed), imported only to run: asking whether the local engine has an
image is one stdlib HTTP call over its socket (the SDK's import alone costs ~70 ms, most of what
an answered-from-cache check costs). Failures become ``DockerError``.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from engine.backend.docker.unix_http import UnixHTTPConnection
from engine.errors import DockerError

__all__ = ["OneShot", "OneShotResult"]

API_VERSION = "1.41"
CHECK_LABEL = "io.fleetops.check"
MAX_OUTPUT = 64 << 20


@dataclass(frozen=True)
class OneShotResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class OneShot:
    """One Docker engine, for throwaway runs. Construction does not touch the network."""

    def __init__(self, base_url: str | None, timeout: float = 10.0) -> None:
        self.base_url = base_url or "unix:///var/run/docker.sock"
        self.timeout = timeout
        self._client: Any = None

    @property
    def _api(self) -> Any:
        if self._client is None:
            from engine.backend.docker.api import sdk_client

            self._client = sdk_client(self.base_url, self.timeout)
        return self._client

    def image_id(self, image: str) -> str | None:
        """The image's ID, or None when the engine does not have it (fleetops never pulls)."""
        if self.base_url.startswith("unix://"):
            return self._local_image_id(image)
        try:
            return str(self._call("inspect an image", self._api.inspect_image, image)["Id"])
        except _Missing:
            return None

    def _local_image_id(self, image: str) -> str | None:
        connection = UnixHTTPConnection(self.base_url.removeprefix("unix://"), self.timeout)
        try:
            connection.request("GET", f"/v{API_VERSION}/images/{quote(image, safe='')}/json")
            response = connection.getresponse()
            body = response.read(4 << 20)
        except (OSError, http.client.HTTPException) as exc:
            raise DockerError(f"no Docker engine answers at {self.base_url} ({type(exc).__name__})") from None
        finally:
            connection.close()
        if response.status == 404:
            return None
        try:
            if response.status != 200:
                raise ValueError(response.status)
            return str(json.loads(body)["Id"])
        except (ValueError, KeyError, TypeError):
            raise DockerError(f"the Docker engine at {self.base_url} answered an image inspection with HTTP {response.status}") from None

    def run(self, image: str, argv: list[str], stdin: bytes, *, deadline: float, memory: str = "1g", scratch: str = "16m") -> OneShotResult:
        """Run ``argv`` (as the entrypoint, replacing the image's) with ``stdin``; kill it after
        ``deadline`` seconds (DockerError then). ``scratch``: the size of its ``/tmp`` (a tmpfs,
        counted in its memory). Output beyond 64 MiB is cut."""
        host_config = self._api.create_host_config(
            network_mode="none", read_only=True, tmpfs={"/tmp": f"size={scratch}"}, mem_limit=memory, memswap_limit=memory,
            pids_limit=256, cap_drop=["ALL"], security_opt=["no-new-privileges"])
        created = self._call("create a throwaway container", self._api.create_container, image, entrypoint=argv,
                             stdin_open=True, network_disabled=True, labels={CHECK_LABEL: "1"},
                             environment={"PYTHONDONTWRITEBYTECODE": "1"}, host_config=host_config)
        container = created["Id"]
        end = time.monotonic() + deadline
        try:
            stream = self._call("attach to a throwaway container", self._api.attach_socket, container,
                                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            raw: socket.socket = getattr(stream, "_sock", stream)
            self._call("start a throwaway container", self._api.start, container)
            try:
                raw.settimeout(max(0.1, end - time.monotonic()))
                raw.sendall(stdin)
                raw.shutdown(socket.SHUT_WR)
                out, err = _demux(_read_until_eof(raw, end))
            except TimeoutError:
                raise DockerError(f"the throwaway container of {image} did not finish within {deadline:.0f} s; it was killed") from None
            except OSError as exc:
                raise DockerError(f"lost the throwaway container of {image}: {exc}") from None
            finally:
                stream.close()
            status = self._call("wait for a throwaway container", self._api.wait, container, timeout=max(1, int(end - time.monotonic()) + 1))
            return OneShotResult(int(status.get("StatusCode", -1)), out, err)
        finally:
            try:
                self._call("remove a throwaway container", self._api.remove_container, container, force=True)
            except DockerError:
                pass  # best effort: it is labelled io.fleetops.check and holds nothing

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import docker.errors
        import requests.exceptions

        try:
            return fn(*args, **kwargs)
        except docker.errors.ImageNotFound:
            raise _Missing() from None
        except requests.exceptions.ConnectionError:
            raise DockerError(f"cannot reach the Docker engine at {self.base_url} ({what})") from None
        except requests.exceptions.RequestException as exc:
            raise DockerError(f"the Docker engine at {self.base_url} did not answer ({what}): {type(exc).__name__}") from None
        except docker.errors.APIError as exc:
            raise DockerError(f"Docker refused to {what}: {exc.explanation or exc}") from None
        except docker.errors.DockerException as exc:
            raise DockerError(f"Docker failed to {what}: {exc}") from None


class _Missing(Exception):
    """The engine has no such image."""


def _read_until_eof(raw: socket.socket, end: float) -> bytes:
    """Everything the container writes until it closes the stream, by ``end`` (TimeoutError after).
    Read here rather than with docker-py's frame reader, which polls without a timeout."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        raw.settimeout(remaining)
        chunk = raw.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        if size < 2 * MAX_OUTPUT:
            chunks.append(chunk)
            size += len(chunk)


def _demux(data: bytes) -> tuple[bytes, bytes]:
    """Docker's multiplexed attach stream (8-byte headers: stream, 0, 0, 0, big-endian size) → (stdout, stderr)."""
    out, err, at = bytearray(), bytearray(), 0
    while at + 8 <= len(data):
        kind, size = data[at], int.from_bytes(data[at + 4:at + 8], "big")
        target = out if kind == 1 else err
        if len(target) < MAX_OUTPUT:
            target += data[at + 8:at + 8 + size]
        at += 8 + size
    return bytes(out), bytes(err)
