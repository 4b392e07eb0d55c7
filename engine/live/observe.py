"""The observe stage: live Docker state → ``LiveFleet``, and the baseline a live plan diffs against.

Called by live plan, apply and the watcher. Docker is read with one labelled list call; what
each container runs is read from its runtime directory's records (``container.json``,
``applied.json``) and, for running pool containers, from supervisord's process table over its
socket. Containers without the fleet label are never seen, so never touched.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.compile.assign import Placement
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.live.docker_api import DockerEngine, ListedContainer
from engine.errors import ApplyError
from engine.naming import CONTAINER_INDEX, POOL, SPEC_HASH
from engine.compile.render import network_name
from engine.live.runtime import Runtime
from engine.live.supervisor_ctl import Supervisor

__all__ = ["LiveBot", "LiveFleet", "baseline_from_live", "observe"]

RUNNING_STATES = frozenset({"RUNNING", "STARTING"})


@dataclass(frozen=True)
class LiveBot:
    name: str
    container: str
    record: dict[str, Any]
    process: str | None
    """supervisord's state name for pool bots, the container state for dedicated ones, None if unknown."""

    @property
    def enabled(self) -> bool:
        return bool(self.record["essence"].get("enabled", True))

    @property
    def dead(self) -> bool:
        """An enabled bot whose process is known and not running: drift to repair."""
        return self.enabled and self.process is not None and self.process not in RUNNING_STATES


@dataclass
class LiveFleet:
    fleet: str
    containers: dict[str, ListedContainer]
    bots: dict[str, LiveBot] = field(default_factory=dict)

    def ip_of(self, container: str) -> str | None:
        listed = self.containers.get(container)
        return listed.ip if listed else None


def observe(docker: DockerEngine, runtime: Runtime, fleet: str, *, with_processes: bool = True) -> LiveFleet:
    listed = {c.name: c for c in docker.list_fleet(fleet, network_name(fleet))}
    live = LiveFleet(fleet, listed)
    with ThreadPoolExecutor(max_workers=8) as pool:  # one supervisord round-trip per container, in parallel
        found = dict(pool.map(lambda name: (name, _container_bots(runtime, listed[name], with_processes)), sorted(listed)))
    for name, container in listed.items():
        records, states = found[name]
        for bot, record in records.items():
            if bot in live.bots:  # a half-finished move left two copies: the newer container wins on the next apply
                continue
            live.bots[bot] = LiveBot(bot, name, record, states.get(bot) if container.running else "CONTAINER_" + container.state.upper())
    return live


def _container_bots(runtime: Runtime, container: ListedContainer, with_processes: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """What a container runs (its bot records) and each bot's process state where it can be known."""
    records = runtime.read_bot_records(container.name)
    if not (container.labels.get(POOL) or None):
        return records, {bot: "RUNNING" if container.running else container.state.upper() for bot in records}
    if not (container.running and with_processes and records):
        return records, {}
    try:
        states = {n: i["statename"] for n, i in Supervisor(runtime.container_dir(container.name), container.name, timeout=5).states().items()}
    except ApplyError:
        return records, {}
    return records, {bot: states.get(bot, "MISSING") for bot in records}


def baseline_from_live(live: LiveFleet, runtime: Runtime, previous: DesiredFleet | None) -> DesiredFleet:
    """The live fleet as a DesiredFleet, so the one diff serves live plans too.

    Wallets, pools and settings have no Docker object; they come from the last applied revision.
    """
    containers: dict[str, DesiredContainer] = {}
    for name, listed in live.containers.items():
        record = runtime.read_container_record(name) or {"essence": {}, "hash": ""}
        members = tuple(sorted(b.name for b in live.bots.values() if b.container == name))
        pool = listed.labels.get(POOL) or None
        containers[name] = DesiredContainer(
            name, pool, int(listed.labels.get(CONTAINER_INDEX, "0") or 0), members, record["essence"], listed.labels.get(SPEC_HASH, "")
        )
    bots = {
        name: DesiredBot(name, Placement(**bot.record["placement"]), bot.record["essence"], "", bot.record["hash"])
        for name, bot in live.bots.items()
    }
    return DesiredFleet(
        live.fleet,
        containers,
        bots,
        wallets=previous.wallets if previous else {},
        pools=previous.pools if previous else {},
        settings=previous.settings if previous else {},
    )
