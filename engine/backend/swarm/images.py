"""The fleet's images in its registry (``backend.registry``), pinned by digest: what every node pulls.

Used by the swarm units (a service's image is ``<registry>/<repository>@sha256:…``, never a tag a
later push could move) and by the plan, which shows the digest each unit will run. Images come
from the manager's own engine: the CLI or the watcher runs on a manager, where the operator pulls
or builds them (``docker pull``, ``fleetops image build``); fleetops tags each into the registry
and pushes it through the manager (``engine.backend.swarm.api``), so no node needs Docker Hub and
every node runs the same bytes. A tag pushed again with the same content keeps its digest: a no-op
apply changes no service.

``known`` answers without changing anything (the plan's question): the digest the registry holds
for the manager's current image, from the manager's own record of its pushes (``RepoDigests``),
or None when it was never pushed. ``pinned`` pushes when needed (apply's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.errors import DockerError

if TYPE_CHECKING:
    from engine.compile.desired import DesiredFleet

__all__ = ["ImageName", "ImageSource", "RegistryImages", "image_stamps", "split_reference"]

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


@dataclass(frozen=True)
class ImageName:
    """An image reference taken apart as Docker's reference grammar reads it."""

    domain: str | None
    """The registry part (``10.0.0.5:5000``, ``ghcr.io``), when the first component names one."""
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path


def split_reference(reference: str) -> ImageName:
    """``[domain/]path[:tag][@digest]`` → its parts; the first component is a domain when it has a
    dot or a port, or is ``localhost`` (distribution/reference)."""
    name, _, digest = reference.partition("@")
    head, _, rest = name.partition("/")
    domain = head if rest and ("." in head or ":" in head or head == "localhost") else None
    path = rest if domain else name
    last = path.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else None
    if tag is not None:
        path = path[: -len(tag) - 1]
    return ImageName(domain, path, tag, digest or None)


class ImageSource(Protocol):
    """The part of the swarm manager's API this module uses (``engine.backend.swarm.api.SwarmManager``)."""

    base_url: str

    def image(self, reference: str) -> dict[str, object] | None: ...
    def tag(self, image: str, repository: str, tag: str) -> None: ...
    def push(self, repository: str, tag: str) -> str: ...
    def registry_digest(self, reference: str) -> str | None: ...


class RegistryImages:
    """A fleet's images in ``registry`` (``HOST[:PORT][/prefix]``), through the manager ``api``; answers
    are kept for the life of this object (one plan or one apply)."""

    def __init__(self, api: ImageSource, registry: str) -> None:
        self.api = api
        self.registry = registry.rstrip("/")
        self._pinned: dict[str, str] = {}
        self._known: dict[str, str | None] = {}

    def target(self, image: str) -> tuple[str, str]:
        """(repository in the registry, tag) ``image`` is pushed as: its path under the registry (any
        other registry's name dropped), its tag (``latest`` when it has none; a digest's first 12 hex
        digits when it has only a digest)."""
        name = split_reference(image)
        repository = name.repository if self._in_registry(name) else f"{self.registry}/{name.path}"
        tag = name.tag or (name.digest[7:19] if name.digest else "latest")
        return repository, tag

    def _in_registry(self, name: ImageName) -> bool:
        return name.domain is not None and (name.repository + "/").startswith(self.registry + "/")

    def known(self, image: str) -> str | None:
        """``<repository>@sha256:…`` that ``pinned`` would give without pushing anything, or None when the
        registry has no copy of the manager's current ``image`` yet (asked once per image). Raises
        DockerError when the manager does not answer."""
        if image in self._pinned:
            return self._pinned[image]
        if image not in self._known:
            self._known[image] = self._look_up(image, self.api.image(image))
        return self._known[image]

    def _look_up(self, image: str, local: dict[str, object] | None) -> str | None:
        name = split_reference(image)
        if self._in_registry(name) and name.digest:
            return image
        repository, _tag = self.target(image)
        if local is None:
            digest = self.api.registry_digest(image) if self._in_registry(name) else None
            return f"{repository}@{digest}" if digest else None
        for recorded in _strings(local.get("RepoDigests")):
            if recorded.startswith(f"{repository}@") and _DIGEST.fullmatch(recorded.split("@", 1)[1]):
                return recorded
        return None

    def pinned(self, image: str) -> str:
        """``image`` in the registry by digest, pushed from the manager's engine when the registry does not
        hold the manager's current copy. Raises DockerError (one line, saying what to do) when the manager
        has no such image and the registry none either, or the push fails."""
        if image in self._pinned:
            return self._pinned[image]
        name = split_reference(image)
        if self._in_registry(name) and name.digest:
            return self._keep(image, image)
        local = self.api.image(image)
        recorded = self._look_up(image, local)
        if local is None:
            if recorded is None:
                raise DockerError(f"image {image} is not on the swarm manager at {self.api.base_url}: pull or build it there "
                                  f"(docker pull {image}), and fleetops pushes it to {self.registry} for every node")
            return self._keep(image, recorded)
        if recorded is not None and self.api.registry_digest(recorded) == recorded.split("@", 1)[1]:
            return self._keep(image, recorded)
        repository, tag = self.target(image)
        source = str(local.get("Id") or image)
        if (repository, tag) != (name.repository, name.tag):
            self.api.tag(source, repository, tag)
        digest = self.api.push(repository, tag)
        return self._keep(image, f"{repository}@{digest}")

    def _keep(self, image: str, pinned: str) -> str:
        self._pinned[image] = pinned
        return pinned


def image_stamps(fleet: DesiredFleet, pin: Callable[[str], str | None]) -> dict[str, dict[str, str]]:
    """Container → ``{"image": <repository>@sha256:…}`` for every container whose image ``pin`` resolves
    (``RegistryImages.known`` for a plan that changes nothing, ``pinned`` for one that pushes first): the
    essence fields ``engine.compile.desired.restamped`` takes, so that a swarm fleet's plan shows, and
    its records keep, the digest each unit runs — and a new digest behind the same tag is a change."""
    stamps = {}
    for name, container in sorted(fleet.containers.items()):
        pinned = pin(container.essence.image)
        if pinned is not None and pinned != container.essence.image:
            stamps[name] = {"image": pinned}
    return stamps


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
