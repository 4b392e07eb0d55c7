"""BalancedStrat: EMA crossover confirmed by RSI, for liquid majors on 5m-15m candles.

v1.0.0: the first version: enter on the cross with RSI below 70, exit on the reverse cross.
"""
from pandas import DataFrame

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from technical import qtpylib


class BalancedStrat(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.04, "30": 0.02, "120": 0.01}
    stoploss = -0.10
    startup_candle_count = 60

    ema_fast = 12
    ema_slow = 26
    rsi_entry_max = 70

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_fast"] = ta.EMA(dataframe, timeperiod=self.ema_fast)
        dataframe["ema_slow"] = ta.EMA(dataframe, timeperiod=self.ema_slow)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            qtpylib.crossed_above(dataframe["ema_fast"], dataframe["ema_slow"])
            & (dataframe["rsi"] < self.rsi_entry_max),
            "enter_long",
        ] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            qtpylib.crossed_below(dataframe["ema_fast"], dataframe["ema_slow"]),
            "exit_long",
        ] = 1
        return dataframe
