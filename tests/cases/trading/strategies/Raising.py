"""Raises on every candle in populate_indicators: FreqTrade catches it per pair and its loop goes on."""
from pandas import DataFrame

from freqtrade.strategy import IStrategy


class Raising(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    startup_candle_count = 0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        raise ZeroDivisionError("indicator math went wrong")

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe
