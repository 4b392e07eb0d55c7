"""Raises at import: the bot's process dies before its API answers."""
from freqtrade.strategy import IStrategy

raise RuntimeError("broken at import")


class Broken(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
