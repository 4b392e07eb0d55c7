"""The paper exchange's accounts: API keys, balances (free and locked) and Binance's request signing.

Why in memory and seeded by options: a paper account exists for a test or a demo run, so it starts
from the same balances every time (``DEFAULT_BALANCES`` unless told otherwise) and a restart gives
a fresh one, like the prices, which are a function of the seed. Keys are not secrets here: the
default pair (``DEFAULT_KEY``/``DEFAULT_SECRET``) is documented so a live-mode bot can be pointed
at the paper exchange without inventing any.

Signing follows Binance's "SIGNED (TRADE and USER_DATA) endpoint security": the ``X-MBX-APIKEY``
header names the account; ``signature`` is the hex HMAC-SHA256, keyed with the secret, of the
query string followed by the request body (both as sent, ``signature`` itself left out);
``timestamp`` (ms) must lie within ``recvWindow`` (default 5000 ms, at most 60000) before the
server's time and at most 1000 ms after it. Freshness is checked against the wall clock, not the
market's clock, which tests may freeze.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

from engine.paper.errors import BinanceError

__all__ = ["DEFAULT_BALANCES", "DEFAULT_KEY", "DEFAULT_SECRET", "Account", "Accounts", "fmt", "parse_balances"]

DEFAULT_KEY = "fleetops-paper-key"
DEFAULT_SECRET = "fleetops-paper-secret"
DEFAULT_BALANCES: dict[str, Decimal] = {"USDT": Decimal(10000)}
RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000


def fmt(value: Decimal) -> str:
    """An amount as Binance writes it: a decimal string with eight places."""
    return f"{value:.8f}"


def parse_balances(text: str) -> dict[str, Decimal]:
    """``"USDT=10000,BTC=0.5"`` → ``{"USDT": Decimal("10000"), "BTC": Decimal("0.5")}``; ValueError on another form."""
    balances: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        asset, sep, amount = part.partition("=")
        try:
            value = Decimal(amount)
        except ArithmeticError:
            value = Decimal(-1)
        if not sep or not asset.strip().isalnum() or not value.is_finite() or value < 0:
            raise ValueError(f"not a balance: {part!r} (want ASSET=AMOUNT, e.g. USDT=10000)")
        balances[asset.strip().upper()] = value
    return balances


@dataclass
class Account:
    """One spot account: its key pair and, per asset, what is free and what open orders lock."""

    key: str
    secret: str
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    update_ms: int = 0

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked; BinanceError -2010 when not enough is free."""
        if self.free.get(asset, Decimal(0)) < amount:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        self.free[asset] = self.free.get(asset, Decimal(0)) - amount
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` back from locked to free (a cancelled or expired order's remainder)."""
        self.locked[asset] = self.locked.get(asset, Decimal(0)) - amount
        self.free[asset] = self.free.get(asset, Decimal(0)) + amount

    def settle(self, spent_asset: str, spent_locked: Decimal, spent: Decimal, got_asset: str, got: Decimal) -> None:
        """A fill: ``spent_locked`` leaves the locked balance, ``spent`` of it is paid (the rest is freed),
        ``got`` (fee already taken) is credited."""
        self.locked[spent_asset] = self.locked.get(spent_asset, Decimal(0)) - spent_locked
        self.free[spent_asset] = self.free.get(spent_asset, Decimal(0)) + spent_locked - spent
        self.free[got_asset] = self.free.get(got_asset, Decimal(0)) + got

    def balances(self, omit_zero: bool = False) -> list[dict[str, str]]:
        """Binance's ``balances`` rows, sorted by asset."""
        assets = sorted(set(self.free) | set(self.locked))
        rows = [{"asset": a, "free": fmt(self.free.get(a, Decimal(0))), "locked": fmt(self.locked.get(a, Decimal(0)))} for a in assets]
        return [r for r in rows if Decimal(r["free"]) or Decimal(r["locked"])] if omit_zero else rows


@dataclass
class Accounts:
    """The accounts by API key, and the signature check every signed endpoint runs first."""

    by_key: dict[str, Account] = field(default_factory=dict)
    wall: Callable[[], float] = time.time

    def open(self, key: str, secret: str, balances: dict[str, Decimal] | None = None) -> Account:
        """Create (or replace) the account of ``key`` with ``balances`` (``DEFAULT_BALANCES`` if None)."""
        account = Account(key=key, secret=secret, free=dict(DEFAULT_BALANCES if balances is None else balances))
        self.by_key[key] = account
        return account

    def authenticate(self, api_key: str | None, query: str, body: str) -> tuple[Account, dict[str, str]]:
        """The account a signed request acts for, and its parameters (query and form body merged).

        ``query`` and ``body`` are the raw strings as received. Raises BinanceError: -2014 with no
        or a malformed key, -2015 for an unknown key, -1102 without ``signature`` or ``timestamp``,
        -1022 when the signature does not match, -1021 outside ``recvWindow``.
        """
        if not api_key or not api_key.isprintable() or len(api_key) > 256:
            raise BinanceError(401, -2014, "API-key format invalid.")
        account = self.by_key.get(api_key)
        if account is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        pairs = parse_qsl(query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True)
        params = dict(pairs)
        signature = params.pop("signature", None)
        for name, value in (("signature", signature), ("timestamp", params.get("timestamp"))):
            if not value:
                raise BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        signed = _without_signature(query) + _without_signature(body)
        expected = hmac.new(account.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, (signature or "").lower()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        try:
            stamp, window = int(params["timestamp"]), int(params.get("recvWindow", RECV_WINDOW_MS))
        except ValueError as e:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'timestamp' or 'recvWindow'.") from e
        if not 0 < window <= MAX_RECV_WINDOW_MS:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now_ms = int(self.wall() * 1000)
        if stamp > now_ms + 1000 or now_ms - stamp > window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return account, params

    def listing(self) -> list[dict[str, object]]:
        """What the switchboard shows: every account's key (never its secret) and balances."""
        return [{"key": a.key, "balances": a.balances()} for a in self.by_key.values()]


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def default_accounts(keys: Iterable[tuple[str, str]] | None = None, balances: dict[str, Decimal] | None = None) -> Accounts:
    """Accounts holding ``keys`` (``[(key, secret)]``; the default pair if None), each with ``balances``."""
    accounts = Accounts()
    for key, secret in keys if keys is not None else [(DEFAULT_KEY, DEFAULT_SECRET)]:
        accounts.open(key, secret, balances)
    return accounts
