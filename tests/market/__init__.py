"""The tests' side of the paper exchange (``engine.paper``, served by ``fleetops paper-exchange``).

``server``, ``control``, ``prices`` and ``pairs`` re-export the shipped modules (``engine.paper``,
``engine.market``), ``runner`` starts it from tests (thread or subprocess), ``bot`` writes and
runs a FreqTrade dry-run bot against it, and ``python -m tests.market`` serves it on its own. ``ccxt_overrides`` is the part of a FreqTrade
``exchange`` block that points ccxt's Binance client at it; ``signed_query`` signs a request to
its private endpoints as Binance wants, and ``ccxt_probe`` drives ccxt's binance class against it
from ``.venv-freqtrade``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode


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


def signed_query(secret: str, **params: Any) -> str:
    """``params`` as Binance's signed query string: urlencoded, a fresh ``timestamp`` unless given, then ``signature``."""
    params.setdefault("timestamp", int(time.time() * 1000))
    query = urlencode(params)
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"
