"""One swarm as the backend port's ``Backend``: its manager's API, the fleets of a state dir on it.

What ``engine.backend.swarm.open_backend`` returns; each fleet's site is made by ``compose``
(``engine.backend.swarm.site.SwarmSite``), once per fleet for the life of the backend, so that the
placement a plan decided is the one its apply creates. It holds the fleets' agents' channels
(``agents``, fleet → channel: what the relays of the bots' APIs ask) and, when no watcher serves
them (``BackendOptions.agents`` not given), the CLI's own server for the agents on
``backend.controller``, started with the first channel and stopped when the process exits — or,
when another fleetops process of the same state dir listens there already (the watcher, another
command), that process's channel, which this one's commands go through
(``engine.backend.swarm.forward``). Everything else a backend answers is here: listing every unit any fleet labelled (each
service's state from its task), which names are taken, and the images on the manager's engine —
where the CLI or the watcher runs, and whence they are pushed to the registry
(``engine.backend.swarm.images``). Reading an image's files (``image_facts``) goes through the
manager's engine as a plain Docker engine (``engine.backend.docker.api.DockerEngine``: a container
created, never started, then removed).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backend.docker.runtime import recorded_fleets
from engine.backend.port import BackendRef, ImageFacts, ListedUnit
from engine.backend.swarm.tasks import task_view
from engine.errors import DockerError
from engine.naming import Labels

if TYPE_CHECKING:
    from engine.backend.docker.protocols import DockerApi
    from engine.backend.port import Site
    from engine.backend.swarm.api import SwarmManager
    from engine.backend.swarm.channel import AgentChannel
    from engine.backend.swarm.routes import AgentServer

__all__ = ["Compose", "SwarmBackend"]


Compose = Callable[["SwarmBackend", str, "Callable[[str], None] | None"], "Site"]
"""(this backend, fleet, report) → the fleet's site on the swarm."""


class SwarmBackend:
    """The swarm behind ``manager`` (its images pushed to ``registry``) for the fleets of ``state_dir``."""

    def __init__(self, state_dir: Path, manager: SwarmManager, registry: str, compose: Compose, engine: DockerApi | None = None, *,
                 controller: str | None = None, exchange_budget: Mapping[str, int] | None = None,
                 agents: dict[str, AgentChannel] | None = None) -> None:
        from engine.backend.swarm.images import RegistryImages

        self.state_dir = state_dir
        self.manager = manager
        self.registry = registry
        self.controller = controller
        """The URL node agents connect to (``backend.controller``); None: no agent can be started."""
        self.exchange_budget = dict(exchange_budget or {})
        self.ref = BackendRef("swarm", manager.base_url)
        self.images = RegistryImages(manager, registry)
        self.agents: dict[str, AgentChannel] = agents if agents is not None else {}
        """Fleet → its agents' channel: what the routes serve and the bots' API relays ask (given: a server
        that serves them runs already, the watcher's; else this backend serves them itself, ``channel``)."""
        self._serve = agents is None
        self._server: AgentServer | None = None
        self._forwarded: set[str] = set()
        """Fleets whose channel is another process's (``PeerChannel``): the address was that process's."""
        self._sites: dict[str, Site] = {}
        self._compose = compose
        self._engine = engine

    def channel(self, fleet: str) -> AgentChannel:
        """``fleet``'s agents' channel (credentials under the state dir), made on first use; the CLI's own
        server for the agents is started then, when this backend serves them (no watcher does)."""
        from engine.backend.swarm.channel import AgentChannel
        from engine.backend.swarm.credentials import Credentials, credentials_dir

        if fleet not in self.agents:
            self.agents[fleet] = AgentChannel(fleet, Credentials(credentials_dir(self.state_dir, fleet)))
        if self._serve and self._server is None and self.controller is not None and fleet not in self._forwarded:
            from engine.backend.swarm.forward import PeerChannel, peer_token
            from engine.backend.swarm.routes import AgentServer, listen_address

            server = AgentServer(self.agents, *listen_address(self.controller), peer_token=peer_token(self.state_dir, create=True))
            try:
                server.start()
            except DockerError as taken:  # another process of this state dir serves the address: send our commands through it
                token = peer_token(self.state_dir, create=False)
                peer = PeerChannel(fleet, self.agents[fleet].credentials, self.controller, token) if token else None
                if peer is None or not peer.serves():
                    raise taken from None
                self.agents[fleet] = peer
                self._forwarded.add(fleet)
                return peer
            self._server = server
            atexit.register(self.close)
        return self.agents[fleet]

    def close(self) -> None:
        """Stop the agents' server this backend started (its channels answer their open polls first)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def calls(self) -> int:
        return self.manager.calls + (self._engine.calls if self._engine is not None else 0)

    @property
    def mutations(self) -> int:
        return self.manager.mutations + (self._engine.mutations if self._engine is not None else 0)

    def ping(self) -> None:
        """DockerError unless the manager answers and is a manager of an active swarm."""
        self.manager.require_manager()

    def site(self, fleet: str, report: Callable[[str], None] | None = None) -> Site:
        """``fleet`` on this swarm: one site per fleet for the life of this backend (a plan's placement is its apply's)."""
        if fleet not in self._sites:
            self._sites[fleet] = self._compose(self, fleet, report)
        return self._sites[fleet]

    def recorded_fleets(self) -> list[str]:
        """Fleets with a unit's records under ``<state>/runtime/`` (no call to the swarm): the controller's memory, as on Docker."""
        return recorded_fleets(self.state_dir)

    def list_managed(self) -> list[ListedUnit]:
        """Every service any fleet labelled, its state from its current task (``ip`` None): two calls."""
        services = self.manager.services({Labels.FLEET: ""})
        tasks = self.manager.tasks([str(s["ID"]) for s in services])
        listed = []
        for service in services:
            spec = service["Spec"]
            replicas = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
            view = task_view([t for t in tasks if t.get("ServiceID") == service["ID"]], replicas)
            listed.append(ListedUnit(str(service["ID"]), str(spec["Name"]), dict(spec.get("Labels") or {}), view.state, None))
        return sorted(listed, key=lambda u: u.name)

    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        """Of ``names``, those a service has: name → its fleet label (None: a service fleetops does not manage)."""
        if not names:
            return {}
        owners: dict[str, str | None] = {}
        for service in self.manager.services():
            name = str(service["Spec"]["Name"])
            if name in names:
                owners[name] = (service["Spec"].get("Labels") or {}).get(Labels.FLEET)
        return owners

    def image_exists(self, image: str) -> bool:
        return self.manager.image(image) is not None

    def image_id(self, image: str) -> str | None:
        found: dict[str, Any] | None = self.manager.image(image)
        return str(found["Id"]) if found is not None else None

    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        """Read the image's /etc/passwd and find ``executables`` on its PATH through the manager's engine."""
        if self._engine is None:
            from engine.backend.docker.api import DockerEngine

            self._engine = DockerEngine(self.manager.base_url)
        return self._engine.image_facts(image, executables)
