"""The fixed market data of a backtest: candles from the local market's seeded walk, or the user's own.

Called by ``engine.backtest.gate``. Synthetic candles are ``engine.market.walk``'s — the seeded
random walk the local paper exchange serves (seed ``SEED``, ``VOLATILITY`` per minute, listings
from ``engine.market.listing``) — anchored at a fixed instant (``START``), never at "now", so the
same pairs, timeframe and days give the same bytes on every machine and every day. They are
written in FreqTrade's ``json`` candle format (``<BASE>_<QUOTE>-<timeframe>.json``: a list of
``[open time ms, open, high, low, close, volume]``, what its ``JsonDataHandler`` reads). A user's
``--datadir`` is read as it is (FreqTrade's own file names; json, json.gz, feather or parquet).
Either way the set is named and hashed (sha256 over the file names and bytes) in the plan.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import FleetopsError
from engine.hashing import short_hash
from engine.market import listing, walk
from engine.market.listing import make_listing
from engine.market.walk import INTERVALS, candle

__all__ = ["FORMATS", "SEED", "START", "VOLATILITY", "WARMUP_CANDLES", "CandleSet", "from_datadir", "synthetic"]

SEED = 7
"""The local market's default seed (``fleetops paper-exchange --seed 7``)."""
VOLATILITY = 0.002
"""Standard deviation of the price change over one minute (the local market's default: 0.2 %)."""
START = 1767571200
"""2026-01-05 00:00 UTC (a Monday): where every synthetic walk is anchored and its candles begin."""
WARMUP_CANDLES = 500
"""Candles generated before the backtested range (at least; whole days), for the strategy's indicators (``startup_candle_count``)."""
FORMATS = {".json": "json", ".json.gz": "jsongz", ".feather": "feather", ".parquet": "parquet"}
"""FreqTrade's candle file suffixes and the ``dataformat_ohlcv`` that reads each."""


@dataclass(frozen=True)
class CandleSet:
    """The candles of ``pairs`` at ``timeframe``: their ``name`` and ``sha256`` as the plan shows them,
    the ``timerange`` to backtest (FreqTrade's ``START-END`` in epoch seconds; None: all of it),
    the FreqTrade ``dataformat``, the files' bytes (``files``: what the hash is over, what an
    image's FreqTrade is sent), and for a user's datadir the ``directory`` they are in (a local
    FreqTrade reads them there)."""

    name: str
    sha256: str
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str | None
    dataformat: str
    synthetic: bool
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    directory: Path | None = None

    def write(self, directory: Path) -> Path:
        """The directory FreqTrade reads these candles from: ``directory`` with the files written
        into it (synthetic), or the user's own datadir."""
        if self.directory is not None:
            return self.directory
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (directory / name).write_bytes(data)
        return directory


def file_stem(pair: str, timeframe: str) -> str:
    """FreqTrade's file name for a pair's spot candles without the suffix (``misc.pair_to_filename``)."""
    safe = "".join("_" if ch in "/ :." else ch for ch in pair)
    return f"{safe}-{timeframe}"


def synthetic(pairs: tuple[str, ...], timeframe: str, days: int, cache: Path | None = None) -> CandleSet:
    """``days`` days of ``timeframe`` candles per pair from the local market's walk, after
    ``WARMUP_CANDLES`` of warm-up; raises FleetopsError for a timeframe the market has no
    candles of, or a pair that is not BASE/QUOTE. With ``cache`` (a directory), a pair's file is
    kept there by everything it depends on (``_generator``'s code included) and read back next
    time: generating 90 days of 5m candles costs ~1.3 s a pair, reading them milliseconds. The
    hash is always taken over the bytes used."""
    size = INTERVALS.get(timeframe)
    if size is None or timeframe == "1s":
        raise FleetopsError(f"the synthetic market has no {timeframe} candles (it has {', '.join(t for t in INTERVALS if t != '1s')})")
    begin = START + -(-WARMUP_CANDLES * size // 86400) * 86400  # the warm-up rounded up to whole days: the range starts at midnight
    end = begin + days * 86400
    files: dict[str, bytes] = {}
    for pair in pairs:
        kept = cache / f"{short_hash([_generator(), pair, timeframe, START, end])}.json" if cache is not None else None
        try:
            data = kept.read_bytes() if kept is not None else None
        except OSError:
            data = None
        if data is None:
            data = _generate(pair, timeframe, size, end)
            _keep(kept, data)
        files[f"{file_stem(pair, timeframe)}.json"] = data
    name = (f"synthetic: the local market's seeded walk (seed {SEED}, {VOLATILITY * 100:g} %/min), {timeframe} candles, "
            f"{_day(begin)} to {_day(end)} ({days} day{'s' * (days != 1)}), {_pairs(pairs)}")
    return CandleSet(name, _digest(files), tuple(pairs), timeframe, f"{begin}-{end}", "json", True, files)


def _generate(pair: str, timeframe: str, size: int, end: int) -> bytes:
    try:
        listing = make_listing(pair, seed=SEED, anchor=START, sigma=VOLATILITY / math.sqrt(60))
    except ValueError as exc:
        raise FleetopsError(f"cannot make synthetic candles for {pair}: {exc}") from None
    rows = []
    for start in range(START, end, size):
        c = candle(listing.walk, timeframe, start, end, listing.volume_per_second)
        rows.append([c.open_time, c.open, c.high, c.low, c.close, c.volume])
    return json.dumps(rows, separators=(",", ":")).encode()


def _keep(path: Path | None, data: bytes) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError:
        pass  # a cache that cannot be written costs time, never correctness


_GENERATOR: list[str] = []


def _generator() -> str:
    """sha256 of the code that makes the candles (this module, the walk, the listings): a change to it misses the cache."""
    if not _GENERATOR:
        digest = hashlib.sha256(f"{SEED} {VOLATILITY} {START} {WARMUP_CANDLES}".encode())
        for module in (__file__, walk.__file__, listing.__file__):
            digest.update(Path(module).read_bytes())
        _GENERATOR.append(digest.hexdigest())
    return _GENERATOR[0]


def from_datadir(directory: Path, pairs: tuple[str, ...], timeframe: str) -> CandleSet:
    """The user's candles of ``pairs`` at ``timeframe`` in ``directory`` (FreqTrade's file names,
    one format for all); raises FleetopsError naming the first file that is not there."""
    files: dict[str, bytes] = {}
    formats: set[str] = set()
    for pair in pairs:
        stem = file_stem(pair, timeframe)
        found = [(suffix, directory / f"{stem}{suffix}") for suffix in FORMATS if (directory / f"{stem}{suffix}").is_file()]
        if not found:
            raise FleetopsError(f"{directory} has no {timeframe} candles of {pair} (looked for {stem}.json, .json.gz, .feather, "
                                ".parquet): download them with 'freqtrade download-data' or leave out --datadir for synthetic ones")
        suffix, path = found[0]
        formats.add(FORMATS[suffix])
        files[path.name] = path.read_bytes()
    if len(formats) > 1:
        raise FleetopsError(f"{directory} holds candles in several formats ({', '.join(sorted(formats))}); keep one")
    name = f"{directory}: {timeframe} candles, {_pairs(pairs)}, all the time they cover"
    return CandleSet(name, _digest(files), tuple(pairs), timeframe, None, formats.pop(), False, files, directory)


def _pairs(pairs: tuple[str, ...]) -> str:
    shown = " ".join(pairs[:5]) + (f" and {len(pairs) - 5} more" if len(pairs) > 5 else "")
    return f"{len(pairs)} pair{'s' * (len(pairs) != 1)} ({shown})"


def _digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name])}\0".encode())
        digest.update(files[name])
    return digest.hexdigest()


def _day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")
