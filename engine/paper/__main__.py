"""``python3 -m engine.paper --host H --port P …``: the paper exchange without the CLI's dependencies.

What ``fleetops paper-exchange --detach`` runs inside its container (the pool image: FreqTrade
brings Starlette and uvicorn, and ``engine.paper`` needs nothing else), so a paper exchange can
run as a container with a restart policy, like the bots it serves.
"""

from __future__ import annotations

import argparse

from engine.paper import DEFAULT_PORT, PAPER_PAIRS
from engine.paper.accounts import DEFAULT_KEY, DEFAULT_SECRET
from engine.paper.serve import serve


def main(argv: list[str] | None = None) -> None:
    """Parse the options ``fleetops paper-exchange`` passes on and serve in the foreground."""
    parser = argparse.ArgumentParser(prog="python3 -m engine.paper", description="The paper exchange (see fleetops paper-exchange).")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", default=",".join(PAPER_PAIRS))
    parser.add_argument("--start", type=float, default=None)
    parser.add_argument("--volatility", type=float, default=0.002)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--balances", default=None)
    args = parser.parse_args(argv)
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    serve(args.host, args.port, seed=args.seed, pairs=pairs, start=args.start, volatility=args.volatility,
          ready=lambda line: print(line, flush=True), key=args.key, secret=args.secret, balances=args.balances)


if __name__ == "__main__":
    main()
