"""The local market (tests/market): the seeded random walk, the Binance-shaped API, and the real
thing — an unmodified ``freqtrade trade`` dry-run opening and closing trades against it offline.

FreqTrade is not a dependency of the project: it lives in ``.venv-freqtrade`` and runs here only
as a subprocess; the real test fails, naming the README's test command, when that venv is missing.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.market.listing import make_listing
from engine.paper.accounts import DEFAULT_KEY, DEFAULT_SECRET
from engine.paper.orders import top_of_book
from tests.market import ccxt_overrides, signed_query
from tests.market.bot import (
    FREQTRADE,
    FtApi,
    start_freqtrade,
    stop_freqtrade,
    write_bot,
)
from tests.market.prices import INTERVALS, Walk, candle_start, candles
from tests.market.runner import SubprocessMarket, ThreadedMarket

T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC, a Thursday
WALK = Walk(seed=7, pair="BTC/USDT", anchor=T0, start_price=60000.0, sigma=0.002 / math.sqrt(60))


# --- the random walk ----------------------------------------------------------------------------


def test_walk_is_deterministic_and_seeded() -> None:
    times = [T0 - 10**7, T0 - 1, T0, T0 + 1, T0 + 59, T0 + 3600 * 24 * 40 + 17]
    again = Walk(seed=7, pair="BTC/USDT", anchor=T0, start_price=60000.0, sigma=WALK.sigma)
    assert [WALK.price(t) for t in times] == [again.price(t) for t in times]
    assert WALK.price(T0) == pytest.approx(60000.0)
    other_seed = Walk(seed=8, pair="BTC/USDT", anchor=T0, start_price=60000.0, sigma=WALK.sigma)
    other_pair = Walk(seed=7, pair="ETH/USDT", anchor=T0, start_price=60000.0, sigma=WALK.sigma)
    assert WALK.price(T0 + 600) != other_seed.price(T0 + 600)
    assert WALK.price(T0 + 600) != other_pair.price(T0 + 600)
    # Steps once per second: any time inside a second has that second's price.
    assert WALK.price(T0 + 10.2) == WALK.price(T0 + 10.9) == WALK.price(T0 + 10)


def test_candles_for_any_window_are_computed_the_same() -> None:
    now = T0 + 86400 * 3 + 1234.5
    whole = candles(WALK, "1m", now, limit=300)
    tail = candles(WALK, "1m", now, limit=50)
    assert tail == whole[-50:]
    window = candles(WALK, "1m", now, start_ms=whole[100].open_time, end_ms=whole[119].open_time, limit=1000)
    assert window == whole[100:120]
    # Asking later does not change closed candles.
    later = candles(WALK, "1m", now + 3600, start_ms=whole[0].open_time, limit=len(whole) - 1)
    assert later == whole[:-1]


@pytest.mark.parametrize("interval", ["1s", "1m", "3m", "5m", "15m", "1h", "4h", "1d", "1w"])
def test_candles_line_up_and_are_consistent(interval: str) -> None:
    size = INTERVALS[interval]
    now = T0 + 86400 * 30 + 777.25
    rows = candles(WALK, interval, now, limit=200)
    assert len(rows) == 200
    for row in rows:
        offset = 4 * 86400 if interval == "1w" else 0  # Binance weeks open on Monday
        assert (row.open_time // 1000 - offset) % size == 0
        assert row.close_time == row.open_time + size * 1000 - 1
        assert 0 < row.low <= min(row.open, row.close) <= max(row.open, row.close) <= row.high
        assert row.volume >= 0 and row.trades >= 0
    for before, after in itertools.pairwise(rows):
        assert after.open_time - before.open_time == size * 1000
        assert after.open == before.close  # the path is continuous across candles
    assert rows[-1].open_time <= now * 1000 < rows[-1].close_time  # the current candle is last
    if interval == "1w":
        assert time.gmtime(rows[-1].open_time / 1000).tm_wday == 0


def test_coarse_candles_open_and_close_where_fine_ones_do() -> None:
    now = T0 + 86400 + 0.5
    hours = candles(WALK, "1h", now, limit=24, end_ms=(T0 + 86400 - 3600) * 1000)
    minutes = candles(WALK, "1m", now, start_ms=hours[0].open_time, limit=60)
    assert hours[0].open == minutes[0].open
    assert hours[0].close == minutes[-1].close


def test_current_candle_forms_as_time_passes() -> None:
    start = candle_start(T0 + 1000, "5m")
    seen = [candles(WALK, "5m", start + dt + 0.5, limit=1)[0] for dt in (0, 10, 60, 299)]
    assert len({c.open_time for c in seen}) == 1 and len({c.open for c in seen}) == 1
    assert [c.close for c in seen] == [WALK.price(start + dt) for dt in (0, 10, 60, 299)]
    assert [c.volume for c in seen] == sorted(c.volume for c in seen)
    assert seen[0].volume == 0 and seen[0].high == seen[0].low == seen[0].open
    closed = candles(WALK, "5m", start + 300 + 0.5, limit=2)[0]
    assert closed.open_time == seen[0].open_time and closed.close == WALK.price(start + 300)
    # Nothing from the future: the newest candle is the one containing now.
    assert candles(WALK, "1m", T0 + 30, start_ms=(T0 + 120) * 1000) == []


def test_volatility_is_what_was_asked_for() -> None:
    rows = candles(WALK, "1m", T0 + 86400 * 5, limit=1000)
    returns = [math.log(b.close / b.open) for b in rows[:-1]]
    assert statistics.pstdev(returns) == pytest.approx(0.002, rel=0.15)


# --- the HTTP API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def market() -> Iterator[ThreadedMarket]:
    """One real server for the API tests, its clock frozen an hour and 12.5 s after the anchor."""
    with ThreadedMarket(seed=7, pairs=["BTC/USDT", "ETH/USDT", "ETH/BTC"], start=T0, clock=lambda: T0 + 3600 + 12.5) as running:
        yield running


@pytest.fixture
def client(market: ThreadedMarket) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=market.url) as http:
        http.post("/_market/up")
        http.post("/_market/reset")
        yield http


def test_exchange_info_describes_spot_pairs(client: httpx.Client) -> None:
    info = client.get("/api/v3/exchangeInfo").json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    btc = info["symbols"][0]
    assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert float(filters["LOT_SIZE"]["stepSize"]) > 0 and float(filters["NOTIONAL"]["minNotional"]) == 5
    one = client.get("/api/v3/exchangeInfo", params={"symbol": "ETHUSDT"}).json()
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]


def test_klines_tickers_and_book_agree(client: httpx.Client) -> None:
    rows = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 3}).json()
    assert len(rows) == 3 and all(len(r) == 12 and isinstance(r[1], str) for r in rows)
    assert rows[-1][0] == (T0 + 3600) * 1000  # the forming candle
    last = client.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"}).json()["price"]
    assert rows[-1][4] == last
    book = client.get("/api/v3/ticker/bookTicker", params={"symbol": "BTCUSDT"}).json()
    assert float(book["bidPrice"]) < float(last) < float(book["askPrice"])
    depth = client.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 20}).json()
    assert len(depth["bids"]) == len(depth["asks"]) == 20
    assert [depth["bids"][0][0], depth["asks"][0][0]] == [book["bidPrice"], book["askPrice"]]
    assert [float(b[0]) for b in depth["bids"]] == sorted((float(b[0]) for b in depth["bids"]), reverse=True)
    day = client.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"}).json()
    assert day["lastPrice"] == last and float(day["lowPrice"]) <= float(last) <= float(day["highPrice"])
    many = client.get("/api/v3/ticker/24hr", params={"symbols": '["BTCUSDT","ETHBTC"]'}).json()
    assert [t["symbol"] for t in many] == ["BTCUSDT", "ETHBTC"]
    assert len(client.get("/api/v3/ticker/24hr").json()) == 3
    assert client.get("/api/v3/time").json() == {"serverTime": (T0 + 3600) * 1000 + 12500}
    assert client.get("/api/v3/ping").json() == {}


def test_errors_look_like_binance_and_unknown_calls_are_logged(client: httpx.Client) -> None:
    bad = client.get("/api/v3/klines", params={"symbol": "NOPEUSDT", "interval": "1m"})
    assert (bad.status_code, bad.json()["code"]) == (400, -1121)
    assert client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "7m"}).json()["code"] == -1120
    assert client.get("/sapi/v1/asset/tradeFee").status_code == 404
    stats = client.get("/_market/stats").json()
    assert stats["unknown"] == {"GET /sapi/v1/asset/tradeFee": 1}
    assert stats["by_endpoint"]["GET /api/v3/klines"] == 2 and stats["total"] == 3
    assert stats["recent"][-1]["path"] == "/sapi/v1/asset/tradeFee"


def test_down_switch_fails_every_exchange_call_but_not_the_control_api(client: httpx.Client) -> None:
    assert client.post("/_market/down").json() == {"down": True, "mode": "error"}
    failed = client.get("/api/v3/ping")
    assert failed.status_code == 503 and failed.json()["code"] == -1001
    assert client.get("/_market/stats").json()["refused"] == 1
    client.post("/_market/up")
    assert client.get("/api/v3/ping").status_code == 200
    assert client.post("/_market/down", params={"mode": "sideways"}).status_code == 400
    client.post("/_market/reset")
    assert client.get("/_market/stats").json()["total"] == 0


def test_hang_mode_holds_calls_until_the_market_is_back() -> None:
    with ThreadedMarket(seed=7, pairs=["BTC/USDT"]) as market:
        httpx.post(f"{market.url}/_market/down", params={"mode": "hang"})
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{market.url}/api/v3/time", timeout=0.5)
        httpx.post(f"{market.url}/_market/up")
        assert httpx.get(f"{market.url}/api/v3/time", timeout=2).status_code == 200


def test_module_runs_as_a_process_on_any_address() -> None:
    extra = ["--key", "k1", "--secret", "s1", "--balances", "USDT=250,SOL=2"]
    with SubprocessMarket(seed=3, pairs=["SOL/USDT"], host="0.0.0.0", port=0, extra_args=extra) as market:
        assert market.port != 0
        info = httpx.get(f"{market.url}/api/v3/exchangeInfo").json()
        assert [s["symbol"] for s in info["symbols"]] == ["SOLUSDT"]
        assert httpx.get(f"{market.url}/_market/stats").json()["seed"] == 3
        account = httpx.get(f"{market.url}/api/v3/account?{signed_query('s1')}", headers={"X-MBX-APIKEY": "k1"}).json()
        assert account["balances"] == [{"asset": "SOL", "free": "2.00000000", "locked": "0.00000000"},
                                       {"asset": "USDT", "free": "250.00000000", "locked": "0.00000000"}]
        default = httpx.get(f"{market.url}/api/v3/account?{signed_query(DEFAULT_SECRET)}", headers={"X-MBX-APIKEY": DEFAULT_KEY})
        assert default.json()["code"] == -2015  # the command's keys replace the default pair


def test_ccxt_overrides_point_only_the_spot_api_here() -> None:
    assert ccxt_overrides("http://172.17.0.1:9100/") == {
        "urls": {"api": {"public": "http://172.17.0.1:9100/api/v3", "private": "http://172.17.0.1:9100/api/v3"}},
        "options": {"fetchMarkets": {"types": ["spot"]}},
    }


# --- the private (signed) endpoints ------------------------------------------------------------


class Clock:
    """A market clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _call(url: str, method: str, path: str, *, key: str = DEFAULT_KEY, secret: str = DEFAULT_SECRET, **params: Any) -> httpx.Response:
    query = signed_query(secret, **params)
    if method == "POST":  # ccxt sends POST parameters as a form body, GET/DELETE in the query
        return httpx.post(f"{url}{path}", content=query, headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"})
    return httpx.request(method, f"{url}{path}?{query}", headers={"X-MBX-APIKEY": key})


LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000", "price": "50000.00"}
REFUSED = [  # (what is wrong, request changes, HTTP status, Binance code, message)
    ("no key", {"key": ""}, 401, -2014, "API-key format invalid."),
    ("unknown key", {"key": "nobody"}, 401, -2015, "Invalid API-key, IP, or permissions for action."),
    ("wrong secret", {"secret": "guess"}, 400, -1022, "Signature for this request is not valid."),
    ("stale timestamp", {"timestamp": 1_000_000}, 400, -1021, "Timestamp for this request is outside of the recvWindow."),
    ("price off the tick grid", {"price": "50000.001"}, 400, -1013, "Filter failure: PRICE_FILTER"),
    ("quantity off the step grid", {"quantity": "0.0100001"}, 400, -1013, "Filter failure: LOT_SIZE"),
    ("below the minimum notional", {"quantity": "0.00001"}, 400, -1013, "Filter failure: NOTIONAL"),
    ("more than the balance", {"quantity": "1"}, 400, -2010, "Account has insufficient balance for requested action."),
    ("unknown symbol", {"symbol": "NOPEUSDT"}, 400, -1121, "Invalid symbol."),
    ("no timeInForce on a limit order", {"timeInForce": ""}, 400, -1102,
     "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
]


@pytest.mark.parametrize(("wrong", "change", "status", "code", "msg"), REFUSED, ids=[r[0] for r in REFUSED])
def test_signed_requests_are_refused_as_binance_refuses_them(market: ThreadedMarket, wrong: str, change: dict[str, Any], status: int,
                                                             code: int, msg: str) -> None:
    httpx.post(f"{market.url}/_market/accounts", json={"key": DEFAULT_KEY, "secret": DEFAULT_SECRET})  # afresh: 10,000 USDT, no orders
    response = _call(market.url, "POST", "/api/v3/order", **{**LIMIT, **change})
    assert (response.status_code, response.json()) == (status, {"code": code, "msg": msg})
    balances = _call(market.url, "GET", "/api/v3/account").json()["balances"]
    assert {b["asset"]: b["locked"] for b in balances}.get("USDT") == "0.00000000"  # nothing was locked by the refused order


def test_unknown_orders_and_the_account_listing(market: ThreadedMarket) -> None:
    assert _call(market.url, "GET", "/api/v3/order", symbol="BTCUSDT", orderId=424242).json()["code"] == -2013
    assert _call(market.url, "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="nope").json()["code"] == -2011
    listed = httpx.get(f"{market.url}/_market/accounts").json()
    assert [a["key"] for a in listed] == [DEFAULT_KEY] and "secret" not in json.dumps(listed)
    opened = httpx.post(f"{market.url}/_market/accounts", json={"key": "k2", "secret": "s2", "balances": {"ETH": "3"}})
    assert [a["balances"] for a in opened.json() if a["key"] == "k2"] == [[{"asset": "ETH", "free": "3.00000000", "locked": "0.00000000"}]]
    assert _call(market.url, "GET", "/api/v3/account", key="k2", secret="s2").json()["balances"][0]["free"] == "3.00000000"
    assert httpx.post(f"{market.url}/_market/accounts", json={"key": "k3"}).status_code == 400


def _resting_buy_then_walk(poll_every: int) -> dict[str, Any]:
    """A GTC buy one 0.1 % under the ask at T0+3600, the clock moved on in ``poll_every``-second steps until it fills."""
    clock = Clock(T0 + 3600 + 0.25)
    with ThreadedMarket(seed=7, pairs=["BTC/USDT"], start=T0, clock=clock) as running:
        _, ask, _ = top_of_book(running.app.state.market.listings["BTCUSDT"], clock.now)
        price = f"{math.floor(ask * 0.999 * 100) / 100:.2f}"
        placed = _call(running.url, "POST", "/api/v3/order", **{**LIMIT, "price": price, "newOrderRespType": "RESULT"}).json()
        assert placed["status"] == "NEW" and "fills" not in placed
        locked = {b["asset"]: b["locked"] for b in _call(running.url, "GET", "/api/v3/account").json()["balances"]}
        assert float(locked["USDT"]) == pytest.approx(0.01 * float(price))
        for _ in range(20000 // poll_every):
            clock.now += poll_every
            order = _call(running.url, "GET", "/api/v3/order", symbol="BTCUSDT", orderId=placed["orderId"]).json()
            if order["status"] == "FILLED":
                break
        trades = _call(running.url, "GET", "/api/v3/myTrades", symbol="BTCUSDT").json()
        balances = _call(running.url, "GET", "/api/v3/account", omitZeroBalances="true").json()["balances"]
        return {"price": price, "order": order, "trades": trades, "balances": balances}


def test_a_resting_limit_order_fills_when_the_walk_reaches_it_the_same_however_often_it_is_polled() -> None:
    often, rarely = _resting_buy_then_walk(1), _resting_buy_then_walk(997)
    order, trade = often["order"], often["trades"][0]
    assert order["status"] == "FILLED" and order["executedQty"] == "0.01000000"
    # The fill is at the first whole second whose ask is at or under the limit, at the limit price, as maker.
    listing = make_listing("BTC/USDT", seed=7, anchor=T0, sigma=WALK.sigma)
    first = next(t for t in range(T0 + 3601, T0 + 3601 + 20000) if top_of_book(listing, t)[1] <= float(often["price"]) + 1e-9)
    assert trade["time"] == first * 1000 and trade["price"] == often["price"] + "000000" and trade["isMaker"] and trade["isBuyer"]
    assert (trade["commission"], trade["commissionAsset"]) == ("0.00001000", "BTC")  # 0.1 % of what was bought
    spent = 0.01 * float(often["price"])
    assert {b["asset"]: float(b["free"]) for b in often["balances"]} == pytest.approx({"BTC": 0.00999, "USDT": 10000 - spent})
    # Polled every second or every 997 seconds: the same fill, at the same second.
    assert (rarely["order"], rarely["trades"], rarely["balances"]) == (often["order"], often["trades"], often["balances"])


FT_PYTHON = FREQTRADE.parent / "python"


def test_ccxt_trades_on_the_paper_account(tmp_path: Path) -> None:
    """ccxt's own binance class (FreqTrade's client), keys set: load_markets, balance, orders, trades and its exceptions."""
    assert FT_PYTHON.exists(), f"ccxt comes with FreqTrade: run the README's test command (missing {FT_PYTHON})"
    probe = Path(__file__).parent / "market" / "ccxt_probe.py"
    with ThreadedMarket(seed=7, pairs=["BTC/USDT", "ETH/USDT"], start=T0, clock=lambda: T0 + 3600 + 12.5) as running:
        done = subprocess.run([str(FT_PYTHON), str(probe), running.url, DEFAULT_KEY, DEFAULT_SECRET], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        unknown = httpx.get(f"{running.url}/_market/stats").json()["unknown"]
    out = json.loads(done.stdout)
    assert unknown == {}  # every call ccxt made with keys set is served
    assert out["balance0"] == {"USDT": 10000.0}
    bid, ask = out["bid"], out["ask"]
    buy = out["market_buy"]
    assert (buy["status"], buy["filled"], buy["average"], buy["fee"]) == ("closed", 0.01, ask, {"currency": "BTC", "cost": 1e-05})
    assert out["balance1"]["free"] == pytest.approx({"BTC": 0.00999, "USDT": 10000 - 0.01 * ask})
    assert out["limit_open"]["status"] == "open" and out["limit_open"]["clientOrderId"] == "my-low-bid"
    assert out["fetched"] == "open" and out["open_orders"] == ["2"]
    assert out["used_while_open"] == pytest.approx(0.01 * out["limit_open"]["price"])
    assert (out["canceled"], out["used_after_cancel"]) == ("canceled", 0.0)
    assert out["ioc"] == "expired"
    sell = out["limit_sell_through_book"]  # priced under the bid: fills at once, at the bid
    assert (sell["status"], sell["filled"], sell["average"]) == ("closed", 0.005, bid)
    assert sell["fee"] == {"currency": "USDT", "cost": pytest.approx(0.005 * bid * 0.001)}
    assert [(t["side"], t["amount"], t["price"], t["order"]) for t in out["my_trades"]] == [("buy", 0.01, ask, "1"), ("sell", 0.005, bid, "4")]
    assert out["all_orders"] == ["closed", "canceled", "expired", "closed"]
    raised = {name: out[name]["raised"] for name in ("insufficient", "unknown_order", "cancel_unknown", "too_small", "bad_secret", "bad_key")}
    assert raised == {"insufficient": "InsufficientFunds", "unknown_order": "OrderNotFound", "cancel_unknown": "OrderNotFound",
                      "too_small": "BadRequest", "bad_secret": "AuthenticationError", "bad_key": "AuthenticationError"}
    assert out["balance_end"] == pytest.approx({"BTC": 0.00499, "USDT": 10000 - 0.01 * ask + 0.005 * bid * 0.999})


# --- the real thing -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(what: str, check: Callable[[], Any], timeout: float, proc: subprocess.Popen[bytes], log: Path) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the bot's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"freqtrade exited while waiting for {what}:\n{log.read_text()[-4000:]}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"no {what} within {timeout} s:\n{log.read_text()[-4000:]}")


@pytest.mark.freqtrade
@pytest.mark.slow
def test_freqtrade_trades_offline_and_stalls_when_the_market_hangs(tmp_path: Path) -> None:
    assert FREQTRADE.exists(), f"FreqTrade is needed for this test: run the README's test command (missing {FREQTRADE})"
    pairs = ["BTC/USDT", "ETH/USDT"]
    port = _free_port()
    with ThreadedMarket(seed=7, pairs=pairs) as market:
        config = write_bot(tmp_path / "bot", hold_seconds=10, bot_name="market-test", market_url=market.url, api_port=port, pairs=pairs)
        log = config.parent / "freqtrade.log"
        api = FtApi(port)
        started = time.monotonic()
        proc = start_freqtrade(config, log=log)
        try:
            _wait("API ping", api.ping, 60, proc, log)
            t_ping = time.monotonic() - started
            _wait("open trade", lambda: api.get("status"), 30, proc, log)
            t_open = time.monotonic() - started
            closed = _wait("closed trade", lambda: api.get("trades")["trades"], 60, proc, log)
            t_closed = time.monotonic() - started
            assert closed[0]["exit_reason"] == "held_long_enough" and not closed[0]["is_open"]
            profit = api.get("profit")
            assert profit["closed_trade_count"] >= 1 and profit["trade_count"] >= 1
            assert api.get("count")["max"] == 3

            # The loop runs: last_process_ts keeps moving (throttle 2 s).
            first = api.get("health")["last_process_ts"]
            _wait("loop progress", lambda: api.get("health")["last_process_ts"] > first, 15, proc, log)

            stats = httpx.get(f"{market.url}/_market/stats").json()
            for call in ("exchangeInfo", "time", "klines", "ticker/24hr", "depth"):
                assert stats["by_endpoint"].get(f"GET /api/v3/{call}", 0) >= 1, call
            assert stats["unknown"] == {}

            # The market hangs: ping still answers, but the next loop that needs the exchange
            # (an open trade's price, or the next candle) blocks, so last_process_ts stops.
            httpx.post(f"{market.url}/_market/down", params={"mode": "hang"})
            t_down = time.monotonic()

            def stalled() -> bool:
                return api.ping() and time.time() - api.get("health")["last_process_ts"] > 12

            _wait("stalled loop", stalled, 90, proc, log)
            t_stalled = time.monotonic() - t_down
            assert api.ping()

            httpx.post(f"{market.url}/_market/up")
            _wait("recovered loop", lambda: time.time() - api.get("health")["last_process_ts"] < 5, 60, proc, log)
        finally:
            stop_freqtrade(proc)
        text = log.read_text()
        assert "binance.com" not in text  # nothing tried the real exchange
        print(
            f"\nfreqtrade: ping {t_ping:.1f} s, first trade open {t_open:.1f} s, first trade closed {t_closed:.1f} s "
            f"after start; loop stalled {t_stalled:.1f} s after the market went down"
        )


@pytest.mark.freqtrade
@pytest.mark.slow
def test_a_live_freqtrade_bot_trades_on_the_paper_account(tmp_path: Path) -> None:
    """``freqtrade trade`` with dry_run false and the paper keys: its orders are real orders of the paper account."""
    assert FREQTRADE.exists(), f"FreqTrade is needed for this test: run the README's test command (missing {FREQTRADE})"
    pairs = ["BTC/USDT", "ETH/USDT"]
    port = _free_port()
    with ThreadedMarket(seed=7, pairs=pairs) as market:
        config = write_bot(tmp_path / "bot", hold_seconds=10, bot_name="live-paper", market_url=market.url, api_port=port, pairs=pairs,
                           live_keys=(DEFAULT_KEY, DEFAULT_SECRET))
        log = config.parent / "freqtrade.log"
        api = FtApi(port)
        proc = start_freqtrade(config, log=log)
        try:
            _wait("API ping", api.ping, 60, proc, log)
            assert api.get("show_config")["dry_run"] is False
            closed = _wait("closed trade", lambda: [t for t in api.get("trades")["trades"] if not t["is_open"]], 90, proc, log)
        finally:
            stop_freqtrade(proc)
        trade = closed[0]
        symbol = trade["pair"].replace("/", "")
        fills = _call(market.url, "GET", "/api/v3/myTrades", symbol=symbol).json()
        buys = [f for f in fills if f["isBuyer"]]
        sells = [f for f in fills if not f["isBuyer"]]
        assert buys and sells, fills
        # FreqTrade's trade is the paper account's fills: its entry and exit rates, and the amount bought less the fee in BTC.
        assert trade["open_rate"] == pytest.approx(float(buys[0]["price"]))
        assert trade["close_rate"] == pytest.approx(float(sells[0]["price"]))
        bought = float(buys[0]["qty"]) - float(buys[0]["commission"])
        assert bought * 0.999 <= trade["amount"] <= bought
        # USDT held (free or locked by an open order) is the start less every buy plus every sell less its fee, on all pairs.
        every = [f for p in pairs for f in _call(market.url, "GET", "/api/v3/myTrades", symbol=p.replace("/", "")).json()]
        paid = sum(float(f["quoteQty"]) for f in every if f["isBuyer"]) - sum(float(f["quoteQty"]) - float(f["commission"]) for f in every if not f["isBuyer"])
        usdt = next(b for b in _call(market.url, "GET", "/api/v3/account").json()["balances"] if b["asset"] == "USDT")
        assert float(usdt["free"]) + float(usdt["locked"]) == pytest.approx(10000 - paid)
        stats = httpx.get(f"{market.url}/_market/stats").json()
        assert stats["unknown"] == {}  # every private call FreqTrade made is served
        assert stats["by_endpoint"]["POST /api/v3/order"] >= 2 and stats["by_endpoint"]["GET /api/v3/account"] >= 1
    assert "binance.com" not in log.read_text()
