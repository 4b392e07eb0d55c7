"""What the local exchange lists: one ``Listing`` per pair, and Binance's JSON shapes for it.

Why a module of its own: ccxt parses Binance's ``exchangeInfo`` into the market limits and
precisions FreqTrade sizes orders with, and the server formats every price with the same tick
size it advertises there — both must come from one place or dry-run orders get rejected or
rounded oddly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.market.walk import Walk, uniform

DEFAULT_PAIRS: tuple[str, ...] = (
    "BTC/USDT",
    "ETH/USDT",
    "BNB/USDT",
    "SOL/USDT",
    "XRP/USDT",
    "ADA/USDT",
    "DOGE/USDT",
    "LTC/USDT",
    "ETH/BTC",
)

# Rough prices in USD so charts look familiar; an unknown asset gets a seeded price instead.
_USD: dict[str, float] = {
    "BTC": 60000.0,
    "ETH": 3000.0,
    "BNB": 600.0,
    "SOL": 150.0,
    "XRP": 0.6,
    "ADA": 0.45,
    "DOGE": 0.15,
    "LTC": 80.0,
    "LINK": 15.0,
    "AVAX": 30.0,
    "DOT": 6.0,
    "EUR": 1.08,
    "USDT": 1.0,
    "USDC": 1.0,
    "FDUSD": 1.0,
}
QUOTE_VOLUME_PER_SECOND = 500.0  # in quote-asset units: ~43 million a day
MIN_NOTIONAL = 5.0


@dataclass(frozen=True)
class Listing:
    """One spot pair: its Binance symbol, its price path and its trading rules."""

    pair: str  # ccxt/FreqTrade form, "BTC/USDT"
    symbol: str  # Binance form, "BTCUSDT"
    base: str
    quote: str
    walk: Walk
    tick: float  # price step
    step: float  # quantity step

    @property
    def volume_per_second(self) -> float:
        """Base-asset volume per second, sized so every pair trades a similar quote value."""
        return QUOTE_VOLUME_PER_SECOND / self.walk.start_price

    def fmt_price(self, value: float) -> str:
        """A price on this pair's tick grid, as Binance writes it (a decimal string)."""
        return _fmt(round(value / self.tick) * self.tick)

    def fmt_qty(self, value: float) -> str:
        """A quantity on this pair's step grid, never below one step."""
        return _fmt(max(1, round(value / self.step)) * self.step)


def _fmt(value: float) -> str:
    return f"{value:.8f}"


def _seeded_price(seed: int, asset: str) -> float:
    # Deterministic but arbitrary: between 0.1 and 1000.
    return 10 ** (uniform(seed, "price", asset) * 4 - 1)


def make_listing(pair: str, *, seed: int, anchor: int, sigma: float) -> Listing:
    """Build the listing for ``pair`` ("BASE/QUOTE"); raises ValueError on another form."""
    base, sep, quote = pair.partition("/")
    if not sep or not base or not quote or not (base + quote).isalnum():
        raise ValueError(f"not a spot pair: {pair!r} (want BASE/QUOTE)")
    base, quote = base.upper(), quote.upper()
    start = _USD.get(base, _seeded_price(seed, base)) / _USD.get(quote, _seeded_price(seed, quote))
    magnitude = math.floor(math.log10(start))
    tick = 10.0 ** max(magnitude - 6, -8)
    step = 10.0 ** min(max(-magnitude - 2, -8), 0)
    walk = Walk(seed=seed, pair=f"{base}/{quote}", anchor=anchor, start_price=start, sigma=sigma)
    return Listing(pair=f"{base}/{quote}", symbol=base + quote, base=base, quote=quote, walk=walk, tick=tick, step=step)


def symbol_info(listing: Listing) -> dict[str, object]:
    """One entry of ``exchangeInfo.symbols``, with the fields ccxt's ``parse_market`` reads."""
    return {
        "symbol": listing.symbol,
        "status": "TRADING",
        "baseAsset": listing.base,
        "baseAssetPrecision": 8,
        "quoteAsset": listing.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _fmt(listing.tick), "maxPrice": "1000000.00000000", "tickSize": _fmt(listing.tick)},
            {"filterType": "LOT_SIZE", "minQty": _fmt(listing.step), "maxQty": "9000000.00000000", "stepSize": _fmt(listing.step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "9000000.00000000", "stepSize": "0.00000000"},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2", "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": _fmt(MIN_NOTIONAL), "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }
