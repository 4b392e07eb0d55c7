"""Adapter to the Docker engine: the only module that imports the Docker SDK.

Implements ``engine.backend.docker.protocols.DockerApi``. It speaks the low-level API (one labelled list
call reads the whole fleet; docker-py's high-level ``containers.list()`` would inspect every
container), counts its calls (and the mutating ones) so benchmarks and the watcher's tests can
show what a no-op costs, and turns every SDK or connection failure into a ``DockerError`` that
says what to do. Only "no such image" means an image is missing; any other failure is an error.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import secrets
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.tls
import requests.exceptions

from engine.backend.docker.address import docker_address, docker_tls
from engine.backend.docker.inspect import parse_inspect
from engine.backend.docker.unix_http import inspect_documents
from engine.backend.port import ImageFacts, ListedUnit, UnitEvent, UnitInspect
from engine.compile.container import ContainerDefinition
from engine.errors import DockerError
from engine.naming import Labels
from engine.textsafe import one_line

__all__ = ["DockerEngine", "sdk_client"]

PROBE_LABEL = "io.fleetops.probe"
"""Set on the short-lived containers that read an image's files; never the fleet label."""
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The PATH Docker gives a container whose image sets none."""
MAX_IMAGE_FILE = 1 << 20
_GO_SYMLINK = 1 << 27
_GO_TYPE_BITS = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)
"""Go's os.FileMode type bits, as Docker's path stat reports them: dir, symlink, device, pipe, socket, char device, irregular."""

API_VERSION = "1.41"
"""Pinned so no call is spent negotiating; Debian bookworm's docker.io (20.10) speaks 1.41."""


def sdk_client(base_url: str, timeout: float) -> docker.APIClient:
    """The SDK's client for a checked address, over TLS when the environment asks for it
    (``engine.backend.docker.address.docker_tls``). Raises DockerError, one line."""
    tls = docker_tls(base_url)
    try:
        if tls is None:
            return docker.APIClient(base_url=base_url, version=API_VERSION, timeout=timeout)
        config = docker.tls.TLSConfig(client_cert=tls.client_cert, ca_cert=tls.ca_cert, verify=tls.ca_cert or False)
        client = docker.APIClient(base_url=tls.base_url, version=API_VERSION, timeout=timeout, tls=config)
        # requests would verify against $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE instead of the engine's ca.pem
        # whenever they are set (common on hosts behind a corporate proxy): the engine's CA is the only one.
        client.trust_env = False
        return client
    except (docker.errors.DockerException, ValueError) as exc:
        raise DockerError(f"cannot use the Docker engine at {base_url}: {one_line(str(exc))}") from None


class DockerEngine:
    """A connection to one Docker engine, with call counters."""

    def __init__(self, base_url: str | None = None, timeout: int = 60) -> None:
        self.base_url = docker_address(base_url)
        self.calls = 0
        self.mutations = 0
        self._lock = threading.Lock()
        self._api = sdk_client(self.base_url, timeout)

    def _call(self, what: str, fn: Any, *args: Any, mutates: bool = False, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.mutations += mutates
        try:
            return fn(*args, **kwargs)
        except (requests.exceptions.ConnectionError, requests.exceptions.InvalidURL):
            raise DockerError(
                f"cannot reach the Docker engine at {self.base_url} ({what}); is dockerd running? start it (`systemctl start docker`, or `dockerd &` as root)"
            ) from None
        except docker.errors.APIError as exc:
            raise DockerError(f"Docker refused to {what}: {exc.explanation or exc}") from exc
        except docker.errors.DockerException as exc:
            raise DockerError(f"Docker failed to {what}: {exc}") from None

    def ping(self) -> None:
        self._call("answer a ping", self._api.ping)

    def list_fleet(self, fleet: str, network: str) -> list[ListedUnit]:
        """Every container labelled for ``fleet``, running or not: one API call."""
        rows = self._call("list containers", self._api.containers, all=True, filters={"label": f"{Labels.FLEET}={fleet}"})
        return sorted((_listed(row, network) for row in rows), key=lambda c: c.name)

    def list_managed(self) -> list[ListedUnit]:
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

    def image_id(self, image: str) -> str | None:
        try:
            info = self._call(f"inspect image {image}", self._api.inspect_image, image)
        except DockerError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return None
            raise
        return str(info["Id"])

    def image_facts(self, image: str, executables: tuple[str, ...]) -> ImageFacts:
        """Read the image's filesystem through a container that is created and never started.

        Nothing of the image runs (no shell or tool is needed in it, no network is attached): Docker's
        archive API reads /etc/passwd and stats each candidate path; the container is removed after.
        It carries no fleet label, so nothing mistakes it for a managed one.
        """
        info = self._call(f"inspect image {image}", self._api.inspect_image, image)
        env = dict(e.split("=", 1) for e in (info.get("Config") or {}).get("Env") or [] if "=" in e)
        search = [d for d in env.get("PATH", DEFAULT_PATH).split(":") if d.startswith("/")]
        created = self._call(f"create a container to read image {image}", self._api.create_container, image,
                             command=["fleetops-image-check"], name=f"fleetops-image-check-{secrets.token_hex(6)}",
                             labels={PROBE_LABEL: "image-check"}, network_disabled=True,
                             host_config=self._api.create_host_config(network_mode="none"))
        probe = str(created["Id"])
        try:
            passwd = self._read_file(probe, "/etc/passwd")
            found = {name: self._which(probe, name, search) for name in executables}
        finally:
            self._call(f"remove the container that read image {image}", self._api.remove_container, probe, force=True)
        return ImageFacts(str(info["Id"]), parse_passwd(passwd), found)

    def _stat(self, container: str, path: str) -> dict[str, Any] | None:
        def head() -> Any:
            return self._api.head(self._api._url("/containers/{0}/archive", container), params={"path": path})

        response = self._call(f"look for {path} in an image", head)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DockerError(f"Docker refused to look for {path} in an image: HTTP {response.status_code}")
        stat: dict[str, Any] = json.loads(base64.b64decode(response.headers.get("X-Docker-Container-Path-Stat", "") or "e30="))
        return stat

    def _which(self, container: str, name: str, search: list[str]) -> str | None:
        """Where ``name`` resolves as supervisord's or Docker's exec would: a path as given, else each PATH
        directory in turn; links followed (Docker reports their resolved target); a regular executable file."""
        for candidate in ([name] if "/" in name else [f"{d.rstrip('/')}/{name}" for d in search]):
            path = candidate
            for _ in range(8):
                stat = self._stat(container, path)
                if stat is None:
                    break
                mode = int(stat.get("mode", 0))
                if mode & _GO_SYMLINK and stat.get("linkTarget"):
                    path = str(stat["linkTarget"])
                    continue
                if not mode & _GO_TYPE_BITS and mode & 0o111:
                    return candidate
                break
        return None

    def _read_file(self, container: str, path: str) -> str:
        """A small text file of the image ('' when it has none)."""
        try:
            stream, _stat = self._call(f"read {path} of an image", self._api.get_archive, container, path)
        except DockerError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return ""
            raise
        data = b""
        for chunk in stream:
            data += chunk
            if len(data) > MAX_IMAGE_FILE:
                raise DockerError(f"{path} of an image is larger than {MAX_IMAGE_FILE >> 10} KiB")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = next((m for m in archive.getmembers() if m.isfile()), None)
            extracted = archive.extractfile(member) if member is not None else None
            return extracted.read(MAX_IMAGE_FILE).decode("utf-8", "replace") if extracted is not None else ""

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        if not self._call("list networks", self._api.networks, names=[name]):
            self._call(f"create network {name}", self._api.create_network, name, driver="bridge", labels=labels, mutates=True)

    def remove_network(self, name: str, labels: dict[str, str]) -> None:
        rows = self._call("list networks", self._api.networks, names=[name]) or []
        for row in rows:
            if row.get("Name") == name and all((row.get("Labels") or {}).get(k) == v for k, v in labels.items()):
                self._call(f"remove network {name}", self._api.remove_network, row["Id"], mutates=True)

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
            entrypoint=list(definition.entrypoint),
            name=definition.name, labels=definition.with_revision(revision), host_config=host_config, networking_config=networking,
            user=definition.user or "", environment=definition.environment or None, detach=True, mutates=True,
        )
        if definition.running:
            self._call(f"start container {definition.name}", self._api.start, created["Id"], mutates=True)
        return str(created["Id"])

    def start(self, name: str) -> None:
        self._call(f"start container {name}", self._api.start, name, mutates=True)

    def unpause(self, name: str) -> None:
        self._call(f"unpause container {name}", self._api.unpause, name, mutates=True)

    def stop(self, name: str, timeout: int = 20) -> None:
        self._call(f"stop container {name}", self._api.stop, name, timeout=timeout, mutates=True)

    def restart(self, name: str, timeout: int = 20) -> None:
        self._call(f"restart container {name}", self._api.restart, name, timeout=timeout, mutates=True)

    def remove(self, name: str) -> None:
        self._call(f"remove container {name}", self._api.remove_container, name, force=True, mutates=True)

    def rename(self, name: str, new_name: str) -> None:
        self._call(f"rename container {name} to {new_name}", self._api.rename, name, new_name, mutates=True)

    def inspect_many(self, names: list[str]) -> dict[str, UnitInspect]:
        """On a local socket, all sent at once with the stdlib (``engine.backend.docker.unix_http``: ~0.13 ms
        each, where the SDK takes ~1.1 ms each even from 8 threads); elsewhere through the SDK."""
        if not names:
            return {}
        if self.base_url.startswith("unix://"):
            with self._lock:
                self.calls += len(names)
            try:
                documents = inspect_documents(self.base_url.removeprefix("unix://"), {name: name for name in names})
            except (OSError, http.client.HTTPException) as exc:
                raise DockerError(f"cannot reach the Docker engine at {self.base_url} (inspect containers: {exc}); "
                                  "is dockerd running? start it (`systemctl start docker`, or `dockerd &` as root)") from None
            except ValueError as exc:
                raise DockerError(f"Docker's answer to an inspect does not parse ({exc})") from None
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                documents = {name: document for name, document in pool.map(self._inspect_one, names) if document is not None}
        try:
            return {name: parse_inspect(document) for name, document in documents.items()}
        except ValueError as exc:
            raise DockerError(f"Docker's answer to an inspect does not parse ({exc})") from None

    def _inspect_one(self, name: str) -> tuple[str, Any]:
        try:
            return name, self._call(f"inspect container {name}", self._api.inspect_container, name)
        except DockerError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return name, None  # removed since it was listed: the next plan sees it gone
            raise

    def update_settings(self, name: str, *, memory: int | None = None, nano_cpus: int | None = None, restart: str | None = None) -> None:
        data: dict[str, Any] = {}
        if memory:
            data["Memory"] = memory
        if nano_cpus:
            data["NanoCpus"] = nano_cpus
        if restart is not None:
            data["RestartPolicy"] = {"Name": restart}
        if not data:
            return

        def post(body: dict[str, Any]) -> Any:  # docker-py's update_container cannot set NanoCpus; same endpoint
            return self._api._result(self._api._post_json(self._api._url("/containers/{0}/update", name), data=body), True)

        try:
            self._call(f"update container {name}", post, data, mutates=True)
        except DockerError as exc:
            if "memoryswap" not in str(exc) or not memory:
                raise
            # Raising the memory above the swap limit a person set needs both; create's default is twice the memory.
            self._call(f"update container {name}", post, {**data, "MemorySwap": 2 * memory}, mutates=True)

    def connect_network(self, network: str, name: str) -> None:
        self._call(f"connect {name} to network {network}", self._api.connect_container_to_network, name, network, mutates=True)

    def disconnect_network(self, network: str, name: str) -> None:
        self._call(f"disconnect {name} from network {network}", self._api.disconnect_container_from_network, name, network,
                   mutates=True)

    def logs(self, name: str, lines: int, since: float | None = None) -> str:
        options: dict[str, Any] = {"since": since} if since is not None else {}
        raw = self._call(f"read the log of {name}", self._api.logs, name, stdout=True, stderr=True, tail=lines, **options)
        return bytes(raw).decode("utf-8", "replace")

    def follow_logs(self, name: str, since: float) -> Iterator[str]:
        """The container's output from ``since`` on, line by line as it comes; ends when the container stops."""
        stream = self._call(f"follow the log of {name}", self._api.logs, name, stdout=True, stderr=True, stream=True, follow=True,
                            since=since)
        pending = b""
        try:
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (line.decode("utf-8", "replace") for line in lines)
            if pending:
                yield pending.decode("utf-8", "replace")
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise DockerError(f"the log of {name} stopped: {exc}") from None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def events(self, fleet: str) -> Iterator[UnitEvent]:
        filters = {"type": ["container"], "label": [f"{Labels.FLEET}={fleet}"], "event": ["die", "stop", "destroy", "start", "oom"]}
        stream = self._call("follow events", self._api.events, decode=True, filters=filters)
        try:
            for event in stream:
                name = ((event.get("Actor") or {}).get("Attributes") or {}).get("name")
                if name:
                    yield UnitEvent(str(name), str(event.get("Action") or event.get("status") or ""))
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise DockerError(f"the Docker event stream of {self.base_url} ended: {exc}") from None


def _listed(row: dict[str, Any], network: str) -> ListedUnit:
    networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
    ip = (networks.get(network) or {}).get("IPAddress") or None
    return ListedUnit(row["Id"], row["Names"][0].lstrip("/"), row.get("Labels") or {}, row["State"], ip)


def parse_passwd(text: str) -> dict[str, int]:
    """User name → uid of each well-formed /etc/passwd line (anything else is skipped)."""
    users: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] and fields[2].isdigit():
            users.setdefault(fields[0], int(fields[2]))
    return users
