"""Adapter to the Docker engine: the only module that imports the Docker SDK.

Used by observe and apply. It speaks the low-level API (one labelled list call reads the whole
fleet; docker-py's high-level ``containers.list()`` would inspect every container), counts its
calls so benchmarks can show that a no-op plan costs a constant number of them, and turns every
SDK or connection failure into a ``DockerError`` that says what to do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from engine.errors import DockerError
from engine.naming import FLEET

__all__ = ["ContainerSpec", "DockerEngine", "ListedContainer"]

API_VERSION = "1.41"
"""Pinned so no call is spent negotiating; Debian bookworm's docker.io (20.10) speaks 1.41."""


@dataclass(frozen=True)
class ListedContainer:
    id: str
    name: str
    labels: dict[str, str]
    state: str
    ip: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: list[str]
    labels: dict[str, str]
    runtime_dir: str
    network: str
    memory: str | None = None
    cpus: float | None = None


class DockerEngine:
    """A connection to one Docker engine, with a call counter."""

    def __init__(self, base_url: str | None = None, timeout: int = 60) -> None:
        self.base_url = base_url or "unix:///var/run/docker.sock"
        self.calls = 0
        self._lock = threading.Lock()
        try:
            self._api = docker.APIClient(base_url=self.base_url, version=API_VERSION, timeout=timeout)
        except docker.errors.DockerException as exc:
            raise DockerError(f"cannot use the Docker engine at {self.base_url}: {exc}") from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
        try:
            return fn(*args, **kwargs)
        except requests.exceptions.ConnectionError:
            raise DockerError(
                f"cannot reach the Docker engine at {self.base_url} ({what}); is dockerd running? scripts/ensure-docker starts one"
            ) from None
        except docker.errors.APIError as exc:
            raise DockerError(f"Docker refused to {what}: {exc.explanation or exc}") from None
        except docker.errors.DockerException as exc:
            raise DockerError(f"Docker failed to {what}: {exc}") from None

    def ping(self) -> None:
        self._call("answer a ping", self._api.ping)

    def list_fleet(self, fleet: str, network: str) -> list[ListedContainer]:
        """Every container labelled for ``fleet``, running or not: one API call."""
        rows = self._call("list containers", self._api.containers, all=True, filters={"label": f"{FLEET}={fleet}"})
        listed = []
        for row in rows:
            networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
            ip = (networks.get(network) or {}).get("IPAddress") or None
            listed.append(ListedContainer(row["Id"], row["Names"][0].lstrip("/"), row.get("Labels") or {}, row["State"], ip))
        return sorted(listed, key=lambda c: c.name)

    def image_exists(self, image: str) -> bool:
        try:
            self._call(f"inspect image {image}", self._api.inspect_image, image)
        except DockerError:
            return False
        return True

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        if not self._call("list networks", self._api.networks, names=[name]):
            self._call(f"create network {name}", self._api.create_network, name, driver="bridge", labels=labels)

    def create_and_start(self, spec: ContainerSpec) -> str:
        host_config = self._api.create_host_config(
            binds={spec.runtime_dir: {"bind": "/fleet", "mode": "rw"}},
            mem_limit=spec.memory,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            init=True,
            restart_policy={"Name": "unless-stopped"},
        )
        networking = self._api.create_networking_config({spec.network: self._api.create_endpoint_config()})
        created = self._call(
            f"create container {spec.name}", self._api.create_container, spec.image, command=spec.command, name=spec.name,
            labels=spec.labels, host_config=host_config, networking_config=networking, detach=True,
        )
        self._call(f"start container {spec.name}", self._api.start, created["Id"])
        return str(created["Id"])

    def start(self, name: str) -> None:
        self._call(f"start container {name}", self._api.start, name)

    def stop(self, name: str, timeout: int = 20) -> None:
        self._call(f"stop container {name}", self._api.stop, name, timeout=timeout)

    def restart(self, name: str, timeout: int = 20) -> None:
        self._call(f"restart container {name}", self._api.restart, name, timeout=timeout)

    def remove(self, name: str) -> None:
        self._call(f"remove container {name}", self._api.remove_container, name, force=True)
