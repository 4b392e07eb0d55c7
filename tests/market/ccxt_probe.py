"""Run by ``.venv-freqtrade``'s Python (it has ccxt; the project venv does not): ccxt's binance
class against a paper exchange, printing one JSON object of what each call returned or raised.

``python tests/market/ccxt_probe.py URL KEY SECRET``; the test (tests/test_market.py) asserts on it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import ccxt  # type: ignore[import-not-found]


def client(url: str, key: str, secret: str) -> Any:
    api = f"{url}/api/v3"
    return ccxt.binance({"apiKey": key, "secret": secret, "enableRateLimit": False,
                         "urls": {"api": {"public": api, "private": api, "sapi": f"{url}/sapi/v1"}},
                         "options": {"fetchMarkets": {"types": ["spot"]}}})


def attempt(call: Any) -> Any:
    try:
        return call()
    except ccxt.BaseError as e:
        return {"raised": type(e).__name__, "message": str(e)}


def main(url: str, key: str, secret: str) -> None:
    ex = client(url, key, secret)
    out: dict[str, Any] = {}
    ex.load_markets()
    out["balance0"] = ex.fetch_balance()["total"]
    bought = ex.create_order("BTC/USDT", "market", "buy", 0.01)
    out["market_buy"] = {k: bought[k] for k in ("status", "filled", "average", "cost", "fee", "clientOrderId", "id")}
    out["balance1"] = {"free": ex.fetch_balance()["free"], "used": ex.fetch_balance()["used"]}
    book = ex.fetch_order_book("BTC/USDT", 5)
    low = ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(book["bids"][0][0] * 0.9, 2), {"clientOrderId": "my-low-bid"})
    out["limit_open"] = {k: low[k] for k in ("status", "filled", "clientOrderId", "price")}
    out["fetched"] = ex.fetch_order(low["id"], "BTC/USDT")["status"]
    out["open_orders"] = [o["id"] for o in ex.fetch_open_orders("BTC/USDT")]
    out["used_while_open"] = ex.fetch_balance()["used"].get("USDT")
    out["canceled"] = ex.cancel_order(low["id"], "BTC/USDT")["status"]
    out["used_after_cancel"] = ex.fetch_balance()["used"].get("USDT")
    ioc = ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(book["bids"][0][0] * 0.9, 2), {"timeInForce": "IOC"})
    out["ioc"] = ioc["status"]
    sold = ex.create_order("BTC/USDT", "limit", "sell", 0.005, round(book["bids"][0][0] * 0.99, 2))
    out["limit_sell_through_book"] = {k: sold[k] for k in ("status", "filled", "average", "fee")}
    out["bid"] = book["bids"][0][0]
    out["ask"] = book["asks"][0][0]
    out["my_trades"] = [{k: t[k] for k in ("side", "amount", "price", "fee", "order")} for t in ex.fetch_my_trades("BTC/USDT")]
    out["all_orders"] = [o["status"] for o in ex.fetch_orders("BTC/USDT")]
    out["insufficient"] = attempt(lambda: ex.create_order("BTC/USDT", "market", "buy", 1))
    out["unknown_order"] = attempt(lambda: ex.fetch_order("999999", "BTC/USDT"))
    out["cancel_unknown"] = attempt(lambda: ex.cancel_order("999999", "BTC/USDT"))
    out["too_small"] = attempt(lambda: ex.create_order("BTC/USDT", "limit", "buy", 0.00001, round(book["bids"][0][0] * 0.9, 2)))
    out["bad_secret"] = attempt(lambda: client(url, key, secret + "x").fetch_balance())
    out["bad_key"] = attempt(lambda: client(url, "no-such-key", secret).fetch_balance())
    out["balance_end"] = ex.fetch_balance()["total"]
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
