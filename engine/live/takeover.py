"""Taking over bots that ran outside fleetops: which old container belongs to which bot, the plan's
word on it, and the step itself (stop the old container, carry its trade database).

``fleetops adopt`` records, per fleet, a takeover for every adopted bot whose compose container
it found: the container's ID (not its name: a container re-created under the same name since is
not the one adopt saw) and the trade database's path inside it. The record lives in the state
dir (``<state>/takeovers/<fleet>.json``), not in the specs, for three reasons: a spec key could be
written by anyone who opens a pull request, and would let a spec stop any container on the host
and read any file of it into a bot's directory (contract §5: nothing without the fleet label is
touched; adopt, run by the operator on the host, is the one explicit exception); it belongs to
one engine, as the containers do; and once done it means nothing, so it must not linger in git.

The live plan (``engine.live.liveplan``) notes the takeover on the created bot's change
(medium risk: a running bot is stopped). Apply (``engine.flow.converge``) runs ``take_over``
before anything starts: the old container is stopped with its restart policy set to ``no`` (never
removed: ``docker start`` rolls back by hand), its database copied into the bot's data directory, and the takeover marked done, so
no later apply stops or copies again. Never two copies trade: the old bot is stopped before the
new one exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.backend.port import Takeovers
from engine.errors import ApplyError, StateError
from engine.plan.model import Action, Change, Risk, RiskNote

__all__ = ["Takeover", "pending", "record_takeovers", "take_over", "takeover_notes"]

FORMAT = 1
COMPANIONS = ("-wal", "-journal")
"""Files SQLite keeps beside a database that hold part of it: FreqTrade's database runs in WAL mode,
and its latest trades were found only in ``tradesv3.sqlite-wal`` (131 KB beside a 94 KB file) after
the bot stopped; a hot ``-journal`` is what a crash mid-transaction leaves. Both travel with it,
under the new name, and SQLite replays them when the bot opens it (``-shm`` it rebuilds itself)."""


@dataclass(frozen=True)
class Takeover:
    bot: str
    container_id: str
    container_name: str
    service: str
    """``project/service`` of the compose file it came from (for messages)."""
    database: str
    """The trade database's absolute path inside the old container ("" when there is none to carry)."""
    database_file: str
    """Its name in the bot's data directory under fleetops (``tradesv3.sqlite`` or ``tradesv3.dryrun.sqlite``)."""


def _file(state_dir: Path, fleet: str) -> Path:
    return state_dir / "takeovers" / f"{fleet}.json"


def _read(state_dir: Path, fleet: str) -> dict[str, Any]:
    path = _file(state_dir, fleet)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"format": FORMAT, "fleet": fleet, "pending": {}, "done": {}}
    except (OSError, ValueError) as exc:
        raise StateError(f"{path} cannot be read ({exc}); remove it to forget the takeovers adopt recorded") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateError(f"{path} is not a takeover record of this fleetops version; remove it to forget them")
    return data


def _write(state_dir: Path, fleet: str, data: dict[str, Any]) -> None:
    path = _file(state_dir, fleet)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def record_takeovers(state_dir: Path, fleet: str, takeovers: list[Takeover]) -> None:
    """Remember ``takeovers`` for the next apply of ``fleet`` (replacing pending ones of the same bots)."""
    data = _read(state_dir, fleet)
    for takeover in takeovers:
        data["pending"][takeover.bot] = asdict(takeover)
    _write(state_dir, fleet, data)


def pending(state_dir: Path, fleet: str) -> dict[str, Takeover]:
    """Bot → the takeover adopt recorded and no apply has done yet."""
    data = _read(state_dir, fleet) if _file(state_dir, fleet).exists() else {"pending": {}}
    try:
        return {bot: Takeover(**entry) for bot, entry in data["pending"].items()}
    except TypeError as exc:
        raise StateError(f"{_file(state_dir, fleet)} is damaged ({exc}); remove it to forget the takeovers") from None


def takeover_notes(takeovers: Mapping[str, Takeover], changes: tuple[Change, ...], port: Takeovers | None) -> dict[str, RiskNote]:
    """The plan's word on each takeover a created bot does, by its address; a takeover of a bot the
    plan does not create (it runs under fleetops already) is not shown and not done."""
    notes: dict[str, RiskNote] = {}
    for change in changes:
        takeover = takeovers.get(change.name) if change.kind == "bot" and change.action is Action.CREATE else None
        if takeover is None:
            continue
        if port is None:
            raise ApplyError(f"bot {takeover.bot} is to take over container {takeover.container_name}, and this backend cannot "
                             "(takeovers run on the Docker backend the compose setup ran on)")
        old = port.foreign_container(takeover.container_id)
        database = f"its trade database {takeover.database} is carried" if takeover.database else "it has no trade database to carry"
        if old is None:
            notes[change.address] = RiskNote(Risk.MEDIUM, (f"takes over container {takeover.container_name} ({takeover.service}), "
                                                           "which no longer exists: no trade database is carried",))
        else:
            state = "running: stopped first" if old.running else "already stopped"
            notes[change.address] = RiskNote(Risk.MEDIUM, (f"takes over container {takeover.container_name} ({takeover.service}, "
                                                           f"{state}, kept stopped for a manual rollback); {database}",))
    return notes


def take_over(state_dir: Path, fleet: str, takeovers: Mapping[str, Takeover], port: Takeovers,
              placed: Callable[[str], tuple[str, int | None]], progress: Callable[[str], None], stop_timeout: int = 30) -> None:
    """Stop each old container and carry its trade database into the bot's data directory in the unit
    ``placed(bot)`` names (with the uid that owns it), then mark the takeover done. Runs before the
    executor starts any bot, so the old and the new copy never trade at once."""
    for bot, takeover in sorted(takeovers.items()):
        old = port.foreign_container(takeover.container_id)
        if old is None:
            progress(f"takeover of {takeover.container_name} for {bot}: the container is gone; {bot} starts without its trades")
        else:
            if old.running:
                progress(f"stopping {takeover.container_name} ({takeover.service}): {bot} takes over")
                port.stop_foreign(takeover.container_id, stop_timeout)
            if takeover.database:
                unit, uid = placed(bot)
                size = port.carry_in(takeover.container_id, takeover.database, unit, bot, takeover.database_file, uid)
                for suffix in COMPANIONS if size >= 0 else ():
                    extra = port.carry_in(takeover.container_id, takeover.database + suffix, unit, bot, takeover.database_file + suffix, uid)
                    size += max(extra, 0)
                if size < 0:
                    progress(f"{takeover.container_name} has no {takeover.database}: {bot} starts with an empty trade database")
                else:
                    progress(f"carried {bot}'s trade database from {takeover.container_name} ({size} bytes)")
        data = _read(state_dir, fleet)
        data["pending"].pop(bot, None)
        data["done"][bot] = {**asdict(takeover), "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        _write(state_dir, fleet, data)
