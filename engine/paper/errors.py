"""The paper exchange's error: Binance's error shape, raised anywhere in ``engine.paper``.

Why a module of its own: the order book and the accounts (``orders``, ``accounts``) raise it and
must not import Starlette; the app (``app``) turns it into the HTTP answer Binance gives. The codes
and messages are Binance's own (its "Error Codes" page), because ccxt maps them to its exception
classes by exact message first, then by code.
"""

from __future__ import annotations

__all__ = ["BinanceError"]


class BinanceError(Exception):
    """An error answered in Binance's shape: ``{"code": -1121, "msg": "Invalid symbol."}`` with HTTP ``status``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg
