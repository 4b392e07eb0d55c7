"""Webhook notifications: a JSON event POSTed to each ``notify`` URL after an apply or rollback.

Called by ``engine.live`` once a revision is final. A notification never changes the outcome:
an unreachable hook is reported as a progress line and the apply's result stands. Events carry
no secrets (only the revision's summary, which never holds any).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["send_event"]


def send_event(targets: list[dict[str, Any]], event: dict[str, Any], progress: Callable[[str], None]) -> int:
    """POST ``event`` to every target; returns how many accepted it (2xx)."""
    if not targets:
        return 0
    import httpx  # only needed when a fleet has hooks

    delivered = 0
    with httpx.Client(timeout=5.0) as client:
        for target in targets:
            url = target["url"]
            try:
                response = client.post(url, json=event, headers={"User-Agent": "fleetops", "X-Fleetops-Event": event["event"]})
            except httpx.HTTPError as exc:
                progress(f"notify {url}: not delivered ({type(exc).__name__})")
                continue
            if response.is_success:
                delivered += 1
            else:
                progress(f"notify {url}: not delivered (HTTP {response.status_code})")
    return delivered
