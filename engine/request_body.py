"""A request body read up to a bound, for the ASGI routes that take uploads (webhooks, node agents).

Used by the watcher's server (``engine.watch.server``: GitHub's webhook) and the node agents' routes
(``engine.backend.swarm.routes``: results and blobs). Whoever can reach the port can send a body:
a declared length over the bound is refused before anything is read, and a body that streams past
it is cut off there, so no sender decides how much memory the controller spends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["bounded_body"]


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body (bytes), or None as soon as it passes ``limit`` bytes (never read further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
