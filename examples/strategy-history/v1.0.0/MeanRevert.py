"""MeanRevert: buys stretched dips below the lower Bollinger band, sells the return to the mean.

v1.0.0: the first version: buy below the lower band, sell above the upper one.
"""
from pandas import DataFrame

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from technical import qtpylib


class MeanRevert(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "15m"
    can_short = False
    minimal_roi = {"0": 0.03, "60": 0.015}
    stoploss = -0.06
    startup_candle_count = 40

    rsi_entry = 30

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        bands = qtpylib.bollinger_bands(qtpylib.typical_price(dataframe), window=20, stds=2)
        dataframe["bb_lower"] = bands["lower"]
        dataframe["bb_middle"] = bands["mid"]
        dataframe["bb_upper"] = bands["upper"]
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            (dataframe["close"] < dataframe["bb_lower"]) & (dataframe["volume"] > 0),
            "enter_long",
        ] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["close"] > dataframe["bb_upper"], "exit_long"] = 1
        return dataframe
