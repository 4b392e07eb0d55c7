"""What one command to a node agent costs: the controller's channel ↔ a real agent process over HTTP.

The agent runs as its service runs it (``agent.pyz`` under Debian's python3 -I -S) on 127.0.0.1,
against a real supervisord with --programs sleeping programs; the controller is the channel and
its routes on uvicorn in this process (what the watcher or an apply serves). Times, in ms, over
--repeat calls each: ``ping`` (a command and its answer: the channel's own cost), ``processes``
(one unit's process table), ``put_bot`` (three blobs fetched and written), ``restart_bot`` (a
claimed command: the claim's round trip plus supervisord's stop and start), and ``ping x20`` (20
commands sent at once, then all answers waited for: per command). The same path runs on a swarm,
plus the network between node and controller (2–3 ms on an overlay here, SWARM.md).
Usage: agent_roundtrip.py [--repeat 200] [--programs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.backend.port import BotFiles, UnitFiles  # noqa: E402
from engine.backend.swarm.bots import SwarmBots  # noqa: E402
from engine.backend.swarm.channel import AgentChannel  # noqa: E402
from engine.backend.swarm.credentials import Credentials  # noqa: E402
from engine.backend.swarm.routes import AgentServer  # noqa: E402
from tests.support.agent_node import FLEET, PLAIN_PYTHON, UNIT, Node, supervisord_conf, wait_for, write_agent_zip  # noqa: E402


def timed(repeat: int, work: Callable[[], object], pause: float = 0.0) -> list[float]:
    times = []
    for _ in range(repeat):
        time.sleep(pause)
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def row(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{name:<14} {statistics.median(times):8.2f} {p95:8.2f} {max(times):8.2f} {len(times):6d}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--programs", type=int, default=10)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="agent-bench-", dir="/tmp"))
    (base / "scripts").mkdir()
    node = Node(base / "root", base / "scripts")
    channel = AgentChannel(FLEET, Credentials(base / "agents"))
    server = AgentServer({FLEET: channel}, "127.0.0.1", 0)
    server.start()
    secret = base / "credential"
    secret.write_text(channel.credentials.issue("node1"))
    agent = subprocess.Popen([PLAIN_PYTHON, "-I", "-S", str(write_agent_zip(base)), "--controller", f"http://127.0.0.1:{server.port}",
                              "--fleet", FLEET, "--node", "node1", "--credential-file", str(secret), "--root", str(node.root)],
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for("the agent", lambda: "node1" in channel.nodes(), timeout=30)
        bots = SwarmBots(channel, lambda unit: "node1", dedicated=None)  # type: ignore[arg-type]
        programs = [f"bot{i}" for i in range(args.programs)]
        bots.put_unit(UNIT, UnitFiles(supervisord_conf(node.data(), dict.fromkeys(programs, node.sleeper())), dict.fromkeys(programs)))
        node.start_supervisord()
        wait_for("the programs", lambda: len(bots.processes([UNIT])[UNIT]) == args.programs, timeout=30)  # type: ignore[arg-type]
        files = BotFiles(b'{"bot_name": "bot0"}' * 50, b'{"exchange": {"key": "k"}}', ("Strategy.py", b"# strategy\n" * 400), None)
        print(f"agent round trips over HTTP on 127.0.0.1, {args.programs} programs in the unit, {os.cpu_count()} cores (ms)")
        print(f"{'command':<14} {'median':>8} {'p95':>8} {'max':>8} {'calls':>6}")
        row("ping", timed(args.repeat, lambda: channel.call("node1", "ping", {})))
        row("processes", timed(args.repeat, lambda: bots.processes([UNIT])))
        row("put_bot", timed(max(20, args.repeat // 4), lambda: bots.put_bot(UNIT, "bot0", files)))
        # a pause between restarts: supervisord loses a SIGTERM sent while its child is between fork and
        # exec (the child still has supervisord's handler) and waits stopwaitsecs; bots do not restart 30 ms apart
        row("restart_bot", timed(max(20, args.repeat // 10), lambda: bots.restart_bot(UNIT, "bot1", dedicated=False), pause=0.2))

        def burst() -> None:
            for pending in [channel.send("node1", "ping", {}) for _ in range(20)]:
                channel.wait(pending, 10.0)
        row("ping x20/each", [t / 20 for t in timed(max(10, args.repeat // 20), burst)])
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(10)
        node.stop_all()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
