"""The agent's loop: poll the controller, run each command on a worker, post its answer; beat.

Run as ``python3 agent.pyz --controller URL --fleet F --node N --credential-file /run/secrets/…``
(``engine.backend.swarm.agent_spec`` writes that command line) or ``python -m engine.agent``.

- **Delivery**: a poll answers with commands; the next poll acknowledges their ids (``got``), and
  the controller sends again whatever was not acknowledged (an answer lost on the way). The agent
  remembers the last ``REMEMBERED`` ids with their answers: a command sent twice runs once, and its
  answer is posted again.
- **Claims**: a command that changes something (``engine.agent.ops.CLAIMED``) runs only after the
  controller confirms that its caller still waits for it; a command that reached the node late (a
  paused agent, a partition healing) is not run after its caller gave up.
- **Concurrency**: commands that change something run on ``workers`` threads, reads (process
  tables, logs, relayed health checks) on as many others, so stops that wait for bots' exits never
  hold up a health check; writes to one unit are serialized (``engine.agent.ops``).
- **Heartbeat**: every ``heartbeat`` seconds, on its own thread, with the node's latest process
  tables (every unit directory of the fleet, read on another thread), so the controller sees a
  node that went silent — and only such a node. Its answer says when the controller sees no poll
  of this node (one hanging on a connection a partition killed): the poll is cut and made again.
- **Failure**: a controller that does not answer is retried with exponential backoff (0.5 s
  doubling to ``BACKOFF_MAX``, ±20 % jitter, so a restarted controller is not hit by every node at
  once) — but while nothing listens there (connection refused) every ``LISTEN_RETRY`` s, so a
  command that starts serving the agents hears them at once; state changes are logged once, one line each, never the credential. Nothing a command
  holds can end the loop (``Ops.execute`` answers every error).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.agent.files import NodeFiles
from engine.agent.link import Link, LinkError, NotListening, Refused
from engine.agent.ops import CLAIMED, Ops

__all__ = ["BACKOFF_MAX", "Agent", "main"]

BACKOFF_MAX = 5.0
LISTEN_RETRY = 0.5
"""Seconds between polls while nothing listens on the controller's address: a CLI command that serves
the agents for its own length (no watcher runs) hears every node within about this long."""
"""Seconds between tries at most while the controller does not answer (a CLI's short-lived server
is found within this once it listens)."""
REMEMBERED = 2000
POST_PATIENCE = 120.0
"""Seconds an answer is offered to the controller before it is given up (the caller timed out long before)."""


def _log(line: str) -> None:
    print(f"fleetops-agent: {line}", file=sys.stderr, flush=True)


class Backoff:
    """0.5 s, 1, 2, 4, … up to ``BACKOFF_MAX``, each ±20 %; ``reset`` after a success."""

    def __init__(self) -> None:
        self.delay = 0.5

    def wait(self, stop: threading.Event, cap: float = BACKOFF_MAX) -> None:
        """Wait the current delay (at most ``cap`` s), then double it."""
        stop.wait(min(self.delay, cap) * random.uniform(0.8, 1.2))
        self.delay = min(self.delay * 2, BACKOFF_MAX)

    def reset(self) -> None:
        self.delay = 0.5


class Agent:
    """One node's agent: ``link`` to the controller, ``ops`` on the node."""

    def __init__(self, link: Link, ops: Ops, *, workers: int = 8, poll_wait: float = 20.0, heartbeat: float = 2.0) -> None:
        self.link = link
        self.ops = ops
        self.poll_wait = poll_wait
        self.heartbeat_every = heartbeat
        self._changes = ThreadPoolExecutor(workers, thread_name_prefix="fleetops-agent-change")
        self._reads = ThreadPoolExecutor(workers, thread_name_prefix="fleetops-agent-read")
        self._answers: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()
        self._trouble = ""
        self._tables: dict[str, Any] = {}

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; the heartbeat runs beside it."""
        threading.Thread(target=self._beat, args=(stop,), name="fleetops-agent-heartbeat", daemon=True).start()
        threading.Thread(target=self._look, args=(stop,), name="fleetops-agent-tables", daemon=True).start()
        backoff, got = Backoff(), list[str]()
        while not stop.is_set():
            try:
                commands = self.link.poll(got, self.poll_wait)
            except LinkError as exc:
                self._trouble_is(str(exc), refused=isinstance(exc, Refused))
                # nothing listens: a command may start serving any moment (it waits for us), and a refused connect costs nothing
                backoff.wait(stop, LISTEN_RETRY if isinstance(exc, NotListening) else BACKOFF_MAX)
                continue
            self._trouble_is("")
            backoff.reset()
            got = [str(c.get("id")) for c in commands]
            for command in commands:
                self._take(command)
        self._changes.shutdown(wait=False, cancel_futures=True)
        self._reads.shutdown(wait=False, cancel_futures=True)

    def _trouble_is(self, trouble: str, refused: bool = False) -> None:
        if trouble != self._trouble:
            _log(f"{trouble}{'; check the node credential the controller issued' if refused else ''}" if trouble
                 else f"connected to the controller at {self.link.where}")
            self._trouble = trouble

    def _take(self, command: dict[str, Any]) -> None:
        ident = command.get("id")
        if not isinstance(ident, str) or not ident:
            return
        with self._lock:
            if ident in self._answers:
                answer = self._answers[ident]
                if answer is not None:  # done before: answer again (the post may have been lost); running: wait
                    self._reads.submit(self._post, answer)
                return
            self._answers[ident] = None
            while len(self._answers) > REMEMBERED:
                self._answers.popitem(last=False)
        op = command.get("op")
        (self._changes if op in CLAIMED else self._reads).submit(self._run, ident, op, command.get("args"))

    def _run(self, ident: str, op: Any, args: Any) -> None:
        if op in CLAIMED and not self._claimed(ident):
            with self._lock:
                self._answers[ident] = {"id": ident, "ok": False, "kind": "withdrawn", "message": "its caller gave up before it ran"}
            return
        answer = {"id": ident, **self.ops.execute(op, args)}
        with self._lock:
            self._answers[ident] = answer
        self._post(answer)

    def _claimed(self, ident: str) -> bool:
        """Whether the controller still wants ``ident`` run; asked a few times, never assumed."""
        backoff, never = Backoff(), threading.Event()
        for _ in range(4):
            try:
                return self.link.claim(ident)
            except LinkError:
                backoff.wait(never)
        return False

    def _post(self, answer: dict[str, Any]) -> None:
        deadline, backoff = time.monotonic() + POST_PATIENCE, Backoff()
        never = threading.Event()
        while True:
            try:
                self.link.post_result(answer)
                return
            except LinkError as exc:
                if time.monotonic() > deadline:
                    _log(f"gave up answering command {answer['id']}: {exc}")
                    return
                backoff.wait(never)

    def _beat(self, stop: threading.Event) -> None:
        """Say the node is alive every ``heartbeat`` s, with the latest process tables: a supervisord
        slow to answer delays the tables (``_look``), never the beat, or the node would look silent."""
        while not stop.is_set():
            try:
                if self.link.heartbeat({"at": time.time(), "units": self._tables}).get("repoll") is True:
                    _log("the controller has seen no poll of this node for a while: polling again")
                    self.link.abort_poll()
            except LinkError:
                pass  # the poll loop reports the controller's trouble
            stop.wait(self.heartbeat_every)

    def _look(self, stop: threading.Event) -> None:
        while not stop.is_set():
            tables = self.ops.execute("processes", {"units": self.ops.files.units(), "timeout": 2.0})
            self._tables = tables.get("value", {}).get("units", {})
            stop.wait(self.heartbeat_every)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleetops-agent", description="fleetops' node agent: bot files and processes on this node, for the controller.")
    parser.add_argument("--controller", required=True, help="the controller's URL, as http://HOST:PORT (backend.controller)")
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--node", required=True, help="this node's name, as the controller addresses it")
    parser.add_argument("--credential-file", required=True, type=Path, help="the node's credential (its Swarm secret)")
    parser.add_argument("--root", type=Path, default=Path("/var/lib/fleetops"), help="where units' files live on the node")
    parser.add_argument("--relay-host", default="tasks.{service}", help="a bot's host name from its service ({service})")
    parser.add_argument("--cgroup-root", type=Path, default=Path("/host/sys/fs/cgroup"), help="the node's cgroup tree, mounted")
    parser.add_argument("--ca-file", help="CA certificate to check an https controller against")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--poll-wait", type=float, default=20.0)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    try:
        credential = options.credential_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        _log(f"cannot read the credential file {options.credential_file}: {exc}")
        return 2
    if not credential:
        _log(f"the credential file {options.credential_file} is empty")
        return 2
    try:
        link = Link(options.controller, options.fleet, options.node, credential, ca_file=options.ca_file)
    except (ValueError, OSError) as exc:
        _log(str(exc))
        return 2
    files = NodeFiles(options.root, options.fleet, report=_log)
    ops = Ops(options.node, files, link.fetch, link.upload, relay_host=options.relay_host, cgroup_root=options.cgroup_root)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=Agent(link, ops, workers=options.workers, poll_wait=options.poll_wait,
                                           heartbeat=options.heartbeat).run, args=(stop,), name="fleetops-agent-poll", daemon=True)
    worker.start()
    _log(f"node {options.node} of fleet {options.fleet}: polling {link.where}, files under {options.root}")
    while not stop.wait(1.0):
        pass
    _log("stopping")
    return 0
