"""Serving the paper exchange: a bound socket first, then uvicorn on it, until SIGINT/SIGTERM.

Called by ``fleetops paper-exchange`` and by the tests' runners (``tests/market/runner.py``). The
socket is bound before uvicorn starts so ``port=0`` gives a free port with no race, and the ready
line (``READY``) is printed only once it is bound: a parent process reads the port from it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

import uvicorn

from engine.paper.accounts import DEFAULT_KEY, DEFAULT_SECRET, default_accounts, parse_balances
from engine.paper.app import create_app

__all__ = ["READY", "bind", "serve", "uvicorn_server"]

READY = "fleetops paper exchange listening on {host}:{port}"
"""The first line ``serve`` prints (``port`` is the real one when 0 was asked)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port); OSError when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def uvicorn_server(app: object) -> uvicorn.Server:
    """Uvicorn quietly (the app keeps its own request log), with a short graceful stop."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)  # type: ignore[arg-type]
    return uvicorn.Server(config)


def serve(host: str, port: int, *, seed: int, pairs: Iterable[str] | None, start: float | None, volatility: float,
          ready: Callable[[str], None], key: str = DEFAULT_KEY, secret: str = DEFAULT_SECRET, balances: str | None = None) -> None:
    """Serve the paper exchange on ``host:port`` in the foreground; ``ready`` gets the ready line.

    ``key``/``secret`` open the one account the signed endpoints know, holding ``balances``
    (``"USDT=10000,BTC=0.5"``; default ``accounts.DEFAULT_BALANCES``); more come through
    ``POST /_market/accounts``. Raises OSError when the address cannot be bound, ValueError on a
    pair not written BASE/QUOTE or a balance not written ASSET=AMOUNT.
    """
    accounts = default_accounts([(key, secret)], None if balances is None else parse_balances(balances))
    app = create_app(seed, pairs, start=start, volatility=volatility, accounts=accounts)
    sock = bind(host, port)
    ready(READY.format(host=host, port=sock.getsockname()[1]))
    uvicorn_server(app).run(sockets=[sock])
