"""``fleetops logs BOT``: a bot's log, masked, from wherever it runs (pool or dedicated).

Finds the bot where this state dir's fleet runs (the backend its running revision names), then
reads through ``engine.live.botlogs`` — the reader the status page's tail uses — so nothing here
knows where a log lives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.backend.values import BackendChoice
from engine.context import Context
from engine.errors import StateError
from engine.live import policy
from engine.live.botlogs import Masker, follow, parse_since, source_of, tail
from engine.live.observe import observe
from engine.live.secret_values import load_key

__all__ = ["show_logs"]


def show_logs(ctx: Context, bot: str, *, fleet: str | None, lines: int, since: str | None, following: bool,
              echo: Callable[[str], None]) -> None:
    """Print ``bot``'s last ``lines`` lines (since ``since``), then, when ``following``, every new line
    until interrupted. ``StateError`` when no fleet was applied or it has no such bot."""
    start = parse_since(since, time.time()) if since is not None else None
    store = ctx.read_store()
    latest = store.latest() if store is not None else None
    name = fleet or (latest.fleet if latest is not None else None)
    if name is None:
        raise StateError("no fleet has been applied from this state dir yet: there are no bots to read")
    current = policy.current_revision(store, name)
    if current is not None:
        ctx.use(BackendChoice.of(ctx.stored_fleet(current).backend))
    site = ctx.site(name)
    source = source_of(observe(site, with_processes=False), bot)
    mask = Masker.for_bot(source, load_key(ctx.state_dir), ctx.environ_now())
    following_lines = follow(site, source, mask) if following else None  # its position is taken before the tail is read
    for line in tail(site, source, mask, lines, start):
        echo(line)
    if following_lines is not None:
        for line in following_lines:
            echo(line)
