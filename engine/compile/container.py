"""One definition of each container, consumed by both the compose file and the Docker adapter.

``render`` writes it as a compose service and ``live.executor`` hands it to Docker, so what
``fleetops render`` shows and what ``fleetops apply`` creates cannot drift apart: init, restart
policy, mounts (fleetops' files read-only, the bots' data writable), user, limits and labels
are decided here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.compile.desired import DesiredContainer, DesiredFleet
from engine.compile.essence import BotEssence
from engine.naming import (
    DATA_MOUNT,
    ETC_MOUNT,
    HOST_DATA,
    HOST_ETC,
    Labels,
    account_digest,
    bot_data_dir,
    container_labels,
    network_name,
)

__all__ = ["ContainerDefinition", "Mount", "account_of", "container_definition"]

RESTART_POLICY = "unless-stopped"
SUPERVISORD_USER = "0:0"
"""A pool's supervisord runs as root, whatever the image's ``USER`` says: only root can start each
program as its ``user=`` (supervisord: "Can't drop privilege as nonroot user"). An image that sets
``USER ftuser`` — FreqTrade's own, and most images built from it — restarted every pool in a loop."""


@dataclass(frozen=True)
class Mount:
    """A bind mount: ``source`` is relative to the container's runtime directory on the host."""

    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class ContainerDefinition:
    name: str
    image: str
    command: tuple[str, ...]
    labels: dict[str, str]
    mounts: tuple[Mount, ...]
    network: str
    user: str | None
    """``uid:gid`` for a dedicated bot's container; pool containers run supervisord as root
    (``SUPERVISORD_USER``), which starts each bot program as the unprivileged user itself."""
    environment: dict[str, str]
    memory: str | None
    cpus: float | None
    running: bool
    """False for a container whose bots are all disabled (a disabled dedicated bot's, a pool holding
    only disabled bots): it exists, stopped, with their data."""
    init: bool = True
    restart: str = RESTART_POLICY
    entrypoint: tuple[str, ...] = ()
    """Empty: the image's ENTRYPOINT is replaced by none, so the container runs ``command`` as rendered.
    FreqTrade's own image has ``ENTRYPOINT ["freqtrade"]`` (a dedicated bot ran ``freqtrade freqtrade
    trade …``, a pool ``freqtrade supervisord …``), and a custom image's entry script could run anything
    before, or instead of, what the image check judged."""

    def with_revision(self, revision: int) -> dict[str, str]:
        """The labels as apply sets them: the definition's plus the revision that created it."""
        return {**self.labels, Labels.REVISION: str(revision)}


MOUNTS = (Mount(HOST_ETC, ETC_MOUNT, read_only=True), Mount(HOST_DATA, DATA_MOUNT, read_only=False))


def account_of(essence: BotEssence) -> str | None:
    """The exchange account a bot is given (``account_digest`` of its exchange and key reference),
    None without an exchange key. A dry-run bot with a key counts too: one flag away from trading
    that account, and two copies of it would then trade it twice."""
    key = essence.secrets.get("exchange_key")
    return account_digest(essence.exchange, key) if key is not None else None


def _docker_user(run_as: int | str) -> str:
    """Docker's ``user``: ``uid:gid`` for a uid (no /etc/passwd entry needed), a name as the image knows it."""
    return f"{run_as}:{run_as}" if isinstance(run_as, int) else run_as


def container_definition(fleet: DesiredFleet, container: DesiredContainer) -> ContainerDefinition:
    essence = container.essence
    user = _docker_user(essence.run_as) if container.dedicated else SUPERVISORD_USER
    return ContainerDefinition(
        name=container.name,
        image=essence.image,
        command=essence.command,
        labels=container_labels(fleet.name, container.pool, container.index, container.hash, container.bots,
                                {b: a for b in container.bots if (a := account_of(fleet.bots[b].essence)) is not None}),
        mounts=MOUNTS,
        network=network_name(fleet.name),
        user=user,
        environment={"HOME": bot_data_dir(container.bots[0])} if container.dedicated and container.bots else {},
        memory=essence.memory,
        cpus=essence.cpus,
        running=fleet.meant_running(container.name),
    )
