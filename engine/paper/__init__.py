"""The paper exchange: Binance spot's REST API over the local market's seeded walk, for offline dry runs.

``fleetops paper-exchange`` serves it (``serve``); ``app`` answers Binance's public endpoints
(markets, klines, tickers, order book, server time) and its signed ones (account, orders, trades:
``accounts`` checks signatures and keeps balances, ``orders`` fills from the walk), and ``control``
its own switchboard under ``/_market/`` (request log, down switch, accounts). Bots reach it through ``exchange_url`` (fleetops renders
ccxt's URL overrides from it, ``engine.spec.exchanges``), so an unmodified ``freqtrade trade`` in
dry-run opens and closes trades with no network: the example fleet, ``scripts/demo``, CI.

Bots in containers reach a paper exchange on the host at the Docker bridge's gateway
(``docker0``, 172.17.0.1 on a default engine): every container of every bridge network can open
that host address (it is the host's own, so Docker's inter-network isolation does not apply).
``DEFAULT_PORT`` and ``DOCKER_HOST_URL`` are what the example fleet's ``exchange_url`` says.
"""

from __future__ import annotations

from engine.market.listing import DEFAULT_PAIRS

__all__ = ["DEFAULT_PORT", "DOCKER_HOST_URL", "PAPER_PAIRS"]

DEFAULT_PORT = 9100
DOCKER_HOST_URL = f"http://172.17.0.1:{DEFAULT_PORT}"
"""The paper exchange on the host, as bots in containers of a default Docker engine reach it."""

PAPER_PAIRS: tuple[str, ...] = (
    *DEFAULT_PAIRS,
    "LINK/USDT", "AVAX/USDT", "DOT/USDT",
    "BTC/EUR", "ETH/EUR", "SOL/EUR", "ADA/EUR",
)
"""What ``fleetops paper-exchange`` lists by default: the tests' pairs and every pair of the example fleet."""
