"""The addresses a fleet can name, and what is wrong with a malformed one: Docker engine addresses
(``DOCKER_HOST``, ``--docker-host``, a swarm's ``backend.manager``), image registries
(``backend.registry``) and the controller's URL (``backend.controller``), contract §8.

Here, at the spec layer, because a spec names them (validation reports each at its key) and the
backends connect to them (``engine.backend.docker.address`` checks the command line's address
with the same grammar): one grammar, so a spec that validates never names an address the
backend then refuses. Stdlib only: the no-op proof checks ``DOCKER_HOST`` before anything heavy
is imported.

The Docker SDK's own parser lets odd addresses through to ``urllib`` and ``requests``, which raise
``ValueError`` (``http://[::1``, ``tcp://host:notaport``, ``tcp://[zz]:1``, a port over 65535): here
each address is one of the forms the SDK connects to, or a reason, one clause, saying what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from engine.textsafe import one_line

__all__ = ["DOCKER_FORMS", "controller_problem", "docker_address_problem", "registry_problem", "shown_address"]

DOCKER_FORMS = "unix:///path/to/docker.sock, tcp://HOST:PORT (or http:// and https://), or ssh://[USER@]HOST[:PORT]"
"""The Docker engine address forms accepted, as an error message names them (docker-py's forms; npipe:// on Windows)."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")
_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_REGISTRY = re.compile(rf"(?:localhost|{_LABEL}(?:\.{_LABEL})+|{_LABEL}(?=:))(?::([0-9]{{1,5}}))?")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


def docker_address_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a Docker engine address (one clause), or None when the SDK can
    connect to it as written."""
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


def registry_problem(text: str) -> str | None:
    """What is wrong with ``text`` as the registry a fleet's images are pushed to: ``HOST[:PORT]``
    with an optional repository prefix (``10.0.0.5:5000``, ``registry.example.com/fleet``), as
    Docker's reference grammar reads the first part of an image name as a registry (a name with a
    dot or a port, or ``localhost``). None when it is one."""
    if _UNSAFE.search(text):
        return "it contains spaces or control characters"
    if "://" in text:
        return "it has a scheme (an image name starts with the registry's HOST:PORT alone)"
    host, _, path = text.partition("/")
    match = _REGISTRY.fullmatch(host)
    if match is None:
        return "Docker reads the start of an image name as a registry only when it has a dot or a port, or is localhost"
    if match.group(1) is not None and not 0 < int(match.group(1)) < 65536:
        return "its port is not a number from 1 to 65535"
    if path and not _REPOSITORY.fullmatch(path):
        return f"its repository prefix '{one_line(path)}' is not a repository path (lowercase letters, digits, '.', '_', '-', '/')"
    return None


def controller_problem(text: str) -> str | None:
    """What is wrong with ``text`` as the URL node agents reach the controller at: ``http(s)://HOST[:PORT]``
    with no path, query, fragment or user (the agents add their own paths). None when it is one."""
    if _UNSAFE.search(text):
        return "it contains spaces or control characters"
    match = _SCHEME.fullmatch(text)
    if match is None or match.group(1).lower() not in ("http", "https"):
        return "it is not an http:// or https:// URL"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return _split_problem(str(exc))
    if parts.username is not None or parts.password is not None:
        return "it carries a user or password (agents authenticate with their own credential)"
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return "it has a path, query or fragment after the host (only HOST[:PORT] is allowed)"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    return _host_name_problem(parts)


def _split_problem(message: str) -> str:
    if "IPv6" in message:
        return "its [IPv6] host is not closed with ']'" if "Invalid" in message else "its [IPv6] host is not an IPv6 address"
    if "range" in message:
        return "its port is not a number from 1 to 65535"
    return "its port is not a number from 1 to 65535" if "Port" in message or "port" in message else "it is not a URL"


def _host_name_problem(parts: SplitResult) -> str | None:
    host = parts.hostname or ""
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "its [IPv6] host is not an IPv6 address"
    elif not _NAME.fullmatch(host):
        return f"its host '{one_line(host)}' is not a host name or an IP address"
    return None


def _host_problem(scheme: str, parts: SplitResult, port: int | None) -> str | None:
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return "it has a path, query or fragment after the host (only HOST:PORT is allowed)"
    if parts.password is not None:
        return "it carries a password (Docker addresses never do; use TLS certificates or ssh keys)"
    if not parts.hostname:
        if scheme != "ssh" and port:  # tcp://:2375 — the SDK takes the local host
            return None if parts.username is None else "it names a user, which only ssh:// addresses do"
        return "it has no host"
    host_problem = _host_name_problem(parts)
    if host_problem is not None:
        return host_problem
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


def shown_address(value: str) -> str:
    """An address as an error shows it: a password is replaced, control characters escaped."""
    return one_line(re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", value))
