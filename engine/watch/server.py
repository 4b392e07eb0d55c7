"""The watcher's HTTP side: webhooks, health, metrics, status — Starlette served by uvicorn.

Used by ``fleetops watch --listen`` and ``fleetops serve`` (the page and ``/metrics``, no watcher). It never applies anything:
a verified webhook only wakes the poller, and every other route reads. The apply pipeline knows
nothing of HTTP; this module knows the watcher only through the small ``WatchView`` protocol.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.errors import FleetopsError
from engine.naming import AGENT_PREFIX
from engine.request_body import bounded_body
from engine.watch.webhook import MAX_BODY, Deliveries, judge
from engine.web.pages import web_routes
from engine.web.refresher import Refresher

__all__ = ["HttpServer", "WatchView", "check_listen", "create_app", "parse_listen", "ui_token"]


class WatchView(Protocol):
    def wake_fetch(self) -> None: ...
    def healthy(self) -> tuple[bool, str]: ...
    def status(self) -> dict[str, Any]: ...
    def exposition(self) -> bytes: ...


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise FleetopsError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:9400")
    return host, int(port)


def check_listen(host: str, token: str | None) -> None:
    """Contract §3: anything but loopback needs a UI token, or the server refuses to start."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        raise FleetopsError(f"refusing to listen on {host} without a token: set FLEETOPS_UI_TOKEN "
                            "(or FLEETOPS_UI_TOKEN_FILE), or listen on 127.0.0.1")


def ui_token(environ: Mapping[str, str]) -> str | None:
    """``FLEETOPS_UI_TOKEN``, or the file named by ``FLEETOPS_UI_TOKEN_FILE`` (contract §3)."""
    if environ.get("FLEETOPS_UI_TOKEN"):
        return environ["FLEETOPS_UI_TOKEN"]
    path = environ.get("FLEETOPS_UI_TOKEN_FILE")
    if not path:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetopsError(f"cannot read FLEETOPS_UI_TOKEN_FILE {path}: {exc}") from None
    if not token:
        raise FleetopsError(f"FLEETOPS_UI_TOKEN_FILE {path} is empty")
    return token


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.cookies.get(TOKEN_COOKIE, "")
    return hmac.compare_digest(given.encode(), token.encode())


TOKEN_COOKIE = "fleetops_token"
OPEN_PATHS = frozenset({"/healthz", "/hooks/git", "/login"})
"""Reachable without the UI token: liveness probes, webhooks (they carry their own signature),
the login form and the page's static files."""


CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def create_app(view: WatchView | None, *, secret: bytes | None, branch: str, token: str | None = None,
               web: Refresher | None = None, repo_url: str | None = None, agents: ASGIApp | None = None,
               metrics: Callable[[], bytes] | None = None) -> Starlette:
    """The watcher's routes (when ``view``), the status page (when ``web``), and ``/healthz``; the
    node agents' routes under ``AGENT_PREFIX`` (when ``agents``: a Swarm backend's channel, which
    checks each agent's own credential instead of the UI token). ``/metrics`` serves ``metrics()``
    when given, else the watcher's exposition (``fleetops serve`` has no watcher, only the page's
    per-bot series)."""
    exposition = metrics if metrics is not None else (view.exposition if view is not None else None)
    deliveries = Deliveries()

    async def hooks(request: Request) -> Response:
        assert view is not None
        body = await bounded_body(request, MAX_BODY)
        if body is None:
            return JSONResponse({"result": "body over 1 MiB"}, status_code=413)
        headers: Mapping[str, str] = {k.lower(): v for k, v in request.headers.items()}
        verdict = judge(headers, body, secret, branch, deliveries)
        if verdict.fetch:
            view.wake_fetch()
        return JSONResponse({"result": verdict.message}, status_code=verdict.status)

    async def healthz(request: Request) -> Response:
        ok, detail = view.healthy() if view is not None else (True, "serving")
        return JSONResponse({"ok": ok, "detail": detail}, status_code=200 if ok else 503)

    async def metrics_route(request: Request) -> Response:
        assert exposition is not None
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    async def status(request: Request) -> Response:
        assert view is not None
        return JSONResponse(view.status())

    routes: list[Any] = [Route("/healthz", healthz)]
    if view is not None:
        routes += [Route("/hooks/git", hooks, methods=["POST"]), Route("/api/status", status)]
    if exposition is not None:
        routes.append(Route("/metrics", metrics_route))
    if agents is not None:
        routes.append(Mount(AGENT_PREFIX, app=agents))
    if web is not None:
        routes += web_routes(web, repo_url=repo_url, check_token=lambda given: token is None or hmac.compare_digest(
            given.encode(), token.encode()))
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders), Middleware(TokenGate, token=token)])


class SecurityHeaders:
    """A strict Content-Security-Policy and friends on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                                      (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenGate:
    """Every route but the open ones needs the UI token (a pure ASGI middleware: streams pass through)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path not in OPEN_PATHS and not path.startswith(("/static/", AGENT_PREFIX + "/")) \
                and not _authorized(Request(scope), self.token):
            request = Request(scope)
            response: Response
            if request.method == "GET" and "text/html" in request.headers.get("accept", "") and path != "/events":
                response = RedirectResponse("/login", status_code=303)
            else:
                response = JSONResponse({"error": "a token is required (Authorization: Bearer …)"}, status_code=401)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class HttpServer:
    """uvicorn in a background thread (the main thread keeps the signals and the loop)."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fleetops-http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        for _ in range(int(timeout / 0.05)):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.05)
        if not self._server.started:
            raise FleetopsError("the HTTP server did not start (is the address in use?)")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
