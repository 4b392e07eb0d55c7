"""The local market's prices and listings: a seeded random walk per pair, pure and stdlib-only.

``walk`` computes any candle of any pair from ``(seed, pair, anchor, time)`` alone; ``listing``
gives a pair its start price, tick and step and Binance's ``exchangeInfo`` entry for it. The local
exchange (``engine.paper``, ``fleetops paper-exchange``) serves them over HTTP; ``engine.backtest``
writes them as FreqTrade candle files, so a backtest's synthetic market is the same one.
"""
