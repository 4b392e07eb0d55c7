"""The one error tree of the engine.

The CLI is the only place that turns these into one-line messages and exit codes, so every
module raises one of them (``raise ... from exc``) and never prints::

    FleetopsError                 anything the user can act on; never shown with a traceback
    ├── SpecError                 the fleet specs are invalid (or FreqTrade would refuse a rendered config); every Problem found
    ├── CheckError                the FreqTrade check was required (FLEETOPS_FREQTRADE_CHECK=image|local) and could not run
    ├── SourceError               git: not a repository, unknown ref, unreadable blob
    ├── DockerError               the Docker engine is unreachable or refused a call
    ├── ImageBuildError           `fleetops image build` could not build an image (a tool missing, apt, pip or docker failed)
    ├── SupervisorError           supervisord in a pool container did not answer or refused a call
    │   └── SupervisorRefused     it answered with a fault: e.g. it cannot start a program (its reason)
    ├── ApplyError                converging Docker to the plan failed
    │   └── HealthError           applied bots did not answer their API in time
    └── StateError                the revision store is locked, corrupt or missing a revision
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.textsafe import one_line

__all__ = [
    "ApplyError",
    "CheckError",
    "DockerError",
    "FleetopsError",
    "HealthError",
    "ImageBuildError",
    "Problem",
    "SourceError",
    "SpecError",
    "StateError",
    "SupervisorError",
    "SupervisorRefused",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One user mistake, located at the offending value (1-based line and column).

    A ``warning`` names something the user probably meant otherwise (a file that looks like a
    spec but is not read); it is printed, never fails a run.
    """

    path: str
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        """One line, whatever the message quotes: control characters are shown escaped."""
        return f"{one_line(self.path)}:{self.line}:{self.col}: {self.severity}: {one_line(self.message)}"

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "col": self.col, "message": self.message}


class FleetopsError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class SpecError(FleetopsError):
    """Invalid specs: all problems of one run, sorted by location."""

    def __init__(self, problems: list[Problem], where: tuple[tuple[str, str, tuple[str | int, ...], str], ...] = ()) -> None:
        self.problems = sorted(set(problems))
        self.where = where
        """Problems raised by one who did not hold the spec (a backend), as (kind, name, path in the document,
        message): the flow, which holds it, raises them again located at file:line:col."""
        super().__init__("\n".join(str(p) for p in self.problems))


class CheckError(FleetopsError):
    """The FreqTrade check was required and could not run, or its setting is wrong."""


class SourceError(FleetopsError):
    """The fleet repository or a ref in it cannot be read."""


class DockerError(FleetopsError):
    """The Docker engine is unreachable or refused a call."""


class ImageBuildError(FleetopsError):
    """``fleetops image build`` could not build an image: a tool it needs is missing, or apt, pip or docker failed."""


class SupervisorError(FleetopsError):
    """supervisord in a pool container did not answer or refused a call."""


class SupervisorRefused(SupervisorError):
    """supervisord answered with a fault (``NO_FILE: can't find command 'x'``): its reason, not an outage."""


class ApplyError(FleetopsError):
    """Converging Docker to the plan failed part-way."""


class HealthError(ApplyError):
    """Applied bots did not become healthy in time."""

    exit_code = 3


class StateError(FleetopsError):
    """The revision store is locked, corrupt, or lacks the asked revision."""
