"""Heartbeat: enters on every candle and leaves after HOLD seconds — trades you can watch, not a trading idea.

For the demo and smoke tests: within a minute of an apply its bots show open and closed trades
and a P/L. Its limit orders cross the spread (custom prices), so a dry-run order fills at once
against the exchange's order book whatever price side the bot uses.
"""
from datetime import datetime

from pandas import DataFrame

from freqtrade.strategy import IStrategy


class Heartbeat(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "1m"
    can_short = False
    process_only_new_candles = False
    startup_candle_count = 0
    minimal_roi = {"0": 0.05}
    stoploss = -0.05

    HOLD = 30

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def custom_entry_price(self, pair, trade, current_time, proposed_rate, entry_tag, side, **kwargs) -> float:
        return proposed_rate * 1.001

    def custom_exit_price(self, pair, trade, current_time, proposed_rate, current_profit, exit_tag, **kwargs) -> float:
        return proposed_rate * 0.999

    def custom_exit(self, pair: str, trade, current_time: datetime, current_rate: float, current_profit: float, **kwargs):
        if (current_time - trade.open_date_utc).total_seconds() >= self.HOLD:
            return "held"
        return None
