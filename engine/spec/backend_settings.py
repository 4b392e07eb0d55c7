"""The Fleet document's ``backend:`` block (contract §8): where the fleet runs, and a swarm's settings.

Checked here on its own (types, formats, which settings each kind takes); whether the manager,
registry and controller answer is the backend's business when it opens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from engine.spec.constraints import parse_constraint
from engine.spec.endpoints import DOCKER_FORMS, controller_problem, docker_address_problem, registry_problem, shown_address
from engine.spec.fields import Exchange, SpecModel

__all__ = ["SWARM_SETTINGS", "BackendSettings", "PlacementConstraint"]


def _address(problem: Callable[[str], str | None], what: str, forms: str) -> AfterValidator:
    def check(value: str) -> str:
        why = problem(value)
        if why is not None:
            raise ValueError(f"{shown_address(value)!r} is not {what}: {why}; use {forms}")
        return value

    return AfterValidator(check)


ManagerAddress = Annotated[str, _address(docker_address_problem, "a Docker engine address", DOCKER_FORMS)]
RegistryAddress = Annotated[str, _address(registry_problem, "a registry", "HOST:PORT or a host name with a dot, as in 10.0.0.5:5000")]
ControllerUrl = Annotated[str, _address(controller_problem, "a controller URL", "http(s)://HOST[:PORT], as in http://10.0.0.5:9400")]
ExchangeBudget = Annotated[int, Field(ge=1, le=10_000)]
SWARM_SETTINGS = ("manager", "registry", "controller", "exchange_budget")
"""The ``backend:`` settings only ``kind: swarm`` takes (contract §8)."""


def _constraint(value: str) -> str:
    parse_constraint(value)
    return value


PlacementConstraint = Annotated[str, AfterValidator(_constraint)]


class BackendSettings(SpecModel):
    """Where the fleet runs (contract §8): ``docker`` (the engine at DOCKER_HOST / --docker-host) or
    ``swarm`` (a swarm manager, with the registry its nodes pull the fleet's images from). Settings
    left out are not written back (``model_dump``): a fleet without ``backend:`` dumps as
    ``{"kind": "docker"}``, as revisions and no-op proofs have always stored it."""

    kind: Literal["docker", "swarm"] = "docker"
    manager: ManagerAddress | None = None
    """A swarm manager's Docker API (default: DOCKER_HOST / --docker-host)."""
    registry: RegistryAddress | None = None
    """Where the fleet's images are pushed and pulled by digest; required on swarm."""
    controller: ControllerUrl | None = None
    """How node agents reach the controller (default: the watcher's --listen address)."""
    exchange_budget: Annotated[dict[Exchange, ExchangeBudget], Field(max_length=100)] = {}
    """Exchange → at most this many bots trading it on one node (one egress IP): placement keeps to it."""

    @field_validator(*SWARM_SETTINGS)
    @classmethod
    def _swarm_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("kind", "docker") != "swarm":
            raise ValueError(f"`{info.field_name}` is a setting of `kind: swarm`; `kind: docker` runs on the Docker engine at "
                             f"DOCKER_HOST and takes none (remove it, or write `kind: swarm`)")
        return value

    @model_validator(mode="after")
    def _swarm_needs_a_registry(self) -> BackendSettings:
        if self.kind == "swarm" and self.registry is None:
            raise ValueError("a swarm fleet needs `registry:` (HOST[:PORT]): its images are pushed there and every node "
                             "pulls them by digest")
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if key == "kind" or value not in (None, {})}

