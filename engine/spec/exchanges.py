"""Pointing an exchange's API at another base URL (a sandbox, a local market for paper trading).

Used by ``engine.compile.ftconfig`` when a bot sets ``exchange_url``, and by validation (which exchanges it can do). FreqTrade hands
``exchange.ccxt_config`` to ccxt's constructor, which deep-merges it over the exchange's own
description, so overriding every entry of ccxt's ``urls.api`` (scheme and host replaced, path
kept) sends every request there; nothing reaches the real exchange. Listed per exchange from
ccxt 4.5 (the version FreqTrade 2026.9 ships); validation refuses ``exchange_url`` elsewhere.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SUPPORTED", "ccxt_overrides"]

_BINANCE = {
    "public": "/api/v3", "private": "/api/v3", "v1": "/api/v1", "sapi": "/sapi/v1", "sapiV2": "/sapi/v2", "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4", "dapiPublic": "/dapi/v1", "dapiPrivate": "/dapi/v1", "dapiPrivateV2": "/dapi/v2", "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1", "eapiPrivate": "/eapi/v1", "fapiPublic": "/fapi/v1", "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3", "fapiPrivate": "/fapi/v1", "fapiPrivateV2": "/fapi/v2", "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data", "papi": "/papi/v1", "papiV2": "/papi/v2",
}
SUPPORTED = {"binance": _BINANCE}


def ccxt_overrides(exchange: str, base: str) -> dict[str, Any]:
    """The ``exchange`` block keys that send every API call of ``exchange`` to ``base``."""
    paths = SUPPORTED[exchange]
    return {
        "enable_ws": False,  # the websocket client would dial the real host
        "ccxt_config": {"urls": {"api": {key: base.rstrip("/") + path for key, path in paths.items()}},
                        "options": {"fetchMarkets": {"types": ["spot"]}}},
    }
