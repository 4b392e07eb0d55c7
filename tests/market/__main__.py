"""``python -m tests.market --host 0.0.0.0 --port 9100 --seed 7``: the local market, in the foreground."""

from __future__ import annotations

import argparse

import uvicorn

from tests.market.server import create_app

parser = argparse.ArgumentParser(prog="python -m tests.market")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=9100)
parser.add_argument("--seed", type=int, default=7)
args = parser.parse_args()
uvicorn.run(create_app(args.seed), host=args.host, port=args.port, log_level="warning", access_log=False)
