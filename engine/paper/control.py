"""The paper exchange's own switchboard: the request log tests read, and the switch that takes it down.

Why: a test that runs real bots against the market must see from the outside that they really
polled it (per endpoint, per client address — each container has its own), and must be able
to make the exchange fail underneath a running bot. Its endpoints live under ``/_market/`` and
are never logged or switched off themselves:

* ``GET  /_market/stats`` — counters per endpoint and per client, unknown paths, the last
  requests, the down state, and what the app was built with (seed, anchor, pairs).
* ``POST /_market/down?mode=error|hang`` — every exchange call answers 503 with Binance's error
  body (``error``), or is held open until the market is up again (``hang``: a dead upstream
  as a client sees it, the only failure that stalls FreqTrade's loop — see tests/test_market.py).
* ``POST /_market/up``, ``POST /_market/reset`` (clears the counters and the log).
* ``GET  /_market/accounts`` — every account's key (never its secret), balances and orders.
* ``POST /_market/accounts`` with ``{"key": …, "secret": …, "balances": {"USDT": "10000"}}`` —
  opens an account, or starts an existing key afresh (its orders dropped), for the signed endpoints.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import InvalidOperation
from typing import Any

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.paper.accounts import parse_balances
from engine.paper.orders import Book

PREFIX = "/_market/"
RECENT = 500  # requests kept in the log
MODES = ("error", "hang")


@dataclass
class Switchboard:
    """The down switch and the request log: the only mutable state of the market."""

    clock: Callable[[], float]
    info: dict[str, Any]  # shown in the stats as is
    book: Book | None = None  # the accounts and orders, for /_market/accounts
    down: bool = False
    down_mode: str = "error"
    total: int = 0
    refused: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_client: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))

    def record(self, request: Request, status: int, started: float) -> None:
        client = request.client.host if request.client else "?"
        self.total += 1
        self.by_endpoint[f"{request.method} {request.url.path}"] += 1
        self.by_client[client] += 1
        self.recent.append(
            {
                "t": round(self.clock(), 3),
                "client": client,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "status": status,
                "ms": round((time.monotonic() - started) * 1000, 1),
            }
        )

    def stats(self) -> dict[str, Any]:
        return {
            **self.info,
            "down": self.down,
            "down_mode": self.down_mode,
            "total": self.total,
            "refused": self.refused,
            "by_endpoint": dict(self.by_endpoint),
            "by_client": dict(self.by_client),
            "unknown": dict(self.unknown),
            "recent": list(self.recent),
        }

    def reset(self) -> None:
        self.total = self.refused = 0
        self.by_endpoint.clear()
        self.by_client.clear()
        self.unknown.clear()
        self.recent.clear()


def switchboard(request: Request) -> Switchboard:
    board: Switchboard = request.app.state.switchboard
    return board


class Recorder(BaseHTTPMiddleware):
    """Applies the down switch before an exchange endpoint runs, and logs the call."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith(PREFIX):
            return await call_next(request)
        board = switchboard(request)
        started = time.monotonic()
        while board.down and board.down_mode == "hang":
            await asyncio.sleep(0.05)  # polled, so flipping the switch from any thread is safe
        if board.down:
            board.refused += 1
            body = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}
            response: Response = JSONResponse(body, 503)
        else:
            response = await call_next(request)
        board.record(request, response.status_code, started)
        return response


async def _stats(request: Request) -> Response:
    return JSONResponse(switchboard(request).stats())


async def _down(request: Request) -> Response:
    board = switchboard(request)
    mode = request.query_params.get("mode", "error")
    if mode not in MODES:
        return JSONResponse({"error": f"mode must be one of {', '.join(MODES)}"}, 400)
    board.down, board.down_mode = True, mode
    return JSONResponse({"down": True, "mode": mode})


async def _up(request: Request) -> Response:
    switchboard(request).down = False
    return JSONResponse({"down": False})


async def _reset(request: Request) -> Response:
    switchboard(request).reset()
    return JSONResponse({"reset": True})


async def _accounts(request: Request) -> Response:
    book = switchboard(request).book
    if book is None:
        return JSONResponse({"error": "this market has no accounts"}, 404)
    if request.method == "POST":
        try:
            body = await request.json()
            key, secret, raw = str(body["key"]), str(body["secret"]), body.get("balances")
            balances = None if raw is None else parse_balances(",".join(f"{a}={v}" for a, v in dict(raw).items()))
        except (ValueError, KeyError, TypeError, InvalidOperation) as e:
            return JSONResponse({"error": f"want {{\"key\": …, \"secret\": …, \"balances\": {{\"USDT\": \"10000\"}}}}: {e}"}, 400)
        if not key or not secret:
            return JSONResponse({"error": "key and secret must not be empty"}, 400)
        book.orders = [o for o in book.orders if o.account != key]
        book.accounts.open(key, secret, balances)
    book.sweep()
    rows = book.accounts.listing()
    for row in rows:
        row["orders"] = [o.row() for o in book.orders if o.account == row["key"]]
    return JSONResponse(rows)


ROUTES = [
    Route(f"{PREFIX}stats", _stats),
    Route(f"{PREFIX}down", _down, methods=["POST"]),
    Route(f"{PREFIX}up", _up, methods=["POST"]),
    Route(f"{PREFIX}reset", _reset, methods=["POST"]),
    Route(f"{PREFIX}accounts", _accounts, methods=["GET", "POST"]),
]
