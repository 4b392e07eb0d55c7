"""What each container runs, as recorded by the host: parsed strictly when read back.

Written by apply into ``<state>/runtime/<fleet>/<container>/records/`` (a directory no
container can reach) and read by observe. Even so, a record is input: a file that is missing,
truncated, hand-edited or from another fleetops version must become drift to repair, never a
crash, so every read returns a record or a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.compile.assign import Placement
from engine.compile.essence import BotEssence, ContainerEssence, Essence

__all__ = ["AppliedBot", "AppliedContainer", "Unreadable"]


class AppliedBot(Essence):
    """``records/bots/<bot>.json``: the essence and placement a bot was last given."""

    hash: str
    essence: BotEssence
    placement: Placement


class AppliedContainer(Essence):
    """``records/container.json``: the essence a container was created from."""

    hash: str
    essence: ContainerEssence


@dataclass(frozen=True)
class Unreadable:
    """A record that exists but does not parse, and why (shown in the plan)."""

    reason: str
