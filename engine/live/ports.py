"""The bots' own APIs, reached at the address the backend gives (``Bots.address_of``).

``ProbePort`` (a bot's ``/api/v1/ping``) and ``BotApiPort`` (its authenticated REST API, the
transport under ``engine.ftapi.FreqtradeApi``) are implemented by ``engine.live.probe`` and
``engine.live.botapi`` against HTTP, and by the fakes in memory (``engine.live.fake_bots``);
``Ports`` bundles them with the backend (``engine.backend.port``): everything outside the engine
that the live half talks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # for types only: the no-op answer imports this module, and engine.ftapi loads pydantic (~60 ms)
    from engine.backend.port import Backend
    from engine.ftapi import BotApiPort

__all__ = ["Ports", "ProbeAnswer", "ProbePort"]


@dataclass(frozen=True)
class ProbeAnswer:
    ok: bool
    detail: str


class ProbePort(Protocol):
    """A bot's own API, reached at its container's address."""

    def ping(self, address: str, port: int) -> ProbeAnswer: ...


@dataclass
class Ports:
    """Everything outside the engine that the live half talks to: where bots run, and their APIs."""

    backend: Backend
    probe: ProbePort
    bot_api: BotApiPort
    """The transport under ``engine.ftapi.FreqtradeApi``: raw answers, parsed there."""
