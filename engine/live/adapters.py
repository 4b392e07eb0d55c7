"""The real ``Ports``: Docker through its SDK, supervisord over its socket, bots over HTTP.

Called by the CLI and the watcher to build a ``Context``; tests build one from
``engine.live.fakes`` instead.
"""

from __future__ import annotations

from pathlib import Path

from engine.backend.docker.api import DockerEngine
from engine.backend.docker.supervisor import connect_supervisor, states_of_many
from engine.live.botapi import HttpBotApi
from engine.live.ports import Ports
from engine.live.probe import HttpProbe

__all__ = ["real_ports"]


def real_ports(docker_host: str | None, state_dir: Path) -> Ports:
    return Ports(docker=DockerEngine(docker_host), supervisor=connect_supervisor, probe=HttpProbe(), bot_api=HttpBotApi(state_dir),
                 bulk_states=states_of_many)
