"""The fleet spec's vocabulary: one pydantic model per document kind.

Used by ``engine.spec.validate`` on raw documents. These models check what a single document can
check on its own (types, ranges, formats, unknown keys); relations between documents are
``engine.spec.validate``'s job. Every string that later reaches a supervisord conf, a compose file or
a path is constrained to a safe alphabet (its field types: ``engine.spec.fields``), so no spec value can inject a section, a command
or a path outside its bot's directory.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    model_validator,
)

from engine.health.table import DEFAULT_KIND, CheckKind
from engine.naming import RESERVED_POOL_PREFIX
from engine.spec.backend_settings import BackendSettings, PlacementConstraint
from engine.spec.fields import (
    BOT_COMMAND_PLACEHOLDERS,
    DEFAULT_RUN_AS,
    MAX_MONEY,
    SECRET_TARGETS,
    Currency,
    DrainSeconds,
    Exchange,
    ExchangeUrl,
    ImageRef,
    MemorySize,
    Name,
    Pair,
    PositiveNumber,
    RoiMinutes,
    RunAs,
    SpecModel,
    StrategyPinText,
    Timeframe,
    check_bot_command,
    check_secret_name,
    check_secret_ref,
    matching,
    parse_stake_amount,
)

__all__ = [
    "BOT_COMMAND_PLACEHOLDERS",
    "KIND_MODELS",
    "SECRET_TARGETS",
    "BackendSettings",
    "Bot",
    "EntryPricing",
    "ExitPricing",
    "Fleet",
    "FleetDefaults",
    "Health",
    "NotifyTarget",
    "OrderTypes",
    "Pool",
    "TrailingStop",
    "Wallet",
]



class FleetDefaults(SpecModel):
    image: ImageRef = "freqtradeorg/freqtrade:stable"
    bot_command: Annotated[str, AfterValidator(check_bot_command)] = (
        "freqtrade trade --config {config} --config {secrets} --userdir {userdir}"
    )
    exchange: Exchange = "binance"
    exchange_url: ExchangeUrl | None = None
    timeframe: Timeframe = "5m"
    drain_timeout: DrainSeconds = 900
    run_as: RunAs = DEFAULT_RUN_AS
    memory: MemorySize | None = None
    """Docker memory limit of each dedicated bot's container (a pool's is its own ``memory``): set it, and no bot runs unbounded."""


class Health(SpecModel):
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    rollback: Literal["auto", "off"] = "auto"
    check: CheckKind = DEFAULT_KIND
    """Which row of ``engine.health.table.CHECKS`` the bots must pass: ``loop``: the API answers, the
    trading loop runs and logs no strategy error; ``ping``: the API answers."""


class NotifyTarget(SpecModel):
    url: Annotated[str, matching(r"https?://[^\s\"'<>]{1,2000}", "http(s) URL")]



class Fleet(SpecModel):
    kind: Literal["Fleet"]
    name: Name
    defaults: FleetDefaults = FleetDefaults()
    health: Health = Health()
    notify: list[NotifyTarget] = []
    backend: BackendSettings = BackendSettings()


class Wallet(SpecModel):
    kind: Literal["Wallet"]
    name: Name
    currency: Currency
    balance: Annotated[float, Field(ge=0, le=MAX_MONEY)]
    reserve: Annotated[float, Field(ge=0, le=MAX_MONEY)] = 0.0

    @property
    def free(self) -> float:
        """Capital bots may take: the balance less the reserve."""
        return self.balance - self.reserve


def _pool_name(value: str) -> str:
    if value.startswith(RESERVED_POOL_PREFIX):
        raise ValueError(f"pool names may not start with '{RESERVED_POOL_PREFIX}': dedicated bots' containers are "
                         f"named <fleet>-bot-<bot>, and '<fleet>-{value}-<n>' could be one of them")
    return value


class Pool(SpecModel):
    kind: Literal["Pool"]
    name: Annotated[Name, AfterValidator(_pool_name)]
    capacity: Annotated[int, Field(ge=1, le=500)]
    memory: MemorySize | None = None
    cpus: Annotated[float, Field(ge=0.01, le=256)] | None = None
    image: ImageRef | None = None
    preload: bool = False
    """One FreqTrade import per container, forked for each bot (engine/container/preload.py)."""
    run_as: RunAs | None = None
    """The user this pool's bots run as (default: ``defaults.run_as``)."""
    placement: Annotated[list[PlacementConstraint], Field(max_length=32)] = []
    """Swarm constraints for this pool's services (``node.labels.zone == eu``), on top of the node
    fleetops pins each to; ignored on ``kind: docker`` (one host)."""


class TrailingStop(SpecModel):
    enabled: bool = False
    positive: Annotated[float, Field(gt=0, lt=1)] | None = None
    offset: Annotated[float, Field(ge=0, lt=1)] = 0.0
    only_offset_is_reached: bool = False

    @model_validator(mode="after")
    def _offset_above_positive(self) -> TrailingStop:
        if self.positive is not None and self.offset and self.offset <= self.positive:
            raise ValueError("offset must be greater than positive (FreqTrade rejects it otherwise)")
        return self


OrderType = Literal["limit", "market"]
PriceSide = Literal["ask", "bid", "same", "other"]


class OrderTypes(SpecModel):
    """FreqTrade's ``order_types``, in its own names (config schema 2026.9). Set, it is rendered
    whole and replaces the strategy's own (FreqTrade: the config wins over the strategy); keys
    left out take FreqTrade's strategy defaults (``IStrategy.order_types``)."""

    entry: OrderType = "limit"
    exit: OrderType = "limit"
    emergency_exit: OrderType | None = None
    force_entry: OrderType | None = None
    force_exit: OrderType | None = None
    stoploss: OrderType = "limit"
    stoploss_on_exchange: bool = False
    stoploss_on_exchange_interval: Annotated[int, Field(ge=1, le=86_400)] | None = None
    stoploss_on_exchange_limit_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    stoploss_price_type: Literal["last", "mark", "index"] | None = None


class DepthOfMarket(SpecModel):
    enabled: bool = False
    bids_to_ask_delta: Annotated[float, Field(ge=0, le=MAX_MONEY)] = 0.0


class ExitPricing(SpecModel):
    """FreqTrade's ``exit_pricing``. ``price_side`` left out: ``other`` when the bot's exit orders
    are market orders (FreqTrade refuses anything else for them), ``same`` otherwise."""

    price_side: PriceSide | None = None
    price_last_balance: Annotated[float, Field(ge=0, le=1)] | None = None
    use_order_book: bool | None = None
    order_book_top: Annotated[int, Field(ge=1, le=50)] | None = None


class EntryPricing(ExitPricing):
    """FreqTrade's ``entry_pricing``; ``price_side`` as for exits, after the entry order type."""

    check_depth_of_market: DepthOfMarket | None = None


class Bot(SpecModel):
    kind: Literal["Bot"]
    name: Name
    wallet: Name
    allocation: PositiveNumber
    pool: Name | None = None
    strategy: StrategyPinText
    pairs: Annotated[list[Pair], Field(min_length=1, max_length=1000)]
    timeframe: Timeframe | None = None
    exchange: Exchange | None = None
    exchange_url: ExchangeUrl | None = None
    max_open_trades: Annotated[int, Field(ge=-1, le=10_000)] = 3
    stake_amount: Annotated[float | str, BeforeValidator(parse_stake_amount)]
    stoploss: Annotated[float, Field(gt=-1, lt=0)]
    minimal_roi: Annotated[dict[RoiMinutes, Annotated[float, Field(ge=-1, le=100)]], Field(max_length=100)] = {"0": 0.1}
    trailing_stop: TrailingStop | None = None
    order_types: OrderTypes | None = None
    entry_pricing: EntryPricing = EntryPricing()
    exit_pricing: ExitPricing = ExitPricing()
    dry_run: bool = True
    enabled: bool = True
    on_change: Literal["restart", "drain"] | None = None
    """How a change reaches a running bot: ``restart`` at once, or ``drain`` (stop entering, wait for
    open trades to close, then change). Default: restart for dry-run bots, drain for live ones."""
    drain_timeout: DrainSeconds | None = None
    secrets: dict[Annotated[str, AfterValidator(check_secret_name)], Annotated[str, AfterValidator(check_secret_ref)]] = {}
    freqtrade: dict[str, Any] = {}

    @property
    def strategy_class(self) -> str:
        return self.strategy.split("@", 1)[0]

    @property
    def strategy_ref(self) -> str:
        return self.strategy.split("@", 1)[1]


KIND_MODELS: dict[str, type[SpecModel]] = {"Fleet": Fleet, "Wallet": Wallet, "Pool": Pool, "Bot": Bot}
