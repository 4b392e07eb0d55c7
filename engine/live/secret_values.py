"""Secret values: the state dir's key, resolving a reference, and the keyed digest that stands for a value.

Stdlib only, because the no-op proof (``engine.live.noop_proof``) imports it before anything
heavy: a rotated secret must never be answered "No changes" by the fast path either. Used by
``engine.live.secrets`` (the bots' ``secrets.json``), by the live plan, which stamps each bot's
essence with the digests of the values it is given (``engine.live.hostfacts``), and by the proof.

A digest is ``HMAC-SHA256(key, value)`` under the state dir's own 32-byte key (``api.key``, 0600):
it changes when the value changes, and without the key it tells nothing about the value — not
even whether two state dirs' bots share one (each state dir has its own key).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.errors import ApplyError

__all__ = [
    "DEFAULT_SECRETS_DIR", "KEY_FILE", "UNRESOLVED", "load_key", "load_or_create_key", "reference_digests", "resolve_secret",
    "secret_digest",
]

KEY_FILE = "api.key"
DEFAULT_SECRETS_DIR = "/etc/fleetops"
MAX_SECRET_BYTES = 64 << 10
UNRESOLVED = "unresolved"
"""The digest of a reference whose value cannot be read now: never equal to a real digest, so the
plan shows the secret as changed, and apply fails naming the reference before touching Docker."""
_DIGEST_CONTEXT = b"fleetops secret value v1\0"


def load_key(state_dir: Path) -> bytes | None:
    """The state dir's key, or None when nothing was ever applied from it (reading creates nothing)."""
    try:
        return (state_dir / KEY_FILE).read_bytes()
    except FileNotFoundError:
        return None


def load_or_create_key(state_dir: Path) -> bytes:
    """The state dir's 32-byte key (created 0600 on first use)."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32))
    return path.read_bytes()


def secret_digest(key: bytes, value: str) -> str:
    """32 hex digits of HMAC-SHA256 over the value: stands for it in essences, records and proofs."""
    return hmac.new(key, _DIGEST_CONTEXT + value.encode(), hashlib.sha256).hexdigest()[:32]


def reference_digests(key: bytes, references: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Reference → the digest of its value now (``UNRESOLVED`` when it cannot be read)."""
    digests: dict[str, str] = {}
    for reference in sorted(set(references)):
        try:
            digests[reference] = secret_digest(key, resolve_secret(reference, environ))
        except ApplyError:
            digests[reference] = UNRESOLVED
    return digests


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
