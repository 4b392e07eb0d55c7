"""FreqTrade backtests of pinned strategies on fixed candles, each in a child process: the backtest gate's worker.

Runs with the Python of the bot's image (``docker run --network none --read-only``, the candles
sent along and written to ``/tmp``) or of a local FreqTrade (a subprocess, in a network namespace
of its own when the machine allows one) — never inside fleetops' own process: fleetops passes this file's text to
``python3 -c`` and the request on stdin. Stdlib and FreqTrade only; never imported by the engine
(``engine.backtest.runs`` reads it as text).

A strategy comes with a pull request: it is untrusted code. Each backtest runs in a forked child
(FreqTrade's imports paid once, before the forks) with its own process group, no standard streams
of ours, a CPU-time and an address-space limit and a wall-clock deadline after which its group is
killed; it answers through a pipe, and nothing it prints reaches the answer.

Markets: FreqTrade's backtesting builds its exchange object and loads the exchange's markets
(``Exchange.reload_markets``, freqtrade 2026.9) before it reads a candle — offline that fails
("Could not load markets"). Here the markets come from the request instead: Binance's
``exchangeInfo`` entries for the pairs (``engine.market.listing.symbol_info``), parsed by ccxt's own
Binance parser, so precision and limits are ccxt's reading of them. Nothing is fetched.

stdin:  {"datasets": {ID: {"datadir": PATH or null, "files": {FILE NAME: TEXT} (the candles sent
                                along, when no datadir), "dataformat": FREQTRADE DATAFORMAT,
                                "markets": [BINANCE SYMBOL ENTRY], "timerange": "START-END" (epoch
                                seconds) or null}},
         "seconds": DEADLINE PER RUN,
         "runs": {KEY: {"class": NAME, "text": SOURCE, "config": {FREQTRADE CONFIG KEYS}, "data": ID}}}
stdout: {"freqtrade": VERSION, "runs": {KEY: RESULT with "seconds" it took}} or {"unavailable": WHY}
A run with ``"analysis": "lookahead"`` is FreqTrade's lookahead-analysis instead; its RESULT is
{"signals": N checked, "bias": true/false, or null when there were too few trades to judge,
"false_entries", "false_exits", "biased_indicators": [NAME]}.
RESULT: {"trades", "wins", "draws", "losses", "profit_pct", "max_drawdown_pct", "win_rate_pct",
         "trades_sha256"} or {"error": KIND, "message": TEXT}; KIND is failed, timeout or crashed.
         Numbers are rounded (percentages to 1e-6) so the answer is byte-stable; ``trades_sha256``
         is the sha256 of the trade list (pair, open and close time, rates, profit ratio, exit reason).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MEMORY = 2 << 30
"""Address space a backtest may add to what the worker already maps (bytes)."""
MINIMUM_SIGNALS = 10
"""Trades lookahead-analysis needs before it judges (FreqTrade's default)."""
TARGETED_SIGNALS = 20
"""Trades it re-runs at most (FreqTrade's default)."""
TRADE_FIELDS = ("pair", "open_timestamp", "close_timestamp", "open_rate", "close_rate", "amount", "profit_ratio", "exit_reason", "enter_tag")


def main() -> int:
    request = json.load(sys.stdin)
    try:
        import freqtrade  # type: ignore[import-not-found]
        from freqtrade.configuration import Configuration  # type: ignore[import-not-found]  # noqa: F401 - paid once, before the forks
        from freqtrade.exchange.exchange import Exchange  # type: ignore[import-not-found]
        from freqtrade.optimize.backtesting import Backtesting  # type: ignore[import-not-found]  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any failure to import means: no usable FreqTrade here
        json.dump({"unavailable": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        return 0
    for module in ("talib.abstract", "technical.indicators", "technical.qtpylib"):  # what strategies commonly import
        try:
            __import__(module)
        except Exception:  # noqa: BLE001
            continue
    Exchange._api_reload_markets = _offline_markets
    root = Path(tempfile.mkdtemp(prefix="fleetops-backtest-"))
    datasets = request["datasets"]
    for n, key in enumerate(sorted(datasets)):
        dataset = datasets[key]
        if dataset.get("files"):  # candles sent with the request (an image's throwaway container): written under our temporary directory
            folder = root / f"d{n}"
            folder.mkdir()
            for name, text in dataset.pop("files").items():
                (folder / Path(name).name).write_text(text, encoding="utf-8")
            dataset["datadir"] = str(folder)
    seconds = float(request.get("seconds", 300))
    runs = request["runs"]
    answer = {}
    for n, key in enumerate(sorted(runs)):
        started = time.monotonic()
        answer[key] = _in_child(runs[key], datasets[runs[key]["data"]], root / f"r{n}", seconds)
        answer[key]["seconds"] = round(time.monotonic() - started, 3)  # for benchmarks; fleetops drops it from the result
    json.dump({"freqtrade": getattr(freqtrade, "__version__", "unknown"), "runs": answer}, sys.stdout, sort_keys=True)
    return 0


_MARKETS: list[dict[str, Any]] = []
"""The markets of the data set the current child backtests on (set in the child, after the fork)."""


async def _offline_markets(self: Any, reload: bool = False) -> None:
    """``Exchange._api_reload_markets`` without the network: the request's entries, parsed by ccxt's Binance parser."""
    api = self._api_async
    api.options.setdefault("crossMarginPairsData", [])
    api.options.setdefault("isolatedMarginPairsData", [])
    api.set_markets([api.parse_market(entry) for entry in _MARKETS])


def _in_child(run: dict[str, Any], dataset: dict[str, Any], directory: Path, seconds: float) -> dict[str, Any]:
    (directory / "strategies").mkdir(parents=True)
    (directory / "user_data").mkdir()
    (directory / "strategies" / f"{run['class']}.py").write_text(run["text"], encoding="utf-8")
    config = dict(run["config"])  # written before the fork: the child may not grow a file
    config.update(strategy=run["class"], strategy_path=str(directory / "strategies"), user_data_dir=str(directory / "user_data"),
                  dataformat_ohlcv=dataset.get("dataformat", "json"), dry_run=True)
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    reader, writer = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        try:
            _contain(seconds, directory)
            _MARKETS[:] = list(dataset.get("markets") or [])
            result = _lookahead(run, dataset, directory) if run.get("analysis") == "lookahead" else _backtest(run, dataset, directory)
        except BaseException as exc:  # noqa: BLE001 - whatever happens, the parent gets an answer
            result = {"error": "failed", "message": _one_line(exc)}
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(writer, data):]
        os._exit(0)
    os.close(writer)
    chunks: list[bytes] = []
    end = time.monotonic() + seconds
    timed_out = False
    while True:
        ready, _, _ = select.select([reader], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            timed_out = True
            break
        chunk = os.read(reader, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    if timed_out:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"error": "timeout", "message": f"the backtest did not finish within {seconds:g} s; it was stopped"}
    try:
        answer = json.loads(b"".join(chunks))
        if isinstance(answer, dict):
            return answer
    except ValueError:
        pass
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    return {"error": "crashed", "message": f"the backtest process died ({how}) before it answered, e.g. past its memory limit"}


def _contain(seconds: float, directory: Path) -> None:
    """The child's bounds: own process group, no standard streams, CPU and memory limits, no file
    growth (FreqTrade reads the candles and, with ``export: none``, writes nothing)."""
    import resource

    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write that would grow a file fails (EFBIG) instead of killing
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    try:
        mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY, mapped + MEMORY))
    except (OSError, ValueError):
        pass
    os.chdir(directory)
    for key in list(os.environ):
        if key not in ("PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE"):
            del os.environ[key]


def _backtest(run: dict[str, Any], dataset: dict[str, Any], directory: Path) -> dict[str, Any]:
    import logging

    from freqtrade.configuration import Configuration  # type: ignore[import-not-found,unused-ignore]
    from freqtrade.enums import RunMode  # type: ignore[import-not-found,unused-ignore]
    from freqtrade.optimize.backtesting import Backtesting  # type: ignore[import-not-found,unused-ignore]

    logging.disable(logging.CRITICAL)
    args: dict[str, Any] = {"config": [str(directory / "config.json")], "datadir": dataset["datadir"], "export": "none"}
    if dataset.get("timerange"):
        args["timerange"] = dataset["timerange"]
    settings = Configuration(args, RunMode.BACKTEST).get_config()
    backtesting = Backtesting(settings)
    backtesting.start()
    stats = backtesting.results["strategy"][run["class"]]
    trades = [[trade.get(field) for field in TRADE_FIELDS] for trade in stats.get("trades", [])]
    digest = hashlib.sha256(json.dumps(trades, sort_keys=True, default=str).encode()).hexdigest()
    total = int(stats.get("total_trades", 0))
    return {
        "trades": total,
        "wins": int(stats.get("wins", 0)),
        "draws": int(stats.get("draws", 0)),
        "losses": int(stats.get("losses", 0)),
        "profit_pct": round(float(stats.get("profit_total", 0.0)) * 100, 6),
        "max_drawdown_pct": round(float(stats.get("max_drawdown_account", 0.0)) * 100, 6),
        "win_rate_pct": round(float(stats.get("winrate", 0.0)) * 100, 6) if total else None,
        "trades_sha256": digest,
    }


def _lookahead(run: dict[str, Any], dataset: dict[str, Any], directory: Path) -> dict[str, Any]:
    """FreqTrade's lookahead-analysis (``freqtrade lookahead-analysis``, 2026.9: ``LookaheadAnalysis``
    after ``calculate_config_overrides`` — market orders, a huge wallet, every pair at once): each
    of up to ``TARGETED_SIGNALS`` trades re-run on candles cut at its entry and exit; a signal or an
    indicator that differs saw the future."""
    import logging

    from freqtrade.configuration import Configuration  # type: ignore[import-not-found,unused-ignore]
    from freqtrade.enums import RunMode  # type: ignore[import-not-found,unused-ignore]
    from freqtrade.optimize.analysis.lookahead import LookaheadAnalysis  # type: ignore[import-not-found]
    from freqtrade.optimize.analysis.lookahead_helpers import LookaheadAnalysisSubFunctions  # type: ignore[import-not-found]
    from freqtrade.util import get_progress_tracker  # type: ignore[import-not-found]

    logging.disable(logging.CRITICAL)
    args: dict[str, Any] = {"config": [str(directory / "config.json")], "datadir": dataset["datadir"],
                            "minimum_trade_amount": MINIMUM_SIGNALS, "targeted_trade_amount": TARGETED_SIGNALS}
    if dataset.get("timerange"):
        args["timerange"] = dataset["timerange"]
    settings = Configuration(args, RunMode.UTIL_NO_EXCHANGE).get_config()
    settings["pairs"] = list(settings["exchange"]["pair_whitelist"])
    if "timerange" not in settings:
        settings["timerange"] = "-"
    settings = LookaheadAnalysisSubFunctions.calculate_config_overrides(settings)
    with get_progress_tracker() as progress:
        analysis = LookaheadAnalysis(settings, {"name": run["class"], "location": directory / "strategies" / f"{run['class']}.py"})
        analysis.start(progress)
    found = analysis.current_analysis
    return {"signals": int(found.total_signals), "bias": None if analysis.failed_bias_check else bool(found.has_bias),
            "false_entries": int(found.false_entry_signals), "false_exits": int(found.false_exit_signals),
            "biased_indicators": sorted(str(name) for name in found.false_indicators)}


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


if __name__ == "__main__":
    sys.exit(main())
