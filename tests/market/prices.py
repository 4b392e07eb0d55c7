"""A seeded random walk per symbol: any candle of any timeframe, computed on demand.

The walk is in one-second steps from ``origin`` (a fixed instant chosen by the caller), driven by
a hash of (seed, symbol, second), so the price at any instant is the same for every caller and
every run with the same seed and origin. Candles aggregate the seconds they span, so they are
consistent across timeframes, and the current candle forms as time passes.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field

__all__ = ["TIMEFRAME_SECONDS", "Candle", "Walk"]

TIMEFRAME_SECONDS = {"1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "4h": 14400,
                     "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800}


@dataclass(frozen=True)
class Candle:
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass
class Walk:
    """Prices of one symbol: ``start`` at ``origin``, moving ``volatility`` (log) per minute."""

    seed: int
    symbol: str
    origin: int
    start: float
    volatility: float = 0.002
    _minutes: list[float] = field(default_factory=list)
    """Log price at each whole minute after origin, extended on demand."""

    def _step(self, second: int) -> float:
        digest = hashlib.blake2b(f"{self.seed}/{self.symbol}/{second}".encode(), digest_size=8).digest()
        uniform = (struct.unpack("<Q", digest)[0] + 0.5) / 2**64
        return (uniform - 0.5) * math.sqrt(12 / 60) * self.volatility  # unit variance per minute, scaled

    def _log_price_at_minute(self, minute: int) -> float:
        if not self._minutes:
            self._minutes.append(math.log(self.start))
        while len(self._minutes) <= minute:
            m = len(self._minutes) - 1
            base = self.origin + m * 60
            self._minutes.append(self._minutes[-1] + sum(self._step(base + s) for s in range(60)))
        return self._minutes[minute]

    def price(self, at: int) -> float:
        """The price at unix second ``at`` (before the origin: the origin's price)."""
        offset = max(0, at - self.origin)
        minute, seconds = divmod(offset, 60)
        base = self.origin + minute * 60
        return math.exp(self._log_price_at_minute(minute) + sum(self._step(base + s) for s in range(seconds)))

    def candle(self, open_time: int, seconds: int, now: int) -> Candle:
        """The candle opening at ``open_time`` spanning ``seconds`` (up to ``now`` when still forming).

        Candles of a minute or less walk every second; longer ones take the whole minutes they
        span (the walk's minute closes) plus the seconds of a forming last minute.
        """
        end = max(open_time + 1, min(open_time + seconds, now + 1))
        if seconds <= 60:
            log = math.log(self.price(open_time))
            points = [log]
            for second in range(open_time + 1, end):
                log += self._step(second - 1)
                points.append(log)
            prices = [math.exp(p) for p in points]
        else:
            first = max(0, (open_time - self.origin) // 60)
            last = max(0, (end - 1 - self.origin) // 60)
            prices = [math.exp(self._log_price_at_minute(m)) for m in range(first, last + 1)]
            prices.append(self.price(end - 1))
        points = prices
        close = prices[-1]
        volume = 10 + (int(hashlib.blake2b(f"v/{self.symbol}/{open_time}".encode(), digest_size=2).hexdigest(), 16) % 1000) / 10
        return Candle(open_time, points[0], max(points), min(points), close, volume)
