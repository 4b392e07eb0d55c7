"""Adapter to a swarm manager's Engine API: the only module of the swarm backend that imports the Docker SDK.

A thin layer on purpose: documents go in and come out as the Engine API writes them (a service's
``Spec``, a task, a node), so what the swarm modules build and read is the API's own JSON, and the
fake client the unit tests use speaks the SDK's method names (``tests/swarm_unit/fake_sdk.py``).
Every call is counted (``calls``, ``mutations``: what a no-op costs), and every SDK or connection
failure becomes a one-line ``DockerError`` that says what to do; "no such" answers are None where a
caller asks whether something exists.

What it never does, because Swarm would replace every task of the service (every bot of a pool
restarts; SWARM.md, moby #27596): a forced update. ``update_service`` sends a whole spec back as
the caller read and changed it (the stored spec, without Docker's defaults inserted: the SDK's
``fetch_current_spec`` inserts them, which changes the task template and replaces the task).

The address and TLS are the Docker backend's (``engine.backend.docker.address``, ``sdk_client``):
TLS from ``DOCKER_TLS_VERIFY`` / ``DOCKER_CERT_PATH``, and ``REQUESTS_CA_BUNDLE`` kept from
overriding the manager's ``ca.pem``. A manager on plain TCP without TLS is root on every node for
whoever reaches it: refused unless it is on this host (127.0.0.0/8, ::1) or
``FLEETOPS_SWARM_PLAIN_TCP=1`` says it is a lab (contract §8).
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions

from engine.backend.docker.address import docker_address, docker_tls
from engine.backend.docker.api import sdk_client
from engine.errors import DockerError
from engine.textsafe import one_line

__all__ = ["PLAIN_TCP_VARIABLE", "SwarmManager", "manager_client"]

PLAIN_TCP_VARIABLE = "FLEETOPS_SWARM_PLAIN_TCP"
"""Set to 1 to reach a manager over plain TCP on another host (a lab's: anyone who reaches it is root)."""
MAX_LOG_BYTES = 4 << 20
"""The most of a service's log read at once (its last lines are what is shown)."""


def manager_client(address: str, timeout: float, environ: Mapping[str, str] | None = None) -> docker.APIClient:
    """The SDK's client for a swarm manager at ``address`` (checked as DOCKER_HOST is), over TLS when the
    environment asks for it. Raises DockerError, one line, for a malformed address, half a TLS setting,
    or plain TCP to another host without ``FLEETOPS_SWARM_PLAIN_TCP=1``."""
    environ = os.environ if environ is None else environ
    address = docker_address(address, "backend.manager")
    scheme = address.partition("://")[0].lower()
    if scheme in ("tcp", "http") and docker_tls(address, environ) is None and not _loopback(address) and environ.get(PLAIN_TCP_VARIABLE) != "1":
        raise DockerError(f"backend.manager {address} is plain TCP without TLS: whoever reaches it is root on every node of the swarm; "
                          "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (the manager's client certificate), use ssh://, or, for a lab, "
                          f"set {PLAIN_TCP_VARIABLE}=1")
    return sdk_client(address, timeout)


def _loopback(address: str) -> bool:
    host = urlsplit(address).hostname or "127.0.0.1"  # tcp://:2375 is this host, as the SDK reads it
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SwarmManager:
    """One swarm manager's API, with call counters. ``client`` replaces the SDK's (the unit tests' fake)."""

    def __init__(self, address: str, *, timeout: int = 60, client: Any = None, environ: Mapping[str, str] | None = None) -> None:
        self.base_url = docker_address(address, "backend.manager")
        self.calls = 0
        self.mutations = 0
        self._lock = threading.Lock()
        self._api: Any = client if client is not None else manager_client(self.base_url, timeout, environ)

    def _call(self, what: str, fn: Any, *args: Any, mutates: bool = False, missing: bool = False, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, counted; ``missing``: Docker's "no such …" answers None instead of an error."""
        with self._lock:
            self.calls += 1
            self.mutations += mutates
        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound:
            if missing:
                return None
            raise DockerError(f"the swarm manager at {self.base_url} has no such thing: cannot {what}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.InvalidURL):
            raise DockerError(f"cannot reach the swarm manager at {self.base_url} ({what}); is its Docker engine running, "
                              "and is backend.manager (or DOCKER_HOST) its address?") from None
        except docker.errors.APIError as exc:
            raise DockerError(f"the swarm manager refused to {what}: {one_line(str(exc.explanation or exc))}") from exc
        except docker.errors.DockerException as exc:
            raise DockerError(f"the swarm manager failed to {what}: {one_line(str(exc))}") from None

    # -- the swarm ------------------------------------------------------------------------------

    def ping(self) -> None:
        self._call("answer a ping", self._api.ping)

    def require_manager(self) -> None:
        """Raises DockerError unless the engine is a manager of an active swarm: workers refuse every cluster call."""
        swarm = (self._call("describe itself", self._api.info) or {}).get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            state = swarm.get("LocalNodeState") or "inactive"
            role = "a worker" if state == "active" else f"not in a swarm ({state})"
            raise DockerError(f"the Docker engine at {self.base_url} is {role}, not a swarm manager; point backend.manager at a "
                              "manager (`docker node ls` there lists the nodes)")

    def nodes(self) -> list[dict[str, Any]]:
        """Every node of the swarm, as ``GET /nodes`` lists them."""
        return list(self._call("list nodes", self._api.nodes) or [])

    # -- services and tasks ---------------------------------------------------------------------

    def services(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Services carrying every label of ``labels`` (``key=value``; a value "" asks only for the key)."""
        filters = {"label": [f"{k}={v}" if v else k for k, v in sorted((labels or {}).items())]} if labels else None
        return list(self._call("list services", self._api.services, filters=filters) or [])

    def service(self, name: str) -> dict[str, Any] | None:
        """One service by name or ID as stored (Docker's defaults not inserted), or None when there is none."""
        found: dict[str, Any] | None = self._call(f"inspect service {name}", self._api.inspect_service, name, missing=True)
        return found

    def tasks(self, services: list[str]) -> list[dict[str, Any]]:
        """Every task (running and the kept history) of the services named (by ID or name); one call. Docker
        refuses the filter once one of them is removed, while its task may still stop on its node: then
        every task of the swarm is listed and those of ``services`` (by ID) kept."""
        if not services:
            return []
        found = self._call("list tasks", self._api.tasks, filters={"service": sorted(services)}, missing=True)
        if found is None:
            wanted = set(services)
            return [task for task in self._call("list tasks", self._api.tasks) or [] if task.get("ServiceID") in wanted]
        return list(found)

    def create_service(self, spec: Mapping[str, Any]) -> str:
        """Create a service from an Engine API ``ServiceSpec``; its ID."""
        created = self._call(f"create service {spec.get('Name')}", self._api.create_service, dict(spec["TaskTemplate"]), name=spec.get("Name"),
                             labels=spec.get("Labels"), mode=spec.get("Mode"), update_config=spec.get("UpdateConfig"),
                             rollback_config=spec.get("RollbackConfig"), endpoint_spec=spec.get("EndpointSpec"), mutates=True)
        return str(created["ID"])

    def update_service(self, service_id: str, version: int, spec: Mapping[str, Any]) -> list[str]:
        """Replace the service's spec with ``spec`` (as read with ``service`` and changed), at ``version`` (the
        stored ``Version.Index``: a concurrent change makes Docker refuse). Docker's warnings. Whether the
        task is replaced is Swarm's rule: only service-level fields (labels, update and rollback settings,
        replicas) and constraints its node still meets keep it."""
        answer = self._call(f"update service {spec.get('Name')}", self._api.update_service, service_id, version,
                            task_template=dict(spec["TaskTemplate"]), name=spec.get("Name"), labels=spec.get("Labels") or {},
                            mode=spec.get("Mode"), update_config=spec.get("UpdateConfig"), rollback_config=spec.get("RollbackConfig"),
                            endpoint_spec=spec.get("EndpointSpec"), mutates=True)
        return [str(w) for w in (answer or {}).get("Warnings") or []]

    def remove_service(self, name: str) -> bool:
        """Remove a service; False when it was already gone. Its task stops afterwards, on its node."""
        return self._call(f"remove service {name}", self._api.remove_service, name, mutates=True, missing=True) is not None

    def service_logs(self, name: str, tail: int, since: float | None = None) -> str:
        """The last ``tail`` lines a service's tasks wrote (stdout and stderr), after ``since`` (epoch seconds) when given."""
        def read() -> bytes:
            data = b""
            for chunk in self._api.service_logs(name, stdout=True, stderr=True, tail=tail, since=int(since or 0), is_tty=False,
                                                timestamps=False):
                data += chunk
                if len(data) > MAX_LOG_BYTES:
                    data = data[-MAX_LOG_BYTES:]
            return data

        return str(self._call(f"read the log of service {name}", read).decode("utf-8", "replace"))

    def events(self, filters: Mapping[str, list[str]], since: float | None = None, until: float | None = None) -> Iterator[dict[str, Any]]:
        """The manager's events (``type`` ``service``, ``node``, …) as they happen; ends when it hangs up, or at
        ``until`` (epoch seconds; with ``since``, a past stretch of them)."""
        stream = self._call("follow events", self._api.events, filters=dict(filters), decode=True, since=since, until=until)
        try:
            yield from stream
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError):
            return

    # -- networks, secrets, configs -------------------------------------------------------------

    def network(self, name: str) -> dict[str, Any] | None:
        """The network named exactly ``name`` (Docker's name filter also matches longer names), or None."""
        rows = self._call("list networks", self._api.networks, names=[name]) or []
        return next((row for row in rows if row.get("Name") == name), None)

    def network_names(self) -> dict[str, str]:
        """Network ID → name, for reading a service's spec (Docker stores the IDs it resolved names to)."""
        return {str(row["Id"]): str(row["Name"]) for row in self._call("list networks", self._api.networks) or []}

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        """An attachable overlay network (node agents join it to reach bots at ``tasks.<service>``); its ID."""
        created = self._call(f"create network {name}", self._api.create_network, name, driver="overlay", attachable=True,
                             labels=dict(labels), mutates=True)
        return str(created["Id"])

    def remove_network(self, network_id: str) -> None:
        self._call(f"remove network {network_id}", self._api.remove_network, network_id, mutates=True)

    def secrets(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Secrets carrying ``labels`` (their values are never read back: Docker does not give them)."""
        return list(self._call("list secrets", self._api.secrets, filters={"label": [f"{k}={v}" for k, v in sorted(labels.items())]}) or [])

    def create_secret(self, name: str, data: bytes, labels: Mapping[str, str]) -> str:
        created = self._call(f"create secret {name}", self._api.create_secret, name, data, labels=dict(labels), mutates=True)
        return str(created["ID"])

    def remove_secret(self, secret_id: str) -> None:
        self._call(f"remove secret {secret_id}", self._api.remove_secret, secret_id, mutates=True, missing=True)

    def configs(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        return list(self._call("list configs", self._api.configs, filters={"label": [f"{k}={v}" for k, v in sorted(labels.items())]}) or [])

    def create_config(self, name: str, data: bytes, labels: Mapping[str, str]) -> str:
        created = self._call(f"create config {name}", self._api.create_config, name, data, labels=dict(labels), mutates=True)
        return str(created["ID"])

    def remove_config(self, config_id: str) -> None:
        self._call(f"remove config {config_id}", self._api.remove_config, config_id, mutates=True, missing=True)

    # -- images ---------------------------------------------------------------------------------

    def image(self, reference: str) -> dict[str, Any] | None:
        """The manager engine's own image ``reference`` (``Id``, ``RepoTags``, ``RepoDigests``), or None."""
        found: dict[str, Any] | None = self._call(f"inspect image {reference}", self._api.inspect_image, reference, missing=True)
        return found

    def tag(self, image: str, repository: str, tag: str) -> None:
        self._call(f"tag image {image} as {repository}:{tag}", self._api.tag, image, repository, tag, mutates=True)

    def push(self, repository: str, tag: str) -> str:
        """Push ``repository:tag`` from the manager's engine to its registry; the manifest digest the registry
        answered (``sha256:…``). Raises DockerError naming the registry's own error."""
        def push() -> str:
            digest = ""
            for line in self._api.push(repository, tag=tag, stream=True, decode=True):
                if line.get("error") or line.get("errorDetail"):
                    message = line.get("error") or (line.get("errorDetail") or {}).get("message") or "unknown error"
                    raise DockerError(f"the swarm manager could not push {repository}:{tag}: {one_line(str(message))}; is the "
                                      "registry up, and does the manager's engine trust it (--insecure-registry for plain HTTP)?")
                digest = str((line.get("aux") or {}).get("Digest") or digest)
            if not digest.startswith("sha256:"):
                raise DockerError(f"the swarm manager pushed {repository}:{tag} but the registry answered no digest")
            return digest

        return str(self._call(f"push {repository}:{tag}", push, mutates=True))

    def registry_digest(self, reference: str) -> str | None:
        """The manifest digest the registry holds for ``reference`` (asked through the manager), or None when it
        holds none."""
        try:
            found = self._call(f"ask the registry about {reference}", self._api.inspect_distribution, reference, missing=True)
        except DockerError as exc:
            cause = exc.__cause__
            if isinstance(cause, docker.errors.APIError) and "manifest unknown" in str(cause.explanation or "").lower():
                return None
            raise
        digest = ((found or {}).get("Descriptor") or {}).get("digest")
        return str(digest) if digest else None

