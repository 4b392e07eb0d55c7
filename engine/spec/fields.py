"""The fleet spec's field types: names, pairs, images, amounts, commands, users — each a constrained str or number.

Shared by the document models (``engine.spec.models``, ``engine.spec.backend_settings``). Every string
that later reaches a supervisord conf, a compose file or a path is constrained here to a safe
alphabet, so no spec value can inject a section, a command or a path outside its bot's directory.
"""

from __future__ import annotations

import math
import re
import shlex
import string
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)


class _Matching(AfterValidator):
    """An after-validator whose pattern also shows in the JSON Schema (``fleetops schema``: editors check it)."""

    pattern: str = ""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["pattern"] = f"^(?:{self.pattern})$"  # JSON Schema patterns are unanchored; validation is a full match
        return schema


def matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    validator = _Matching(check)
    object.__setattr__(validator, "pattern", pattern)
    return validator


Name = Annotated[
    str,
    matching(r"[a-z][a-z0-9-]{0,39}", "name (lowercase letters, digits and '-', starting with a letter, at most 40)"),
]
Currency = Annotated[str, matching(r"[A-Z0-9]{2,12}", "currency code (e.g. USDT)")]
Pair = Annotated[str, matching(r"[A-Z0-9]{1,20}/[A-Z0-9]{2,12}(:[A-Z0-9]{2,12})?", "pair (BASE/QUOTE, e.g. BTC/USDT)")]
Exchange = Annotated[str, matching(r"[a-z][a-z0-9_]{1,30}", "exchange name (e.g. binance)")]
TIMEFRAMES = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
"""The candle sizes FreqTrade's exchanges offer (binance's set, the widest; an exchange may offer fewer)."""
Timeframe = Annotated[str, matching("|".join(TIMEFRAMES), f"timeframe (one of {', '.join(TIMEFRAMES)})")]
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:(?:localhost|{_LABEL}(?:\.{_LABEL})+)(?::[0-9]{{1,5}})?/|{_LABEL}:[0-9]{{1,5}}/)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
ImageRef = Annotated[
    str,
    matching(_DOMAIN + _PATH + r"(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[a-f0-9]{64})?", "image reference"),
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
    matching(r"[A-Za-z_][A-Za-z0-9_]{0,79}@[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}", "strategy pin (ClassName@git-ref)"),
]
RoiMinutes = Annotated[str, matching(r"[0-9]{1,7}", "minimal_roi key (minutes as a whole number)")]
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


def check_bot_command(value: str) -> str:
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


def check_secret_ref(value: str) -> str:
    if re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        if value.upper().startswith("ENV:FLEETOPS_"):
            raise ValueError("cannot read fleetops' own settings (FLEETOPS_*): use a variable of its own")
        return value
    if re.fullmatch(r"file:/[A-Za-z0-9._/@+-]{1,4095}", value):
        if "/../" in value + "/" or "/./" in value + "/":
            raise ValueError("must be an absolute path without '.' or '..' components")
        return value
    raise ValueError("must be a reference (env:VARIABLE or file:/absolute/path); a literal secret value is not allowed")


def parse_stake_amount(value: Any) -> Any:
    if value == "unlimited":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= MAX_MONEY:
        raise ValueError(f"must be a positive number up to {MAX_MONEY:.0e} or 'unlimited'")
    return float(value)


def check_secret_name(value: str) -> str:
    if value not in SECRET_TARGETS:
        raise ValueError(f"unknown secret {value!r} (known: {', '.join(SECRET_TARGETS)})")
    return value


class SpecModel(BaseModel):
    """Strict, frozen, unknown keys rejected (a typo must never be silently ignored), finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


ExchangeUrl = Annotated[str, matching(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?", "exchange API base URL (scheme://host[:port])")]
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

