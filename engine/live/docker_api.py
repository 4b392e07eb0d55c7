"""Adapter to the Docker engine: the only module that imports the Docker SDK.

Implements ``engine.live.ports.DockerPort``. It speaks the low-level API (one labelled list
call reads the whole fleet; docker-py's high-level ``containers.list()`` would inspect every
container), counts its calls (and the mutating ones) so benchmarks and the watcher's tests can
show what a no-op costs, and turns every SDK or connection failure into a ``DockerError`` that
says what to do. Only "no such image" means an image is missing; any other failure is an error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from engine.compile.container import ContainerDefinition
from engine.errors import DockerError
from engine.live.docker_address import docker_address
from engine.live.ports import ContainerEvent, ListedContainer
from engine.naming import Labels

__all__ = ["DockerEngine"]

API_VERSION = "1.41"
"""Pinned so no call is spent negotiating; Debian bookworm's docker.io (20.10) speaks 1.41."""


class DockerEngine:
    """A connection to one Docker engine, with call counters."""

    def __init__(self, base_url: str | None = None, timeout: int = 60) -> None:
        self.base_url = docker_address(base_url)
        self.calls = 0
        self.mutations = 0
        self._lock = threading.Lock()
        try:
            self._api = docker.APIClient(base_url=self.base_url, version=API_VERSION, timeout=timeout)
        except (docker.errors.DockerException, ValueError) as exc:
            raise DockerError(f"cannot use the Docker engine at {self.base_url}: {exc}") from None

    def _call(self, what: str, fn: Any, *args: Any, mutates: bool = False, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.mutations += mutates
        try:
            return fn(*args, **kwargs)
        except (requests.exceptions.ConnectionError, requests.exceptions.InvalidURL):
            raise DockerError(
                f"cannot reach the Docker engine at {self.base_url} ({what}); is dockerd running? scripts/ensure-docker starts one"
            ) from None
        except docker.errors.APIError as exc:
            raise DockerError(f"Docker refused to {what}: {exc.explanation or exc}") from exc
        except docker.errors.DockerException as exc:
            raise DockerError(f"Docker failed to {what}: {exc}") from None

    def ping(self) -> None:
        self._call("answer a ping", self._api.ping)

    def list_fleet(self, fleet: str, network: str) -> list[ListedContainer]:
        """Every container labelled for ``fleet``, running or not: one API call."""
        rows = self._call("list containers", self._api.containers, all=True, filters={"label": f"{Labels.FLEET}={fleet}"})
        return sorted((_listed(row, network) for row in rows), key=lambda c: c.name)

    def list_managed(self) -> list[ListedContainer]:
        rows = self._call("list containers", self._api.containers, all=True, filters={"label": Labels.FLEET})
        return sorted((_listed(row, "") for row in rows), key=lambda c: c.name)

    def name_owners(self, names: set[str]) -> dict[str, str | None]:
        if not names:
            return {}
        rows = self._call("list containers", self._api.containers, all=True)
        owners: dict[str, str | None] = {}
        for row in rows:
            for name in row.get("Names") or []:
                if name.lstrip("/") in names:
                    owners[name.lstrip("/")] = (row.get("Labels") or {}).get(Labels.FLEET)
        return owners

    def image_exists(self, image: str) -> bool:
        try:
            self._call(f"inspect image {image}", self._api.inspect_image, image)
        except DockerError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return False
            raise
        return True

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        if not self._call("list networks", self._api.networks, names=[name]):
            self._call(f"create network {name}", self._api.create_network, name, driver="bridge", labels=labels, mutates=True)

    def create_and_start(self, definition: ContainerDefinition, runtime_dir: Path, revision: int) -> str:
        binds = {str(runtime_dir / m.source): {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in definition.mounts}
        host_config = self._api.create_host_config(
            binds=binds,
            mem_limit=definition.memory,
            nano_cpus=int(definition.cpus * 1e9) if definition.cpus else None,
            init=definition.init,
            restart_policy={"Name": definition.restart},
        )
        networking = self._api.create_networking_config({definition.network: self._api.create_endpoint_config()})
        created = self._call(
            f"create container {definition.name}", self._api.create_container, definition.image, command=list(definition.command),
            name=definition.name, labels=definition.with_revision(revision), host_config=host_config, networking_config=networking,
            user=definition.user or "", environment=definition.environment or None, detach=True, mutates=True,
        )
        if definition.running:
            self._call(f"start container {definition.name}", self._api.start, created["Id"], mutates=True)
        return str(created["Id"])

    def start(self, name: str) -> None:
        self._call(f"start container {name}", self._api.start, name, mutates=True)

    def stop(self, name: str, timeout: int = 20) -> None:
        self._call(f"stop container {name}", self._api.stop, name, timeout=timeout, mutates=True)

    def restart(self, name: str, timeout: int = 20) -> None:
        self._call(f"restart container {name}", self._api.restart, name, timeout=timeout, mutates=True)

    def remove(self, name: str) -> None:
        self._call(f"remove container {name}", self._api.remove_container, name, force=True, mutates=True)


    def logs(self, name: str, lines: int) -> str:
        raw = self._call(f"read the log of {name}", self._api.logs, name, stdout=True, stderr=True, tail=lines)
        return bytes(raw).decode("utf-8", "replace")

    def events(self, fleet: str) -> Iterator[ContainerEvent]:
        filters = {"type": ["container"], "label": [f"{Labels.FLEET}={fleet}"], "event": ["die", "stop", "destroy", "start", "oom"]}
        stream = self._call("follow events", self._api.events, decode=True, filters=filters)
        try:
            for event in stream:
                name = ((event.get("Actor") or {}).get("Attributes") or {}).get("name")
                if name:
                    yield ContainerEvent(str(name), str(event.get("Action") or event.get("status") or ""))
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise DockerError(f"the Docker event stream of {self.base_url} ended: {exc}") from None


def _listed(row: dict[str, Any], network: str) -> ListedContainer:
    networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
    ip = (networks.get(network) or {}).get("IPAddress") or None
    return ListedContainer(row["Id"], row["Names"][0].lstrip("/"), row.get("Labels") or {}, row["State"], ip)
