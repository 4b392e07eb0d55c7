"""What the engine puts into and records on the fake backend, kept in memory: the port's ``Files`` and ``Records``.

Part of ``engine.backend.fake``: the files a bot was given (``bot_files``), a pool's own
(``unit_files``), the records as the JSON the engine wrote (``records``: tests may spoil them,
and a spoiled one reads back ``Unreadable``), logs that only grow (``logs``), and what bots wrote
(``data``), which a move carries and a removal archives (``archived``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.backend.port import BotFiles, LogMark, UnitFiles
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.compile.essence import RecordError, parse_record
from engine.hashing import pretty_json

if TYPE_CHECKING:
    from engine.backend.fake.backend import FakeBackend

__all__ = ["MemoryFiles"]


class MemoryFiles:
    """Files and records of the units of one fake backend (``backend``'s stores, shared by its sites)."""

    backend: FakeBackend

    def put_bot(self, unit: str, bot: str, files: BotFiles) -> None:
        self.backend.bot_files[(unit, bot)] = files

    def put_unit(self, unit: str, files: UnitFiles) -> None:
        self.backend.unit_files[unit] = files

    def keep_only(self, unit: str, bots: tuple[str, ...]) -> None:
        for owner, bot in sorted(self.backend.bot_files):
            if owner == unit and bot not in bots:
                self.archive_bot(unit, bot)

    def carry_bot_data(self, bot: str, from_unit: str, to_unit: str, uid: int | None) -> list[str]:
        self.backend.data[(to_unit, bot)] = dict(self.backend.data.get((from_unit, bot), {}))
        return []

    def archive_bot(self, unit: str, bot: str) -> None:
        b = self.backend
        b.bot_files.pop((unit, bot), None)
        b.records.get(unit, {}).pop(bot, None)
        b.logs.pop((unit, bot), None)
        b.archived[f"bot-{bot}-from-{unit}"] = b.data.pop((unit, bot), {})

    def archive_unit(self, unit: str) -> None:
        b = self.backend
        for key in [key for key in (*b.bot_files, *b.data) if key[0] == unit]:
            b.bot_files.pop(key, None)
            if key in b.data:
                b.archived[f"container-{unit}/{key[1]}"] = b.data.pop(key)
        b.unit_files.pop(unit, None)
        b.records.pop(unit, None)

    def bot_log_mark(self, unit: str, bot: str) -> LogMark:
        return (0, len(self.backend.logs.get((unit, bot), [])))

    def bot_log(self, unit: str, bot: str, after: LogMark | None = None) -> str:
        """The log's lines after ``after`` (a mark is (0, lines then): the fake's logs only grow)."""
        return "\n".join(self.backend.logs.get((unit, bot), [])[after[1] if after else 0:])

    def follow_bot_log(self, unit: str, bot: str, *, dedicated: bool, poll: float = 0.5) -> Iterator[str]:
        """The lines appended from now on to the bot's log (a dedicated bot's: its unit's output)."""
        def lines() -> list[str]:
            if dedicated:
                return [line for _at, line in self.backend.unit(unit, "follow the log of").output]
            return self.backend.logs.get((unit, bot), [])

        def follow(start: int) -> Iterator[str]:
            while True:
                now = list(lines())
                yield from now[start:]
                if len(now) == start:
                    time.sleep(poll)
                start = len(now)

        return follow(len(lines()))

    def unit_log_mark(self, unit: str) -> LogMark:
        return self.bot_log_mark(unit, "")

    def unit_log(self, unit: str, after: LogMark | None = None) -> str:
        return self.bot_log(unit, "", after)

    def adopt(self, fleet: str, unit: str) -> None:
        """Names are the backend's, not a fleet's: another fleet's unit is reachable as it is."""

    # -- records ----------------------------------------------------------------------------

    def record_unit(self, unit: str, record: AppliedContainer) -> None:
        self.backend.records.setdefault(unit, {})["container"] = pretty_json(record.plain()).encode()

    def record_bot(self, unit: str, bot: str, record: AppliedBot) -> None:
        self.backend.records.setdefault(unit, {})[bot] = pretty_json(record.plain()).encode()

    def unit_record(self, unit: str) -> AppliedContainer | Unreadable | None:
        raw = self.backend.records.get(unit, {}).get("container")
        try:
            return parse_record(AppliedContainer, raw) if raw is not None else None
        except RecordError as exc:
            return Unreadable(f"records/container.json: {exc}")

    def bot_records(self, unit: str) -> dict[str, AppliedBot | Unreadable]:
        found: dict[str, AppliedBot | Unreadable] = {}
        for bot, raw in sorted(self.backend.records.get(unit, {}).items()):
            if bot == "container":
                continue
            try:
                found[bot] = parse_record(AppliedBot, raw)
            except RecordError as exc:
                found[bot] = Unreadable(f"records/bots/{bot}.json: {exc}")
        return found

