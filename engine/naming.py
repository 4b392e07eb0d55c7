"""Every name fleetops renders, in one place: containers, networks, labels, paths, programs, ports.

Used by compile (what to create), live (what to look for) and tests. Names are built from spec
names (``^[a-z][a-z0-9-]{0,39}$``) so they are valid Docker names and file names. Within one
fleet they are unambiguous by construction: a pool may not be called ``bot-…`` (validation says
so), so ``<fleet>-<pool>-<n>`` can never equal ``<fleet>-bot-<bot>``. Across fleets on one host
(``a`` + pool ``b-c`` vs fleet ``a-b`` + pool ``c``) the same text can arise; apply checks the
engine for a name taken by another fleet or an unmanaged container before it touches anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from engine.textsafe import one_line

__all__ = [
    "AGENT_PREFIX",
    "DEDICATED_PORT",
    "FIRST_POOL_PORT",
    "PRELOAD",
    "PRELOAD_DATA",
    "PRELOAD_ETC",
    "PRELOAD_PROGRAM",
    "PRELOAD_SOCKET",
    "RESERVED_POOL_PREFIX",
    "BackendRef",
    "Labels",
    "account_digest",
    "bot_data_dir",
    "bot_etc_dir",
    "container_labels",
    "dedicated_container_name",
    "network_name",
    "parse_accounts",
    "pool_container_name",
    "preload_launcher",
]

RESERVED_POOL_PREFIX = "bot-"
"""Pool names may not start with this: dedicated containers are ``<fleet>-bot-<bot>``."""

DEDICATED_PORT = 8080
FIRST_POOL_PORT = 8081


def pool_container_name(fleet: str, pool: str, index: int) -> str:
    return f"{fleet}-{pool}-{index}"


def dedicated_container_name(fleet: str, bot: str) -> str:
    return f"{fleet}-bot-{bot}"


AGENT_PREFIX = "/agent/v1"
"""Where the controller serves the Swarm backend's node agents (``engine.backend.swarm.routes``)."""


def network_name(fleet: str) -> str:
    return f"fleetops-{fleet}"


def compose_project(fleet: str) -> str:
    return f"fleetops-{fleet}"


# Inside every container: /fleet/etc is fleetops' (read-only), /fleet/data the bots' (writable).
MOUNT_ROOT = "/fleet"
ETC_MOUNT = f"{MOUNT_ROOT}/etc"
DATA_MOUNT = f"{MOUNT_ROOT}/data"
SUPERVISOR_CONF = f"{ETC_MOUNT}/supervisord.conf"
SUPERVISOR_SOCKET = f"{DATA_MOUNT}/supervisor.sock"

# On the host, under <state>/runtime/<fleet>/<container>/: the two mounted trees, and the
# records of what was applied, which no container can reach.
HOST_ETC = "etc"
HOST_DATA = "data"
HOST_RECORDS = "records"
BOTS = "bots"


def runtime_root(state_dir: Path, fleet: str) -> Path:
    """Where a fleet's containers' runtime directories live under the state dir."""
    return state_dir / "runtime" / fleet


# Pools with ``preload: true``: the preloader's files (read-only) and its socket and log (writable).
PRELOAD = "preload"
PRELOAD_ETC = f"{ETC_MOUNT}/{PRELOAD}"
PRELOAD_DATA = f"{DATA_MOUNT}/{PRELOAD}"
PRELOAD_SOCKET = f"{PRELOAD_DATA}/preload.sock"
PRELOAD_PROGRAM = "_preload"
"""The preloader's supervisord program: bot names start with a letter, so no bot can take it."""


def preload_launcher(bot: str) -> tuple[str, ...]:
    """The words put before a bot's command in a preloaded pool: ask the preloader for a fork."""
    return ("python3", "-I", "-S", f"{PRELOAD_ETC}/preload.py", "launch", "--socket", PRELOAD_SOCKET, "--name", bot, "--")


def bot_etc_dir(bot: str) -> str:
    """A bot's config, secrets and pinned strategy inside its container (read-only)."""
    return f"{ETC_MOUNT}/{BOTS}/{bot}"


def bot_data_dir(bot: str) -> str:
    """A bot's database, user_data and log inside its container (writable by the bot)."""
    return f"{DATA_MOUNT}/{BOTS}/{bot}"


class Labels:
    """The Docker labels fleetops owns; nothing without ``FLEET`` is ever touched."""

    PREFIX = "io.fleetops."
    FLEET = PREFIX + "fleet"
    ROLE = PREFIX + "role"
    POOL = PREFIX + "pool"
    INDEX = PREFIX + "index"
    SPEC_HASH = PREFIX + "spec-hash"
    BOTS = PREFIX + "bots"
    REVISION = PREFIX + "revision"
    ACCOUNTS = PREFIX + "accounts"
    """``bot:digest,…`` for the bots with exchange keys the container was created with:
    ``account_digest`` of exchange and key reference, never a key."""


def container_labels(fleet: str, pool: str | None, index: int, spec_hash: str, bots: tuple[str, ...],
                     accounts: dict[str, str] | None = None) -> dict[str, str]:
    """Labels of one managed container (the revision label is added at apply time); ``accounts``
    (bot → ``account_digest``) only when it has bots with exchange keys, so other containers' labels
    stay as they were."""
    labels = {
        Labels.FLEET: fleet,
        Labels.ROLE: "dedicated" if pool is None else "pool",
        Labels.POOL: pool or "",
        Labels.INDEX: str(index),
        Labels.SPEC_HASH: spec_hash,
        Labels.BOTS: ",".join(bots),
    }
    if accounts:
        labels[Labels.ACCOUNTS] = ",".join(f"{bot}:{digest}" for bot, digest in sorted(accounts.items()))
    return labels


def account_digest(exchange: str, key_reference: str) -> str:
    """Which exchange account a bot trades, as a name that reveals neither key nor reference:
    16 hex digits of sha256 over the exchange and the key's *reference* (``env:NAME``,
    ``file:/path``, as written in the spec). Two bots with equal digests trade one account."""
    return hashlib.sha256(f"{exchange}\n{key_reference}".encode()).hexdigest()[:16]


def parse_accounts(label: str) -> dict[str, str]:
    """``Labels.ACCOUNTS``'s value back as bot → digest (malformed parts are skipped: it is input)."""
    found = {}
    for part in label.split(",")[:1000]:
        bot, _, digest = part.partition(":")
        if bot and len(digest) == 16 and all(c in "0123456789abcdef" for c in digest):
            found[bot] = digest
    return found


@dataclass(frozen=True)
class BackendRef:
    """Which backend a live plan was made for: its kind and target (a Docker engine's address, a
    swarm manager's), as Terraform's plan names its backend. Apply refuses a plan made for another
    (``engine.flow.refusal``); each backend says its own (``engine.backend.registry.reference``).
    Here, at the bottom, because the plan, the no-op proof and the port all name it."""

    kind: str
    target: str

    def plain(self) -> dict[str, str]:
        """The JSON plan's ``backend`` object."""
        return {"kind": self.kind, "target": self.target}

    def live(self, revision: int | None) -> str:
        """How a plan's header names the live side it was made against: ``live Docker at unix:///… (revision 7)``."""
        return one_line(f"live {self.kind.capitalize()} at {self.target}") + (f" (revision {revision})" if revision is not None else "")

    def __str__(self) -> str:
        return f"{self.kind} at {self.target}"
