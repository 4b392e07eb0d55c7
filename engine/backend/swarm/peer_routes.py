"""The routes another fleetops process of the same state dir sends its agents' commands through.

Served beside the agents' own (``engine.backend.swarm.routes.agent_app``), by the watcher or by the
command that listens on ``backend.controller``; the client and the routes' shapes are
``engine.backend.swarm.forward``. Every request carries ``Authorization: Bearer <peer token>``
(``forward.peer_token``), compared in constant time; a wrong one is a 401 and nothing is logged.
A command runs on a worker thread of the server (``AgentChannel.call`` blocks until its agent
answers), so one slow node holds up nothing else.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.backend.swarm.channel import CALL_TIMEOUT, AgentChannel
from engine.backend.swarm.forward import PEER_PREFIX, error_answer
from engine.errors import FleetopsError
from engine.request_body import bounded_body

__all__ = ["peer_routes"]

MAX_CALL = 16 << 20
"""Bytes of a forwarded command at most (its arguments: blobs travel apart)."""
_SHA = re.compile(r"[0-9a-f]{64}")


def peer_routes(channels: Mapping[str, AgentChannel], token: str) -> list[Route]:
    """Routes (relative to ``AGENT_PREFIX``) through which a process holding ``token`` drives ``channels``."""

    def admitted(request: Request) -> AgentChannel | Response:
        given = request.headers.get("authorization", "")
        offered = given[7:].strip() if given[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(offered.encode(), token.encode()):
            return JSONResponse({"error": "this peer token is not accepted"}, status_code=401)
        channel = channels.get(request.path_params["fleet"])
        if channel is None:
            return JSONResponse({"error": f"this process serves no agents of fleet {request.path_params['fleet']}"}, status_code=404)
        return channel

    async def call(request: Request) -> Response:
        channel = admitted(request)
        if isinstance(channel, Response):
            return channel
        body = await bounded_body(request, MAX_CALL)
        try:
            payload: Any = json.loads(body or b"")
            node, op, args = str(payload["node"]), str(payload["op"]), dict(payload["args"])
            timeout = min(max(float(payload.get("timeout", CALL_TIMEOUT)), 0.1), 3600.0)
            blobs = tuple(str(b) for b in payload.get("blobs") or [])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "a call is {node, op, args, timeout, blobs} as JSON"}, status_code=400)
        try:
            value = await run_in_threadpool(channel.call, node, op, args, timeout, blobs)
        except FleetopsError as exc:
            return JSONResponse(error_answer(exc))
        return JSONResponse({"value": value})

    async def blob(request: Request) -> Response:
        channel = admitted(request)
        if isinstance(channel, Response):
            return channel
        sha = request.path_params["sha"]
        if not _SHA.fullmatch(sha):
            return JSONResponse({"error": "a blob is named by its sha256 in hex"}, status_code=404)
        if request.method == "DELETE":
            channel.blobs.drop(sha)
            return Response(status_code=204)
        data = await bounded_body(request, channel.blobs.cap)
        if data is None:
            return JSONResponse({"error": "larger than the blob store"}, status_code=413)
        if channel.put_blob(data) != sha:
            channel.blobs.drop(sha)
            return JSONResponse({"error": "the body does not hash to its name"}, status_code=400)
        return Response(status_code=204)

    async def nodes(request: Request) -> Response:
        channel = admitted(request)
        if isinstance(channel, Response):
            return channel
        asked = {n for n in request.query_params.get("ask", "").split(",")[:1000] if n}
        heard = channel.nodes()
        rows = {}
        for node in sorted(asked | set(heard)):
            beat = channel.heartbeat(node)
            rows[node] = {"reachable": channel.reachable(node),
                          "heartbeat": {"age": max(0.0, time.monotonic() - beat.received), "units": beat.units} if beat else None}
        return JSONResponse({"heard": heard, "nodes": rows})

    base = PEER_PREFIX + "/{fleet}"
    return [
        Route(f"{base}/call", call, methods=["POST"]),
        Route(f"{base}/blobs/{{sha}}", blob, methods=["PUT", "DELETE"]),
        Route(f"{base}/nodes", nodes, methods=["GET"]),
    ]
