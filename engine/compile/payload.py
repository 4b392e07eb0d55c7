"""A ``DesiredFleet`` as JSON and back: what a revision stores, so rollback needs no git.

Used by the revision store and rollback. Essences hold only references to secrets, never
values, so a payload is safe to keep on disk.
"""

from __future__ import annotations

from typing import Any

from engine.compile.assign import Placement
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet

__all__ = ["fleet_from_payload", "fleet_to_payload"]


def fleet_to_payload(fleet: DesiredFleet) -> dict[str, Any]:
    return {
        "fleet": fleet.name,
        "containers": {
            n: {"pool": c.pool, "index": c.index, "bots": list(c.bots), "essence": c.essence, "hash": c.hash}
            for n, c in fleet.containers.items()
        },
        "bots": {
            n: {
                "placement": {"container": b.placement.container, "pool": b.placement.pool, "index": b.placement.index, "port": b.placement.port},
                "essence": b.essence,
                "hash": b.hash,
                "strategy_text": b.strategy_text,
            }
            for n, b in fleet.bots.items()
        },
        "wallets": fleet.wallets,
        "pools": fleet.pools,
        "settings": fleet.settings,
    }


def fleet_from_payload(payload: dict[str, Any]) -> DesiredFleet:
    containers = {
        n: DesiredContainer(n, c["pool"], c["index"], tuple(c["bots"]), c["essence"], c["hash"]) for n, c in payload["containers"].items()
    }
    bots = {
        n: DesiredBot(n, Placement(**b["placement"]), b["essence"], b["strategy_text"], b["hash"]) for n, b in payload["bots"].items()
    }
    return DesiredFleet(payload["fleet"], containers, bots, payload["wallets"], payload["pools"], payload["settings"])
