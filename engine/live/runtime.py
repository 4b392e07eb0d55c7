"""The host side of each container: its runtime directory, mounted at ``/fleet`` inside it.

Used by apply (writes), observe (reads what was applied) and rollback. Layout::

    <state>/runtime/<fleet>/<container>/container.json          the container essence + hash it was created from
    <state>/runtime/<fleet>/<container>/supervisord.conf        pool containers only
    <state>/runtime/<fleet>/<container>/bots/<bot>/config.json  FreqTrade config (no secrets)
                                             .../secrets.json   mode 0600: API credentials + referenced secrets
                                             .../strategies/X.py, user_data/, tradesv3*.sqlite, bot.log
                                             .../applied.json   the essence + hash the bot runs: the live record

Nothing is ever deleted: a removed bot's or container's directory moves under
``<state>/archive/<fleet>/`` with a timestamp, trade databases included.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.compile.render import render_bot_config, render_supervisord
from engine.live.secrets import secrets_document

__all__ = ["Runtime"]


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Runtime:
    def __init__(self, state_dir: Path, fleet: str, key: bytes, environ: dict[str, str] | None = None) -> None:
        self.root = state_dir / "runtime" / fleet
        self.archive_root = state_dir / "archive" / fleet
        self.fleet = fleet
        self._key = key
        self._environ = dict(os.environ if environ is None else environ)

    def container_dir(self, container: str) -> Path:
        return self.root / container

    def bot_dir(self, container: str, bot: str) -> Path:
        return self.root / container / "bots" / bot

    def check_secrets(self, bots: list[DesiredBot]) -> None:
        """Resolve every secret the bots will need before Docker is touched (fails naming the reference)."""
        for bot in bots:
            secrets_document(self._key, self.fleet, bot.name, bot.essence["secrets"], self._environ)

    def write_container(self, container: DesiredContainer, fleet: DesiredFleet) -> None:
        """All files of a container about to be (re)created: its record, conf and every bot."""
        directory = self.container_dir(container.name)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / "container.json", json.dumps({"hash": container.hash, "essence": container.essence}, indent=2, sort_keys=True))
        bots_dir = directory / "bots"
        for stale in sorted(bots_dir.iterdir()) if bots_dir.is_dir() else []:
            if stale.name not in container.bots:  # left over from before the container was removed
                self.archive_bot(container.name, stale.name)
        for name in container.bots:
            self.write_bot(fleet.bots[name])
        if not container.dedicated:
            self.write_supervisord(container, fleet)

    def write_supervisord(self, container: DesiredContainer, fleet: DesiredFleet) -> None:
        _atomic_write(self.container_dir(container.name) / "supervisord.conf", render_supervisord(container, fleet))

    def write_bot(self, bot: DesiredBot) -> None:
        directory = self.bot_dir(bot.container, bot.name)
        (directory / "user_data").mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / "config.json", render_bot_config(bot))
        document = secrets_document(self._key, self.fleet, bot.name, bot.essence["secrets"], self._environ)
        _atomic_write(directory / "secrets.json", json.dumps(document, indent=2, sort_keys=True), mode=0o600)
        strategies = directory / "strategies"
        for stale in strategies.glob("*.py") if strategies.is_dir() else []:
            if stale.name != f"{bot.essence['strategy_class']}.py":
                stale.unlink()
        _atomic_write(strategies / f"{bot.essence['strategy_class']}.py", bot.strategy_text)
        record = {"hash": bot.hash, "essence": bot.essence, "placement": bot.placement.__dict__}
        _atomic_write(directory / "applied.json", json.dumps(record, indent=2, sort_keys=True))

    def read_container_record(self, container: str) -> dict[str, Any] | None:
        return _read_json(self.container_dir(container) / "container.json")

    def read_bot_records(self, container: str) -> dict[str, dict[str, Any]]:
        """Bot name → what was applied to it in this container (from applied.json)."""
        bots_dir = self.container_dir(container) / "bots"
        records = {}
        for directory in sorted(bots_dir.iterdir()) if bots_dir.is_dir() else []:
            record = _read_json(directory / "applied.json")
            if record is not None:
                records[directory.name] = record
        return records

    def carry_bot_data(self, bot: str, from_container: str, to_container: str) -> None:
        """Copy a moving bot's trade databases and user data into its new container's directory."""
        source = self.bot_dir(from_container, bot)
        target = self.bot_dir(to_container, bot)
        target.mkdir(parents=True, exist_ok=True)
        for db in source.glob("tradesv3*.sqlite*"):
            shutil.copy2(db, target / db.name)
        if (source / "user_data").is_dir():
            shutil.copytree(source / "user_data", target / "user_data", dirs_exist_ok=True)

    def archive_bot(self, container: str, bot: str) -> Path | None:
        return self._archive(self.bot_dir(container, bot), f"{bot}-from-{container}")

    def archive_container(self, container: str) -> Path | None:
        return self._archive(self.container_dir(container), container)

    def _archive(self, source: Path, label: str) -> Path | None:
        if not source.exists():
            return None
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = self.archive_root / f"{label}-{stamp}"
        target.parent.mkdir(parents=True, exist_ok=True)
        (source / "supervisor.sock").unlink(missing_ok=True)
        shutil.move(str(source), str(target))
        return target


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
