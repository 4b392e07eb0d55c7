"""Webhook notifications: a JSON event POSTed to each ``notify`` URL after an apply or rollback.

Called by the flow once a revision is final. A notification never changes the outcome: an
unreachable hook, or any error while sending, is reported as a progress line and the apply's
result stands. Events carry no secrets (only the revision's summary, which never holds any),
and URLs are shown masked, since webhook URLs often carry a token in their path or query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.compile.essence import NotifySettings
from engine.textsafe import mask_url

__all__ = ["send_event"]


def send_event(targets: Sequence[NotifySettings], event: dict[str, Any], progress: Callable[[str], None]) -> int:
    """POST ``event`` to every target; returns how many accepted it (2xx). Never raises."""
    if not targets:
        return 0
    import httpx  # only needed when a fleet has hooks

    delivered = 0
    with httpx.Client(timeout=5.0) as client:
        for target in targets:
            shown = mask_url(target.url)
            try:
                response = client.post(target.url, json=event, headers={"User-Agent": "fleetops", "X-Fleetops-Event": str(event["event"])})
            except Exception as exc:  # noqa: BLE001 - a hook must never change the apply's outcome
                progress(f"notify {shown}: not delivered ({type(exc).__name__})")
                continue
            if response.is_success:
                delivered += 1
            else:
                progress(f"notify {shown}: not delivered (HTTP {response.status_code})")
    return delivered
