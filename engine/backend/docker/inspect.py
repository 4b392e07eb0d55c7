"""What Docker's inspect call says about a managed container: the settings a person can change by hand.

Docker's list call (what observe and the no-op proof read) carries a container's labels, image
and networks, but not its memory or CPU limit or its restart policy, which ``docker update``
changes in place; a container recreated by hand can differ in anything. So observe inspects
every managed container (in parallel: ~0.3 ms each one after another, ~0.08 ms each when sent
together, measured by ``benchmarks/inspect_cost.py``), and the drift check compares these
settings with what fleetops would create (``engine.backend.docker.settings``).

Stdlib only: the no-op proof parses the same answer, with this same function, before it
imports anything heavy. An answer is input from the engine: every field is checked for its
type, and one that does not fit is a ``ValueError`` (the proof then runs the full plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.backend.engine_document import mapping, number, sequence, text
from engine.backend.values import UnitInspect
from engine.naming import Labels

__all__ = ["UNCOMPARED_LABELS", "ContainerSettings", "parse_inspect"]

UNCOMPARED_LABELS = frozenset({Labels.BOTS, Labels.ACCOUNTS, Labels.REVISION})
"""Labels set when a container is created that are allowed to go stale: bots (and the exchange
accounts they trade) join and leave a pool container in place, and a container keeps the
revision that created it. Comparing them would recreate a pool, restarting every neighbour,
whenever one bot is added."""


@dataclass(frozen=True)
class ContainerSettings:
    """A container's settings, in the terms Docker's API uses (bytes, nano-CPUs, policy names)."""

    image: str
    """The reference the container was created from (``Config.Image``), not the image ID."""
    command: tuple[str, ...]
    user: str
    memory: int
    """Bytes; 0 means no limit."""
    nano_cpus: int
    """CPUs × 10⁹; 0 means no limit."""
    restart: str
    init: bool
    binds: tuple[str, ...]
    """``host:container:mode`` of each bind mount, sorted."""
    networks: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    """Every label but ``UNCOMPARED_LABELS``, sorted."""
    entrypoint: tuple[str, ...] = ()
    """``Config.Entrypoint``: empty (null or ``[]``) when the command runs as given."""

    def plain(self) -> dict[str, Any]:
        """JSON data: what the no-op proof digests."""
        return {"image": self.image, "command": list(self.command), "user": self.user, "memory": self.memory,
                "nano_cpus": self.nano_cpus, "restart": self.restart, "init": self.init, "binds": list(self.binds),
                "networks": list(self.networks), "labels": [list(pair) for pair in self.labels], "entrypoint": list(self.entrypoint)}


def parse_inspect(document: Mapping[str, Any]) -> UnitInspect:
    """``GET /containers/{id}/json`` → UnitInspect (with ``ContainerSettings``); ValueError when a field has the wrong type."""
    config = mapping(document.get("Config"))
    host = mapping(document.get("HostConfig"))
    state = mapping(document.get("State"))
    networks = mapping(mapping(document.get("NetworkSettings")).get("Networks"))
    labels = {str(k): str(v) for k, v in mapping(config.get("Labels")).items() if k not in UNCOMPARED_LABELS}
    settings = ContainerSettings(
        image=text(config.get("Image")),
        command=tuple(text(word) for word in sequence(config.get("Cmd"))),
        user=text(config.get("User")),
        memory=number(host.get("Memory")),
        nano_cpus=number(host.get("NanoCpus")),
        restart=text(mapping(host.get("RestartPolicy")).get("Name")),
        init=bool(host.get("Init")),
        binds=tuple(sorted(text(bind) for bind in sequence(host.get("Binds")))),
        networks=tuple(sorted(str(name) for name in networks)),
        labels=tuple(sorted(labels.items())),
        entrypoint=tuple(text(word) for word in sequence(config.get("Entrypoint"))),
    )
    return UnitInspect(settings, text(state.get("Status")), number(document.get("RestartCount")))
