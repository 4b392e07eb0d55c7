"""A TEST DOUBLE for FreqTrade: just enough of a bot for fleetops' scale tests and benchmarks.

It is not FreqTrade. It takes FreqTrade's command line (``webserver|trade --config A --config B
[--userdir DIR]``), merges the configs the way FreqTrade does (later files win, dicts merged),
loads the pinned strategy file with Python's import machinery, so a broken strategy really
fails, and serves FreqTrade's REST API for what fleetops uses:

  GET  /api/v1/ping           {"status": "pong"}, no auth
  GET  /api/v1/show_config    HTTP Basic (api_server.username/password): bot_name, strategy,
                              strategy_version (sha256 of the strategy file), dry_run, state, ...
  POST /api/v1/reload_config  HTTP Basic: re-reads configs and strategy in place
  GET  /api/v1/health, count, profit, status, logs   trade mode only (503 as a webserver, as
                              FreqTrade does): a stand-in trading loop ticks every
                              internals.process_throttle_secs; a strategy module may set
                              STANDIN_LOOP_ERROR (logged on every tick, as FreqTrade logs a
                              strategy that raises), STANDIN_OPEN_TRADES, and
                              STANDIN_CLOSE_AFTER (seconds after stopbuy until they close)
  POST /api/v1/stopbuy         no new entries; open trades close after STANDIN_CLOSE_AFTER
  SIGUSR1                      stalls the trading loop for good while the API goes on answering
                              (a loop that hangs on an exchange): last_process_ts stops moving

Stdlib only, a few MB of memory, exits 0 on SIGTERM. Strategies import freqtrade, pandas,
talib ...: where those are missing, permissive stand-in modules are installed so the file runs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import signal
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Anything(types.ModuleType):
    """A module (and value) that has every attribute: enough for a strategy file to execute."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything(f"{self.__name__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Anything(self.__name__ + "()")


class IStrategy:
    """Stand-in for freqtrade.strategy.IStrategy."""

    INTERFACE_VERSION = 3

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


def _install_stubs() -> None:
    for name in ("pandas", "numpy", "talib", "talib.abstract", "technical", "freqtrade.vendor", "freqtrade.vendor.qtpylib",
                 "freqtrade.vendor.qtpylib.indicators", "freqtrade.persistence", "freqtrade.exchange"):
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = _Anything(name)
    try:
        importlib.import_module("freqtrade.strategy")
    except ImportError:
        freqtrade = sys.modules.setdefault("freqtrade", types.ModuleType("freqtrade"))
        strategy = _Anything("freqtrade.strategy")
        strategy.IStrategy = IStrategy  # type: ignore[attr-defined]
        sys.modules["freqtrade.strategy"] = strategy
        freqtrade.strategy = strategy  # type: ignore[attr-defined]


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


class Bot:
    def __init__(self, config_files: list[str], userdir: str | None) -> None:
        self.config_files = config_files
        self.userdir = userdir
        self.load()

    def load(self) -> None:
        config: dict[str, Any] = {}
        for path in self.config_files:
            config = deep_merge(config, json.loads(Path(path).read_text()))
        user_data = Path(self.userdir or config.get("user_data_dir", "user_data"))
        if not user_data.is_dir():
            raise SystemExit(f"standin-bot: user_data_dir {user_data} does not exist")
        name = config["strategy"]
        path = Path(config["strategy_path"]) / f"{name}.py"
        text = path.read_bytes()
        spec = importlib.util.spec_from_file_location(f"strategy_{name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # a broken strategy raises here, like FreqTrade's resolver
        if not isinstance(getattr(module, name, None), type):
            raise SystemExit(f"standin-bot: {path} does not define class {name}")
        self.config = config
        self.strategy_version = hashlib.sha256(text).hexdigest()
        self.loop_error = getattr(module, "STANDIN_LOOP_ERROR", None)
        self.open_trades = int(getattr(module, "STANDIN_OPEN_TRADES", 0))
        self.close_after = getattr(module, "STANDIN_CLOSE_AFTER", None)
        self.stopped_entries_at: float | None = None
        self.started = time.time()
        self.last_process = 0.0
        self.stalled = False
        self.logs: list[list[Any]] = []

    def log(self, level: str, message: str) -> None:
        now = time.time()
        self.logs = [*self.logs[-199:], [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)), now * 1000, "freqtrade.worker", level, message]]
        print(f"{level} {message}", flush=True)

    def loop(self) -> None:
        """The stand-in trading loop: one tick per process_throttle_secs."""
        throttle = float((self.config.get("internals") or {}).get("process_throttle_secs", 5))
        while True:
            if self.stopped_entries_at is not None and self.close_after is not None \
                    and time.time() - self.stopped_entries_at >= float(self.close_after) and self.open_trades:
                self.log("INFO", f"Exit for {self.open_trades} trade(s): roi")
                self.open_trades = 0
            if self.loop_error:
                self.log("ERROR", f"Strategy caused the following exception: {self.loop_error}")
            if not self.stalled:
                self.last_process = time.time()
            time.sleep(throttle)

    def show_config(self) -> dict[str, Any]:
        c = self.config
        return {
            "bot_name": c.get("bot_name"), "strategy": c.get("strategy"), "strategy_version": self.strategy_version,
            "dry_run": c.get("dry_run"), "runmode": "webserver", "state": "running", "stake_currency": c.get("stake_currency"),
            "dry_run_wallet": c.get("dry_run_wallet"), "timeframe": c.get("timeframe"), "exchange": (c.get("exchange") or {}).get("name"),
            "stoploss": c.get("stoploss"), "max_open_trades": c.get("max_open_trades"),
        }


def trade_answer(bot: Bot, path: str) -> dict[str, Any] | list[Any] | None:
    """FreqTrade's trade-mode endpoints, from the stand-in loop's state."""
    if path == "/api/v1/health":
        return {"last_process": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(bot.last_process)),
                "last_process_ts": int(bot.last_process), "bot_start_ts": int(bot.started), "bot_startup_ts": int(bot.started)}
    if path == "/api/v1/count":
        return {"current": bot.open_trades, "max": bot.config.get("max_open_trades"), "total_stake": 0.0}
    if path == "/api/v1/profit":
        return {"profit_all_coin": 0.0, "profit_all_percent": 0.0, "profit_closed_coin": 0.0, "trade_count": bot.open_trades}
    if path == "/api/v1/balance":
        wallet = float(bot.config.get("dry_run_wallet") or 0)
        return {"currencies": [], "total": wallet, "total_bot": wallet, "value": wallet, "stake": bot.config.get("stake_currency")}
    if path == "/api/v1/status":
        return [{"trade_id": i + 1, "pair": "BTC/USDT", "is_open": True} for i in range(bot.open_trades)]
    if path.startswith("/api/v1/logs"):
        return {"log_count": len(bot.logs), "logs": bot.logs}
    return None


def make_handler(bot: Bot, mode: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep logs quiet
            pass

        def _send(self, code: int, body: dict[str, Any] | list[Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            api = bot.config.get("api_server", {})
            expected = base64.b64encode(f"{api.get('username')}:{api.get('password')}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                return True
            self._send(401, {"detail": "Unauthorized"})
            return False

        def do_GET(self) -> None:
            if self.path == "/api/v1/ping":
                self._send(200, {"status": "pong"})
            elif self.path == "/api/v1/show_config":
                if self._authorised():
                    self._send(200, {**bot.show_config(), "runmode": "dry_run" if mode == "trade" else "webserver"})
            elif trade_answer(bot, self.path) is not None:
                if self._authorised():
                    answer = trade_answer(bot, self.path) if mode == "trade" else None
                    if answer is None:
                        self._send(503, {"detail": "Bot is not in the correct state."})
                    else:
                        self._send(200, answer)
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            if self.path in ("/api/v1/stopbuy", "/api/v1/stopentry"):
                if self._authorised():
                    bot.stopped_entries_at = time.time()
                    bot.log("INFO", "No more entries will occur from now.")
                    self._send(200, {"status": "No more entries will occur from now. Run /reload_config to reset."})
                return
            if self.path == "/api/v1/reload_config":
                if self._authorised():
                    try:
                        bot.load()
                    except (Exception, SystemExit) as exc:
                        self._send(500, {"detail": f"reload failed: {exc}"})
                        return
                    self._send(200, {"status": "Reloading config ..."})
            else:
                self._send(404, {"detail": "Not Found"})

    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="standin-bot")
    parser.add_argument("mode", choices=["webserver", "trade"])
    parser.add_argument("-c", "--config", action="append", required=True)
    parser.add_argument("--userdir", "--user-data-dir", dest="userdir")
    args, _unknown = parser.parse_known_args(argv)
    _install_stubs()
    try:
        bot = Bot(args.config, args.userdir)
    except SystemExit:
        raise
    except Exception as exc:
        print(f"standin-bot: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    api = bot.config.get("api_server", {})
    server = ThreadingHTTPServer((api.get("listen_ip_address", "127.0.0.1"), int(api.get("listen_port", 8080))), make_handler(bot, args.mode))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    signal.signal(signal.SIGUSR1, lambda *_: setattr(bot, "stalled", True))
    print(f"standin-bot: {bot.config.get('bot_name')} serving on port {api.get('listen_port')}", flush=True)
    if args.mode == "trade":
        threading.Thread(target=bot.loop, daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
