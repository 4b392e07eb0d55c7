"""``plan --backtest`` (issue 20, items 3 and 4): each moved pin's old and new version backtested side by side.

``gate`` picks the bots and builds the section of the plan; ``candles`` makes or reads the fixed
market data and hashes it; ``runs`` is what FreqTrade is given, who runs it and the cache; the
worker is ``engine/container/ftbacktest.py``; the section's values and formats are
``engine.plan.backtest``'s.
"""

from engine.backtest.gate import DEFAULT_DAYS, BacktestSettings, StrategyVersion, require_days, running_versions, versions_of, with_backtests

__all__ = ["DEFAULT_DAYS", "BacktestSettings", "StrategyVersion", "require_days", "running_versions", "versions_of", "with_backtests"]
