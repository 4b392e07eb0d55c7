"""Health of applied bots: each must answer FreqTrade's ``GET /api/v1/ping`` with ``pong`` in time.

Called by apply after converging and by rollback. The process state alone is never trusted: a
FreqTrade that cannot reach its exchange can sit RUNNING with its API never up.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

__all__ = ["BotHealth", "check_health"]


@dataclass(frozen=True)
class BotHealth:
    bot: str
    healthy: bool
    detail: str
    seconds: float


def _ping_until(bot: str, url: str | None, deadline: float, started: float) -> BotHealth:
    import httpx  # imported here: it costs ~50 ms at start-up and only applies use it

    if url is None:
        return BotHealth(bot, False, "its container has no address (not running?)", 0.0)
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while True:
            try:
                response = client.get(url)
                if response.status_code == 200 and response.json().get("status") == "pong":
                    return BotHealth(bot, True, "pong", time.monotonic() - started)
                last = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                return BotHealth(bot, False, f"no pong within the timeout (last: {last})", time.monotonic() - started)
            time.sleep(0.2)


def check_health(targets: dict[str, tuple[str | None, int]], timeout: float) -> dict[str, BotHealth]:
    """Ping every bot (name → (container IP, API port)) in parallel until pong or ``timeout`` seconds."""
    if not targets:
        return {}
    started = time.monotonic()
    deadline = started + timeout
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        futures = {
            bot: pool.submit(_ping_until, bot, f"http://{ip}:{port}/api/v1/ping" if ip else None, deadline, started)
            for bot, (ip, port) in sorted(targets.items())
        }
        return {bot: future.result() for bot, future in futures.items()}
