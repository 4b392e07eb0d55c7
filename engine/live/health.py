"""Health of applied bots: each must answer FreqTrade's ``GET /api/v1/ping`` with ``pong`` in time.

Called by the flow after converging and after a rollback. The process state alone never passes
a bot (a FreqTrade that cannot reach its exchange can sit RUNNING with its API never up), but it
fails one at once: a process that exited or that supervisord gave up on will not answer, so the
gate does not wait out the timeout for it. Probing goes through ``ProbePort`` (faked in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.live.ports import ProbePort

__all__ = ["BotHealth", "HealthTarget", "wait_healthy"]


@dataclass(frozen=True)
class BotHealth:
    bot: str
    healthy: bool
    detail: str
    seconds: float
    log: tuple[str, ...] = ()
    """The bot's last log lines (secrets masked) when it failed."""


@dataclass(frozen=True)
class HealthTarget:
    address: str | None
    port: int


def _until_pong(probe: ProbePort, bot: str, target: HealthTarget, deadline: float, started: float,
                clock: Callable[[], float], sleep: Callable[[float], None], interval: float,
                failed: Callable[[str], str | None]) -> BotHealth:
    if target.address is None:  # its container is not running: say why when its watch knows (it exited, restarts…)
        return BotHealth(bot, False, failed(bot) or "its container has no address (not running?)", 0.0)
    last = "no answer"
    while True:
        answer = probe.ping(target.address, target.port)
        if answer.ok:
            return BotHealth(bot, True, answer.detail, clock() - started)
        last = answer.detail
        why = failed(bot)
        if why is not None:  # the process is gone: waiting out the timeout would tell nothing more
            return BotHealth(bot, False, why, clock() - started)
        if clock() >= deadline:
            return BotHealth(bot, False, f"no pong within the timeout (last: {last})", clock() - started)
        sleep(interval)


def wait_healthy(targets: dict[str, HealthTarget], timeout: float, probe: ProbePort, *, interval: float = 0.2,
                 failed: Callable[[str], str | None] = lambda _bot: None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict[str, BotHealth]:
    """Ping every bot in parallel until pong, ``timeout`` seconds, or ``failed(bot)`` says its process died."""
    if not targets:
        return {}
    started = clock()
    deadline = started + timeout
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        futures = {bot: pool.submit(_until_pong, probe, bot, target, deadline, started, clock, sleep, interval, failed)
                   for bot, target in sorted(targets.items())}
        return {bot: future.result() for bot, future in futures.items()}
