"""The validated fleet: what the spec layer hands to compiling, and nothing that reads git.

Built by ``engine.spec.validate`` (pins resolved by ``engine.spec.pins``); read by
``engine.compile``. It imports no adapter, so compiling and planning stay pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.spec.models import Bot, Fleet, Pool, Wallet
from engine.spec.rawdoc import RawDocument

__all__ = ["FleetSpec", "ResolvedPin"]


@dataclass(frozen=True)
class ResolvedPin:
    """A pin as git resolved it; ``text`` is what gets written into the bot's strategy dir."""

    class_name: str
    ref: str
    commit: str
    sha256: str
    text: str
    siblings: tuple[str, ...] = ()
    """The other modules in ``strategies/`` at the pinned commit (their names, no ``.py``): never
    shipped to a bot, named when the strategy imports one (the load check, ``engine.check.loads``)."""

    @property
    def pin(self) -> str:
        return f"{self.class_name}@{self.ref}"

    @property
    def display(self) -> str:
        """How plans show a pin: the ref plus the short commit it resolved to."""
        return f"{self.pin} ({self.commit[:7]})"


@dataclass
class FleetSpec:
    """A fleet that passed every check, with the documents it came from for locating diffs."""

    fleet: Fleet
    wallets: dict[str, Wallet]
    pools: dict[str, Pool]
    bots: dict[str, Bot]
    pins: dict[str, ResolvedPin]
    documents: dict[tuple[str, str], RawDocument] = field(default_factory=dict)

    def pin_of(self, bot: Bot) -> ResolvedPin:
        return self.pins[bot.strategy]
