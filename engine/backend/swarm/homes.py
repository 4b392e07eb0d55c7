"""Each unit's home node, remembered by the controller: where its files and trade data are.

A unit's node is read from its service (the ``node.id ==`` pin), but a service removed by hand takes
that fact with it while the unit's directory — its bots' trade databases — stays on the node's disk
(a local directory does not follow a task). Placement must then put the unit back where its data
is, not on whichever node is least loaded now, or the bots would start empty elsewhere and the
trades would be left behind. So the site remembers, under the controller's state dir
(``<state>/swarm/<fleet>/homes.json``: unit → node ID), every node its services were seen pinned to,
and forgets a unit it removes on purpose (whose directory is archived). The service's own pin, when
there is one, always wins: a move updates the memory the next time the fleet is listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Homes"]


class Homes:
    """``<state_dir>/swarm/<fleet>/homes.json``; an unreadable file is an empty memory (the services still pin their units)."""

    def __init__(self, state_dir: Path, fleet: str) -> None:
        self.path = state_dir / "swarm" / fleet / "homes.json"

    def read(self) -> dict[str, str]:
        """Unit → the node ID it was last seen pinned to."""
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def merged(self, live: Mapping[str, str]) -> dict[str, str]:
        """The units' nodes: ``live`` (unit → node ID from the services) over the remembered ones; remembers the result."""
        known = self.read()
        merged = {**known, **live}
        if merged != known:
            self._write(merged)
        return dict(sorted(merged.items()))

    def forget(self, unit: str) -> None:
        known = self.read()
        if known.pop(unit, None) is not None:
            self._write(known)

    def _write(self, homes: Mapping[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(dict(sorted(homes.items())), indent=1) + "\n", encoding="utf-8")
        os.replace(partial, self.path)
