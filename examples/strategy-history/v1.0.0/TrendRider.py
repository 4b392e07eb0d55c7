"""TrendRider: rides established trends (ADX strong, price above its 50 EMA, +DI over -DI).

v1.0.0: the first version: ADX above 25 and price above the 50 EMA; exit when -DI leads.
"""
from pandas import DataFrame

import talib.abstract as ta
from freqtrade.strategy import IStrategy


class TrendRider(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "1h"
    can_short = False
    minimal_roi = {"0": 0.08, "240": 0.04, "720": 0.02}
    stoploss = -0.12
    startup_candle_count = 100

    adx_entry = 25

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["adx"] = ta.ADX(dataframe, timeperiod=14)
        dataframe["plus_di"] = ta.PLUS_DI(dataframe, timeperiod=14)
        dataframe["minus_di"] = ta.MINUS_DI(dataframe, timeperiod=14)
        dataframe["ema50"] = ta.EMA(dataframe, timeperiod=50)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            (dataframe["adx"] > self.adx_entry)
            & (dataframe["plus_di"] > dataframe["minus_di"])
            & (dataframe["close"] > dataframe["ema50"])
            & (dataframe["volume"] > 0),
            "enter_long",
        ] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            dataframe["minus_di"] > dataframe["plus_di"],
            "exit_long",
        ] = 1
        return dataframe
