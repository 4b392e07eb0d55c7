"""The Docker labels fleetops owns: how the next run rebuilds desired-vs-live from Docker alone.

Used by rendering (compose file) and, later, by observation and apply. Nothing without
``io.fleetops.fleet`` is ever touched.
"""

from __future__ import annotations

__all__ = ["FLEET", "container_labels"]

PREFIX = "io.fleetops."
FLEET = PREFIX + "fleet"
POOL = PREFIX + "pool"
CONTAINER_INDEX = PREFIX + "index"
SPEC_HASH = PREFIX + "spec-hash"
BOTS = PREFIX + "bots"
REVISION = PREFIX + "revision"
ROLE = PREFIX + "role"


def container_labels(fleet: str, pool: str | None, index: int, spec_hash: str, bots: tuple[str, ...]) -> dict[str, str]:
    """Labels for one managed container (the revision label is added at apply time)."""
    return {
        FLEET: fleet,
        ROLE: "dedicated" if pool is None else "pool",
        POOL: pool or "",
        CONTAINER_INDEX: str(index),
        SPEC_HASH: spec_hash,
        BOTS: ",".join(bots),
    }
