"""Docker engine addresses (``DOCKER_HOST``, ``--docker-host``): checked once, before anything uses one.

Called by the CLI before the no-op proof reads the address or the Docker adapter connects, and by
``engine.backend.docker.api`` for callers that bypass the CLI. The Docker SDK's own parser lets odd
addresses through to ``urllib`` and ``requests``, which raise ``ValueError`` (``http://[::1``,
``tcp://host:notaport``, ``tcp://[zz]:1``, a port over 65535) — an internal error, not a message.
Here every address is one of the forms the SDK connects to, or a ``DockerError`` naming it, saying
what is wrong with it and which forms are accepted; the grammar is ``engine.spec.endpoints``'s, which
a swarm fleet's ``backend.manager`` is validated with too. Stdlib only: the no-op proof runs before
the SDK is imported.

TLS (``docker_tls``): a TCP address is spoken to over TLS when the environment asks for it the
way the Docker CLI and docker-py read it — ``DOCKER_TLS_VERIFY`` (non-empty, even ``0``: verify
the engine's certificate against ``ca.pem``), ``DOCKER_TLS`` (TLS without verifying), or
``DOCKER_CERT_PATH`` (where ``ca.pem``, ``cert.pem`` and ``key.pem`` are; default ``~/.docker``),
or an ``https://`` address. The SDK's own ``APIClient`` reads none of these; fleetops used to
talk plain HTTP to an engine the user had asked to reach over verified TLS. Half a setting (a
directory that is not there, a ``cert.pem`` without its ``key.pem``, verification without a
``ca.pem``) is a ``DockerError`` that says which file is missing where.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DockerError
from engine.spec.endpoints import DOCKER_FORMS, docker_address_problem, shown_address
from engine.textsafe import one_line

__all__ = ["DEFAULT_ADDRESS", "FORMS", "DockerTLS", "docker_address", "docker_tls"]

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
FORMS = DOCKER_FORMS
"""The forms accepted, as an error message names them (the grammar is ``engine.spec.endpoints``'s: a spec names addresses too)."""


def docker_address(value: str | None, source: str = "DOCKER_HOST") -> str:
    """``value`` as the Docker SDK should get it (None or empty: the default local socket).

    Raises DockerError, one line naming ``source`` (the variable or option it came from), the
    address (its password, if any, never shown), the reason and the accepted forms.
    """
    if value is None or value.strip() in ("", "unix://"):
        return DEFAULT_ADDRESS
    why = docker_address_problem(value.strip())
    if why is not None:
        raise DockerError(f"{source} '{shown_address(value)}' is not a Docker engine address: {why}; use {FORMS}")
    return value.strip()


@dataclass(frozen=True)
class DockerTLS:
    """How to speak TLS to a TCP address: the SDK's ``TLSConfig`` arguments."""

    base_url: str
    """The address as ``tcp://HOST:PORT`` (the SDK then speaks https to it)."""
    ca_cert: str | None
    """``ca.pem`` to verify the engine's certificate against; None: not verified."""
    client_cert: tuple[str, str] | None
    """(``cert.pem``, ``key.pem``) presented to the engine, when the directory has them."""


def docker_tls(address: str, environ: Mapping[str, str] | None = None) -> DockerTLS | None:
    """The TLS settings for ``address`` (as ``docker_address`` returned it) from the environment,
    or None when it is spoken to without TLS (a unix socket, ssh, or TCP with no TLS asked for).

    Raises DockerError, one line, when TLS is asked for and a file it needs is missing.
    """
    environ = os.environ if environ is None else environ
    scheme, _, rest = address.partition("://")
    if scheme.lower() not in ("tcp", "http", "https"):
        return None
    verify = environ.get("DOCKER_TLS_VERIFY", "") != ""
    cert_path = environ.get("DOCKER_CERT_PATH", "")
    if not (verify or environ.get("DOCKER_TLS", "") != "" or cert_path or scheme.lower() == "https"):
        return None
    asked = "DOCKER_TLS_VERIFY" if verify else ("DOCKER_CERT_PATH" if cert_path else "TLS")
    directory = Path(cert_path).expanduser() if cert_path else Path("~/.docker").expanduser()
    where = f"DOCKER_CERT_PATH '{one_line(cert_path)}'" if cert_path else f"{directory} (DOCKER_CERT_PATH is not set)"
    undo = "or unset DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH to reach the engine without TLS"
    if cert_path and not directory.is_dir():
        raise DockerError(f"{asked} asks for TLS to the Docker engine at {address}, but {where} is not a directory; point "
                          f"DOCKER_CERT_PATH at the directory holding the client certificate (ca.pem, cert.pem, key.pem), {undo}")
    files = {name: directory / name for name in ("ca.pem", "cert.pem", "key.pem")}
    present = {name for name, path in files.items() if path.is_file()}
    if verify and "ca.pem" not in present:
        raise DockerError(f"DOCKER_TLS_VERIFY asks to verify the Docker engine at {address}, but {where} has no ca.pem to "
                          f"verify its certificate against; put the engine's CA certificate there as ca.pem, {undo}")
    if len({"cert.pem", "key.pem"} & present) == 1:
        have, lack = ("cert.pem", "key.pem") if "cert.pem" in present else ("key.pem", "cert.pem")
        raise DockerError(f"{where} has {have} but no {lack}: the client certificate for the Docker engine at {address} "
                          f"needs both; add {lack}, {undo}")
    client = (str(files["cert.pem"]), str(files["key.pem"])) if "cert.pem" in present else None
    return DockerTLS(f"tcp://{rest}", str(files["ca.pem"]) if verify else None, client)
