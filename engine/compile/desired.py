"""The compile stage: a validated ``FleetSpec`` + a prior assignment → the ``DesiredFleet``.

Called by the flow for plan, render and apply. The desired fleet holds essences (typed, frozen;
see ``engine.compile.essence``), each hashed with the templates' version so a fleetops upgrade
that changes rendering shows as a change. A bot's essence never includes its neighbours, so
changing one bot changes only its hash.
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.compile.assign import Placement, assign_bots
from engine.compile.essence import (
    BotEssence,
    ContainerEssence,
    FleetSettings,
    HealthSettings,
    NotifySettings,
    PoolEssence,
    TrailingStopEssence,
    WalletEssence,
)
from engine.compile.strategy_settings import declared_order_types
from engine.compile.templates import template_version
from engine.hashing import short_hash
from engine.naming import SUPERVISOR_CONF, bot_data_dir, bot_etc_dir, preload_launcher
from engine.spec.fleetspec import FleetSpec
from engine.spec.models import Bot

__all__ = ["DesiredBot", "DesiredContainer", "DesiredFleet", "compile_fleet", "placements_of", "restamped"]

POOL_COMMAND = ("supervisord", "-n", "-c", SUPERVISOR_CONF)


@dataclass(frozen=True)
class DesiredBot:
    name: str
    placement: Placement
    essence: BotEssence
    strategy_text: str
    hash: str

    @property
    def container(self) -> str:
        return self.placement.container


@dataclass(frozen=True)
class DesiredContainer:
    name: str
    pool: str | None
    index: int
    bots: tuple[str, ...]
    essence: ContainerEssence
    hash: str

    @property
    def dedicated(self) -> bool:
        return self.pool is None


@dataclass(frozen=True)
class DesiredFleet:
    """Everything apply needs, as typed data: storable in a revision and rebuilt from one.

    ``wallets`` and ``pools`` have no Docker object of their own; they are kept so plans can
    diff them, as are the fleet's own ``settings``.
    """

    name: str
    containers: dict[str, DesiredContainer]
    bots: dict[str, DesiredBot]
    wallets: dict[str, WalletEssence]
    pools: dict[str, PoolEssence]
    settings: FleetSettings | None
    """None only for a live baseline with no recorded revision: Docker does not hold them."""
    backend: Mapping[str, Any] = field(default_factory=lambda: {"kind": "docker"})
    """The Fleet document's ``backend`` block (kind and its settings): where apply runs the fleet."""

    def meant_running(self, container: str) -> bool:
        """Whether the container should run: one that holds only disabled bots is created stopped
        (nothing in it would run: issue 22), a pool container without bots runs as it always did."""
        bots = self.containers[container].bots
        return not bots or any(self.bots[b].essence.enabled for b in bots)

    def allocated(self, wallet: str) -> float:
        return float(sum(b.essence.allocation for b in self.bots.values() if b.essence.wallet == wallet))

    def free(self, wallet: str) -> float | None:
        fields = self.wallets.get(wallet)
        return None if fields is None else fields.free


def placements_of(fleet: DesiredFleet) -> dict[str, Placement]:
    """The assignment a desired fleet settled on: the prior for the next compile."""
    return {name: bot.placement for name, bot in fleet.bots.items()}


def restamped(fleet: DesiredFleet, bots: Mapping[str, Mapping[str, Any]], containers: Mapping[str, Mapping[str, Any]]) -> DesiredFleet:
    """``fleet`` with essence fields set that only the live host knows (``engine.live.hostfacts``).

    Only a bot or container whose essence really changes gets a new hash (with today's template
    version): a stored revision that is re-planned keeps the hashes it was applied with otherwise.
    """
    version = template_version()
    new_bots = dict(fleet.bots)
    for name, fields in bots.items():
        bot = fleet.bots[name]
        essence = bot.essence.model_copy(update=dict(fields))
        if essence != bot.essence:
            new_bots[name] = dataclasses.replace(bot, essence=essence, hash=short_hash([version, essence.plain()]))
    new_containers = dict(fleet.containers)
    for name, fields in containers.items():
        container = fleet.containers[name]
        container_essence = container.essence.model_copy(update=dict(fields))
        if container_essence != container.essence:
            new_containers[name] = dataclasses.replace(container, essence=container_essence,
                                                       hash=short_hash([version, container_essence.plain()]))
    return dataclasses.replace(fleet, bots=new_bots, containers=new_containers)


def compile_fleet(spec: FleetSpec, prior: dict[str, Placement] | None = None, *, rebalance: bool = False) -> DesiredFleet:
    """Place the bots and build every essence; pure and deterministic."""
    fleet_name = spec.fleet.name
    placements = assign_bots(fleet_name, spec.pools, spec.bots, prior or {}, rebalance=rebalance)
    version = template_version()
    bots: dict[str, DesiredBot] = {}
    for name, bot in spec.bots.items():
        essence = _bot_essence(spec, bot, placements[name])
        bots[name] = DesiredBot(name, placements[name], essence, spec.pin_of(bot).text, short_hash([version, essence.plain()]))
    members: dict[str, list[str]] = {}
    for name, placement in placements.items():
        members.setdefault(placement.container, []).append(name)
    containers: dict[str, DesiredContainer] = {}
    for container_name, names in sorted(members.items()):
        placement = placements[names[0]]
        container_essence = _container_essence(spec, placement, bots[names[0]] if placement.pool is None else None)
        containers[container_name] = DesiredContainer(
            container_name, placement.pool, placement.index, tuple(sorted(names)), container_essence,
            short_hash([version, container_essence.plain()]),
        )
    return DesiredFleet(fleet_name, containers, bots, _wallets(spec), _pools(spec), fleet_settings(spec),
                        spec.fleet.backend.model_dump(mode="json"))


def _wallets(spec: FleetSpec) -> dict[str, WalletEssence]:
    return {n: WalletEssence(currency=w.currency, balance=w.balance, reserve=w.reserve) for n, w in spec.wallets.items()}


def _pools(spec: FleetSpec) -> dict[str, PoolEssence]:
    return {n: PoolEssence(capacity=p.capacity, memory=p.memory, cpus=p.cpus, image=p.image, preload=p.preload, run_as=p.run_as,
                           placement=tuple(p.placement))
            for n, p in spec.pools.items()}


def fleet_settings(spec: FleetSpec) -> FleetSettings:
    fleet = spec.fleet
    return FleetSettings(
        image=fleet.defaults.image,
        bot_command=fleet.defaults.bot_command,
        exchange=fleet.defaults.exchange,
        exchange_url=fleet.defaults.exchange_url,
        timeframe=fleet.defaults.timeframe,
        drain_timeout=fleet.defaults.drain_timeout,
        health=HealthSettings(timeout_seconds=fleet.health.timeout_seconds, rollback=fleet.health.rollback, check=fleet.health.check),
        notify=tuple(NotifySettings(url=n.url) for n in fleet.notify),
        run_as=fleet.defaults.run_as,
        memory=fleet.defaults.memory,
    )


def _bot_essence(spec: FleetSpec, bot: Bot, placement: Placement) -> BotEssence:
    defaults = spec.fleet.defaults
    pin = spec.pin_of(bot)
    etc, data = bot_etc_dir(bot.name), bot_data_dir(bot.name)
    values = {"bot": bot.name, "config": f"{etc}/config.json", "secrets": f"{etc}/secrets.json",
              "userdir": f"{data}/user_data", "port": placement.port}
    # Placeholder values are from a safe alphabet (no spaces or quotes), so filling each word
    # of the once-split template equals splitting the filled command, at a fraction of the cost.
    command = tuple(word.format(**values) for word in _split_command(defaults.bot_command))
    if placement.pool is not None and spec.pools[placement.pool].preload:
        command = (*preload_launcher(bot.name), *command)
    trailing = bot.trailing_stop
    return BotEssence(
        wallet=bot.wallet,
        currency=spec.wallets[bot.wallet].currency,
        allocation=bot.allocation,
        pool=bot.pool,
        container=placement.container,
        port=placement.port,
        strategy=pin.display,
        strategy_class=pin.class_name,
        strategy_sha256=pin.sha256,
        pairs=tuple(bot.pairs),
        exchange=bot.exchange or defaults.exchange,
        exchange_url=bot.exchange_url or defaults.exchange_url,
        timeframe=bot.timeframe or defaults.timeframe,
        max_open_trades=bot.max_open_trades,
        stake_amount=bot.stake_amount if isinstance(bot.stake_amount, float) else "unlimited",
        stoploss=bot.stoploss,
        minimal_roi=dict(sorted(bot.minimal_roi.items(), key=lambda kv: int(kv[0]))),
        trailing_stop=None if trailing is None else TrailingStopEssence(
            enabled=trailing.enabled, positive=trailing.positive, offset=trailing.offset,
            only_offset_is_reached=trailing.only_offset_is_reached),
        dry_run=bot.dry_run,
        enabled=bot.enabled,
        secrets=dict(sorted(bot.secrets.items())),
        freqtrade=dict(bot.freqtrade),
        command=command,
        run_as=_run_as(spec, placement.pool),
        on_change=bot.on_change or ("restart" if bot.dry_run else "drain"),
        drain_timeout=bot.drain_timeout or defaults.drain_timeout,
        **_order_settings(bot, pin.text, pin.class_name),
    )


def _order_settings(bot: Bot, strategy_text: str, class_name: str) -> dict[str, Any]:
    """``order_types`` and both pricing blocks as FreqTrade will read them. A price side the spec
    leaves out follows the order type: FreqTrade refuses a market entry unless entry_pricing's
    price_side is ``other`` (or ``ask``), a market exit unless exit_pricing's is ``other`` (or
    ``bid``) (``_validate_price_config``, 2026.9); the order types are the spec's, else the ones
    the strategy declares literally (``engine.compile.strategy_settings``)."""
    order_types = bot.order_types.model_dump(exclude_none=True) if bot.order_types is not None else None
    effective = order_types if order_types is not None else declared_order_types(strategy_text, class_name)
    entry = bot.entry_pricing.model_dump(exclude_none=True) if bot.entry_pricing.model_fields_set else {}
    exit_ = bot.exit_pricing.model_dump(exclude_none=True) if bot.exit_pricing.model_fields_set else {}
    entry.setdefault("price_side", "other" if effective.get("entry") == "market" else "same")
    exit_.setdefault("price_side", "other" if effective.get("exit") == "market" else "same")
    return {"order_types": order_types, "entry_pricing": entry, "exit_pricing": exit_}


def _run_as(spec: FleetSpec, pool: str | None) -> int | str:
    """The user a bot runs as: its pool's ``run_as``, else the fleet's ``defaults.run_as``."""
    chosen = spec.pools[pool].run_as if pool is not None else None
    return chosen if chosen is not None else spec.fleet.defaults.run_as


@functools.lru_cache(maxsize=64)
def _split_command(template: str) -> tuple[str, ...]:
    return tuple(shlex.split(template))


def _container_essence(spec: FleetSpec, placement: Placement, dedicated: DesiredBot | None) -> ContainerEssence:
    defaults = spec.fleet.defaults
    if placement.pool is None:
        assert dedicated is not None
        return ContainerEssence(image=defaults.image, memory=defaults.memory, cpus=None, command=dedicated.essence.command,
                                pool=None, run_as=dedicated.essence.run_as)
    pool = spec.pools[placement.pool]
    return ContainerEssence(image=pool.image or defaults.image, memory=pool.memory, cpus=pool.cpus,
                            command=POOL_COMMAND, pool=placement.pool, run_as=_run_as(spec, placement.pool), preload=pool.preload)
