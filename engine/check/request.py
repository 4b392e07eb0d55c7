"""What the FreqTrade check hands FreqTrade for one bot: its config as FreqTrade will hold it.

Called by ``engine.check.freqtrade``. A bot's FreqTrade reads ``--config config.json --config
secrets.json`` (the second merged over the first, dicts key by key: FreqTrade's
``deep_merge_dicts``), then its strategy fills what the config leaves unset. Here the config is
the rendered one byte for byte (``engine.compile.render``), secrets.json is built by the same
function apply uses with a throwaway key (so its shape is the real one) and a placeholder for
each referenced secret value — a value is never read, let alone sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.compile.desired import DesiredBot, DesiredFleet
from engine.compile.render import render_bot_config
from engine.compile.strategy_settings import strategy_settings
from engine.hashing import canonical_json
from engine.live.secrets import secrets_document
from engine.spec.models import SECRET_TARGETS

__all__ = ["PLACEHOLDER", "BotRequest", "bot_request"]

PLACEHOLDER = "fleetops-check-placeholder"
"""Stands in for every secret value (FreqTrade's schema asks only for strings there)."""
_THROWAWAY_KEY = b"\0" * 32


@dataclass(frozen=True)
class BotRequest:
    """``{"config": …, "strategy": …}`` as ``engine/container/ftcheck.py`` reads it, and its digest."""

    payload: dict[str, Any]
    digest: str

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.payload["config"]
        return config

    @property
    def strategy(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.payload["strategy"]
        return settings


def bot_request(fleet: DesiredFleet, bot: DesiredBot) -> BotRequest:
    config = json.loads(render_bot_config(bot))
    secrets = secrets_document(_THROWAWAY_KEY, fleet.name, bot.name, {}, {})
    for name in bot.essence.secrets:
        section, key = SECRET_TARGETS[name]
        secrets.setdefault(section, {})[key] = PLACEHOLDER
    payload = {"config": _deep_merge(config, secrets), "strategy": strategy_settings(bot.strategy_text, bot.essence.strategy_class)}
    return BotRequest(payload, hashlib.sha256(canonical_json(payload).encode()).hexdigest())


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` the way FreqTrade merges a later --config: dicts key by key,
    anything else replaced."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _deep_merge(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return merged
