"""A ``DesiredFleet`` as JSON data and back: what a revision stores, so rollback needs no git.

Used by the revision store and rollback. Essences hold only references to secrets, never
values, so a payload is safe to keep on disk. Reading one back is strict: a payload that does
not parse (hand-edited, or written by another fleetops version) is a ``StateError``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from engine.compile.assign import Placement
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.compile.essence import BotEssence, ContainerEssence, Essence, FleetSettings, PoolEssence, WalletEssence
from engine.errors import StateError
from engine.hashing import canonical_json

__all__ = ["fleet_from_payload", "fleet_to_payload"]


class _StoredContainer(Essence):
    pool: str | None
    index: int
    bots: tuple[str, ...]
    essence: ContainerEssence
    hash: str


class _StoredBot(Essence):
    placement: Placement
    essence: BotEssence
    hash: str
    strategy_text: str


class _StoredFleet(Essence):
    fleet: str
    containers: dict[str, _StoredContainer]
    bots: dict[str, _StoredBot]
    wallets: dict[str, WalletEssence]
    pools: dict[str, PoolEssence]
    settings: FleetSettings | None
    backend: dict[str, Any] = Field(default_factory=lambda: {"kind": "docker"})
    """The Fleet's ``backend`` block (revisions stored before it was kept ran on docker)."""


def fleet_to_payload(fleet: DesiredFleet) -> dict[str, Any]:
    return _StoredFleet(
        fleet=fleet.name,
        containers={n: _StoredContainer(pool=c.pool, index=c.index, bots=c.bots, essence=c.essence, hash=c.hash)
                    for n, c in fleet.containers.items()},
        bots={n: _StoredBot(placement=b.placement, essence=b.essence, hash=b.hash, strategy_text=b.strategy_text)
              for n, b in fleet.bots.items()},
        wallets=fleet.wallets, pools=fleet.pools, settings=fleet.settings, backend=dict(fleet.backend),
    ).plain()


def fleet_from_payload(payload: dict[str, Any]) -> DesiredFleet:
    try:
        stored = _StoredFleet.model_validate_json(canonical_json(payload), strict=True)
    except ValidationError as exc:
        raise StateError(f"a stored revision does not parse ({exc.error_count()} problem(s)); "
                         "was it written by another fleetops version?") from None
    containers = {n: DesiredContainer(n, c.pool, c.index, c.bots, c.essence, c.hash) for n, c in stored.containers.items()}
    bots = {n: DesiredBot(n, b.placement, b.essence, b.strategy_text, b.hash) for n, b in stored.bots.items()}
    return DesiredFleet(stored.fleet, containers, bots, dict(stored.wallets), dict(stored.pools), stored.settings, stored.backend)
