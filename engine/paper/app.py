"""The paper exchange's app: Starlette answering like Binance spot's REST API, from a seeded random walk.

Called by ``engine.paper.serve`` (``fleetops paper-exchange``) and by tests. Why: ``freqtrade trade``
cannot start without an exchange ("Could not load markets"). Pointing ccxt's URLs at this app (a
bot's ``exchange_url``) lets an unmodified FreqTrade run its whole dry-run loop offline — load
markets, poll candles, price and fill dry-run orders from tickers and order books (FreqTrade fills
a dry-run limit order once the book crosses its price, so fills follow the walk).

Besides Binance's endpoints the app serves its own under ``/_market/`` (see ``control``): a
request log and counters, and a switch that takes the exchange down.

The signed endpoints (account, orders, trades) check Binance's HMAC signature (``accounts``) and
hand over to the order book (``orders``), which fills from the same walk. ``/sapi/v1/capital/config/getall``
answers with the listed assets: ccxt's ``load_markets`` asks it whenever keys are set.

Every request the app does not know is logged (``unknown`` in the stats) and answered with
Binance's error shape, so a new ccxt/FreqTrade call shows up instead of failing silently.
Nothing returned contains the server's own address, so it can sit behind any host name or IP.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["BinanceError", "Market", "create_app"]

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.market import walk as prices
from engine.market.listing import DEFAULT_PAIRS, Listing, make_listing, symbol_info
from engine.paper import control
from engine.paper.accounts import Account, Accounts, default_accounts
from engine.paper.control import switchboard
from engine.paper.errors import BinanceError
from engine.paper.orders import Book, listed, top_of_book

BOOK_MAX = 1000  # order-book levels served at most (Binance allows 5000)
BOOK_DEPTH_QUOTE = 2000.0  # quote value per book level, so 50-USDT dry-run orders fill at the top


@dataclass(frozen=True)
class Market:
    """What the exchange endpoints read: the listings and the clock (both fixed at creation)."""

    listings: dict[str, Listing]  # by Binance symbol
    clock: Callable[[], float]

    def listing(self, symbol: str | None) -> Listing:
        return listed(self.listings, symbol)

    def selected(self, request: Request) -> tuple[list[Listing], bool]:
        """The listings a ``symbol`` / ``symbols`` query names (all if neither), and whether one was named."""
        symbol = request.query_params.get("symbol")
        if symbol:
            return [self.listing(symbol)], True
        raw = request.query_params.get("symbols")
        if raw:
            try:
                names = json.loads(raw)
            except ValueError as e:
                raise BinanceError(400, -1100, "Illegal characters found in parameter 'symbols'.") from e
            if not isinstance(names, list):
                raise BinanceError(400, -1100, "Illegal characters found in parameter 'symbols'.")
            return [self.listing(str(n)) for n in names], False
        return list(self.listings.values()), False


def _market(request: Request) -> Market:
    state: Market = request.app.state.market
    return state


def _int_param(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.") from e
    return min(max(value, lo), hi)


# --- Binance endpoints -------------------------------------------------------------------------


async def ping(request: Request) -> Response:
    return JSONResponse({})


async def server_time(request: Request) -> Response:
    return JSONResponse({"serverTime": int(_market(request).clock() * 1000)})


async def exchange_info(request: Request) -> Response:
    market = _market(request)
    listings, _ = market.selected(request)
    return JSONResponse(
        {
            "timezone": "UTC",
            "serverTime": int(market.clock() * 1000),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [symbol_info(listing) for listing in listings],
        }
    )


async def klines(request: Request) -> Response:
    market = _market(request)
    listing = market.listing(request.query_params.get("symbol"))
    interval = request.query_params.get("interval", "")
    if interval not in prices.INTERVALS:
        raise BinanceError(400, -1120, "Invalid interval.")
    rows = prices.candles(
        listing.walk,
        interval,
        market.clock(),
        limit=_int_param(request, "limit", 500, 1, 1000) or 500,
        start_ms=_int_param(request, "startTime", None, 0, 2**62),
        end_ms=_int_param(request, "endTime", None, 0, 2**62),
        volume_per_second=listing.volume_per_second,
    )
    p = listing.fmt_price

    def q(value: float) -> str:
        return f"{value:.8f}"

    return JSONResponse(
        [
            [
                c.open_time,
                p(c.open),
                p(c.high),
                p(c.low),
                p(c.close),
                q(c.volume),
                c.close_time,
                q(c.volume * c.close),
                c.trades,
                q(c.volume / 2),
                q(c.volume * c.close / 2),
                "0",
            ]
            for c in rows
        ]
    )


def _book_qty(listing: Listing, side: str, level: int, now: float) -> float:
    u = prices.uniform(listing.walk.seed, listing.pair, "book", side, level, math.floor(now))
    return (0.2 + u) * BOOK_DEPTH_QUOTE / listing.walk.start_price


def _ticker_24h(listing: Listing, now: float, mini: bool) -> dict[str, Any]:
    # The rolling day from hourly candles, so its high/low only move when an hour rolls over.
    day_start = math.floor(now) - 86400
    hours = prices.candles(listing.walk, "1h", now, limit=25, start_ms=day_start * 1000, volume_per_second=listing.volume_per_second)
    open_ = listing.walk.price(day_start)
    high = max([open_, *(c.high for c in hours)])
    low = min([open_, *(c.low for c in hours)])
    volume = sum(c.volume for c in hours)
    count = sum(c.trades for c in hours)
    bid, ask, last = top_of_book(listing, now)
    p = listing.fmt_price
    first_id = int(prices.uniform(listing.walk.seed, listing.pair, "ids") * 1e9)
    row: dict[str, Any] = {
        "symbol": listing.symbol,
        "openPrice": p(open_),
        "highPrice": p(high),
        "lowPrice": p(low),
        "lastPrice": p(last),
        "volume": f"{volume:.8f}",
        "quoteVolume": f"{volume * last:.8f}",
        "openTime": day_start * 1000,
        "closeTime": int(now * 1000),
        "firstId": first_id,
        "lastId": first_id + count,
        "count": count,
    }
    if not mini:
        row.update(
            {
                "priceChange": p(last - open_),
                "priceChangePercent": f"{(last / open_ - 1) * 100:.3f}",
                "weightedAvgPrice": p((open_ + last + high + low) / 4),
                "prevClosePrice": p(open_),
                "lastQty": listing.fmt_qty(_book_qty(listing, "last", 0, now)),
                "bidPrice": p(bid),
                "bidQty": listing.fmt_qty(_book_qty(listing, "bids", 0, now)),
                "askPrice": p(ask),
                "askQty": listing.fmt_qty(_book_qty(listing, "asks", 0, now)),
            }
        )
    return row


def _one_or_list(rows: list[dict[str, Any]], single: bool) -> Response:
    return JSONResponse(rows[0] if single else rows)


async def ticker_24hr(request: Request) -> Response:
    market = _market(request)
    listings, single = market.selected(request)
    now = market.clock()
    mini = request.query_params.get("type", "FULL").upper() == "MINI"
    return _one_or_list([_ticker_24h(listing, now, mini) for listing in listings], single)


async def ticker_book(request: Request) -> Response:
    market = _market(request)
    listings, single = market.selected(request)
    now = market.clock()
    rows = []
    for listing in listings:
        bid, ask, _ = top_of_book(listing, now)
        rows.append(
            {
                "symbol": listing.symbol,
                "bidPrice": listing.fmt_price(bid),
                "bidQty": listing.fmt_qty(_book_qty(listing, "bids", 0, now)),
                "askPrice": listing.fmt_price(ask),
                "askQty": listing.fmt_qty(_book_qty(listing, "asks", 0, now)),
            }
        )
    return _one_or_list(rows, single)


async def ticker_price(request: Request) -> Response:
    market = _market(request)
    listings, single = market.selected(request)
    now = market.clock()
    rows = [{"symbol": listing.symbol, "price": listing.fmt_price(listing.walk.price(now))} for listing in listings]
    return _one_or_list(rows, single)


async def avg_price(request: Request) -> Response:
    market = _market(request)
    listing = market.listing(request.query_params.get("symbol"))
    now = market.clock()
    return JSONResponse({"mins": 5, "price": listing.fmt_price(listing.walk.price(now)), "closeTime": int(now * 1000)})


async def depth(request: Request) -> Response:
    market = _market(request)
    listing = market.listing(request.query_params.get("symbol"))
    limit = _int_param(request, "limit", 100, 1, BOOK_MAX) or 100
    now = market.clock()
    bid, ask, last = top_of_book(listing, now)
    gap = max(listing.tick, last * 0.00005)
    bids, asks = [], []
    for i in range(limit):
        bids.append([listing.fmt_price(bid - i * gap), listing.fmt_qty(_book_qty(listing, "bids", i, now))])
        asks.append([listing.fmt_price(ask + i * gap), listing.fmt_qty(_book_qty(listing, "asks", i, now))])
    return JSONResponse({"lastUpdateId": int(now * 1000), "bids": bids, "asks": asks})


# --- signed endpoints (Binance's USER_DATA / TRADE) ----------------------------------------------


SignedCall = Callable[[Book, Account, dict[str, str]], Any]


def _signed(call: SignedCall) -> Callable[[Request], Awaitable[Response]]:
    """A route that authenticates (``accounts``) and answers what ``call(book, account, params)`` returns."""

    async def endpoint(request: Request) -> Response:
        book: Book = request.app.state.book
        body = (await request.body()).decode("utf-8", "replace")
        account, params = book.accounts.authenticate(request.headers.get("X-MBX-APIKEY"), request.url.query, body)
        return JSONResponse(call(book, account, params))

    return endpoint


async def margin_pairs(request: Request) -> Response:
    """``GET /sapi/v1/margin/allPairs`` and ``…/margin/isolated/allPairs`` (signed): none, a paper account trades
    spot only (ccxt's load_markets asks both when keys are set)."""
    book: Book = request.app.state.book
    body = (await request.body()).decode("utf-8", "replace")
    book.accounts.authenticate(request.headers.get("X-MBX-APIKEY"), request.url.query, body)
    return JSONResponse([])


async def coins(request: Request) -> Response:
    """``GET /sapi/v1/capital/config/getall`` (signed): the listed assets, so ccxt's fetchCurrencies has its answer."""
    book: Book = request.app.state.book
    body = (await request.body()).decode("utf-8", "replace")
    account, _ = book.accounts.authenticate(request.headers.get("X-MBX-APIKEY"), request.url.query, body)
    assets = sorted({a for listing in book.listings.values() for a in (listing.base, listing.quote)})
    free = {row["asset"]: row for row in account.balances()}
    return JSONResponse([{"coin": a, "name": a, "depositAllEnable": False, "withdrawAllEnable": False, "trading": True,
                          "free": free.get(a, {}).get("free", "0"), "locked": free.get(a, {}).get("locked", "0"),
                          "networkList": []} for a in assets])


async def unknown(request: Request) -> Response:
    """Anything else: logged as unknown, answered like Binance answers a wrong path."""
    switchboard(request).unknown[f"{request.method} {request.url.path}"] += 1
    return JSONResponse({"code": -1, "msg": f"fleetops market does not serve {request.method} {request.url.path}"}, 404)


# --- the app ------------------------------------------------------------------------------------


async def _binance_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BinanceError)
    return JSONResponse({"code": exc.code, "msg": exc.msg}, exc.status)


def create_app(
    seed: int,
    pairs: Iterable[str] | None = None,
    *,
    start: float | None = None,
    volatility: float = 0.002,
    clock: Callable[[], float] = time.time,
    accounts: Accounts | None = None,
) -> Starlette:
    """The market app for ``pairs`` (ccxt form, "BTC/USDT"; a default set if None).

    ``start`` is the anchor of every price path (epoch seconds; default: now, floored to the
    minute, so each run sees the same path relative to its own start). ``volatility`` is the
    standard deviation of the price change over one minute (0.002 = 0.2 %), high enough that a
    scalping strategy sees its ROI targets hit within minutes. ``clock`` lets tests freeze time.
    ``accounts`` are the signed endpoints' keys and balances (default: ``DEFAULT_KEY`` /
    ``DEFAULT_SECRET`` holding ``DEFAULT_BALANCES``, see ``engine.paper.accounts``).
    """
    anchor = math.floor(clock() / 60) * 60 if start is None else math.floor(start)
    sigma = volatility / math.sqrt(60)
    listings: dict[str, Listing] = {}
    for pair in pairs if pairs is not None else DEFAULT_PAIRS:
        listing = make_listing(pair, seed=seed, anchor=anchor, sigma=sigma)
        listings[listing.symbol] = listing
    v3 = "/api/v3"
    routes = [
        Route(f"{v3}/ping", ping),
        Route(f"{v3}/time", server_time),
        Route(f"{v3}/exchangeInfo", exchange_info),
        Route(f"{v3}/klines", klines),
        Route(f"{v3}/uiKlines", klines),
        Route(f"{v3}/ticker/24hr", ticker_24hr),
        Route(f"{v3}/ticker/bookTicker", ticker_book),
        Route(f"{v3}/ticker/price", ticker_price),
        Route(f"{v3}/avgPrice", avg_price),
        Route(f"{v3}/depth", depth),
        Route(f"{v3}/account", _signed(Book.account_info)),
        Route(f"{v3}/order", _signed(Book.query_order), methods=["GET"]),
        Route(f"{v3}/order", _signed(Book.new_order), methods=["POST"]),
        Route(f"{v3}/order", _signed(Book.cancel_order), methods=["DELETE"]),
        Route(f"{v3}/openOrders", _signed(Book.open_orders)),
        Route(f"{v3}/allOrders", _signed(Book.all_orders)),
        Route(f"{v3}/myTrades", _signed(Book.my_trades)),
        Route("/sapi/v1/capital/config/getall", coins),
        Route("/sapi/v1/margin/allPairs", margin_pairs),
        Route("/sapi/v1/margin/isolated/allPairs", margin_pairs),
        *control.ROUTES,
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(control.Recorder)],
        exception_handlers={BinanceError: _binance_error},
    )
    app.state.market = Market(listings=listings, clock=clock)
    app.state.book = Book(listings=listings, clock=clock, accounts=accounts if accounts is not None else default_accounts())
    info = {"seed": seed, "anchor": anchor, "pairs": [listing.pair for listing in listings.values()]}
    app.state.switchboard = control.Switchboard(clock=clock, info=info, book=app.state.book)
    return app
