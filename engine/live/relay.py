"""The bots' APIs relayed through node agents: ``ProbePort`` and ``BotApiPort`` for a swarm.

On a swarm the controller is not on the fleet's overlay network, and a bot's task may be on any
node; the node's agent is (``engine.agent.ops``: its ``http`` command reaches
``tasks.<service>:<port>`` and answers with at most 1 MiB). The Swarm backend's ``address_of``
gives ``("<fleet>/<node>/<service>", port)``; these transports split that address and ask that
node's agent of that fleet, through the fleet's channel in ``agents`` (fleet → channel, the
mapping the agents' routes serve: a status or a watcher may reach several fleets' bots).
The bots' credentials are computed here, on the controller, from the state dir's key
(``engine.live.secrets``), and travel only inside the command to the agent (never logged, never
in an answer). What comes back is untrusted bytes, as over HTTP: ``engine.ftapi`` parses it.

A node that does not answer (unreachable, or silent past the timeout) is an answer with an error
(``RawAnswer(None, error=…)``, ``ProbeAnswer(False, …)``), never an exception: a health check
counts it as not healthy, a page shows "–".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from engine.errors import FleetopsError
from engine.ftapi import RawAnswer
from engine.live.botapi import read_key
from engine.live.ports import ProbeAnswer
from engine.live.secrets import api_credentials
from engine.textsafe import one_line

__all__ = ["AgentCalls", "RelayBotApi", "RelayProbe", "RelaysBots", "relay"]

RELAY_TIMEOUT = 2.0
"""Seconds the agent waits for a bot (as ``engine.live.probe`` does over HTTP)."""
_MAX_PING = 64 << 10


class AgentCalls(Protocol):
    """What the relays need of the agents' channel (``engine.backend.swarm.channel.AgentChannel``)."""

    def call(self, node: str, op: str, args: dict[str, Any], timeout: float = ..., blobs: tuple[str, ...] = ...) -> dict[str, Any]: ...


class RelaysBots(Protocol):
    """A backend whose bots the controller cannot reach itself (a swarm): it names its agents' channels,
    and ``engine.live.adapters`` relays the bots' APIs through them."""

    agents: Mapping[str, AgentCalls]


def relay(agents: Mapping[str, AgentCalls], address: str, port: int, method: str, path: str, headers: dict[str, str]) -> RawAnswer:
    """One request to the bot at ``address`` (``<fleet>/<node>/<service>``) through that node's agent."""
    parts = address.split("/")
    if len(parts) != 3:
        return RawAnswer(None, error="not an address a node agent relays (expected fleet/node/service)")
    fleet, node, service = parts
    channel = agents.get(fleet)
    if channel is None:
        return RawAnswer(None, error=f"no channel to the agents of fleet {one_line(fleet)[:60]} here")
    try:
        value = channel.call(node, "http", {"service": service, "port": port, "method": method, "path": path, "headers": headers,
                                           "timeout": RELAY_TIMEOUT}, RELAY_TIMEOUT + 8.0)
    except FleetopsError as exc:
        return RawAnswer(None, error=one_line(str(exc))[:300])
    status = value.get("status")
    if value.get("error"):
        return RawAnswer(status if isinstance(status, int) else None, error=one_line(str(value["error"]))[:300])
    try:
        body = base64.b64decode(str(value.get("body_b64", "")), validate=True)
    except (binascii.Error, ValueError):
        return RawAnswer(None, error="the agent's answer is not base64")
    return RawAnswer(status if isinstance(status, int) else None, body)


class RelayProbe:
    """``ProbePort``: a bot's ``/api/v1/ping`` through its node's agent; only 200 + pong counts."""

    def __init__(self, agents: Mapping[str, AgentCalls]) -> None:
        self.agents = agents

    def ping(self, address: str, port: int) -> ProbeAnswer:
        answer = relay(self.agents, address, port, "GET", "/api/v1/ping", {})
        if answer.status is None or answer.error:
            return ProbeAnswer(False, answer.detail)
        if answer.status != 200:
            return ProbeAnswer(False, f"HTTP {answer.status}")
        if len(answer.body) > _MAX_PING:
            return ProbeAnswer(False, "answer too large")
        try:
            data = json.loads(answer.body)
        except ValueError:
            return ProbeAnswer(False, "JSONDecodeError")
        return ProbeAnswer(True, "pong") if isinstance(data, dict) and data.get("status") == "pong" else ProbeAnswer(False, "answered without pong")

    def close(self) -> None:
        pass


class RelayBotApi:
    """``BotApiPort``: a bot's authenticated API through its node's agent, with the bot's credentials
    derived from ``state_dir``'s key (read when first needed: a watcher starts before its first apply)."""

    def __init__(self, agents: Mapping[str, AgentCalls], state_dir: Path) -> None:
        self.agents = agents
        self._state_dir = state_dir
        self._key: bytes | None = None

    def call(self, fleet: str, bot: str, address: str, port: int, method: str, path: str) -> RawAnswer:
        self._key = self._key or read_key(self._state_dir)
        if self._key is None:
            return RawAnswer(None, error="no API key in the state dir yet")
        creds = api_credentials(self._key, fleet, bot)
        basic = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
        return relay(self.agents, address, port, method, f"/api/v1/{path}", {"Authorization": f"Basic {basic}"})

    def close(self) -> None:
        pass
