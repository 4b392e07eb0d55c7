"""Deciding what a webhook delivery means: verified push to our branch → fetch now; anything else → nothing.

Used by the server. Pure (no HTTP types), so every rule is unit-tested:
- with a secret set, GitHub deliveries must carry ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of
  the body>`` and GitLab ones ``X-Gitlab-Token: <secret>``; both compared in constant time;
- a push to another branch is accepted (202) and ignored; a repeated ``X-GitHub-Delivery`` is ignored;
- the payload only ever triggers a fetch: the commit applied is what the fetch finds, so a
  forged ``after`` SHA cannot choose what runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FleetopsError

__all__ = ["MAX_BODY", "Deliveries", "Verdict", "judge", "webhook_secret"]

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Verdict:
    status: int
    message: str
    fetch: bool = False


def webhook_secret(environ: Mapping[str, str]) -> bytes | None:
    """From ``FLEETOPS_WEBHOOK_SECRET`` or the file named by ``FLEETOPS_WEBHOOK_SECRET_FILE`` (never argv)."""
    if environ.get("FLEETOPS_WEBHOOK_SECRET"):
        return environ["FLEETOPS_WEBHOOK_SECRET"].encode()
    path = environ.get("FLEETOPS_WEBHOOK_SECRET_FILE")
    if not path:
        return None
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise FleetopsError(f"cannot read FLEETOPS_WEBHOOK_SECRET_FILE {path}: {exc.strerror}") from None
    if not secret:
        raise FleetopsError(f"FLEETOPS_WEBHOOK_SECRET_FILE {path} is empty")
    return secret


class Deliveries:
    """Delivery ids seen lately (bounded), so a redelivered webhook is not acted on twice."""

    def __init__(self, limit: int = 1024) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first_time(self, delivery: str) -> bool:
        with self._lock:
            if delivery in self._seen:
                return False
            self._seen[delivery] = None
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
            return True


def judge(headers: Mapping[str, str], body: bytes, secret: bytes | None, branch: str, deliveries: Deliveries) -> Verdict:
    """What to answer and whether to fetch; ``headers`` with lower-case names."""
    if len(body) > MAX_BODY:
        return Verdict(413, "body over 1 MiB")
    if secret is not None and not _authentic(headers, body, secret):
        return Verdict(401, "missing or bad signature")
    delivery = headers.get("x-github-delivery") or headers.get("x-gitlab-event-uuid")
    if delivery and not deliveries.first_time(delivery):
        return Verdict(202, "duplicate delivery ignored")
    event = headers.get("x-github-event") or headers.get("x-gitlab-event") or ""
    if event == "ping":
        return Verdict(200, "pong")
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return Verdict(400, "body is not JSON")
    ref = payload.get("ref") if isinstance(payload, dict) else None
    if isinstance(ref, str) and ref != f"refs/heads/{branch}":
        return Verdict(202, f"push to {ref[:200]} ignored (following {branch})")
    return Verdict(202, "fetch scheduled", fetch=True)


def _authentic(headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.encode(), expected.encode())
    token = headers.get("x-gitlab-token")
    if token is not None:
        return hmac.compare_digest(token.encode(), secret)
    return False
