"""The fleet spec's vocabulary: one pydantic model per document kind.

Used by ``engine.spec.validate`` on raw documents. These models check what a single document can
check on its own (types, ranges, formats, unknown keys); relations between documents are
``engine.spec.validate``'s job. Every string that later reaches a supervisord conf, a compose file or
a path is constrained here to a safe alphabet, so no spec value can inject a section, a command
or a path outside its bot's directory.
"""

from __future__ import annotations

import math
import re
import shlex
import string
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from engine.health.table import DEFAULT_KIND, CheckKind
from engine.naming import RESERVED_POOL_PREFIX
from engine.spec.constraints import parse_constraint
from engine.spec.endpoints import DOCKER_FORMS, controller_problem, docker_address_problem, registry_problem, shown_address

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


def _matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


Name = Annotated[
    str,
    _matching(r"[a-z][a-z0-9-]{0,39}", "name (lowercase letters, digits and '-', starting with a letter, at most 40)"),
]
Currency = Annotated[str, _matching(r"[A-Z0-9]{2,12}", "currency code (e.g. USDT)")]
Pair = Annotated[str, _matching(r"[A-Z0-9]{1,20}/[A-Z0-9]{2,12}(:[A-Z0-9]{2,12})?", "pair (BASE/QUOTE, e.g. BTC/USDT)")]
Exchange = Annotated[str, _matching(r"[a-z][a-z0-9_]{1,30}", "exchange name (e.g. binance)")]
TIMEFRAMES = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
"""The candle sizes FreqTrade's exchanges offer (binance's set, the widest; an exchange may offer fewer)."""
Timeframe = Annotated[str, _matching("|".join(TIMEFRAMES), f"timeframe (one of {', '.join(TIMEFRAMES)})")]
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:(?:localhost|{_LABEL}(?:\.{_LABEL})+)(?::[0-9]{{1,5}})?/|{_LABEL}:[0-9]{{1,5}}/)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
ImageRef = Annotated[
    str,
    _matching(_DOMAIN + _PATH + r"(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[a-f0-9]{64})?", "image reference"),
]
"""Docker's reference grammar (distribution/reference): [registry[:port]/]path[:tag][@digest]."""


def _memory(value: str) -> str:
    match = re.fullmatch(r"([1-9][0-9]{0,12})([bkmg]?)", value)
    if match is None:
        raise ValueError(f"{value!r} is not a valid memory size (e.g. 512m, 2g)")
    size = int(match.group(1)) * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2)]
    if size < 6 << 20:
        raise ValueError(f"{value!r} is below Docker's minimum container memory of 6m")
    if size > 1 << 40:
        raise ValueError(f"{value!r} is more than 1 TiB")
    return value


MemorySize = Annotated[str, AfterValidator(_memory)]
StrategyPinText = Annotated[
    str,
    _matching(r"[A-Za-z_][A-Za-z0-9_]{0,79}@[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}", "strategy pin (ClassName@git-ref)"),
]
RoiMinutes = Annotated[str, _matching(r"[0-9]{1,7}", "minimal_roi key (minutes as a whole number)")]
MAX_MONEY = 1e12
PositiveNumber = Annotated[float, Field(gt=0, le=MAX_MONEY)]

BOT_COMMAND_PLACEHOLDERS = ("bot", "config", "secrets", "userdir", "port")
SECRET_TARGETS: dict[str, tuple[str, str]] = {
    "exchange_key": ("exchange", "key"),
    "exchange_secret": ("exchange", "secret"),
    "exchange_password": ("exchange", "password"),
    "exchange_uid": ("exchange", "uid"),
    "exchange_wallet_address": ("exchange", "wallet_address"),
    "exchange_private_key": ("exchange", "private_key"),
    "telegram_token": ("telegram", "token"),
    "telegram_chat_id": ("telegram", "chat_id"),
    "webhook_url": ("webhook", "url"),
    "discord_webhook_url": ("discord", "webhook_url"),
    "coingecko_api_key": ("coingecko", "api_key"),
}
"""Secret name in a bot spec → where FreqTrade reads it (section, key): every credential
location of FreqTrade's config schema that a bot may need (see ``engine.spec.freqtrade_extras``)."""


def _check_bot_command(value: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError("must be one line without control characters")
    try:
        fields = [(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(f"has a stray brace ({exc}); write {{{{ and }}}} for literal braces") from None
    for name, conversion, spec in fields:
        if name not in BOT_COMMAND_PLACEHOLDERS or conversion or spec:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"unknown placeholder {shown} in bot_command (known: {', '.join('{' + p + '}' for p in BOT_COMMAND_PLACEHOLDERS)})")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words: {exc}") from None
    if not words:
        raise ValueError("must not be empty")
    used = {name for name, _, _ in fields}
    if "config" not in used:
        raise ValueError("must pass the rendered config with {config}")
    if "secrets" not in used:
        raise ValueError("must pass the secrets file with --config {secrets}: without it the bot's API has no credentials "
                         "and a live bot has no exchange keys")
    return value


def _check_secret_ref(value: str) -> str:
    if re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        if value.upper().startswith("ENV:FLEETOPS_"):
            raise ValueError("cannot read fleetops' own settings (FLEETOPS_*): use a variable of its own")
        return value
    if re.fullmatch(r"file:/[A-Za-z0-9._/@+-]{1,4095}", value):
        if "/../" in value + "/" or "/./" in value + "/":
            raise ValueError("must be an absolute path without '.' or '..' components")
        return value
    raise ValueError("must be a reference (env:VARIABLE or file:/absolute/path); a literal secret value is not allowed")


def _stake_amount(value: Any) -> Any:
    if value == "unlimited":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= MAX_MONEY:
        raise ValueError(f"must be a positive number up to {MAX_MONEY:.0e} or 'unlimited'")
    return float(value)


def _check_secret_name(value: str) -> str:
    if value not in SECRET_TARGETS:
        raise ValueError(f"unknown secret {value!r} (known: {', '.join(SECRET_TARGETS)})")
    return value


class _Spec(BaseModel):
    """Strict, frozen, unknown keys rejected (a typo must never be silently ignored), finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


ExchangeUrl = Annotated[str, _matching(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?", "exchange API base URL (scheme://host[:port])")]
"""Where a bot's exchange answers instead of its public endpoint: a sandbox, or a local market for
paper trading (fleetops renders ccxt's URL overrides for every API of the exchange onto it)."""
DrainSeconds = Annotated[int, Field(ge=1, le=7 * 86400)]


def _run_as(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("must be a uid (a whole number) or a user name of the image")
    if value in (0, "root"):
        raise ValueError("must not be root: bots run strategies from pull requests, so they run as an unprivileged user")
    if isinstance(value, int) and not 0 < value < 2**31 - 1:
        raise ValueError(f"uid {value} is out of range (1 to {2**31 - 2})")
    if isinstance(value, str) and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value):
        raise ValueError(f"{value!r} is not a user name (lowercase letters, digits, '_' and '-', at most 32)")
    return value


RunAs = Annotated[int | str, BeforeValidator(_run_as)]
"""The user bots run as: a uid or a user name that the image's /etc/passwd has (checked before apply)."""
DEFAULT_RUN_AS = 1000
"""FreqTrade's own image calls uid 1000 ``ftuser``; fleetops' images call it ``bot``."""


class FleetDefaults(_Spec):
    image: ImageRef = "freqtradeorg/freqtrade:stable"
    bot_command: Annotated[str, AfterValidator(_check_bot_command)] = (
        "freqtrade trade --config {config} --config {secrets} --userdir {userdir}"
    )
    exchange: Exchange = "binance"
    exchange_url: ExchangeUrl | None = None
    timeframe: Timeframe = "5m"
    drain_timeout: DrainSeconds = 900
    run_as: RunAs = DEFAULT_RUN_AS


class Health(_Spec):
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    rollback: Literal["auto", "off"] = "auto"
    check: CheckKind = DEFAULT_KIND
    """Which row of ``engine.health.table.CHECKS`` the bots must pass: ``loop``: the API answers, the
    trading loop runs and logs no strategy error; ``ping``: the API answers."""


class NotifyTarget(_Spec):
    url: Annotated[str, _matching(r"https?://[^\s\"'<>]{1,2000}", "http(s) URL")]


def _address(problem: Callable[[str], str | None], what: str, forms: str) -> AfterValidator:
    def check(value: str) -> str:
        why = problem(value)
        if why is not None:
            raise ValueError(f"{shown_address(value)!r} is not {what}: {why}; use {forms}")
        return value

    return AfterValidator(check)


ManagerAddress = Annotated[str, _address(docker_address_problem, "a Docker engine address", DOCKER_FORMS)]
RegistryAddress = Annotated[str, _address(registry_problem, "a registry", "HOST:PORT or a host name with a dot, as in 10.0.0.5:5000")]
ControllerUrl = Annotated[str, _address(controller_problem, "a controller URL", "http(s)://HOST[:PORT], as in http://10.0.0.5:9400")]
ExchangeBudget = Annotated[int, Field(ge=1, le=10_000)]
SWARM_SETTINGS = ("manager", "registry", "controller", "exchange_budget")
"""The ``backend:`` settings only ``kind: swarm`` takes (contract §8)."""


def _constraint(value: str) -> str:
    parse_constraint(value)
    return value


PlacementConstraint = Annotated[str, AfterValidator(_constraint)]


class BackendSettings(_Spec):
    """Where the fleet runs (contract §8): ``docker`` (the engine at DOCKER_HOST / --docker-host) or
    ``swarm`` (a swarm manager, with the registry its nodes pull the fleet's images from). Settings
    left out are not written back (``model_dump``): a fleet without ``backend:`` dumps as
    ``{"kind": "docker"}``, as revisions and no-op proofs have always stored it."""

    kind: Literal["docker", "swarm"] = "docker"
    manager: ManagerAddress | None = None
    """A swarm manager's Docker API (default: DOCKER_HOST / --docker-host)."""
    registry: RegistryAddress | None = None
    """Where the fleet's images are pushed and pulled by digest; required on swarm."""
    controller: ControllerUrl | None = None
    """How node agents reach the controller (default: the watcher's --listen address)."""
    exchange_budget: Annotated[dict[Exchange, ExchangeBudget], Field(max_length=100)] = {}
    """Exchange → at most this many bots trading it on one node (one egress IP): placement keeps to it."""

    @field_validator(*SWARM_SETTINGS)
    @classmethod
    def _swarm_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("kind", "docker") != "swarm":
            raise ValueError(f"`{info.field_name}` is a setting of `kind: swarm`; `kind: docker` runs on the Docker engine at "
                             f"DOCKER_HOST and takes none (remove it, or write `kind: swarm`)")
        return value

    @model_validator(mode="after")
    def _swarm_needs_a_registry(self) -> BackendSettings:
        if self.kind == "swarm" and self.registry is None:
            raise ValueError("a swarm fleet needs `registry:` (HOST[:PORT]): its images are pushed there and every node "
                             "pulls them by digest")
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if key == "kind" or value not in (None, {})}


class Fleet(_Spec):
    kind: Literal["Fleet"]
    name: Name
    defaults: FleetDefaults = FleetDefaults()
    health: Health = Health()
    notify: list[NotifyTarget] = []
    backend: BackendSettings = BackendSettings()


class Wallet(_Spec):
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


class Pool(_Spec):
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


class TrailingStop(_Spec):
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


class OrderTypes(_Spec):
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


class DepthOfMarket(_Spec):
    enabled: bool = False
    bids_to_ask_delta: Annotated[float, Field(ge=0, le=MAX_MONEY)] = 0.0


class ExitPricing(_Spec):
    """FreqTrade's ``exit_pricing``. ``price_side`` left out: ``other`` when the bot's exit orders
    are market orders (FreqTrade refuses anything else for them), ``same`` otherwise."""

    price_side: PriceSide | None = None
    price_last_balance: Annotated[float, Field(ge=0, le=1)] | None = None
    use_order_book: bool | None = None
    order_book_top: Annotated[int, Field(ge=1, le=50)] | None = None


class EntryPricing(ExitPricing):
    """FreqTrade's ``entry_pricing``; ``price_side`` as for exits, after the entry order type."""

    check_depth_of_market: DepthOfMarket | None = None


class Bot(_Spec):
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
    stake_amount: Annotated[float | str, BeforeValidator(_stake_amount)]
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
    secrets: dict[Annotated[str, AfterValidator(_check_secret_name)], Annotated[str, AfterValidator(_check_secret_ref)]] = {}
    freqtrade: dict[str, Any] = {}

    @property
    def strategy_class(self) -> str:
        return self.strategy.split("@", 1)[0]

    @property
    def strategy_ref(self) -> str:
        return self.strategy.split("@", 1)[1]


KIND_MODELS: dict[str, type[_Spec]] = {"Fleet": Fleet, "Wallet": Wallet, "Pool": Pool, "Bot": Bot}
