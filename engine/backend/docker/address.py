"""Docker engine addresses (``DOCKER_HOST``, ``--docker-host``): checked once, before anything uses one.

Called by the CLI before the no-op proof reads the address or the Docker adapter connects, and by
``engine.backend.docker.api`` for callers that bypass the CLI. The Docker SDK's own parser lets odd
addresses through to ``urllib`` and ``requests``, which raise ``ValueError`` (``http://[::1``,
``tcp://host:notaport``, ``tcp://[zz]:1``, a port over 65535) — an internal error, not a message.
Here every address is one of the forms the SDK connects to, or a ``DockerError`` naming it, saying
what is wrong with it and which forms are accepted. Stdlib only: the no-op proof runs before the
SDK is imported.

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

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from engine.errors import DockerError
from engine.textsafe import one_line

__all__ = ["DEFAULT_ADDRESS", "FORMS", "DockerTLS", "docker_address", "docker_tls"]

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
FORMS = "unix:///path/to/docker.sock, tcp://HOST:PORT (or http:// and https://), or ssh://[USER@]HOST[:PORT]"
"""The forms accepted, as an error message names them (docker-py's forms; npipe:// on Windows)."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")
_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def docker_address(value: str | None, source: str = "DOCKER_HOST") -> str:
    """``value`` as the Docker SDK should get it (None or empty: the default local socket).

    Raises DockerError, one line naming ``source`` (the variable or option it came from), the
    address (its password, if any, never shown), the reason and the accepted forms.
    """
    if value is None or value.strip() in ("", "unix://"):
        return DEFAULT_ADDRESS
    why = _problem(value.strip())
    if why is not None:
        raise DockerError(f"{source} '{_shown(value)}' is not a Docker engine address: {why}; use {FORMS}")
    return value.strip()


def _problem(text: str) -> str | None:
    if _UNSAFE.search(text):
        return "it contains spaces or control characters"
    match = _SCHEME.fullmatch(text)
    if match is None:
        return "it has no scheme (write tcp://HOST:PORT for a TCP address)"
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "unix":
        if not rest.startswith("/"):
            return "a unix socket needs an absolute path, as in unix:///var/run/docker.sock (three slashes)"
        return "a unix socket path cannot carry '?' or '#'" if "?" in rest or "#" in rest else None
    if scheme == "npipe":
        return None if rest.startswith("//") else "a named pipe is written npipe:////./pipe/NAME"
    if scheme not in ("tcp", "http", "https", "ssh"):
        return f"'{scheme}://' is not a scheme Docker connects through"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return _split_problem(str(exc))
    return _host_problem(scheme, parts, port)


def _split_problem(message: str) -> str:
    if "IPv6" in message:
        return "its [IPv6] host is not closed with ']'" if "Invalid" in message else "its [IPv6] host is not an IPv6 address"
    if "range" in message:
        return "its port is not a number from 1 to 65535"
    return "its port is not a number from 1 to 65535" if "Port" in message or "port" in message else "it is not a URL"


def _host_problem(scheme: str, parts: SplitResult, port: int | None) -> str | None:
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return "it has a path, query or fragment after the host (only HOST:PORT is allowed)"
    if parts.password is not None:
        return "it carries a password (Docker addresses never do; use TLS certificates or ssh keys)"
    host = parts.hostname
    if not host:
        if scheme != "ssh" and port:  # tcp://:2375 — the SDK takes the local host
            return None if parts.username is None else "it names a user, which only ssh:// addresses do"
        return "it has no host"
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "its [IPv6] host is not an IPv6 address"
    elif not _NAME.fullmatch(host):
        return f"its host '{one_line(host)}' is not a host name or an IP address"
    if scheme == "ssh":
        if parts.username is not None and not _USER.fullmatch(parts.username):
            return "its user name has characters ssh does not take"
        return None if port is None or port > 0 else "its port is not a number from 1 to 65535"
    if parts.username is not None:
        return "it names a user, which only ssh:// addresses do"
    if port is None:
        return "it has no port (write HOST:PORT, as in tcp://127.0.0.1:2375)"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    return None


def _shown(value: str) -> str:
    """The address as an error shows it: a password is replaced, control characters escaped."""
    return one_line(re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", value))


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
