"""Binance spot's public REST API, served from the seeded walks: what ccxt and FreqTrade call.

Served: ``/api/v3/ping``, ``time``, ``exchangeInfo``, ``klines``, ``ticker/24hr``,
``ticker/bookTicker``, ``ticker/price``, ``depth``; anything else is logged and answered 404, so
a test sees what a bot tried. ``/_market/stats`` counts requests per path; ``POST /_market/down``
and ``/_market/up`` make every API call fail (503) or succeed again, to show a bot whose API
answers while its trading loop cannot.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.market.prices import TIMEFRAME_SECONDS, Walk

__all__ = ["SYMBOLS", "create_app"]

SYMBOLS = {
    "BTCUSDT": ("BTC", "USDT", 60000.0), "ETHUSDT": ("ETH", "USDT", 3000.0), "SOLUSDT": ("SOL", "USDT", 150.0),
    "XRPUSDT": ("XRP", "USDT", 0.6), "BNBUSDT": ("BNB", "USDT", 550.0), "ADAUSDT": ("ADA", "USDT", 0.45),
    "DOGEUSDT": ("DOGE", "USDT", 0.15), "LTCUSDT": ("LTC", "USDT", 80.0), "BTCEUR": ("BTC", "EUR", 55000.0),
    "ETHEUR": ("ETH", "EUR", 2750.0),
}


def _fmt(value: float) -> str:
    return f"{value:.8f}"


def create_app(seed: int = 7, *, origin: int | None = None, volatility: float = 0.002) -> ASGIApp:
    now = int(time.time())
    origin = origin if origin is not None else now - now % 86400 - 2 * 86400
    walks = {s: Walk(seed, s, origin, start, volatility) for s, (_, _, start) in SYMBOLS.items()}
    stats: Counter[str] = Counter()
    state = {"down": False}

    def symbol_of(request: Request) -> Walk | None:
        return walks.get(request.query_params.get("symbol", ""))

    async def ping(request: Request) -> Response:
        return JSONResponse({})

    async def server_time(request: Request) -> Response:
        return JSONResponse({"serverTime": int(time.time() * 1000)})

    async def exchange_info(request: Request) -> Response:
        symbols = []
        for symbol, (base, quote, start) in SYMBOLS.items():
            tick = 10 ** (round(math.log10(start)) - 5)
            symbols.append({
                "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8, "quoteAsset": quote,
                "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER", "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": _fmt(tick), "maxPrice": "1000000.00000000", "tickSize": _fmt(tick)},
                    {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000000.00000000", "stepSize": "0.00001000"},
                    {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                     "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
                ],
            })
        return JSONResponse({"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [], "exchangeFilters": [],
                             "symbols": symbols})

    async def klines(request: Request) -> Response:
        walk = symbol_of(request)
        interval = request.query_params.get("interval", "1m")
        if walk is None or interval not in TIMEFRAME_SECONDS:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol or interval."}, status_code=400)
        seconds = TIMEFRAME_SECONDS[interval]
        limit = min(int(request.query_params.get("limit", "500")), 1000)
        current = int(time.time())
        end = int(request.query_params.get("endTime", current * 1000)) // 1000
        start_param = request.query_params.get("startTime")
        last_open = min(end, current) // seconds * seconds
        first_open = int(start_param) // 1000 // seconds * seconds if start_param else last_open - (limit - 1) * seconds
        opens = [t for t in range(max(first_open, walk.origin // seconds * seconds), last_open + 1, seconds)][:limit]
        rows = []
        for open_time in opens:
            c = walk.candle(open_time, seconds, current)
            rows.append([open_time * 1000, _fmt(c.open), _fmt(c.high), _fmt(c.low), _fmt(c.close), _fmt(c.volume),
                         (open_time + seconds) * 1000 - 1, _fmt(c.volume * c.close), 100, _fmt(c.volume / 2),
                         _fmt(c.volume * c.close / 2), "0"])
        return JSONResponse(rows)

    def ticker(symbol: str, walk: Walk) -> dict[str, Any]:
        current = int(time.time())
        price, day_ago = walk.price(current), walk.price(current - 86400)
        return {"symbol": symbol, "priceChange": _fmt(price - day_ago), "priceChangePercent": f"{100 * (price / day_ago - 1):.3f}",
                "weightedAvgPrice": _fmt((price + day_ago) / 2), "prevClosePrice": _fmt(day_ago), "lastPrice": _fmt(price),
                "lastQty": "0.10000000", "bidPrice": _fmt(price * 0.9999), "bidQty": "5.00000000", "askPrice": _fmt(price * 1.0001),
                "askQty": "5.00000000", "openPrice": _fmt(day_ago), "highPrice": _fmt(max(price, day_ago)),
                "lowPrice": _fmt(min(price, day_ago)), "volume": "1000.00000000", "quoteVolume": _fmt(1000 * price),
                "openTime": (current - 86400) * 1000, "closeTime": current * 1000, "firstId": 1, "lastId": 1000, "count": 1000}

    def selected(request: Request) -> dict[str, Walk] | None:
        if "symbol" in request.query_params:
            walk = symbol_of(request)
            return None if walk is None else {request.query_params["symbol"]: walk}
        return walks

    async def ticker_24hr(request: Request) -> Response:
        chosen = selected(request)
        if chosen is None:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        rows = [ticker(s, w) for s, w in chosen.items()]
        return JSONResponse(rows[0] if "symbol" in request.query_params else rows)

    async def book_ticker(request: Request) -> Response:
        chosen = selected(request)
        if chosen is None:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        rows = [{k: t[k] for k in ("symbol", "bidPrice", "bidQty", "askPrice", "askQty")} for t in (ticker(s, w) for s, w in chosen.items())]
        return JSONResponse(rows[0] if "symbol" in request.query_params else rows)

    async def price(request: Request) -> Response:
        chosen = selected(request)
        if chosen is None:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        rows = [{"symbol": s, "price": _fmt(w.price(int(time.time())))} for s, w in chosen.items()]
        return JSONResponse(rows[0] if "symbol" in request.query_params else rows)

    async def depth(request: Request) -> Response:
        walk = symbol_of(request)
        if walk is None:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        mid = walk.price(int(time.time()))
        levels = min(int(request.query_params.get("limit", "100")), 100)
        bids = [[_fmt(mid * (1 - 0.0001 * (i + 1))), "2.00000000"] for i in range(levels)]
        asks = [[_fmt(mid * (1 + 0.0001 * (i + 1))), "2.00000000"] for i in range(levels)]
        return JSONResponse({"lastUpdateId": int(time.time()), "bids": bids, "asks": asks})

    async def show_stats(request: Request) -> Response:
        return JSONResponse({"requests": dict(stats), "down": state["down"]})

    async def go_down(request: Request) -> Response:
        state["down"] = True
        return JSONResponse({"down": True})

    async def go_up(request: Request) -> Response:
        state["down"] = False
        return JSONResponse({"down": False})

    async def unknown(request: Request) -> Response:
        return JSONResponse({"code": -1, "msg": f"not served by the local market: {request.url.path}"}, status_code=404)

    return _Counting(Starlette(routes=[
        Route("/api/v3/ping", ping), Route("/api/v3/time", server_time), Route("/api/v3/exchangeInfo", exchange_info),
        Route("/api/v3/klines", klines), Route("/api/v3/uiKlines", klines), Route("/api/v3/ticker/24hr", ticker_24hr),
        Route("/api/v3/ticker/bookTicker", book_ticker), Route("/api/v3/ticker/price", price), Route("/api/v3/depth", depth),
        Route("/_market/stats", show_stats), Route("/_market/down", go_down, methods=["POST"]),
        Route("/_market/up", go_up, methods=["POST"]), Route("/{path:path}", unknown, methods=["GET", "POST", "DELETE", "PUT"]),
    ]), stats, state)


class _Counting:
    """Counts every API request by path, and answers 503 to all of them while the market is down."""

    def __init__(self, app: ASGIApp, stats: Counter[str], state: dict[str, bool]) -> None:
        self.app, self.stats, self.state = app, stats, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith("/_market"):
            self.stats[path] += 1
            if self.state["down"]:
                await JSONResponse({"code": -1001, "msg": "the market is down"}, status_code=503)(scope, receive, send)
                return
        await self.app(scope, receive, send)
