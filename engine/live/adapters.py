"""The real ``Ports``: the backend a fleet asks for (through the registry), bots over HTTP.

Called by the CLI and the watcher to build a ``Context`` (``RealConnector``: nothing opens until a
stage asks, and then the backend the fleet's ``backend:`` names); tests and benchmarks that want
the local Docker engine outright use ``real_ports``. Unit tests build ports from the fakes instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from engine.backend.registry import BackendOptions, open_backend, reference
from engine.backend.values import BackendChoice
from engine.live.ports import Ports
from engine.naming import BackendRef

__all__ = ["RealConnector", "real_ports"]


@dataclass(frozen=True)
class RealConnector:
    """Opens the backend a fleet asks for with the command line's options (DOCKER_HOST / --docker-host)."""

    options: BackendOptions

    def reference(self, choice: BackendChoice) -> BackendRef:
        return reference(choice, self.options)

    def connect(self, choice: BackendChoice) -> Ports:
        from engine.live.botapi import HttpBotApi  # HTTP and the bots' credentials only once a stage talks to bots
        from engine.live.probe import HttpProbe
        from engine.live.relay import RelayBotApi, RelayProbe, RelaysBots

        backend = open_backend(choice, self.options)
        if isinstance(getattr(backend, "agents", None), Mapping):  # a swarm: the bots answer on an overlay, through node agents
            agents = cast(RelaysBots, backend).agents
            return Ports(backend=backend, probe=RelayProbe(agents), bot_api=RelayBotApi(agents, self.options.state_dir))
        return Ports(backend=backend, probe=HttpProbe(), bot_api=HttpBotApi(self.options.state_dir))


def real_ports(docker_host: str | None, state_dir: Path) -> Ports:
    """The Docker engine at ``docker_host`` (None: the local socket) and HTTP to the bots."""
    return RealConnector(BackendOptions(state_dir, docker_host)).connect(BackendChoice("docker"))
