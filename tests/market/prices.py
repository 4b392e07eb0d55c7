"""The seeded random walk of the local market: ``engine.market.walk`` (moved there so ``plan --backtest`` shares it)."""

from engine.market.walk import BLOCK, INTERVALS, LEVELS, Candle, Walk, candle, candle_start, candles, uniform

__all__ = ["BLOCK", "INTERVALS", "LEVELS", "Candle", "Walk", "candle", "candle_start", "candles", "uniform"]
