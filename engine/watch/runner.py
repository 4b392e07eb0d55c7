"""``fleetops watch`` and ``fleetops serve``: wire the loop, the HTTP server and the signals, then run.

Called by the CLI. For the watcher, the first SIGTERM or SIGINT lets the apply in progress (or
its rollback) finish and exits 0; a second one exits 1 at once, leaving the revision pending,
which the next run marks interrupted and repairs by converging again. ``serve`` only reads: it
stops at the first signal.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from engine.context import Context
from engine.live.botapi import HttpBotApi
from engine.watch.bot_metrics import FleetCollector
from engine.watch.daemon import Watcher, WatchOptions
from engine.watch.logs import WatchLog
from engine.watch.metrics import exposition_of
from engine.watch.server import HttpServer, check_listen, create_app, parse_listen, ui_token
from engine.watch.sync import SyncInfo, sync_from_state
from engine.watch.webhook import webhook_secret
from engine.web.figures import FigureCache
from engine.web.refresher import Refresher
from engine.web.view import web_url

__all__ = ["fleet_collector", "run_server", "run_watcher", "serve_metrics"]


def _refresher(ctx: Context, watcher: Watcher | None) -> Refresher:
    figures = FigureCache(HttpBotApi(ctx.state_dir))
    if watcher is not None:  # its status document carries the sync status
        return Refresher(ctx, figures, watcher=watcher.status)
    return Refresher(ctx, figures, sync=lambda: sync_from_state(ctx.state_dir, ctx.read_store(), None).to_json())


def fleet_collector(refresher: Refresher, sync: Callable[[], SyncInfo | None] | None = None) -> FleetCollector:
    """The per-bot series of ``/metrics``, read from ``refresher``'s snapshot and its figure cache's
    count of requests; ``fleetops_sync_info`` from ``sync`` (the watcher's, or the state dir's for ``serve``)."""
    return FleetCollector(lambda: refresher.snapshot, lambda: refresher.figures.requests, sync=sync)


def serve_metrics(ctx: Context, refresher: Refresher) -> Callable[[], bytes]:
    """``fleetops serve``'s ``/metrics``: the per-bot series, and the sync status read from the state dir
    (the branch and head the watcher last recorded there; Unknown when none ever ran)."""
    return exposition_of(fleet_collector(refresher, lambda: sync_from_state(ctx.state_dir, ctx.read_store(), None)))


def run_server(ctx: Context, *, listen: str, repo_url: str | None = None) -> int:
    """``fleetops serve``: the status page of the state dir's fleet, read-only, until a signal."""
    log = WatchLog("text")
    host, port = parse_listen(listen)
    token = ui_token(os.environ)
    check_listen(host, token)
    refresher = _refresher(ctx, None)
    refresher.start()
    app = create_app(None, secret=None, branch="", token=token, web=refresher, repo_url=web_url(repo_url),
                     metrics=serve_metrics(ctx, refresher))
    server = HttpServer(app, host, port)
    server.start()
    log(f"serving the status page and /metrics on http://{host}:{port}", event="listen")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    refresher.stop()
    return 0


def run_watcher(ctx: Context, options: WatchOptions, *, listen: str | None, log_format: str) -> int:
    log = WatchLog(log_format)
    ctx.progress = lambda line: log(line)
    server = None
    refresher = None
    agents: dict[str, Any] = {}
    watcher = Watcher(ctx, options, log)
    if listen is not None:
        host, port = parse_listen(listen)
        token = ui_token(os.environ)
        check_listen(host, token)
        refresher = _refresher(ctx, watcher)
        refresher.start()
        watcher.metrics.add_collector(fleet_collector(refresher, watcher.sync))
        app = create_app(watcher, secret=webhook_secret(os.environ), branch=options.branch, token=token, web=refresher,
                         repo_url=web_url(watcher.mirror.shown), agents=_serve_agents(ctx, agents))
        server = HttpServer(app, host, port)
        server.start()
        log(f"listening on http://{host}:{port}", event="listen")
    signals = 0

    def on_signal(number: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log(f"{signal.Signals(number).name}: finishing the apply in progress, then stopping (again to abort)", event="signal")
            watcher.request_stop()
        else:
            log("second signal: aborting now; the next run repairs the interrupted revision", event="signal", level="warn")
            os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return watcher.run()
    finally:
        for channel in list(agents.values()):
            channel.close()  # open long polls answered first: the server stops without waiting them out
        if server is not None:
            server.stop()
        if refresher is not None:
            refresher.stop()


def _serve_agents(ctx: Context, agents: dict[str, Any]) -> Any:
    """The node agents' routes on the watcher's own server (a swarm fleet's agents connect to
    ``backend.controller``, which points here): the backends the watcher opens put their fleets'
    channels into ``agents`` instead of serving them themselves."""
    from engine.backend.registry import agent_routes
    from engine.live.adapters import RealConnector

    if isinstance(ctx.connector, RealConnector):
        ctx.connector = RealConnector(dataclasses.replace(ctx.connector.options, agents=agents))
    return agent_routes(agents, ctx.state_dir)
