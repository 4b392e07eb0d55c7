"""Docker engine addresses (``DOCKER_HOST``, ``--docker-host``): checked once, before anything uses one.

Called by the CLI before the no-op proof reads the address or the Docker adapter connects, and by
``engine.backend.docker.api`` for callers that bypass the CLI. The Docker SDK's own parser lets odd
addresses through to ``urllib`` and ``requests``, which raise ``ValueError`` (``http://[::1``,
``tcp://host:notaport``, ``tcp://[zz]:1``, a port over 65535) — an internal error, not a message.
Here every address is one of the forms the SDK connects to, or a ``DockerError`` naming it, saying
what is wrong with it and which forms are accepted. Stdlib only: the no-op proof runs before the
SDK is imported.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from engine.errors import DockerError
from engine.textsafe import one_line

__all__ = ["DEFAULT_ADDRESS", "FORMS", "docker_address"]

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
