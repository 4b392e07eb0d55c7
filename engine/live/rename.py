"""A fleet renamed in its specs: its bots move into the new name's containers, never run twice.

Called by the flow's live plan. Every container name carries the fleet's name and nothing is
touched without the fleet's label, so a Fleet document whose ``name:`` changed would, on its
own, plan a second fleet beside the first: each bot twice, on one exchange account. Instead,
when the source being planned (``engine.live.identity``) was last applied under another name
and that fleet still has containers, the old fleet is observed too and merged into the live
side: the plan pairs each old bot with its new self, which is a ``move`` (stopped first, trade
database copied, started in the new container), and the old containers are deleted once their
bots answer in the new ones — the executor's ordinary move, across the two names. The plan
carries a ``rename`` plan-wide risk, so apply refuses it unless it is allowed by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.backend.port import Backend
from engine.compile.assign import Placement
from engine.live.identity import last_fleet
from engine.live.observe import LiveFleet, observe
from engine.naming import dedicated_container_name, pool_container_name

__all__ = ["Rename", "find_rename", "merged", "placements_as"]


@dataclass(frozen=True)
class Rename:
    old: str
    """The name the source was last applied as."""
    live: LiveFleet
    """That fleet as Docker and its records show it now."""


def find_rename(backend: Backend, state_dir: Path, origin: str | None, fleet: str) -> Rename | None:
    """The rename this plan is, when ``origin`` was last applied (from ``state_dir``) as another fleet
    that still has units on the backend; None otherwise (a fleet whose units are gone is just history)."""
    old = last_fleet(state_dir, origin) if origin is not None else None
    if old is None or old == fleet:
        return None
    live = observe(backend.site(old))
    return Rename(old, live) if live.containers else None


def merged(live: LiveFleet, rename: Rename) -> LiveFleet:
    """One live side holding both names: the new fleet's containers and bots, plus the old one's.
    A bot that already runs under the new name is that bot; its old copy goes with its container."""
    old = rename.live
    return LiveFleet(
        live.fleet,
        {**old.containers, **live.containers},
        {**old.bots, **live.bots},
        {**old.container_records, **live.container_records},
        {**old.unanswered, **live.unanswered},
        [*live.strays, *old.strays],
        owners={**live.owners, **{name: old.fleet for name in old.containers}},
        addresses={**old.addresses, **live.addresses},
        renamed={**old.renamed, **live.renamed},
    )


def placements_as(live: LiveFleet) -> dict[str, Placement]:
    """The live assignment as the prior of a compile for ``live.fleet``: bots of a renamed fleet keep
    their pool, container index and API port, in the container of that index under the new name."""
    placements = live.placements()
    if not live.owners:
        return placements
    translated = {}
    for bot, placement in placements.items():
        if placement.container in live.owners:
            container = (pool_container_name(live.fleet, placement.pool, placement.index) if placement.pool is not None
                         else dedicated_container_name(live.fleet, bot))
            placement = placement.model_copy(update={"container": container})
        translated[bot] = placement
    return translated
