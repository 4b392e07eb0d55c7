"""A seeded random walk that prices the local exchange, computed on demand, never stored.

Why this shape: FreqTrade asks for up to 1000 candles of any timeframe, tickers and order books
at arbitrary moments, across restarts of both the bot and the market. If prices were simulated
step by step and kept in memory, a restarted market would show a different history and a
candle request for last week would have to replay the whole week. Instead every number is a
pure function of ``(seed, pair, anchor, time)``:

* The log-price is a Brownian motion sampled at whole seconds. Its value at block boundaries
  (``BLOCK`` seconds apart, counted from the anchor) is a short sum of seeded Gaussian steps;
  inside a block it is filled in by dyadic Brownian-bridge refinement, so any second costs
  ``LEVELS`` hashes whatever the distance from the anchor. The same second always has the same
  price, so a 1h candle opens and closes exactly where its first and last 1m candles do.
* A candle's high/low is drawn from the exact distribution of a Brownian bridge's maximum and
  minimum between its open and close (one uniform each), so it never needs the ticks inside it
  and always satisfies ``low <= min(open, close) <= max(open, close) <= high``. Highs and lows
  of different timeframes are therefore not nested into each other (FreqTrade doesn't care).
* Candles line up with Binance's boundaries: multiples of the interval since the epoch, weeks
  from Monday. The candle containing "now" is cut at now and grows as time passes.

Randomness comes from BLAKE2b of the coordinates (a counter-based generator), so there is no
generator state to share between threads or requests.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from functools import lru_cache

LEVELS = 20
BLOCK = 1 << LEVELS  # seconds between directly summed points (~12 days)

# Binance's kline intervals in seconds ("1M" has no fixed length and is not served).
INTERVALS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}
# The epoch was a Thursday; Binance's weekly candles open on Monday 00:00 UTC.
_WEEK_OFFSET = 4 * 86400


def _uniforms(*key: object) -> tuple[float, float]:
    """Two independent uniforms in (0, 1] from a hash of ``key`` (counter-based randomness)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
    a, b = struct.unpack("<QQ", digest)
    return (a + 1) / 2.0**64, (b + 1) / 2.0**64


@lru_cache(maxsize=1 << 16)
def _normal(*key: object) -> float:
    """A standard normal variate for ``key`` (Box–Muller on two hashed uniforms)."""
    u, v = _uniforms(*key)
    return math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * v)


@dataclass(frozen=True)
class Walk:
    """The price path of one pair: everything a price depends on, and nothing else.

    ``anchor`` is the second at which the price equals ``start_price``; ``sigma`` is the
    standard deviation of the log-price change per second.
    """

    seed: int
    pair: str
    anchor: int
    start_price: float
    sigma: float

    def log_price(self, t: int) -> float:
        """Log-price at whole second ``t`` (epoch seconds)."""
        j, r = divmod(t - self.anchor, BLOCK)
        left = _block_value(self, j)
        if r == 0:
            return left
        right = _block_value(self, j + 1)
        lo, hi = 0, BLOCK
        while True:
            mid = (lo + hi) // 2
            value = (left + right) / 2 + self.sigma * math.sqrt(hi - lo) / 2 * _normal(self.seed, self.pair, "b", j, mid)
            if r == mid:
                return value
            if r < mid:
                hi, right = mid, value
            else:
                lo, left = mid, value

    def price(self, t: float) -> float:
        """Price at time ``t`` (epoch seconds; the path steps once per whole second)."""
        return math.exp(self.log_price(math.floor(t)))


@lru_cache(maxsize=4096)
def _block_value(walk: Walk, j: int) -> float:
    """Log-price at ``anchor + j * BLOCK``: a plain random walk over blocks, summed from the anchor."""
    step = walk.sigma * math.sqrt(BLOCK)
    value = math.log(walk.start_price)
    if j >= 0:
        for k in range(j):
            value += step * _normal(walk.seed, walk.pair, "B", k)
    else:
        for k in range(-1, j - 1, -1):
            value -= step * _normal(walk.seed, walk.pair, "B", k)
    return value


@dataclass(frozen=True)
class Candle:
    """One kline. ``close_time`` is Binance's: the last millisecond inside the candle."""

    open_time: int  # ms
    close_time: int  # ms
    open: float
    high: float
    low: float
    close: float
    volume: float  # base asset
    trades: int


def candle_start(t: float, interval: str) -> int:
    """Open time (epoch seconds) of the ``interval`` candle that contains second ``t``."""
    size = INTERVALS[interval]
    offset = _WEEK_OFFSET if interval == "1w" else 0
    return (math.floor(t) - offset) // size * size + offset


def candle(walk: Walk, interval: str, start: int, now: float, volume_per_second: float) -> Candle:
    """The candle opening at second ``start``; if it contains ``now`` it is cut at ``now``."""
    size = INTERVALS[interval]
    end = min(start + size, math.floor(now))
    elapsed = max(end - start, 0)
    x0, x1 = walk.log_price(start), walk.log_price(end)
    u_high, u_low = _uniforms(walk.seed, walk.pair, "hl", interval, start)
    spread2 = 2.0 * walk.sigma**2 * elapsed
    high = (x0 + x1 + math.sqrt((x1 - x0) ** 2 - spread2 * math.log(u_high))) / 2
    low = (x0 + x1 - math.sqrt((x1 - x0) ** 2 - spread2 * math.log(u_low))) / 2
    u_vol, _ = _uniforms(walk.seed, walk.pair, "v", interval, start)
    volume = volume_per_second * elapsed * (0.5 + u_vol)
    return Candle(
        open_time=start * 1000,
        close_time=(start + size) * 1000 - 1,
        open=math.exp(x0),
        high=math.exp(high),
        low=math.exp(low),
        close=math.exp(x1),
        volume=volume,
        trades=int(elapsed * (1 + 4 * u_vol)),
    )


def candles(
    walk: Walk,
    interval: str,
    now: float,
    *,
    limit: int = 500,
    start_ms: int | None = None,
    end_ms: int | None = None,
    volume_per_second: float = 1.0,
) -> list[Candle]:
    """Binance's klines selection: up to ``limit`` candles, oldest first, none after ``now``.

    With ``start_ms`` the first candle is the one opening at or after it; with only ``end_ms``
    (or neither) the last candle is the one open at ``end_ms`` (or now).
    """
    size = INTERVALS[interval]
    current = candle_start(now, interval)
    last = current if end_ms is None else min(current, candle_start(end_ms / 1000, interval))
    if start_ms is not None:
        first = candle_start(start_ms / 1000, interval)
        if first * 1000 < start_ms:
            first += size
        last = min(last, first + (limit - 1) * size)
    else:
        first = last - (limit - 1) * size
    return [candle(walk, interval, s, now, volume_per_second) for s in range(first, last + 1, size)]


def uniform(*key: object) -> float:
    """A uniform in (0, 1] for ``key``: for the other seeded details (book sizes, trade ids)."""
    return _uniforms(*key)[0]
