"""Essences: exactly the fields fleetops controls for each bot, container, wallet, pool and fleet.

Built by ``engine.compile.desired``; diffed by ``engine.plan``; hashed onto Docker labels;
stored in revisions and in the host-side records of what each container runs. They are frozen
typed models so every reader is checked by mypy; ``plain()`` turns one into JSON data only
where bytes are needed (hashing, storage, field diffs). Records read back from disk are parsed
with ``parse_record`` — strict, unknown keys rejected — because a record that does not parse
is drift to repair, never a value to trust.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.health.table import DEFAULT_KIND, CheckKind

__all__ = [
    "POLICY_FIELDS",
    "BotEssence",
    "ContainerEssence",
    "Essence",
    "FleetSettings",
    "HealthSettings",
    "NotifySettings",
    "PoolEssence",
    "RecordError",
    "TrailingStopEssence",
    "WalletEssence",
    "host_uid",
    "parse_record",
]

JsonValue = Any
"""A value of the free-form ``freqtrade:`` block: JSON data, already validated as finite."""


class Essence(BaseModel):
    """Frozen, strict, unknown keys rejected: the same rules for what we build and what we read back."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    def plain(self) -> dict[str, Any]:
        """JSON data in field order: what gets hashed, stored and diffed."""
        return self.model_dump(mode="json")


class TrailingStopEssence(Essence):
    enabled: bool
    positive: float | None
    offset: float
    only_offset_is_reached: bool


class BotEssence(Essence):
    """One bot as it runs: never includes its neighbours, so changing one bot changes one hash."""

    wallet: str
    currency: str
    allocation: float
    pool: str | None
    container: str
    port: int
    strategy: str
    strategy_class: str
    strategy_sha256: str
    pairs: tuple[str, ...]
    exchange: str
    exchange_url: str | None
    timeframe: str
    max_open_trades: int
    stake_amount: float | Literal["unlimited"]
    stoploss: float
    minimal_roi: dict[str, float]
    trailing_stop: TrailingStopEssence | None
    dry_run: bool
    enabled: bool
    secrets: dict[str, str]
    secret_digests: dict[str, str] = {}
    """Secret name → the keyed digest of the value it resolved to (stamped by the live plan, never
    by the pure compile): a rotated value changes the bot, its hash and its plan."""
    freqtrade: dict[str, JsonValue]
    command: tuple[str, ...]
    run_as: int | str
    """The user the bot's process runs as: a uid or a user name of its image."""
    run_as_uid: int | None = None
    """The uid a user name resolved to in the container's image (stamped by the live plan): what
    host-side files are chowned to. None for a numeric ``run_as`` and in offline plans."""
    on_change: Literal["restart", "drain"]
    drain_timeout: int
    order_types: dict[str, JsonValue] | None = None
    """FreqTrade's ``order_types`` as rendered; None leaves them to the strategy."""
    entry_pricing: dict[str, JsonValue] = {"price_side": "same"}
    exit_pricing: dict[str, JsonValue] = {"price_side": "same"}
    """Rendered as is; the defaults are what fleetops rendered before these were settings."""

    @property
    def uid(self) -> int | None:
        """The numeric uid host-side files are given to (None: a user name not resolved yet)."""
        return host_uid(self.run_as, self.run_as_uid)


POLICY_FIELDS = frozenset({"on_change", "drain_timeout"})
"""Bot fields that decide how fleetops treats the bot, not what its process runs: changing only
these updates the record, never restarts the bot."""


class ContainerEssence(Essence):
    """One container's settings: what makes Docker recreate it when they change."""

    image: str
    memory: str | None
    cpus: float | None
    command: tuple[str, ...]
    pool: str | None
    run_as: int | str
    run_as_uid: int | None = None
    preload: bool = False

    @property
    def uid(self) -> int | None:
        return host_uid(self.run_as, self.run_as_uid)


def host_uid(run_as: int | str, resolved: int | None) -> int | None:
    """A numeric ``run_as`` is its own uid; a user name has the uid the image's /etc/passwd gives it."""
    return run_as if isinstance(run_as, int) else resolved


class WalletEssence(Essence):
    currency: str
    balance: float
    reserve: float

    @property
    def free(self) -> float:
        return self.balance - self.reserve


class PoolEssence(Essence):
    capacity: int
    memory: str | None
    cpus: float | None
    image: str | None
    preload: bool = False
    run_as: int | str | None = None
    placement: tuple[str, ...] = ()
    """Swarm constraints of the pool's services (contract §8); none on one Docker host."""

    def plain(self) -> dict[str, Any]:
        """As ``Essence.plain``, without ``placement`` when the pool has none: the plans of fleets
        that never name one read as they always have."""
        plain = super().plain()
        if not self.placement:
            del plain["placement"]
        return plain


class HealthSettings(Essence):
    timeout_seconds: int = 60
    rollback: Literal["auto", "off"] = "auto"
    check: CheckKind = DEFAULT_KIND
    """A row of ``engine.health.table.CHECKS``."""


class NotifySettings(Essence):
    url: str


class FleetSettings(Essence):
    """The Fleet document's own settings: diffed like any other spec, so turning rollback off shows."""

    image: str
    bot_command: str
    exchange: str
    exchange_url: str | None
    timeframe: str
    drain_timeout: int
    health: HealthSettings
    notify: tuple[NotifySettings, ...]
    run_as: int | str = 1000
    memory: str | None = None
    """``defaults.memory``: each dedicated bot's container limit."""

    def plain(self) -> dict[str, Any]:
        """As ``Essence.plain``, without ``memory`` when the fleet sets none: fleets that never name one
        plan and hash as they always have."""
        plain = super().plain()
        if self.memory is None:
            del plain["memory"]
        return plain


class RecordError(Exception):
    """A stored record does not parse; the message says why in one line."""


_M = TypeVar("_M", bound=BaseModel)


def parse_record(model: type[_M], text: str | bytes) -> _M:
    """Parse JSON ``text`` strictly into ``model`` or raise RecordError with a one-line reason."""
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise RecordError(f"{exc.error_count()} problem(s), first at {where}: {first['msg']}") from None
