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
    config = _mapping(document.get("Config"))
    host = _mapping(document.get("HostConfig"))
    state = _mapping(document.get("State"))
    networks = _mapping(_mapping(document.get("NetworkSettings")).get("Networks"))
    labels = {str(k): str(v) for k, v in _mapping(config.get("Labels")).items() if k not in UNCOMPARED_LABELS}
    settings = ContainerSettings(
        image=_text(config.get("Image")),
        command=tuple(_text(word) for word in _sequence(config.get("Cmd"))),
        user=_text(config.get("User")),
        memory=_number(host.get("Memory")),
        nano_cpus=_number(host.get("NanoCpus")),
        restart=_text(_mapping(host.get("RestartPolicy")).get("Name")),
        init=bool(host.get("Init")),
        binds=tuple(sorted(_text(bind) for bind in _sequence(host.get("Binds")))),
        networks=tuple(sorted(str(name) for name in networks)),
        labels=tuple(sorted(labels.items())),
        entrypoint=tuple(_text(word) for word in _sequence(config.get("Entrypoint"))),
    )
    return UnitInspect(settings, _text(state.get("Status")), _number(document.get("RestartCount")))


def _mapping(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _sequence(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {type(value).__name__}")
    return int(value)
