"""What the local exchange lists: ``engine.market.listing`` (moved there so ``plan --backtest`` shares it)."""

from engine.market.listing import DEFAULT_PAIRS, MIN_NOTIONAL, QUOTE_VOLUME_PER_SECOND, Listing, make_listing, symbol_info

__all__ = ["DEFAULT_PAIRS", "MIN_NOTIONAL", "QUOTE_VOLUME_PER_SECOND", "Listing", "make_listing", "symbol_info"]
