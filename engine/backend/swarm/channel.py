"""The controller's side of the node agents: command queues, answers, heartbeats, blobs, per fleet.

Used by the Swarm backend's bots and files (``engine.backend.swarm.bots``), by the relay of the
bots' APIs (``engine.live.relay``), and by the HTTP routes the agents poll (``engine.backend.swarm.routes``,
mounted on the watcher's server or on a short-lived one the CLI starts for an apply). The engine
is synchronous and the routes are asyncio: ``call`` blocks its thread on an event while the
route's coroutine waits on a future, and each side wakes the other thread-safely.

- ``call(node, op, args, timeout)`` queues a command for ``node``'s agent and waits for its
  answer: the value (a JSON object) or a one-line error — ``SupervisorRefused`` (supervisord
  answered with a fault), ``SupervisorError`` (it did not answer), ``DockerError`` (anything else:
  the node's files, a bad command, no answer in time, the node unreachable). A command not yet
  delivered when its caller gives up is withdrawn: it never runs later.
- **Delivery**: a poll's answer carries every command not yet acknowledged; the next poll
  acknowledges (``got``), so an answer lost on the way is sent again, and the agent runs each id
  once (``engine.agent.main``).
- **Claims**: a command that changes something runs only once the agent claimed it while its
  caller still waited (``claim``): one that reaches a node late never runs after its caller gave up.
- **Unreachable**: a node whose agent made no request (poll, heartbeat, answer) for ``silence``
  seconds. A new channel gives every node that long to find it (agents retry every ≤ 5 s), so an
  apply that starts the channel's server does not call a node it has not heard from yet. The
  pending long poll is not counted: across a partition it lingers until it times out. A node that
  beats but has no poll open here is told to poll again (``beat``): its poll hung on a dead connection.
- Blobs (``engine.backend.swarm.blobs``): files are put here by content, named in commands by
  sha256, pinned while a command that needs them is open; a node fetches only the blobs its own
  open commands name, and uploads only while it has an export open.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.backend.swarm.blobs import BlobStore
from engine.backend.swarm.credentials import NODE_NAME, Credentials
from engine.errors import DockerError, SupervisorError, SupervisorRefused
from engine.textsafe import one_line

__all__ = ["CALL_TIMEOUT", "SILENCE", "AgentChannel", "Heartbeat", "Pending"]

SILENCE = 10.0
"""Seconds without a request from a node's agent after which the node is unreachable (it beats every 2 s)."""
CALL_TIMEOUT = 90.0
"""Seconds a command may take by default: a stop waits up to 60 s for a bot to exit."""
POLL_BATCH = 64
REPOLL_AFTER = 3.0
"""Seconds without an open poll after which a beating agent is told its poll hangs (it polls again within ms)."""
UPLOADING = frozenset({"export_bot_data"})
"""Commands whose agent uploads a blob."""
MAX_WAIT = 30.0


@dataclass(frozen=True)
class Heartbeat:
    """What a node's agent last said of itself: when (controller's clock, monotonic) and its units'
    process tables (``unit → {"programs": {program: [state, pid, spawnerr, exit]}} | {"error": …}``)."""

    received: float
    units: dict[str, Any]


@dataclass
class Pending:
    """A command sent to a node's agent, until its answer (``AgentChannel.wait``)."""

    id: str
    node: str
    op: str
    args: dict[str, Any]
    blobs: tuple[str, ...]
    done: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None
    claimed: bool = False
    """The agent asked to run it (``claim``) while its caller still waited: it may run from then on."""


@dataclass
class _Node:
    unacked: dict[str, Pending] = field(default_factory=dict)
    """Queued or delivered without acknowledgement: sent with every poll until acknowledged."""
    open: dict[str, Pending] = field(default_factory=dict)
    """Every command without an answer yet (acknowledged or not)."""
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(default_factory=list)
    contact: float | None = None
    heartbeat: Heartbeat | None = None
    polls: int = 0
    """Long polls of this node open on the server now."""
    polled: float | None = None
    """When a poll of this node last started or ended."""


class AgentChannel:
    """The node agents of ``fleet``: ``credentials`` say who they are, ``blobs`` hold their files."""

    def __init__(self, fleet: str, credentials: Credentials, blobs: BlobStore | None = None, *, silence: float = SILENCE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fleet = fleet
        self.credentials = credentials
        self.blobs = blobs or BlobStore()
        self.silence = silence
        self._clock = clock
        self._opened = clock()
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- the engine's side ---------------------------------------------------------------------

    def call(self, node: str, op: str, args: dict[str, Any], timeout: float = CALL_TIMEOUT, blobs: tuple[str, ...] = ()) -> dict[str, Any]:
        """Run ``op`` on ``node`` and return its value (raises as the module says)."""
        return self.wait(self.send(node, op, args, blobs), timeout)

    def send(self, node: str, op: str, args: dict[str, Any], blobs: tuple[str, ...] = ()) -> Pending:
        """Queue a command without waiting (``wait`` for its answer): fans out to many nodes at once."""
        if not NODE_NAME.fullmatch(node):
            raise DockerError(f"'{one_line(node[:70])}' is not a node name")
        if not self.reachable(node):
            raise DockerError(self._silent(node))
        command = Pending(uuid.uuid4().hex, node, op, args, blobs)
        self.blobs.pin(blobs)
        with self._lock:
            state = self._nodes.setdefault(node, _Node())
            state.unacked[command.id] = command
            state.open[command.id] = command
            self._wake(state)
        return command

    def wait(self, command: Pending, timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        """The value of ``command`` (from ``send``), once answered."""
        deadline = self._clock() + timeout
        while not command.done.wait(min(0.25, max(0.0, deadline - self._clock()))):
            if self._clock() >= deadline:
                started = self._withdraw(command)
                raise DockerError(f"the agent on node {command.node} did not answer {command.op} within {timeout:g} s"
                                  + ("; it had started, so its outcome is unknown" if started else "; it will not run"))
            if not self.reachable(command.node):
                started = self._withdraw(command)
                raise DockerError(f"{self._silent(command.node)} ({command.op} "
                                  + ("started there, its outcome unknown)" if started else "withdrawn: it will not run)"))
        return _value(command)

    def put_blob(self, data: bytes) -> str:
        """Keep ``data`` for the agents to fetch; its sha256 (name it in a command's ``blobs`` to pin it)."""
        return self.blobs.put(data)

    def reachable(self, node: str) -> bool:
        with self._lock:
            state = self._nodes.get(node)
            seen = state.contact if state is not None and state.contact is not None else self._opened
        return self._clock() - seen <= self.silence

    def unreachable(self, nodes: Iterable[str]) -> set[str]:
        """Of ``nodes``, those whose agent has been silent for longer than ``silence``."""
        return {node for node in nodes if not self.reachable(node)}

    def heartbeat(self, node: str) -> Heartbeat | None:
        with self._lock:
            state = self._nodes.get(node)
            return state.heartbeat if state is not None else None

    def nodes(self) -> list[str]:
        """Nodes whose agent has been heard from since this channel opened."""
        with self._lock:
            return sorted(name for name, state in self._nodes.items() if state.contact is not None)

    def _silent(self, node: str) -> str:
        with self._lock:
            state = self._nodes.get(node)
            contact = state.contact if state is not None else None
        if contact is None:
            return (f"node {node} is unreachable: its agent has not connected to this controller in {self._clock() - self._opened:.0f} s "
                    "(is its agent service running, and can it reach backend.controller?)")
        return f"node {node} is unreachable: its agent last answered {self._clock() - contact:.0f} s ago"

    def _withdraw(self, command: Pending) -> bool:
        """Stop waiting for ``command``; whether it had been claimed (it may be running)."""
        with self._lock:
            state = self._nodes.get(command.node)
            if state is not None and state.open.pop(command.id, None) is not None:
                state.unacked.pop(command.id, None)
                self.blobs.unpin(command.blobs)
            return command.claimed

    # -- the agents' side (called by the routes) -------------------------------------------------

    def touch(self, node: str) -> None:
        """A request from ``node``'s agent arrived (its credential checked): it is alive."""
        with self._lock:
            self._nodes.setdefault(node, _Node()).contact = self._clock()

    async def commands(self, node: str, got: list[str], wait: float) -> list[dict[str, Any]]:
        """The commands for ``node`` not yet acknowledged, once there is one or ``wait`` s passed; ``got``
        acknowledges the ids of the previous answer."""
        self.touch(node)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            state = self._nodes[node]
            state.polls += 1
            state.polled = self._clock()
            for ident in got:
                state.unacked.pop(ident, None)
            if not state.unacked and not self._closed:
                state.waiters.append((loop, future))
            else:
                future.set_result(None)
        if not future.done():
            try:
                await asyncio.wait_for(future, min(max(wait, 0.0), MAX_WAIT))
            except TimeoutError:
                pass
        with self._lock:
            state.waiters = [(lp, f) for lp, f in state.waiters if f is not future]
            state.polls -= 1
            state.polled = self._clock()
            batch = list(state.unacked.values())[:POLL_BATCH]
        return [{"id": c.id, "op": c.op, "args": c.args} for c in batch]

    def blob_for(self, node: str, sha: str) -> bytes | None:
        """Blob ``sha`` if one of ``node``'s open commands names it: an agent gets its own node's files
        (its bots' secrets among them), never another node's."""
        with self._lock:
            state = self._nodes.get(node)
            wanted = state is not None and any(sha in c.blobs for c in state.open.values())
        return self.blobs.get(sha) if wanted else None

    def may_upload(self, node: str) -> bool:
        """Whether ``node`` has an open command that uploads (a bot's data to export): nothing else may fill the store."""
        with self._lock:
            state = self._nodes.get(node)
            return state is not None and any(c.op in UPLOADING for c in state.open.values())

    def claim(self, node: str, ident: str) -> bool:
        """The agent asks to run a command that changes something: yes while its caller still waits.

        A poll's answer can sit in a socket (an agent paused, a partition healing: TCP delivers it
        minutes later); a stop or start run then, after its caller gave up and maybe moved the bot,
        could run a bot twice. So such commands run only once claimed here (``engine.agent.ops.CLAIMED``)."""
        self.touch(node)
        with self._lock:
            state = self._nodes[node]
            command = state.open.get(ident)
            if command is None:
                return False
            command.claimed = True
            return True

    def answer(self, node: str, payload: dict[str, Any]) -> None:
        """An agent's answer ``{id, ok, value | kind, message}``; one for a command withdrawn meanwhile is dropped."""
        self.touch(node)
        ident = payload.get("id")
        with self._lock:
            state = self._nodes[node]
            command = state.open.pop(ident, None) if isinstance(ident, str) else None
            if command is None:
                return
            state.unacked.pop(command.id, None)
            command.answer = payload
        self.blobs.unpin(command.blobs)
        command.done.set()

    def beat(self, node: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Keep a heartbeat; the answer for the agent: ``{"repoll": true}`` when no poll of its has been
        open here for ``REPOLL_AFTER`` s — its poll hangs on a connection that died (a partition healed,
        the answer lost), and it should drop it and poll again rather than wait out its socket's timeout."""
        units = payload.get("units")
        with self._lock:
            state = self._nodes.setdefault(node, _Node())
            now = state.contact = self._clock()
            state.heartbeat = Heartbeat(now, units if isinstance(units, dict) else {})
            stale = state.polls == 0 and (state.polled is None or now - state.polled > REPOLL_AFTER)
        return {"repoll": stale}

    def close(self) -> None:
        """Answer every open long poll now, and every later one at once, until ``open``: its server is
        about to stop, and waits for its connections (an agent polls again as soon as it is answered)."""
        with self._lock:
            self._closed = True
            for state in self._nodes.values():
                self._wake(state)

    def open(self) -> None:
        """Long polls wait again (a server starts serving this channel)."""
        with self._lock:
            self._closed = False

    @staticmethod
    def _wake(state: _Node) -> None:
        for loop, future in state.waiters:
            loop.call_soon_threadsafe(_resolve, future)
        state.waiters = []


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _value(command: Pending) -> dict[str, Any]:
    """The command's value, or its error raised as the engine's error tree has it."""
    answer = command.answer or {}
    if answer.get("ok") is True:
        value = answer.get("value")
        return value if isinstance(value, dict) else {}
    kind = answer.get("kind")
    message = one_line(str(answer.get("message") or "no reason given"))[:2000]
    if kind == "refused":
        raise SupervisorRefused(f"node {command.node}: {message}")
    if kind == "supervisor":
        raise SupervisorError(f"node {command.node}: {message}")
    raise DockerError(f"the agent on node {command.node} could not {command.op}: {message}")
