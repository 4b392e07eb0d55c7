"""``python -m tests.market --host 0.0.0.0 --port 9100 --seed 7``: serve the market until killed.

Prints ``fleetops market listening on HOST:PORT`` (the real port when ``--port 0``) as its first
line once the socket is bound, so a parent process can wait for it.
"""

from __future__ import annotations

import argparse

from tests.market.runner import bind, uvicorn_server
from tests.market.server import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.market", description="A local Binance-spot-like market for offline FreqTrade dry runs.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to reach it from containers)")
    parser.add_argument("--port", type=int, default=9100, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", nargs="*", default=None, help="pairs as BASE/QUOTE (default: a fixed set)")
    parser.add_argument("--start", type=float, default=None, help="anchor of the price paths, epoch seconds (default: now, floored to the minute)")
    parser.add_argument("--volatility", type=float, default=0.002, help="std of the one-minute price change (default 0.002)")
    args = parser.parse_args(argv)

    app = create_app(args.seed, args.pairs, start=args.start, volatility=args.volatility)
    sock = bind(args.host, args.port)
    print(f"fleetops market listening on {args.host}:{sock.getsockname()[1]}", flush=True)
    uvicorn_server(app).run(sockets=[sock])


if __name__ == "__main__":
    main()
