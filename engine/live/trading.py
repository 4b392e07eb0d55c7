"""Is a bot trading? Its own API says: the loop ran since it started, and no strategy error since.

Used by the health gate (``health.check: loop``, the default) and by ``fleetops status``.
FreqTrade's ``/api/v1/ping`` proves only that its web server answers (freqtrade #6009 added
``/api/v1/health`` for this): a bot that cannot reach its exchange answers pings with a stalled
loop, and a strategy that raises on every candle is caught per pair and logged while the loop
goes on. So a changed bot passes when ``last_process_ts`` moved past its start (the loop completed
an iteration: FreqTrade only sets it at the end of one) within ``3 × process_throttle_secs + 15`` seconds, and its log since the start has
no strategy exception.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from engine.compile.ftconfig import PROCESS_THROTTLE_SECS
from engine.live.ports import BotApiPort

__all__ = ["LOOP_WINDOW", "TradingState", "read_trading", "wait_trading"]

LOOP_WINDOW = 3 * PROCESS_THROTTLE_SECS + 15
FIRST_LOOK, LAST_LOOK = 0.2, 1.0
"""Seconds between looks at a bot's loop: soon at first (a bot that loops at once is passed at
once), then every second (two API calls each)."""
STRATEGY_ERROR = re.compile(r"Strategy caused the following exception|Unable to analyze candle|Unexpected error .* calling|"
                            r"Unable to populate|Exception in ", re.IGNORECASE)


@dataclass(frozen=True)
class TradingState:
    started: float | None
    last_loop: float | None
    errors: tuple[str, ...]
    """Strategy error lines logged since the bot started (newest last), each cut to 300 characters."""
    detail: str = ""

    @property
    def looped(self) -> bool:
        """The loop finished an iteration in this process: FreqTrade keeps ``last_process`` in memory,
        unset until the first ``process()`` ends, and both stamps are whole seconds."""
        return self.started is not None and self.last_loop is not None and self.last_loop >= self.started


def _number(data: Any, key: str) -> float | None:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def read_trading(api: BotApiPort, fleet: str, bot: str, address: str, port: int) -> TradingState:
    """One look at a bot's loop and log."""
    health = api.call(fleet, bot, address, port, "GET", "health")
    if health.data is None:
        return TradingState(None, None, (), f"its /api/v1/health did not answer ({health.detail})")
    started = _number(health.data, "bot_start_ts") or _number(health.data, "bot_startup_ts")
    last_loop = _number(health.data, "last_process_ts")
    logs = api.call(fleet, bot, address, port, "GET", "logs?limit=200")
    errors: list[str] = []
    rows = logs.data.get("logs") if isinstance(logs.data, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if not (isinstance(row, list) and len(row) >= 5):
            continue
        stamp, level, message = _number({"t": row[1]}, "t"), str(row[3]), str(row[4])
        if stamp is not None and started is not None and stamp / 1000 < started:
            continue
        if level in ("ERROR", "WARNING", "CRITICAL") and STRATEGY_ERROR.search(message):
            errors.append(message[:300])
    return TradingState(started, last_loop, tuple(errors))


def _until_trading(api: BotApiPort, fleet: str, bot: str, address: str, port: int, window: float,
                   failed: Callable[[str], str | None], clock: Callable[[], float], sleep: Callable[[float], None]) -> str | None:
    deadline = clock() + window
    state = TradingState(None, None, ())
    interval = FIRST_LOOK
    while True:
        state = read_trading(api, fleet, bot, address, port)
        if state.errors:
            return f"its strategy raised since it started: {state.errors[-1]}"
        if state.looped:
            return None
        why = failed(bot)
        if why is not None:
            return why
        if clock() >= deadline:
            if state.detail:
                return state.detail
            return (f"its trading loop has not run since it started {window:.0f} s ago "
                    f"(last_process_ts {state.last_loop}, started {state.started}): is its exchange reachable?")
        sleep(interval)
        interval = min(interval * 2, LAST_LOOK)


def wait_trading(api: BotApiPort, fleet: str, targets: dict[str, tuple[str, int]], *, window: float = LOOP_WINDOW,
                 failed: Callable[[str], str | None] = lambda _bot: None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, str | None]:
    """Bot → None when it trades, else why not; all bots in parallel, each within ``window`` seconds."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        futures = {bot: pool.submit(_until_trading, api, fleet, bot, address, port, window, failed, clock, sleep)
                   for bot, (address, port) in sorted(targets.items())}
        return {bot: f.result() for bot, f in futures.items()}
