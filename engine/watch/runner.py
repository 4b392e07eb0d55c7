"""``fleetops watch``: wire the watcher, its HTTP server and the signals together, then run.

Called by the CLI. The first SIGTERM or SIGINT lets the apply in progress (or its rollback)
finish and exits 0; a second one exits 1 at once, leaving the revision pending, which the next
run marks interrupted and repairs by converging again.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

from engine.flow import Context
from engine.watch.daemon import Watcher, WatchOptions
from engine.watch.logs import WatchLog
from engine.watch.server import HttpServer, check_listen, create_app, parse_listen, ui_token
from engine.watch.webhook import webhook_secret

__all__ = ["run_watcher"]


def run_watcher(ctx: Context, options: WatchOptions, *, listen: str | None, log_format: str) -> int:
    log = WatchLog(log_format)
    ctx.progress = lambda line: log(line)
    server = None
    watcher = Watcher(ctx, options, log)
    if listen is not None:
        host, port = parse_listen(listen)
        token = ui_token(os.environ)
        check_listen(host, token)
        app = create_app(watcher, secret=webhook_secret(os.environ), branch=options.branch, token=token)
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
        if server is not None:
            server.stop()
