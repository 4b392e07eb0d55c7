"""A local stand-in for Binance spot's public REST API, so ``freqtrade trade`` runs offline.

``server.create_app`` builds the Starlette app, ``prices`` computes the seeded random walk,
``pairs`` describes what is listed, ``control`` is its request log and down switch, ``runner``
starts it from tests (thread or subprocess), ``bot`` writes and runs a FreqTrade dry-run bot
against it, and ``python -m tests.market`` serves it on its own. ``ccxt_overrides`` is the part of a FreqTrade
``exchange`` block that points ccxt's Binance client at it.
"""

from __future__ import annotations

from typing import Any


def ccxt_overrides(base_url: str) -> dict[str, Any]:
    """``exchange.ccxt_config`` for a market at ``base_url`` (e.g. ``http://172.17.0.1:9100``).

    ``urls.api.public`` carries every public spot call (``/api/v3/...``), ``urls.api.private``
    the signed ones (never made in dry-run; pointed here so none can leave the host), and
    ``options.fetchMarkets.types: ["spot"]`` stops ``load_markets`` from also asking the futures
    hosts (fapi/dapi), which ccxt does by default and which would fail offline.
    """
    api = f"{base_url.rstrip('/')}/api/v3"
    return {
        "urls": {"api": {"public": api, "private": api}},
        "options": {"fetchMarkets": {"types": ["spot"]}},
    }
