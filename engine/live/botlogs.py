"""A bot's own log, with its secrets masked: ``fleetops logs`` and the status page's per-bot tail.

Both read through this module, so the terminal and the page show the same lines, masked the same
way. Where a bot's log is depends on how it runs, and the backend port hides it: a pool bot's is
the file its unit's process manager writes for its program (supervisord's ``stdout_logfile``,
``<data>/bots/<bot>/bot.log``, which ``Files.bot_log`` reads without entering the container), a
dedicated bot's is its unit's own output (``Units.output``: ``docker logs``). Following is the
port's ``Files.follow_bot_log``.

Masking (``Masker``): every value the bot's ``secrets.json`` holds is replaced by ``***`` — the API
credentials fleetops derives from the state dir's key, and each exchange secret its record's
references resolve to here. A reference that cannot be resolved in this environment (a variable the
watcher had and this shell has not) cannot be matched by value, so the values of the keys that carry
secrets in FreqTrade's config (``"key": "…"``, ``"secret": "…"``, ``password=…``) are masked by pattern as well. Control characters are
shown as escapes (``engine.textsafe``): a line in a bot's log cannot drive the operator's terminal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.backend.port import Site
from engine.errors import ApplyError, StateError
from engine.live.observe import LiveFleet
from engine.live.secrets import api_credentials, resolve_secret
from engine.naming import Labels
from engine.textsafe import one_line

__all__ = ["MAX_LINES", "BotLogSource", "Masker", "follow", "parse_since", "source_of", "tail"]

MAX_LINES = 10_000
"""Most lines one read shows (``--tail``)."""

_SECRET_KEYS = re.compile(r"""(?i)(["']?\b(?:key|secret|password|passphrase|jwt_secret_key|api_?key|private_?key|token)\b["']?\s*[:=]\s*)"""
                          r"""(["']?)[^"'\s,}]{4,}""")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True)
class BotLogSource:
    """Where one bot's log is: its unit, and whether the unit is the bot (dedicated) or a pool."""

    fleet: str
    bot: str
    unit: str
    dedicated: bool
    secrets: Mapping[str, str]
    """Secret name → the reference its record names (``env:…``, ``file:…``): what to mask."""


def source_of(live: LiveFleet, bot: str) -> BotLogSource:
    """``bot``'s log as ``live`` saw the fleet. ``StateError`` when the fleet has no such bot."""
    found = live.bots.get(bot)
    if found is None:
        known = ", ".join(sorted(live.bots)) or "none"
        raise StateError(f"fleet {live.fleet} has no bot {bot} (its bots: {known})")
    record = found.record
    unit = live.containers.get(found.container)
    dedicated = record.placement.pool is None if record is not None else (unit is not None and not unit.labels.get(Labels.POOL))
    return BotLogSource(live.fleet, bot, found.container, dedicated, dict(record.essence.secrets) if record is not None else {})


class Masker:
    """Replaces every secret value of one bot by ``***``, and the values of secret-looking keys."""

    def __init__(self, values: set[str]) -> None:
        self.values = sorted((v for v in values if len(v) >= 4), key=len, reverse=True)

    @classmethod
    def for_bot(cls, source: BotLogSource, key: bytes | None, environ: Mapping[str, str]) -> Masker:
        """The values of ``source``'s secrets.json as apply would render it now (``key``: the state dir's;
        None when nothing was ever applied from it: then only patterns mask)."""
        values: set[str] = set()
        if key is not None:
            values.update(v for k, v in api_credentials(key, source.fleet, source.bot).items() if k != "username")
        for reference in source.secrets.values():
            try:
                values.add(resolve_secret(reference, environ))
            except ApplyError:
                continue  # not resolvable here: the patterns below still mask it where a key names it
        return cls(values)

    def __call__(self, line: str) -> str:
        for value in self.values:
            line = line.replace(value, "***")
        return one_line(_SECRET_KEYS.sub(r"\1\2***", line))


def parse_since(value: str, now: float) -> float:
    """``--since``: ``90s``, ``10m``, ``2h``, ``1d`` ago, or an ISO time (UTC unless it says); seconds since the epoch.
    ``StateError`` (a sentence saying what is expected) for anything else."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", value.strip())
    if match:
        return now - float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    try:
        stamp = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise StateError(f"--since {value!r}: expected a duration such as 10m, 2h or 1d, or a time such as 2026-12-01T02:00") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()


def _stamp(line: str) -> float | None:
    """When a FreqTrade or supervisord line was written (``2026-12-01 02:03:04,567 - …``), UTC as the images run."""
    match = _STAMP.match(line)
    if match is None:
        return None
    try:
        return dt.datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}+00:00").timestamp()
    except ValueError:
        return None


def _since(lines: list[str], since: float) -> list[str]:
    """The lines written at or after ``since``; a line without a stamp (a traceback's) goes with the one before it."""
    kept: list[str] = []
    keep = False
    for line in lines:
        at = _stamp(line)
        if at is not None:
            keep = at >= since
        if keep:
            kept.append(line)
    return kept


def tail(site: Site, source: BotLogSource, mask: Masker, lines: int = 100, since: float | None = None) -> list[str]:
    """The bot's last ``lines`` log lines (only those written since ``since`` when given), masked; a
    pool bot's from the end of its log file the backend reads (16 KiB on Docker). ``DockerError`` when
    the backend cannot read a dedicated bot's output."""
    lines = max(1, min(lines, MAX_LINES))
    if source.dedicated:
        text = site.output(source.unit, lines, since=since)
        found = text.splitlines()
    else:
        found = site.bot_log(source.unit, source.bot).splitlines()
        if since is not None:
            found = _since(found, since)
    return [mask(line) for line in found[-lines:]]


def follow(site: Site, source: BotLogSource, mask: Masker) -> Iterator[str]:
    """The lines the bot writes from now on, masked, as they come (until the caller stops reading,
    or a dedicated bot's unit stops). ``DockerError`` when the backend cannot follow."""
    lines = site.follow_bot_log(source.unit, source.bot, dedicated=source.dedicated)
    return (mask(line) for line in lines)
