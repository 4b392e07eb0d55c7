"""The compile stage: a validated ``FleetSpec`` + a prior assignment → the ``DesiredFleet``.

Called by plan, render and apply. The desired fleet holds *essences*: plain dicts of exactly
the fields fleetops controls for each bot and container, each hashed. Plans diff essences,
Docker labels carry the hashes, revisions store them; rendering turns an essence into files.
A bot's essence never includes its neighbours, so changing one bot changes only its hash.
"""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from typing import Any

from engine.compile.assign import Placement, assign_bots
from engine.hashing import short_hash
from engine.spec.models import Bot
from engine.compile.templates import template_version
from engine.spec.validate import FleetSpec

__all__ = ["BOT_ROOT", "DesiredBot", "DesiredContainer", "DesiredFleet", "compile_fleet", "placements_of"]

BOT_ROOT = "/fleet/bots"
"""Where a bot's directory lives inside its container (the container's runtime dir is /fleet)."""


@dataclass(frozen=True)
class DesiredBot:
    name: str
    placement: Placement
    essence: dict[str, Any]
    strategy_text: str
    hash: str

    @property
    def container(self) -> str:
        return self.placement.container

    @property
    def directory(self) -> str:
        return f"{BOT_ROOT}/{self.name}"


@dataclass(frozen=True)
class DesiredContainer:
    name: str
    pool: str | None
    index: int
    bots: tuple[str, ...]
    essence: dict[str, Any]
    hash: str

    @property
    def dedicated(self) -> bool:
        return self.pool is None


@dataclass(frozen=True)
class DesiredFleet:
    """Everything apply needs, as plain data: storable in a revision and rebuilt from one.

    ``wallets`` and ``pools`` are the spec documents' fields (no Docker object of their own; kept
    so plans can diff them), ``settings`` the fleet's health and notify settings.
    """

    name: str
    containers: dict[str, DesiredContainer]
    bots: dict[str, DesiredBot]
    wallets: dict[str, dict[str, Any]]
    pools: dict[str, dict[str, Any]]
    settings: dict[str, Any]

    def allocated(self, wallet: str) -> float:
        return float(sum(b.essence["allocation"] for b in self.bots.values() if b.essence["wallet"] == wallet))

    def free(self, wallet: str) -> float | None:
        fields = self.wallets.get(wallet)
        return None if fields is None else fields["balance"] - fields["reserve"]


def placements_of(fleet: DesiredFleet) -> dict[str, Placement]:
    """The assignment a desired fleet settled on: the prior for the next compile."""
    return {name: bot.placement for name, bot in fleet.bots.items()}


def compile_fleet(spec: FleetSpec, prior: dict[str, Placement] | None = None, *, rebalance: bool = False) -> DesiredFleet:
    """Place the bots and build every essence; pure and deterministic."""
    fleet_name = spec.fleet.name
    placements = assign_bots(fleet_name, spec.pools, spec.bots, prior or {}, rebalance=rebalance)
    version = template_version()
    bots: dict[str, DesiredBot] = {}
    for name, bot in spec.bots.items():
        essence = _bot_essence(spec, bot, placements[name])
        pin = spec.pin_of(bot)
        bots[name] = DesiredBot(name, placements[name], essence, pin.text, short_hash([version, essence]))
    members: dict[str, list[str]] = {}
    for name, placement in placements.items():
        members.setdefault(placement.container, []).append(name)
    containers: dict[str, DesiredContainer] = {}
    for container_name, names in sorted(members.items()):
        placement = placements[names[0]]
        essence = _container_essence(spec, placement, bots[names[0]] if placement.pool is None else None)
        containers[container_name] = DesiredContainer(
            container_name, placement.pool, placement.index, tuple(sorted(names)), essence, short_hash([version, essence])
        )
    return DesiredFleet(
        fleet_name,
        containers,
        bots,
        wallets={n: w.model_dump(exclude={"kind", "name"}) for n, w in spec.wallets.items()},
        pools={n: p.model_dump(exclude={"kind", "name"}) for n, p in spec.pools.items()},
        settings=spec.fleet.model_dump(include={"health", "notify"}),
    )


def _bot_essence(spec: FleetSpec, bot: Bot, placement: Placement) -> dict[str, Any]:
    defaults = spec.fleet.defaults
    pin = spec.pin_of(bot)
    directory = f"{BOT_ROOT}/{bot.name}"
    values = {
        "bot": bot.name,
        "config": f"{directory}/config.json",
        "secrets": f"{directory}/secrets.json",
        "userdir": f"{directory}/user_data",
        "port": placement.port,
    }
    # Placeholder values are from a safe alphabet (no spaces or quotes), so filling each word
    # of the once-split template equals splitting the filled command, at a fraction of the cost.
    command = [word.format(**values) for word in _split_command(defaults.bot_command)]
    trailing = bot.trailing_stop.model_dump() if bot.trailing_stop else None
    return {
        "wallet": bot.wallet,
        "currency": spec.wallets[bot.wallet].currency,
        "allocation": bot.allocation,
        "pool": bot.pool,
        "container": placement.container,
        "port": placement.port,
        "strategy": pin.display,
        "strategy_class": pin.class_name,
        "strategy_sha256": pin.sha256,
        "pairs": list(bot.pairs),
        "exchange": bot.exchange or defaults.exchange,
        "timeframe": bot.timeframe or defaults.timeframe,
        "max_open_trades": bot.max_open_trades,
        "stake_amount": bot.stake_amount,
        "stoploss": bot.stoploss,
        "minimal_roi": dict(sorted(bot.minimal_roi.items(), key=lambda kv: int(kv[0]))),
        "trailing_stop": trailing,
        "dry_run": bot.dry_run,
        "enabled": bot.enabled,
        "secrets": dict(sorted(bot.secrets.items())),
        "freqtrade": bot.freqtrade,
        "command": command,
    }


@functools.cache
def _split_command(template: str) -> tuple[str, ...]:
    return tuple(shlex.split(template))


def _container_essence(spec: FleetSpec, placement: Placement, dedicated: DesiredBot | None) -> dict[str, Any]:
    defaults = spec.fleet.defaults
    if placement.pool is None:
        assert dedicated is not None
        return {"image": defaults.image, "memory": None, "cpus": None, "command": dedicated.essence["command"], "pool": None}
    pool = spec.pools[placement.pool]
    return {
        "image": pool.image or defaults.image,
        "memory": pool.memory,
        "cpus": pool.cpus,
        "command": ["supervisord", "-n", "-c", "/fleet/supervisord.conf"],
        "pool": placement.pool,
    }
