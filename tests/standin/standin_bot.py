"""A TEST DOUBLE for FreqTrade: just enough of a bot for fleetops' scale tests and benchmarks.

It is not FreqTrade. It takes FreqTrade's command line (``webserver|trade --config A --config B
[--userdir DIR]``), merges the configs the way FreqTrade does (later files win, dicts merged),
loads the pinned strategy file with Python's import machinery, so a broken strategy really
fails, and serves FreqTrade's REST API for what fleetops uses:

  GET  /api/v1/ping           {"status": "pong"}, no auth
  GET  /api/v1/show_config    HTTP Basic (api_server.username/password): bot_name, strategy,
                              strategy_version (sha256 of the strategy file), dry_run, state, ...
  POST /api/v1/reload_config  HTTP Basic: re-reads configs and strategy in place

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

    def show_config(self) -> dict[str, Any]:
        c = self.config
        return {
            "bot_name": c.get("bot_name"), "strategy": c.get("strategy"), "strategy_version": self.strategy_version,
            "dry_run": c.get("dry_run"), "runmode": "webserver", "state": "running", "stake_currency": c.get("stake_currency"),
            "dry_run_wallet": c.get("dry_run_wallet"), "timeframe": c.get("timeframe"), "exchange": (c.get("exchange") or {}).get("name"),
            "stoploss": c.get("stoploss"), "max_open_trades": c.get("max_open_trades"),
        }


def make_handler(bot: Bot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep logs quiet
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
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
                    self._send(200, bot.show_config())
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
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
    server = ThreadingHTTPServer((api.get("listen_ip_address", "127.0.0.1"), int(api.get("listen_port", 8080))), make_handler(bot))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"standin-bot: {bot.config.get('bot_name')} serving on port {api.get('listen_port')}", flush=True)
    server.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
