"""Facts a pure compile cannot know, stamped onto a live plan's target: secret digests and user ids.

Called by the flow after compiling (specs, or a stored revision for rollback and self-heal), so
that the one diff sees them: a secret whose value was rotated behind an unchanged reference
(``exchange_key: env:KEY``), or a user name that now resolves to another uid in a rebuilt image,
changes exactly the bots concerned. Compile stays pure (no environment, no key, no Docker); the
records and revisions keep the stamped essences, so the next plan compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.compile.desired import DesiredFleet, restamped
from engine.compile.essence import BotEssence
from engine.live.secret_values import UNRESOLVED, reference_digests

__all__ = ["UserIds", "secret_references", "stamp_host_facts"]

UserIds = Mapping[tuple[str, str], int]
"""(image, user name) → the uid the image's /etc/passwd gives that name (``engine.live.images``)."""


def secret_references(fleet: DesiredFleet) -> set[str]:
    """Every secret reference the fleet's bots are given."""
    return {reference for bot in fleet.bots.values() for reference in bot.essence.secrets.values()}


def stamp_host_facts(target: DesiredFleet, key: bytes | None, environ: Mapping[str, str], uids: UserIds,
                     applied: Mapping[str, BotEssence] | None = None, warn: Callable[[str], None] = lambda _line: None) -> DesiredFleet:
    """``target`` with each bot's secret digests (under the state dir's ``key``; none before the
    first apply made one) and each user name's uid in its container's image (when known).

    A reference whose value cannot be read here (a shell without the bots' environment) keeps the
    digest ``applied`` to the bot under that same reference, with a warning: the plan cannot tell
    whether it changed, and must not claim it did. Apply fails naming it before touching Docker
    whenever it must write that bot's secrets.
    """
    digests = reference_digests(key, secret_references(target), environ) if key is not None else {}
    for reference in sorted(r for r, d in digests.items() if d == UNRESOLVED):
        warn(f"secret reference {reference} cannot be read here; the plan assumes its value is unchanged")
    bots: dict[str, dict[str, Any]] = {}
    for name, bot in target.bots.items():
        fields: dict[str, Any] = {}
        if bot.essence.secrets or bot.essence.secret_digests:
            before = (applied or {}).get(name)
            stamped = {}
            for secret, reference in sorted(bot.essence.secrets.items()):
                digest = digests.get(reference)
                if digest == UNRESOLVED and before is not None and before.secrets.get(secret) == reference:
                    digest = before.secret_digests.get(secret, UNRESOLVED)
                if digest is not None:
                    stamped[secret] = digest
            fields["secret_digests"] = stamped
        if isinstance(bot.essence.run_as, str):
            image = target.containers[bot.container].essence.image
            fields["run_as_uid"] = uids.get((image, bot.essence.run_as))
        if fields:
            bots[name] = fields
    containers = {name: {"run_as_uid": uids.get((c.essence.image, c.essence.run_as))}
                  for name, c in target.containers.items() if isinstance(c.essence.run_as, str)}
    return restamped(target, bots, containers)
