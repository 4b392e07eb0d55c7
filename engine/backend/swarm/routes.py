"""The agents' HTTP routes (``/agent/v1/…``), and a server of their own for an apply without a watcher.

The node agents connect out to the controller (``backend.controller``, contract §8). When a
watcher runs, it serves these routes beside its own (``engine.watch.server.create_app(agents=…)``
mounts ``agent_app`` at ``AGENT_PREFIX``); when the CLI applies and no watcher runs, it starts
``AgentServer`` on the controller's address for the length of the apply, so the agents, which
retry every few seconds, get their desired state from the CLI itself. Routes, relative to the prefix::

    GET  /<fleet>/<node>/commands?wait=S&got=ID,…   long poll → {"commands": [...]}
    POST /<fleet>/<node>/results                     an answer
    POST /<fleet>/<node>/heartbeat                   process tables → {"repoll": bool}
    POST /<fleet>/<node>/claims/<id>                 may this command still run? 204 yes, 410 no
    GET  /<fleet>/<node>/blobs/<sha256>              a file for the agent
    PUT  /<fleet>/<node>/blobs/<sha256>              a file from the agent (checked against its name)

Every request carries ``Authorization: Bearer <credential>``, compared in constant time with the
node's (``engine.backend.swarm.credentials``); a wrong or missing one, an unknown node or fleet
all get the same 401, and nothing is logged of it (uvicorn's access log is off). Bodies are read
with bounds. These routes are not behind the UI token: they carry their own credential.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from engine.backend.swarm.channel import AgentChannel
from engine.backend.swarm.peer_routes import peer_routes
from engine.errors import DockerError
from engine.naming import AGENT_PREFIX
from engine.request_body import bounded_body

__all__ = ["AGENT_PREFIX", "AgentServer", "agent_app", "listen_address"]

MAX_JSON = 8 << 20
"""Bytes of an answer or heartbeat at most (a relayed bot answer is 1 MiB, base64 and all)."""
_SHA = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f]{32}")
_DENIED = {"error": "this node's credential is not accepted"}


def agent_app(channels: Mapping[str, AgentChannel], peer_token: str | None = None) -> Starlette:
    """The routes for the agents of every fleet in ``channels`` (fleet → its channel; the mapping may
    gain fleets later, as the watcher opens them), and with ``peer_token`` those another fleetops
    process of the same state dir sends its commands through (``engine.backend.swarm.peer_routes``).
    Mount at ``AGENT_PREFIX``."""

    def admitted(request: Request) -> tuple[AgentChannel, str] | None:
        fleet, node = request.path_params["fleet"], request.path_params["node"]
        given = request.headers.get("authorization", "")
        token = given[7:].strip() if given[:7].lower() == "bearer " else ""
        channel = channels.get(fleet)
        if channel is None:
            channel = next(iter(channels.values()), None)  # the same work as for a known fleet: no timing tells them apart
            if channel is not None:
                channel.credentials.check(node, token)
            return None
        if not channel.credentials.check(node, token):
            return None
        return channel, node

    async def commands(request: Request) -> Response:
        if (who := admitted(request)) is None:
            return JSONResponse(_DENIED, status_code=401)
        channel, node = who
        try:
            wait = float(request.query_params.get("wait", "20"))
        except ValueError:
            wait = 20.0
        got = [i for i in request.query_params.get("got", "").split(",")[:1000] if _ID.fullmatch(i)]
        return JSONResponse({"commands": await channel.commands(node, got, wait)})

    async def posted(request: Request) -> Response:
        if (who := admitted(request)) is None:
            return JSONResponse(_DENIED, status_code=401)
        channel, node = who
        payload = await _json(request)
        if payload is None:
            return JSONResponse({"error": f"the body is not a JSON object of at most {MAX_JSON} bytes"}, status_code=400)
        if request.url.path.endswith("/heartbeat"):
            return JSONResponse(channel.beat(node, payload))
        channel.answer(node, payload)
        return Response(status_code=204)

    async def claim(request: Request) -> Response:
        if (who := admitted(request)) is None:
            return JSONResponse(_DENIED, status_code=401)
        channel, node = who
        ident = request.path_params["ident"]
        return Response(status_code=204 if _ID.fullmatch(ident) and channel.claim(node, ident) else 410)

    async def blob(request: Request) -> Response:
        if (who := admitted(request)) is None:
            return JSONResponse(_DENIED, status_code=401)
        channel, node = who
        sha = request.path_params["sha"]
        if not _SHA.fullmatch(sha):
            return JSONResponse({"error": "a blob is named by its sha256 in hex"}, status_code=404)
        channel.touch(node)
        if request.method == "PUT":
            if not channel.may_upload(node):
                return JSONResponse({"error": "this node has no export open"}, status_code=409)
            data = await bounded_body(request, channel.blobs.cap)
            if data is None:
                return JSONResponse({"error": "larger than the blob store"}, status_code=413)
            try:
                accepted = channel.blobs.accept(sha, data)
            except DockerError as exc:
                return JSONResponse({"error": str(exc)}, status_code=507)
            return Response(status_code=204) if accepted else JSONResponse({"error": "the body does not hash to its name"}, status_code=400)
        found = channel.blob_for(node, sha)
        if found is None:
            return JSONResponse({"error": "no such blob for this node (its command was withdrawn?)"}, status_code=404)
        return Response(found, media_type="application/octet-stream")

    base = "/{fleet}/{node}"
    return Starlette(routes=[
        *(peer_routes(channels, peer_token) if peer_token else []),
        Route(f"{base}/commands", commands, methods=["GET"]),
        Route(f"{base}/results", posted, methods=["POST"]),
        Route(f"{base}/heartbeat", posted, methods=["POST"]),
        Route(f"{base}/claims/{{ident}}", claim, methods=["POST"]),
        Route(f"{base}/blobs/{{sha}}", blob, methods=["GET", "PUT"]),
    ])


async def _json(request: Request) -> dict[str, Any] | None:
    import json

    body = await bounded_body(request, MAX_JSON)
    if body is None:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def listen_address(controller: str) -> tuple[str, int]:
    """Where a server for the agents listens, from the URL they connect to (``backend.controller``):
    its host when that is an IP address of this machine's, else every interface; its port.

    Raises DockerError for a URL that is not ``http://HOST:PORT``."""
    try:
        parts = urlsplit(controller)
        port = parts.port
    except ValueError:
        port, parts = None, urlsplit("")
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise DockerError(f"backend.controller '{controller[:200]}' is not http://HOST:PORT (how node agents reach this controller)")
    try:
        ipaddress.ip_address(parts.hostname)
        host = parts.hostname
    except ValueError:
        host = "0.0.0.0"  # a name: the agents resolve it, this machine listens on all its addresses
    return host, port


class AgentServer:
    """The agents' routes on their own uvicorn, in a background thread, for the length of an apply."""

    def __init__(self, channels: Mapping[str, AgentChannel], host: str, port: int, peer_token: str | None = None) -> None:
        self._channels = channels
        app = Starlette(routes=[Mount(AGENT_PREFIX, app=agent_app(channels, peer_token))])
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="fleetops-agents", daemon=True)
        self.where = f"{host}:{port}"

    @property
    def port(self) -> int:
        """The port it listens on (the one asked for, or the one the system gave for port 0)."""
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit:
            pass  # uvicorn exits so when it cannot listen: start() says why

    def start(self, timeout: float = 10.0) -> None:
        """Listen; DockerError when the address cannot be had (a watcher already serves it?)."""
        for channel in list(self._channels.values()):
            channel.open()
        self._thread.start()
        done = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if self._server.started or not self._thread.is_alive():
                break
            done.wait(0.02)
        if not self._server.started:
            raise DockerError(f"cannot serve the node agents on {self.where} (is the address in use, by a watcher?); "
                              "run the apply where backend.controller points, or let the watcher apply")

    def stop(self) -> None:
        """Stop listening: open long polls are answered first (their agents poll again, elsewhere or
        later), then connections are closed; after 5 s, cut."""
        self._server.should_exit = True
        for channel in list(self._channels.values()):
            channel.close()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)

    def __enter__(self) -> AgentServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
