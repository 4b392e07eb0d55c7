"""The paper exchange's order book: Binance spot's MARKET and LIMIT orders filled from the seeded walk.

Called by the app's signed endpoints (``engine.paper.app``), which hand over the verified account
and parameters and send back what these methods return (Binance's JSON shapes). Why fills come
from the walk and not from other orders: there is only one trader per account and no one to trade
against, so the walk is the market. A fill is therefore a pure function of the seed, the orders
and the market times they were placed at — same seed, same orders, same fills:

* MARKET orders (and LIMIT orders priced through the book) fill at once, whole, at the top of the
  book at the market clock's second: a buy at the ask, a sell at the bid (``top_of_book``).
* Resting LIMIT orders fill, whole, at their price at the first whole second after they were
  placed at which the book reaches them (a buy once the ask is at or below its price, a sell once
  the bid is at or above it). Each request sweeps every open order up to now, second by second, so
  when the sweep runs does not change the outcome; the fill is stamped with that second.
* The fee is Binance's default 0.1 %, taken from what is received (the base asset on a buy, the
  quote asset on a sell), as each fill's ``commission``/``commissionAsset`` say.
* timeInForce: GTC rests; IOC and FOK fill at once if the book allows, else end EXPIRED (there are
  no partial fills, so IOC and FOK behave alike). Orders never end PARTIALLY_FILLED.

Validation follows the listing's filters (``engine.market.listing.symbol_info``): PRICE_FILTER,
LOT_SIZE and NOTIONAL failures are -1013 "Filter failure: …", as Binance answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from engine.market.listing import MIN_NOTIONAL, Listing
from engine.paper.accounts import Account, Accounts, fmt
from engine.paper.errors import BinanceError

__all__ = ["FEE", "Book", "Order", "listed", "top_of_book"]

FEE = Decimal("0.001")  # Binance spot's default taker and maker fee, 0.1 %
MAX_SWEEP_SECONDS = 7 * 86400  # an order left alone longer is checked over its last week only
ZERO = Decimal(0)


def top_of_book(listing: Listing, now: float) -> tuple[float, float, float]:
    """(bid, ask, last) at ``now``: a spread of one tick or 0.01 %, whichever is wider, around the walk."""
    last = listing.walk.price(now)
    half = max(listing.tick, last * 0.0001) / 2
    bid = math.floor((last - half) / listing.tick) * listing.tick
    ask = math.ceil((last + half) / listing.tick) * listing.tick
    return bid, ask, last


def _dec(value: float, grid: float) -> Decimal:
    """A float price on a listing's grid as an exact decimal."""
    return Decimal(f"{value:.8f}").quantize(Decimal(f"{grid:.8f}").normalize() if grid < 1 else Decimal(1))


@dataclass
class Trade:
    """One fill: Binance's ``fills`` entry and ``myTrades`` row come from it."""

    id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    maker: bool


@dataclass
class Order:
    """One order of one account, as Binance tracks it."""

    id: int
    client_id: str
    account: str  # the API key
    listing: Listing
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    tif: str  # GTC | IOC | FOK ("" for MARKET)
    qty: Decimal
    price: Decimal  # ZERO for MARKET
    time_ms: int
    status: str = "NEW"
    update_ms: int = 0
    locked: Decimal = ZERO  # what the order holds locked (quote on a buy, base on a sell)
    checked: int = 0  # the last whole second the sweep looked at
    trades: list[Trade] = field(default_factory=list)

    @property
    def executed(self) -> Decimal:
        return sum((t.qty for t in self.trades), ZERO)

    @property
    def quote_spent(self) -> Decimal:
        return sum((t.qty * t.price for t in self.trades), ZERO)

    def row(self) -> dict[str, Any]:
        """The order as ``GET /api/v3/order`` shows it."""
        return {
            "symbol": self.listing.symbol, "orderId": self.id, "orderListId": -1, "clientOrderId": self.client_id,
            "price": fmt(self.price), "origQty": fmt(self.qty), "executedQty": fmt(self.executed),
            "cummulativeQuoteQty": fmt(self.quote_spent), "status": self.status, "timeInForce": self.tif or "GTC",
            "type": self.type, "side": self.side, "stopPrice": fmt(ZERO), "icebergQty": fmt(ZERO), "time": self.time_ms,
            "updateTime": self.update_ms, "isWorking": True, "workingTime": self.time_ms, "origQuoteOrderQty": fmt(ZERO),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def fills(self) -> list[dict[str, Any]]:
        return [{"price": fmt(t.price), "qty": fmt(t.qty), "commission": fmt(t.commission), "commissionAsset": t.commission_asset,
                 "tradeId": t.id} for t in self.trades]


def listed(listings: dict[str, Listing], symbol: str | None) -> Listing:
    """The listing of a Binance ``symbol`` parameter (any case). Raises BinanceError as Binance
    answers: -1102 when it is missing, -1121 when nothing is listed under it."""
    if not symbol:
        raise BinanceError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    found = listings.get(symbol.upper())
    if found is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return found


@dataclass
class Book:
    """Every account's orders on every listing, and the counters that number orders and trades."""

    listings: dict[str, Listing]
    clock: Callable[[], float]
    accounts: Accounts
    orders: list[Order] = field(default_factory=list)
    next_order: int = 1
    next_trade: int = 1

    # --- requests ---------------------------------------------------------------------------

    def account_info(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        """``GET /api/v3/account``."""
        self.sweep()
        omit = params.get("omitZeroBalances", "false").lower() == "true"
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False, "requireSelfTradePrevention": False,
            "preventSor": False, "updateTime": account.update_ms, "accountType": "SPOT", "balances": account.balances(omit),
            "permissions": ["SPOT"], "uid": 1,
        }

    def new_order(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order``: validate, lock the balance, fill what the book allows now."""
        self.sweep()
        listing = self._listing(params.get("symbol"))
        side, kind = params.get("side", "").upper(), params.get("type", "").upper()
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        now = self.clock()
        bid, ask, _ = top_of_book(listing, now)
        touch = _dec(ask if side == "BUY" else bid, listing.tick)
        if kind == "LIMIT":
            tif = params.get("timeInForce", "").upper()
            if tif not in ("GTC", "IOC", "FOK"):
                raise BinanceError(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
            price = _number(params, "price")
            qty = _number(params, "quantity")
            _check_grid(price, listing.tick, "PRICE_FILTER")
        else:
            tif, price = "", ZERO
            if params.get("quoteOrderQty") and not params.get("quantity"):
                spend = _number(params, "quoteOrderQty")
                step = Decimal(f"{listing.step:.8f}")
                qty = (spend / touch / step).to_integral_value(ROUND_DOWN) * step
            else:
                qty = _number(params, "quantity")
        _check_grid(qty, listing.step, "LOT_SIZE")
        if (price or touch) * qty < Decimal(MIN_NOTIONAL):
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")
        client_id = params.get("newClientOrderId") or f"paper-{self.next_order}"
        if any(o.client_id == client_id and o.account == account.key and o.status == "NEW" for o in self.orders):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        now_ms = int(now * 1000)
        order = Order(id=self.next_order, client_id=client_id, account=account.key, listing=listing, side=side, type=kind, tif=tif,
                      qty=qty, price=price, time_ms=now_ms, update_ms=now_ms, checked=math.floor(now))
        need = qty * (price or touch) if side == "BUY" else qty
        account.lock(listing.quote if side == "BUY" else listing.base, need)  # raises -2010 before any id is used
        order.locked = need
        self.next_order += 1
        self.orders.append(order)
        marketable = kind == "MARKET" or (price >= touch if side == "BUY" else price <= touch)
        if marketable:
            self._fill(account, order, touch, now_ms, maker=False)
        elif tif in ("IOC", "FOK"):
            self._close(account, order, "EXPIRED", now_ms)
        account.update_ms = now_ms
        return self._response(order, params.get("newOrderRespType", "FULL").upper(), now_ms)

    def query_order(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        """``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId``; -2013 when unknown."""
        self.sweep()
        return self._find(account, params, -2013, "Order does not exist.").row()

    def cancel_order(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        """``DELETE /api/v3/order``: unlock what is left; -2011 when unknown or no longer open."""
        self.sweep()
        order = self._find(account, params, -2011, "Unknown order sent.")
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(400, -2011, "Unknown order sent.")
        now_ms = int(self.clock() * 1000)
        self._close(account, order, "CANCELED", now_ms)
        row = order.row()
        row.update({"origClientOrderId": order.client_id, "clientOrderId": params.get("newClientOrderId") or f"cancel-{order.id}",
                    "transactTime": now_ms})
        return row

    def open_orders(self, account: Account, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/openOrders`` (one symbol, or all)."""
        self.sweep()
        symbol = params.get("symbol")
        listing = self._listing(symbol) if symbol else None
        return [o.row() for o in self._mine(account, listing) if o.status in ("NEW", "PARTIALLY_FILLED")]

    def all_orders(self, account: Account, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/allOrders`` for one symbol: from ``orderId`` or within startTime/endTime, up to ``limit``."""
        self.sweep()
        listing = self._listing(params.get("symbol"))
        rows = [o for o in self._mine(account, listing) if _in_window(o.id, o.time_ms, params, "orderId")]
        return [o.row() for o in rows][: _limit(params)]

    def my_trades(self, account: Account, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/myTrades`` for one symbol: optionally one ``orderId``, from ``fromId`` or a time window."""
        self.sweep()
        listing = self._listing(params.get("symbol"))
        only = params.get("orderId")
        rows: list[dict[str, Any]] = []
        for order in self._mine(account, listing):
            if only and str(order.id) != only:
                continue
            for t in order.trades:
                if _in_window(t.id, t.time_ms, params, "fromId"):
                    rows.append({"symbol": listing.symbol, "id": t.id, "orderId": order.id, "orderListId": -1, "price": fmt(t.price),
                                 "qty": fmt(t.qty), "quoteQty": fmt(t.qty * t.price), "commission": fmt(t.commission),
                                 "commissionAsset": t.commission_asset, "time": t.time_ms, "isBuyer": order.side == "BUY",
                                 "isMaker": t.maker, "isBestMatch": True})
        rows.sort(key=lambda r: int(r["id"]))
        return rows[: _limit(params)]

    # --- matching ---------------------------------------------------------------------------

    def sweep(self) -> None:
        """Fill every resting LIMIT order the walk has reached since it was last looked at, up to now."""
        now = math.floor(self.clock())
        for order in self.orders:
            if order.status != "NEW":
                continue
            listing = order.listing
            for t in range(max(order.checked + 1, now - MAX_SWEEP_SECONDS), now + 1):
                bid, ask, _ = top_of_book(listing, t)
                if (order.side == "BUY" and _dec(ask, listing.tick) <= order.price) or (order.side == "SELL" and _dec(bid, listing.tick) >= order.price):
                    self._fill(self.accounts.by_key[order.account], order, order.price, t * 1000, maker=True)
                    break
            order.checked = now

    def _fill(self, account: Account, order: Order, price: Decimal, when_ms: int, *, maker: bool) -> None:
        listing, qty = order.listing, order.qty
        if order.side == "BUY":
            fee = qty * FEE
            trade = Trade(self.next_trade, price, qty, fee, listing.base, when_ms, maker)
            account.settle(listing.quote, order.locked, qty * price, listing.base, qty - fee)
        else:
            fee = qty * price * FEE
            trade = Trade(self.next_trade, price, qty, fee, listing.quote, when_ms, maker)
            account.settle(listing.base, order.locked, qty, listing.quote, qty * price - fee)
        self.next_trade += 1
        order.trades.append(trade)
        order.locked, order.status, order.update_ms = ZERO, "FILLED", when_ms
        account.update_ms = max(account.update_ms, when_ms)

    def _close(self, account: Account, order: Order, status: str, when_ms: int) -> None:
        account.unlock(order.listing.quote if order.side == "BUY" else order.listing.base, order.locked)
        order.locked, order.status, order.update_ms = ZERO, status, when_ms

    # --- helpers ----------------------------------------------------------------------------

    def _response(self, order: Order, kind: str, now_ms: int) -> dict[str, Any]:
        ack = {"symbol": order.listing.symbol, "orderId": order.id, "orderListId": -1, "clientOrderId": order.client_id, "transactTime": now_ms}
        if kind == "ACK":
            return ack
        row = order.row()
        result = {**ack, **{k: row[k] for k in ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
                                               "side", "workingTime", "selfTradePreventionMode")}, "origQuoteOrderQty": fmt(ZERO)}
        return {**result, "fills": order.fills()} if kind == "FULL" else result

    def _listing(self, symbol: str | None) -> Listing:
        return listed(self.listings, symbol)

    def _mine(self, account: Account, listing: Listing | None) -> list[Order]:
        return [o for o in self.orders if o.account == account.key and (listing is None or o.listing is listing)]

    def _find(self, account: Account, params: dict[str, str], code: int, msg: str) -> Order:
        listing = self._listing(params.get("symbol"))
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        if not order_id and not client_id:
            raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        for order in self._mine(account, listing):
            if (order_id and str(order.id) == order_id) or (not order_id and order.client_id == client_id):
                return order
        raise BinanceError(400, code, msg)


def _number(params: dict[str, str], name: str) -> Decimal:
    raw = params.get(name)
    if not raw:
        raise BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    try:
        value = Decimal(raw)
    except InvalidOperation as e:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from e
    if not value.is_finite() or value <= 0:
        raise BinanceError(400, -1013, f"Invalid {name}.")
    return value


def _check_grid(value: Decimal, grid: float, name: str) -> None:
    """A price or quantity must be at least one step and a whole number of steps (Binance's -1013)."""
    step = Decimal(f"{grid:.8f}")
    if value < step or value % step != 0:
        raise BinanceError(400, -1013, f"Filter failure: {name}")


def _in_window(ident: int, when_ms: int, params: dict[str, str], from_name: str) -> bool:
    try:
        if params.get(from_name) and ident < int(params[from_name]):
            return False
        if params.get("startTime") and when_ms < int(params["startTime"]):
            return False
        return not (params.get("endTime") and when_ms > int(params["endTime"]))
    except ValueError as e:
        raise BinanceError(400, -1100, "Illegal characters found in a parameter.") from e


def _limit(params: dict[str, str]) -> int:
    try:
        return min(max(int(params.get("limit") or 500), 1), 1000)
    except ValueError as e:
        raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'.") from e
