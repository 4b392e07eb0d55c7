"""The observe stage: a fleet's units on its backend → ``LiveFleet``, and the baseline a live plan diffs against.

Called by the flow for live plans, apply, status and the watcher. The backend is read through its
port (``engine.backend.port``): one labelled list call for the units, one inspect of each (their
settings, for drift), the records of what was applied to each, and, for running pool units, every
process table asked at once. Units without the fleet label are never seen, so never touched.
Nothing here fails on a bad answer: a process manager that does not answer, or a record that does
not parse, is recorded as such, so the plan can show it ("unknown: supervisord did not answer")
instead of guessing. Each bot's address comes from the backend (``Bots.address_of``), once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from engine.backend.port import RUNNING_STATES, Address, ListedUnit, ProcessInfo, Site, UnitInspect
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.compile.assign import Placement
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.compile.essence import ContainerEssence
from engine.errors import SupervisorError
from engine.live.ownership import renamed_by_hand
from engine.naming import Labels

__all__ = ["LiveBot", "LiveFleet", "baseline_from_live", "observe"]



@dataclass(frozen=True)
class LiveBot:
    name: str
    container: str
    record: AppliedBot | None
    """What was applied to it; None when its record does not parse (``unreadable`` says why)."""
    process: str | None
    """The process state for pool bots (supervisord's names), the unit's state for dedicated ones, None if unknown."""
    unreadable: str | None = None
    pid: int | None = None
    """The bot's process id as supervisord reports it (pool bots), for noticing restarts."""

    @property
    def enabled(self) -> bool:
        return self.record.essence.enabled if self.record is not None else True

    @property
    def dead(self) -> bool:
        """An enabled bot whose process is known and not running: drift to repair."""
        return self.enabled and self.process is not None and self.process not in RUNNING_STATES


@dataclass
class LiveFleet:
    fleet: str
    containers: dict[str, ListedUnit]
    bots: dict[str, LiveBot] = field(default_factory=dict)
    container_records: dict[str, AppliedContainer | Unreadable | None] = field(default_factory=dict)
    unanswered: dict[str, str] = field(default_factory=dict)
    """Running pool containers whose supervisord did not answer → why (their bots' states are unknown)."""
    strays: list[LiveBot] = field(default_factory=list)
    """Second copies of a bot in another container (a move cut short): removed by the next apply."""
    owners: dict[str, str] = field(default_factory=dict)
    """Containers of another fleet seen with this one (the fleet being renamed into it) → that fleet."""

    def fleet_of(self, container: str) -> str:
        """The fleet label a container carries: its bots' API credentials are derived from it."""
        return self.owners.get(container, self.fleet)
    inspected: dict[str, UnitInspect] = field(default_factory=dict)
    """Each unit's settings as the backend's inspect shows them (for Docker: limits, restart policy,
    image, labels, networks): what a person may have changed by hand (``engine.live.settings_drift``)."""
    addresses: dict[str, Address] = field(default_factory=dict)
    """Bot → where its API answers (``Bots.address_of``): bots whose unit has an address."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Units renamed by hand: the name fleetops gave it (its key in ``containers``) → the name the
    backend shows now (``engine.live.ownership``); the executor renames each back before anything else."""

    def ip_of(self, container: str) -> str | None:
        listed = self.containers.get(container)
        return listed.ip if listed else None

    def address_of(self, bot: str) -> Address | None:
        """Where ``bot`` answers, as its backend said when the fleet was observed."""
        return self.addresses.get(bot)

    def placements(self) -> dict[str, Placement]:
        """The live assignment: the prior a compile keeps, so bots stay where they run."""
        return {name: bot.record.placement for name, bot in self.bots.items() if bot.record is not None}


def observe(site: Site, *, with_processes: bool = True) -> LiveFleet:
    """The fleet ``site`` holds, as its backend shows it now: units, each bot's record, process and
    address, units whose process manager did not answer, second copies of a bot (a move cut short).

    ``with_processes=False`` reads units and records only (no inspect, no process tables): what
    ``wallets`` needs. Raises only what the backend's list call raises (``DockerError``); anything
    else unexpected (an unreadable record, a silent supervisord) is recorded in the result.
    """
    listed = {c.name: c for c in site.units()}
    renamed = renamed_by_hand(site.fleet, listed)
    for own, shown in renamed.items():  # seen under the name fleetops gave it: its records, its bots
        listed[own] = dataclasses.replace(listed.pop(shown), name=own)
    listed = dict(sorted(listed.items()))
    live = LiveFleet(site.fleet, listed, renamed=renamed)
    if with_processes:
        back = {shown: own for own, shown in renamed.items()}
        inspected = site.inspect(sorted(renamed.get(name, name) for name in listed))
        live.inspected = {back.get(name, name): info for name, info in inspected.items()}
    records = {name: site.bot_records(name) for name in sorted(listed)}
    asked = [name for name, c in sorted(listed.items())  # one round of questions to every supervisord
             if with_processes and c.running and records[name] and c.labels.get(Labels.POOL)]
    tables = site.processes(asked) if asked else {}
    copies: dict[str, list[LiveBot]] = {}
    for name, container in listed.items():
        infos = _processes(container, records[name], tables.get(name))
        live.container_records[name] = site.unit_record(name)
        if isinstance(tables.get(name), SupervisorError):
            live.unanswered[name] = str(tables[name])
        for bot, record in records[name].items():
            info = infos.get(bot)
            process = (info.state if info else None) if container.running else "CONTAINER_" + container.state.upper()
            pid = info.pid if info and container.running else None
            if isinstance(record, Unreadable):
                copies.setdefault(bot, []).append(LiveBot(bot, name, None, process, record.reason, pid))
            else:
                copies.setdefault(bot, []).append(LiveBot(bot, name, record, process, None, pid))
    for bot, found_copies in copies.items():
        # A move cut short can leave a bot in two containers: the running copy is the bot, any
        # other is a stray that the next apply removes (never two running at once).
        ranked = sorted(found_copies, key=lambda b: (b.process not in RUNNING_STATES, b.record is None, b.container))
        live.bots[bot] = ranked[0]
        live.strays.extend(ranked[1:])
    for running in live.bots.values():
        if running.record is not None and (address := site.address_of(listed[running.container], running.record.placement.port)):
            live.addresses[running.name] = address
    return live


def _processes(container: ListedUnit, records: dict[str, AppliedBot | Unreadable],
               table: dict[str, ProcessInfo] | SupervisorError | None) -> dict[str, ProcessInfo]:
    """Each recorded bot's process: the container's own state for a dedicated bot, supervisord's
    table for a pool (MISSING when it has no such program), nothing when that is unknown."""
    if not (container.labels.get(Labels.POOL) or None):
        state = "RUNNING" if container.running else container.state.upper()
        return {bot: ProcessInfo(bot, state, 0) for bot in records}
    if table is None or isinstance(table, SupervisorError):
        return {}
    return {bot: table.get(bot) or ProcessInfo(bot, "MISSING", 0) for bot in records}


UNKNOWN_CONTAINER = ContainerEssence(image="(unknown)", memory=None, cpus=None, command=(), pool=None, run_as=0)
"""Shown as the 'before' of a container whose record is missing or unreadable."""


def baseline_from_live(live: LiveFleet, previous: DesiredFleet | None) -> DesiredFleet:
    """The live fleet as a DesiredFleet, so the one diff serves live plans too.

    Wallets, pools and settings have no Docker object; they come from the last applied revision.
    Bots whose record does not parse are left out here and shown by ``engine.live.drift``.
    """
    containers: dict[str, DesiredContainer] = {}
    for name, listed in live.containers.items():
        record = live.container_records.get(name)
        essence = record.essence if isinstance(record, AppliedContainer) else UNKNOWN_CONTAINER
        members = tuple(sorted(b.name for b in live.bots.values() if b.container == name and b.record is not None))
        index = listed.labels.get(Labels.INDEX, "0")
        containers[name] = DesiredContainer(
            name, listed.labels.get(Labels.POOL) or None, int(index) if index.isdigit() else 0, members, essence,
            listed.labels.get(Labels.SPEC_HASH, ""),
        )
    bots = {
        name: DesiredBot(name, bot.record.placement, bot.record.essence, "", bot.record.hash)
        for name, bot in live.bots.items() if bot.record is not None
    }
    fleet = DesiredFleet(
        live.fleet, containers, bots,
        wallets=previous.wallets if previous else {},
        pools=previous.pools if previous else {},
        settings=previous.settings if previous else None,
    )
    # where it was applied, as the Fleet document said (a swarm fleet's manager, registry…): else every plan "moved" it
    return dataclasses.replace(fleet, backend=previous.backend) if previous is not None else fleet
