"""A fleet's agents' channel held by another fleetops process on this controller address: two commands at once.

The node agents connect to one address (``backend.controller``), and only one process can listen
there: the watcher, or a command run while no watcher runs (``engine.backend.swarm.routes.AgentServer``).
A second process on the same machine — ``fleetops status`` while the watcher runs, or while an apply
does — cannot listen too; it sends its commands through the one that does (``PeerChannel``), over the
routes that process serves beside the agents' (``/_peer/<fleet>/…`` under ``AGENT_PREFIX``):

    POST   /_peer/<fleet>/call            {node, op, args, timeout, blobs} → {value} | {error, kind}
    PUT    /_peer/<fleet>/blobs/<sha256>  a file for a command to name (checked against its name)
    DELETE /_peer/<fleet>/blobs/<sha256>  drop it (a carried trade database, once imported)
    GET    /_peer/<fleet>/nodes?ask=a,b   nodes heard, reachable, their heartbeats' age and tables

Both processes share the state dir (they apply one fleet: its records and locks are there), so the
peers' token is a file in it (``<state>/swarm/peer.key``, 0600, 256 random bits, made by whichever
process serves first): whoever can read it could read the agents' credentials beside it anyway.
Plain HTTP with a bearer token, as the agents' own routes (the README's security note).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from engine.backend.swarm.channel import CALL_TIMEOUT, AgentChannel, Heartbeat, Pending
from engine.backend.swarm.credentials import Credentials
from engine.errors import DockerError, FleetopsError, SupervisorError, SupervisorRefused
from engine.naming import AGENT_PREFIX
from engine.textsafe import one_line

__all__ = ["PEER_PREFIX", "PeerChannel", "error_answer", "peer_token"]

PEER_PREFIX = "/_peer"
"""Under ``AGENT_PREFIX``; no fleet name starts with '_', so no agent's route is shadowed."""
NODES_FRESH = 0.5
"""Seconds a ``nodes`` answer is reused: ``reachable`` is asked once per command."""
_ERRORS: dict[str, type[FleetopsError]] = {"docker": DockerError, "supervisor": SupervisorError, "refused": SupervisorRefused}


def peer_token(state_dir: Path, *, create: bool) -> str | None:
    """The token of the processes sharing ``state_dir``'s controller address; made when ``create`` and
    missing (the serving process), else None when there is none (no process ever served from here)."""
    path = state_dir / "swarm" / "peer.key"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip() or None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def error_answer(exc: FleetopsError) -> dict[str, str]:
    """How the serving process answers a command that raised: the error's kind and message."""
    kind = "refused" if isinstance(exc, SupervisorRefused) else "supervisor" if isinstance(exc, SupervisorError) else "docker"
    return {"kind": kind, "error": str(exc)}


@dataclass
class _NodeSeen:
    reachable: bool
    heartbeat: Heartbeat | None


class PeerChannel(AgentChannel):
    """``fleet``'s channel as another process on ``controller`` serves it: commands are forwarded, each
    in its own HTTP request (``send`` starts it on a thread, ``wait`` joins it); the blobs a command
    names are uploaded first. Raises as ``AgentChannel`` does, and DockerError when the serving
    process stops answering (it exited: run the command again, and it serves the agents itself)."""

    def __init__(self, fleet: str, credentials: Credentials, controller: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(fleet, credentials)
        parts = urlsplit(controller)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        if self._host in ("0.0.0.0", "::"):
            self._host = "127.0.0.1"
        self._base = f"{AGENT_PREFIX}{PEER_PREFIX}/{quote(fleet)}"
        self._auth = f"Bearer {token}"
        self._timeout = timeout
        self.where = f"{self._host}:{self._port}"
        self._seen: dict[str, _NodeSeen] = {}
        self._heard: list[str] = []
        self._asked_at = -1.0
        self._seen_lock = threading.Lock()
        self.blobs = _ForwardedBlobs(self)  # type: ignore[assignment]

    def serves(self) -> bool:
        """Whether a fleetops process serves this fleet's agents there and takes this token."""
        try:
            self._ask_nodes(())
            return True
        except DockerError:
            return False

    # -- commands -------------------------------------------------------------------------------

    def send(self, node: str, op: str, args: dict[str, Any], blobs: tuple[str, ...] = ()) -> Pending:
        command = Pending(uuid.uuid4().hex, node, op, args, blobs)

        def run() -> None:
            try:
                answer = self._request("POST", "/call", {"node": node, "op": op, "args": args, "timeout": CALL_TIMEOUT,
                                                         "blobs": list(blobs)}, timeout=CALL_TIMEOUT + 10.0)
                command.answer = answer
            except DockerError as exc:
                command.answer = {"kind": "docker", "error": str(exc)}
            finally:
                command.done.set()
        threading.Thread(target=run, name=f"fleetops-peer-{op}", daemon=True).start()
        return command

    def call(self, node: str, op: str, args: dict[str, Any], timeout: float = CALL_TIMEOUT, blobs: tuple[str, ...] = ()) -> dict[str, Any]:
        answer = self._request("POST", "/call", {"node": node, "op": op, "args": args, "timeout": timeout, "blobs": list(blobs)},
                               timeout=timeout + 10.0)
        return _value(answer)

    def wait(self, command: Pending, timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        if not command.done.wait(timeout + 10.0):
            raise DockerError(f"the fleetops process at {self.where} did not answer {command.op} for node {command.node} "
                              f"within {timeout:g} s")
        return _value(command.answer or {})

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self._request("PUT", f"/blobs/{sha}", data)
        return sha

    # -- nodes ----------------------------------------------------------------------------------

    def reachable(self, node: str) -> bool:
        return self._node(node).reachable

    def heartbeat(self, node: str) -> Heartbeat | None:
        return self._node(node).heartbeat

    def nodes(self) -> list[str]:
        self._ask_nodes(())
        with self._seen_lock:
            return list(self._heard)

    def _node(self, node: str) -> _NodeSeen:
        with self._seen_lock:
            fresh = time.monotonic() - self._asked_at <= NODES_FRESH and node in self._seen
        if not fresh:
            self._ask_nodes((node,))
        with self._seen_lock:
            return self._seen.get(node, _NodeSeen(False, None))

    def _ask_nodes(self, ask: tuple[str, ...]) -> None:
        with self._seen_lock:
            asked = sorted(set(ask) | set(self._seen))
        answer = self._request("GET", f"/nodes?ask={quote(','.join(asked))}", None)
        now = time.monotonic()
        seen = {}
        for name, row in (answer.get("nodes") or {}).items():
            beat = row.get("heartbeat")
            heartbeat = Heartbeat(now - float(beat["age"]), dict(beat.get("units") or {})) if isinstance(beat, dict) else None
            seen[str(name)] = _NodeSeen(bool(row.get("reachable")), heartbeat)
        with self._seen_lock:
            self._seen, self._heard, self._asked_at = seen, sorted(str(n) for n in answer.get("heard") or []), now

    # -- plumbing -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | bytes | None, timeout: float | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Authorization": self._auth, "Content-Type": "application/json" if isinstance(body, dict) else "application/octet-stream"}
        connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout or self._timeout)
        try:
            connection.request(method, self._base + path, data, headers)
            response = connection.getresponse()
            raw = response.read(64 << 20)
        except (OSError, http.client.HTTPException) as exc:
            raise DockerError(f"the fleetops process serving this fleet's agents at {self.where} stopped answering "
                              f"({type(exc).__name__}); run the command again") from None
        finally:
            connection.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if response.status == 401:
            raise DockerError(f"the fleetops process at {self.where} refused this state dir's peer token: it keeps its state elsewhere "
                              "(FLEETOPS_STATE_DIR); run the command where it runs, with its state dir")
        if response.status >= 300:
            message = answer.get("error") if isinstance(answer, dict) else None
            raise DockerError(f"the fleetops process at {self.where} answered HTTP {response.status}: "
                              f"{one_line(str(message or raw[:200]))}")
        return answer if isinstance(answer, dict) else {}


class _ForwardedBlobs:
    """The blob store's ``drop``, as a peer channel forwards it (the carry of a trade database drops its tar)."""

    def __init__(self, channel: PeerChannel) -> None:
        self._channel = channel

    def drop(self, sha: str) -> None:
        try:
            self._channel._request("DELETE", f"/blobs/{sha}", None)
        except DockerError:
            pass  # the serving store is bounded: an undropped blob ages out



def _value(answer: dict[str, Any]) -> dict[str, Any]:
    """The forwarded command's value, or its error raised as the serving process raised it."""
    if "error" in answer:
        raise _ERRORS.get(str(answer.get("kind")), DockerError)(one_line(str(answer["error"]))[:2000])
    value = answer.get("value")
    return value if isinstance(value, dict) else {}
