"""Secrets: resolved from references only at materialisation time, never stored or shown.

Called by apply when it writes a bot's ``secrets.json`` (mode 0600) into its runtime directory,
and by tests that check a full FreqTrade config. The API credentials are derived from a
per-state-dir key with HMAC, so they are stable across runs without ever being stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ApplyError
from engine.spec.models import SECRET_TARGETS

__all__ = ["API_USERNAME", "DEFAULT_SECRETS_DIR", "api_credentials", "load_or_create_key", "resolve_secret", "secrets_document"]

API_USERNAME = "fleetops"


def load_or_create_key(state_dir: Path) -> bytes:
    """The state dir's 32-byte key (created 0600 on first use)."""
    path = state_dir / "api.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32))
    return path.read_bytes()


def api_credentials(key: bytes, fleet: str, bot: str) -> dict[str, str]:
    """FreqTrade API credentials for one bot: stable for a key, unguessable without it."""

    def derive(purpose: str) -> str:
        return hmac.new(key, f"{fleet}/{bot}/{purpose}".encode(), hashlib.sha256).hexdigest()

    return {"username": API_USERNAME, "password": derive("password")[:32], "jwt_secret_key": derive("jwt")}


DEFAULT_SECRETS_DIR = "/etc/fleetops"
MAX_SECRET_BYTES = 64 << 10


def resolve_secret(reference: str, environ: Mapping[str, str]) -> str:
    """The value behind ``env:NAME`` or ``file:/path``; the error names the reference, never a value.

    A spec is written by whoever opens a pull request, so a reference is not trusted to point
    anywhere: ``env:`` cannot read fleetops' own settings (``FLEETOPS_*``), and ``file:`` must be
    a regular file (not ``/proc/…``, ``/dev/zero``, a FIFO) of at most 64 KiB of UTF-8 inside the
    host's secrets directory — ``FLEETOPS_SECRETS_DIR`` (default ``/etc/fleetops``), links resolved
    first — which the host chooses, never the spec.
    """
    scheme, _, where = reference.partition(":")
    if scheme == "env":
        if where.upper().startswith("FLEETOPS_"):
            raise ApplyError(f"secret reference {reference}: fleetops' own settings cannot be read as a bot's secret")
        if where not in environ:
            raise ApplyError(f"secret reference {reference}: environment variable {where} is not set")
        return environ[where]
    base = Path(environ.get("FLEETOPS_SECRETS_DIR") or DEFAULT_SECRETS_DIR).resolve()
    try:
        path = Path(where).resolve(strict=True)
    except (OSError, RuntimeError):
        raise ApplyError(f"secret reference {reference}: the file does not exist") from None
    if not path.is_relative_to(base):
        raise ApplyError(f"secret reference {reference}: outside the secrets directory {base} (FLEETOPS_SECRETS_DIR)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ApplyError(f"secret reference {reference}: cannot read the file ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ApplyError(f"secret reference {reference}: not a regular file")
        data = os.read(fd, MAX_SECRET_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_BYTES:
        raise ApplyError(f"secret reference {reference}: larger than {MAX_SECRET_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApplyError(f"secret reference {reference}: not UTF-8 text") from None


def secrets_document(key: bytes, fleet: str, bot: str, references: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The bot's secrets.json: API credentials plus every referenced secret in its FreqTrade section."""
    document: dict[str, Any] = {"api_server": api_credentials(key, fleet, bot)}
    for name, reference in sorted(references.items()):
        section, field = SECRET_TARGETS[name]
        document.setdefault(section, {})[field] = resolve_secret(reference, environ)
    return document
