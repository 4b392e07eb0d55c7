"""What a fleet's bots and pool units are given, rendered as bytes: the backend only puts them.

Called by apply (the executor writes them through the backend port, ``Files.put_bot`` and
``Bots.reconcile``) and by the health gate (``mask``). Rendering is the backend-independent half
of what used to be the runtime directory code: a bot's FreqTrade config, its ``secrets.json``
(exchange keys from ``env:``/``file:`` references, API credentials derived from the state dir's
key: resolved here, at apply time only, never stored), its pinned strategy, and a pool's
supervisord conf and preloader. Where those bytes land — a runtime directory bind-mounted into a
container, a controller a node agent pulls from — is the backend's business.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.backend.port import BotFiles, UnitFiles
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.compile.preload import preload_files
from engine.compile.render import render_bot_config, render_supervisord
from engine.errors import ApplyError
from engine.hashing import pretty_json
from engine.live.secrets import secrets_document

__all__ = ["Materials"]


class Materials:
    """Renders one fleet's files; ``key`` (None: read-only, no secrets) and ``environ`` resolve secrets."""

    def __init__(self, fleet: str, key: bytes | None, environ: Mapping[str, str]) -> None:
        self.fleet = fleet
        self._key = key
        self._environ = dict(environ)

    def _secrets(self, bot: DesiredBot) -> dict[str, object]:
        if self._key is None:
            raise ApplyError("internal: secrets need the state dir's key (read-only materials)")
        return secrets_document(self._key, self.fleet, bot.name, bot.essence.secrets, self._environ)

    def check_secrets(self, bots: list[DesiredBot]) -> None:
        """Resolve every secret the bots will need before anything is touched (fails naming the reference)."""
        for bot in bots:
            self._secrets(bot)

    def bot_files(self, bot: DesiredBot) -> BotFiles:
        """Config, secrets and pinned strategy of one bot."""
        return BotFiles(config=render_bot_config(bot).encode(), secrets=pretty_json(self._secrets(bot), ascii_only=True).encode(),
                        strategy=(f"{bot.essence.strategy_class}.py", bot.strategy_text.encode()), uid=bot.essence.uid)

    @staticmethod
    def unit_files(container: DesiredContainer, fleet: DesiredFleet) -> UnitFiles:
        """A pool unit's supervisord conf (one program per bot it names) and, when preloaded, the preloader."""
        preload = container.essence.preload
        return UnitFiles(conf=render_supervisord(container, fleet).encode(),
                         bots={name: fleet.bots[name].essence.uid for name in container.bots},
                         preload=preload_files() if preload else {}, preload_uid=container.essence.uid if preload else None)

    def mask(self, bot: DesiredBot, text: str) -> str:
        """``text`` with every secret value the bot was given replaced by ``***``."""
        try:
            document = self._secrets(bot) if self._key is not None else {}
        except ApplyError:
            document = {}
        values = sorted({v for section in document.values() if isinstance(section, dict) for v in section.values()
                         if isinstance(v, str) and len(v) >= 4}, key=len, reverse=True)
        for value in values:
            text = text.replace(value, "***")
        return text
