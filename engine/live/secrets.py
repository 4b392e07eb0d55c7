"""Secrets: resolved from references only at materialisation time, never stored or shown.

Called by apply when it writes a bot's ``secrets.json`` (mode 0600) into its runtime directory,
and by tests that check a full FreqTrade config. The API credentials are derived from a
per-state-dir key with HMAC, so they are stable across runs without ever being stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from engine.live.secret_values import DEFAULT_SECRETS_DIR, load_or_create_key, resolve_secret
from engine.spec.models import SECRET_TARGETS

__all__ = ["API_USERNAME", "DEFAULT_SECRETS_DIR", "api_credentials", "load_or_create_key", "resolve_secret", "secrets_document"]

API_USERNAME = "fleetops"


def api_credentials(key: bytes, fleet: str, bot: str) -> dict[str, str]:
    """FreqTrade API credentials for one bot: stable for a key, unguessable without it."""

    def derive(purpose: str) -> str:
        return hmac.new(key, f"{fleet}/{bot}/{purpose}".encode(), hashlib.sha256).hexdigest()

    return {"username": API_USERNAME, "password": derive("password")[:32], "jwt_secret_key": derive("jwt")}


def secrets_document(key: bytes, fleet: str, bot: str, references: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The bot's secrets.json: API credentials plus every referenced secret in its FreqTrade section."""
    document: dict[str, Any] = {"api_server": api_credentials(key, fleet, bot)}
    for name, reference in sorted(references.items()):
        section, field = SECRET_TARGETS[name]
        document.setdefault(section, {})[field] = resolve_secret(reference, environ)
    return document
