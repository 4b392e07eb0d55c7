"""Which container each bot runs in, and on which API port: stable across runs.

Called by ``engine.compile.desired``. The prior assignment (from the baseline: a git ref's desired
fleet, or live Docker labels) is the anchor: a bot stays in its container while that container
still exists and has room, so adding a bot never moves another. New bots fill the least-loaded
container; a container is added only when all are full; a container left empty disappears.
``rebalance`` is the one opt-in way to move bots: it compacts each pool to the fewest
containers with the fewest moves.
"""

from __future__ import annotations

import math

from engine.compile.essence import Essence
from engine.naming import DEDICATED_PORT, FIRST_POOL_PORT, dedicated_container_name, pool_container_name
from engine.spec.models import Bot, Pool

__all__ = ["Placement", "assign_bots"]


class Placement(Essence):
    """Where one bot runs: its container (and that container's pool and index) and API port."""

    container: str
    pool: str | None
    index: int
    port: int


def assign_bots(
    fleet: str,
    pools: dict[str, Pool],
    bots: dict[str, Bot],
    prior: dict[str, Placement],
    *,
    rebalance: bool = False,
) -> dict[str, Placement]:
    """Place every bot, keeping prior placements wherever the rules allow."""
    placements: dict[str, Placement] = {}
    members: dict[str, list[str]] = {}
    for name, bot in bots.items():
        if bot.pool is None:
            placements[name] = Placement(container=dedicated_container_name(fleet, name), pool=None, index=0, port=DEDICATED_PORT)
        else:
            members.setdefault(bot.pool, []).append(name)
    held: dict[str, set[int]] = {}
    for placement in prior.values():
        held.setdefault(placement.container, set()).add(placement.port)
    for pool_name, pool in pools.items():
        placements.update(_assign_pool(fleet, pool_name, pool.capacity, sorted(members.get(pool_name, [])), prior, held, rebalance))
    return dict(sorted(placements.items()))


def _assign_pool(
    fleet: str, pool: str, capacity: int, members: list[str], prior: dict[str, Placement], held: dict[str, set[int]], rebalance: bool
) -> dict[str, Placement]:
    by_index: dict[int, list[str]] = {}
    homeless: list[str] = []
    for bot in members:
        before = prior.get(bot)
        if before is not None and before.pool == pool and before.index >= 1:
            slot = by_index.setdefault(before.index, [])
            if len(slot) < capacity:
                slot.append(bot)
                continue
        homeless.append(bot)
    if rebalance:
        _compact(by_index, capacity, homeless)
    for bot in homeless:
        open_slots = [(len(b), i) for i, b in by_index.items() if len(b) < capacity]
        if open_slots:
            index = min(open_slots)[1]
        else:
            index = next(i for i in range(1, len(by_index) + 2) if i not in by_index)
        by_index.setdefault(index, []).append(bot)
    result: dict[str, Placement] = {}
    for index, names in by_index.items():
        if not names:
            continue
        container = pool_container_name(fleet, pool, index)
        for bot, port in _ports(names, container, prior, held.get(container, set())).items():
            result[bot] = Placement(container=container, pool=pool, index=index, port=port)
    return result


def _compact(by_index: dict[int, list[str]], capacity: int, homeless: list[str]) -> None:
    """Keep the fullest containers that are needed; their bots stay, the others' bots move."""
    total = sum(len(b) for b in by_index.values()) + len(homeless)
    needed = math.ceil(total / capacity) if total else 0
    keep = sorted(by_index, key=lambda i: (-len(by_index[i]), i))[:needed]
    for index in sorted(set(by_index) - set(keep)):
        homeless.extend(by_index.pop(index))
    homeless.sort()


def _ports(names: list[str], container: str, prior: dict[str, Placement], held: set[int]) -> dict[str, int]:
    """A bot keeps its port while it stays in its container; newcomers take the lowest free port.

    ``held`` are the ports bots had in this container before: one that leaves keeps running until
    its replacement answers, so its port is not given to a newcomer in the same change.
    """
    ports: dict[str, int] = {}
    taken: set[int] = set(held)
    for bot in sorted(names):
        before = prior.get(bot)
        if before is not None and before.container == container and before.port not in ports.values():
            ports[bot] = before.port
            taken.add(before.port)
    free = (p for p in range(FIRST_POOL_PORT, 65535) if p not in taken)
    for bot in sorted(names):
        if bot not in ports:
            ports[bot] = next(free)
    return ports
