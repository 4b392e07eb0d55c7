"""The apply stage: execute exactly the printed plan on the fleet's backend, with the least disruption.

Called by the flow for apply, rollback and the watcher's heal, through the backend port only
(``engine.backend.port``: units, bots, files, records). Two phases, so that nothing running is
removed before its replacement answers:
  A. create / replace / start / restart units (4 in parallel: more did not help on 2 cores),
     then change bots inside existing units: put their files, reconcile the pool's programs
     (only changed programs are touched: ``Bots.reconcile``), restart only reloaded bots.
     A moving bot's trade database is copied into its new unit first.
  B. after moved bots answer their ping: remove what left (programs, bot files, units).
Everything that can fail without touching the backend (secrets, images, unit names another
fleet holds) is checked first. Pool or dedicated is the backend's business: one rule below says
which bot needs a start, a stop or a restart after its files changed (``_verb``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.backend.port import ListedUnit, Site
from engine.backend.records import AppliedBot, AppliedContainer, Unreadable
from engine.compile.container import account_of, container_definition
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.errors import ApplyError, DockerError, HealthError, SupervisorRefused
from engine.images import missing_image_hint
from engine.live.health import wait_answering
from engine.live.materials import Materials
from engine.live.observe import LiveFleet, baseline_from_live
from engine.live.ports import Ports
from engine.live.processes import LogStart, marks
from engine.naming import Labels
from engine.plan.model import Action, Plan

__all__ = ["ExecutionResult", "Executor"]

WORKERS = 4
_RUNS_BOT = frozenset({Action.CREATE, Action.RELOAD, Action.RESTART, Action.START, Action.MOVE})
_NEW_CONTAINER = frozenset({Action.CREATE, Action.REPLACE})


@dataclass
class ExecutionResult:
    check_bots: set[str] = field(default_factory=set)
    """Bots that were (re)started and must now answer their ping."""
    start: LogStart = field(default_factory=LogStart)
    """Where this run's output of each touched bot and container begins (its failure shows only that)."""
    refused: dict[str, str] = field(default_factory=dict)
    """Bots supervisord refused to start, with its reason: they fail the health gate with it."""


class Executor:
    """Runs one plan: ``site`` is the target fleet on its backend (reaching the units of a fleet
    being renamed into it), ``materials`` renders what its bots are given."""

    def __init__(self, ports: Ports, site: Site, materials: Materials, target: DesiredFleet, live: LiveFleet, revision: int,
                 progress: Callable[[str], None], move_timeout: float = 60.0) -> None:
        self.ports = ports
        self.backend = ports.backend
        self.site = site
        self.materials = materials
        self.target = target
        self.live = live
        self.revision = revision
        self.progress = progress
        self.move_timeout = move_timeout
        self.removing: set[str] = set()
        """Live bots the plan being run takes out of their containers (``_removed_by``)."""
        self.arriving: set[str] = set()
        """Bots the plan being run changes, creates or brings into a container (all but deletes)."""

    def run(self, plan: Plan) -> ExecutionResult:
        containers = {c.name: c.action for c in plan.changes if c.kind == "container"}
        bots = {c.name: c.action for c in plan.changes if c.kind == "bot"}
        result = ExecutionResult()
        self.removing = self._removed_by(plan)
        self.arriving = {c.name for c in plan.changes if c.kind == "bot" and c.action is not Action.DELETE}
        self.arriving.update(b for n, a in containers.items() if a in _NEW_CONTAINER and n in self.target.containers
                             for b in self.target.containers[n].bots)
        self._check_ready(containers, bots)
        for own, shown in sorted(self.live.renamed.items()):  # every later call names it as fleetops does
            self.progress(f"renaming container {shown} back to {own} (renamed by hand)")
            self.site.rename(shown, own)
        result.start = self._log_start(containers, bots)
        if self.target.containers:  # a fleet with no unit left needs no network (its last one is removed below)
            self.site.ensure_network()
        for name, action in sorted(bots.items()):  # stop, then data: the new copy starts from the old one's
            if action is Action.MOVE:
                self._stop_old_copy(name)
                self._carry(name)
        for name, other in sorted(self._same_account_leavers().items()):
            self._stop_old_copy(name, f"first: bot {other}, which this apply starts, trades the same exchange account")
        self._containers(containers, result)
        self._bots_in_place(containers, bots, result)
        moved = {n for n, a in bots.items() if a is Action.MOVE}
        if moved:
            self._check_moved(moved)
        self._remove_leavers(containers)
        return result

    def _removed_by(self, plan: Plan) -> set[str]:
        """Live bots this plan takes out of their container: by their own delete or move, or their
        container's delete. Any other live bot the target lacks stays where it runs (a delete
        postponed until its trades close is not in the plan, and must not happen anyway)."""
        gone = {c.name for c in plan.changes if c.kind == "bot" and c.action in (Action.DELETE, Action.MOVE)}
        dropped = {c.name for c in plan.changes if c.kind == "container" and c.action is Action.DELETE}
        return gone | {b.name for b in self.live.bots.values() if b.container in dropped}

    def _check_ready(self, containers: dict[str, Action], bots: dict[str, Action]) -> None:
        """Everything that can fail before Docker is touched: secrets, images, names."""
        written = {n for n, a in bots.items() if a is not Action.DELETE}
        for name, action in containers.items():
            if action in _NEW_CONTAINER:
                written |= set(self.target.containers[name].bots)
                image = self.target.containers[name].essence.image
                if not self.backend.image_exists(image):
                    raise ApplyError(f"image {image} (for {name}) is not on this Docker engine: {missing_image_hint(image)}")
        self.materials.check_secrets([self.target.bots[n] for n in sorted(written) if n in self.target.bots])
        created = {n for n, a in containers.items() if a is Action.CREATE}
        for name, owner in sorted(self.backend.name_owners(created).items()):
            holder = f"fleet '{owner}'" if owner else "a container fleetops does not manage"
            raise ApplyError(f"container name {name} (for fleet '{self.target.name}') is already taken by {holder}; "
                             "rename the pool or the fleet so their container names differ")

    def _log_start(self, containers: dict[str, Action], bots: dict[str, Action]) -> LogStart:
        touched_containers = set(containers) | {self.target.bots[b].container for b in bots if b in self.target.bots}
        touched_bots = set(bots) | {b for c in containers if c in self.target.containers for b in self.target.containers[c].bots}
        fresh = {n for n, a in containers.items() if a in _NEW_CONTAINER}
        return marks(self.site, self.target, touched_bots, touched_containers, fresh)

    def _same_account_leavers(self) -> dict[str, str]:
        """Live bots this plan removes (deleted, or their container) → a bot it starts on the same exchange
        account: the same bot renamed (alone, or with its fleet), which phase B would remove only after the
        new name had started trading beside it. They stop first, as a moving bot does."""
        starting: dict[str, str] = {}
        for bot in sorted(self.arriving):
            desired = self.target.bots.get(bot)
            account = account_of(desired.essence) if desired is not None and desired.essence.enabled else None
            if account is not None:
                starting.setdefault(account, bot)
        leavers = {}
        for bot in sorted(self.removing - set(self.target.bots)):
            record = self.live.bots[bot].record if bot in self.live.bots else None
            account = account_of(record.essence) if record is not None and record.essence.enabled else None
            if account is not None and account in starting:
                leavers[bot] = starting[account]
        return leavers

    def _stop_old_copy(self, bot: str, why: str = "before it moves") -> None:
        """Never two copies of one bot: the old one stops before its database is copied."""
        live = self.live.bots[bot]
        container = self.live.containers.get(live.container)
        if container is None or not container.running:
            return
        self.progress(f"stopping bot {bot} in {live.container} {why}")
        self.site.stop_bot(live.container, bot, dedicated=container.labels.get(Labels.ROLE) == "dedicated")

    def _carry(self, bot: str) -> None:
        skipped = self.site.carry_bot_data(bot, self.live.bots[bot].container, self.target.bots[bot].container,
                                              self.target.bots[bot].essence.uid)
        for what in skipped:
            self.progress(f"move of {bot}: not copied (not a regular file or directory): {what}")

    def _containers(self, containers: dict[str, Action], result: ExecutionResult) -> None:
        work = [(n, a) for n, a in sorted(containers.items()) if a in (*_NEW_CONTAINER, Action.START, Action.RESTART, Action.UPDATE)]

        def one(item: tuple[str, Action]) -> None:
            name, action = item
            container = self.target.containers[name]
            if action in (Action.START, Action.RESTART, Action.UPDATE):
                self._restore_settings(container)
            if action is Action.START and self.live.containers[name].state == "paused":  # `docker pause` by hand: Docker cannot start it
                self.progress(f"unpausing container {name}")
                self.site.unpause(name)
            elif action is Action.START:
                self.progress(f"starting container {name}")
                self.site.start(name)
            elif action is Action.RESTART:
                self.progress(f"restarting container {name}")
                self.site.restart(name)
            elif action is Action.UPDATE:
                if isinstance(self.live.container_records.get(name), Unreadable) or any(b.container == name for b in self.live.strays):
                    self._rewrite(container)
                return
            else:
                definition = container_definition(self.target, container)
                if action is Action.REPLACE:
                    self.progress(f"replacing container {name}")
                    self.site.replace(definition, self.revision, lambda: self._put_unit(container, self.target))
                else:
                    self.progress(f"creating container {name}")
                    self._put_unit(container, self.target)
                    self.site.create(definition, self.revision)
                self._record_unit(container, self.target)
            result.check_bots.update(b for b in container.bots if self.target.bots[b].essence.enabled)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(one, work))

    def _put_unit(self, container: DesiredContainer, fleet: DesiredFleet) -> None:
        """All files of a unit about to be (re)created: its bots' and, for a pool, its own (records come after)."""
        self.site.keep_only(container.name, container.bots)
        for name in container.bots:
            self.site.put_bot(container.name, name, self.materials.bot_files(fleet.bots[name]))
        if not container.dedicated:
            self.site.put_unit(container.name, self.materials.unit_files(container, fleet))

    def _record_unit(self, container: DesiredContainer, fleet: DesiredFleet) -> None:
        """Record what the unit and its bots now run. Called only once they were (re)started, so an
        apply killed in between leaves the old records and the next plan redoes the step."""
        self.site.record_unit(container.name, AppliedContainer(hash=container.hash, essence=container.essence))
        for name in container.bots:
            self._record_bot(fleet.bots[name])

    def _record_bot(self, bot: DesiredBot) -> None:
        self.site.record_bot(bot.container, bot.name, AppliedBot(hash=bot.hash, essence=bot.essence, placement=bot.placement))

    def _restore_settings(self, container: DesiredContainer) -> None:
        """Set back in place what a person changed by hand and the backend can change without a
        restart (``Units.settings_drift``; for Docker: limits, restart policy, the fleet network)."""
        inspected = self.live.inspected.get(container.name)
        if inspected is None:
            return
        definition = container_definition(self.target, container)
        drift = self.site.settings_drift(definition, inspected)
        if drift is None or not drift.in_place:
            return
        self.progress(f"setting back {', '.join(drift.fields)} of container {container.name} (changed by hand)")
        self.site.restore_settings(definition, inspected)

    def _rewrite(self, container: DesiredContainer) -> None:
        """Files and records of a container that stays: after a record went bad, or to drop the
        second copy of a bot (a move cut short). Every bot's files first, then supervisord —
        which stops the strays and starts nothing from stale files — then the strays' archive."""
        name = container.name
        strays = [b.name for b in self.live.strays if b.container == name]
        self.progress(f"rewriting the files of container {name}")
        view, fleet = self._conf_with_leavers(container, only=self._kept())
        for bot in view.bots:
            self.site.put_bot(name, bot, self.materials.bot_files(fleet.bots[bot]))
        if strays and not container.dedicated:
            self.site.reconcile(name, self.materials.unit_files(view, fleet))
        for bot in strays:
            self.progress(f"removing the second copy of bot {bot} from {name} (its files are archived)")
        self._put_unit(view, fleet)
        self._record_unit(view, fleet)

    def _bots_in_place(self, containers: dict[str, Action], bots: dict[str, Action], result: ExecutionResult) -> None:
        """Bot changes in containers that are not being (re)created."""
        fresh = {n for n, a in containers.items() if a in _NEW_CONTAINER}
        by_container: dict[str, dict[str, Action]] = defaultdict(dict)
        for name, action in bots.items():
            if action is Action.DELETE:
                continue
            container = self.target.bots[name].container
            if container not in fresh:
                by_container[container][name] = action
            if action in _RUNS_BOT and self.target.bots[name].essence.enabled:
                result.check_bots.add(name)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(lambda item: self._update_container(item[0], item[1], result.refused), sorted(by_container.items())))

    def _update_container(self, name: str, changes: dict[str, Action], refused: dict[str, str]) -> None:
        container = self.target.containers[name]
        for bot in sorted(changes):
            self.progress(f"{changes[bot].value} bot {bot} in {name}")
            self.site.put_bot(name, bot, self.materials.bot_files(self.target.bots[bot]))
        reloaded: set[str] = set()
        if not container.dedicated:
            added, changed, _ = self.site.reconcile(name, self.materials.unit_files(*self._conf_with_leavers(container)))
            reloaded = set(added + changed)
        verbs = {"start": self.site.start_bot, "stop": self.site.stop_bot, "restart": self.site.restart_bot}
        for bot, action in sorted(changes.items()):
            verb = _verb(action, bot in reloaded, self.target.bots[bot].essence.enabled)
            if verb is None:
                continue
            try:
                verbs[verb](name, bot, dedicated=container.dedicated)
            except SupervisorRefused as exc:  # e.g. NO_FILE: the health gate fails it with supervisord's reason
                self.progress(f"{exc}")
                refused[bot] = str(exc)
        for bot in sorted(changes):
            self._record_bot(self.target.bots[bot])

    def _kept(self) -> set[str]:
        """Live bots the target lacks here but that this plan does not remove: they keep running."""
        return {b.name for b in self.live.bots.values() if b.name not in self.removing}

    def _conf_with_leavers(self, container: DesiredContainer, only: set[str] | None = None) -> tuple[DesiredContainer, DesiredFleet]:
        """Phase A's supervisord view: the target's bots plus those still to leave in phase B
        (``only``: plus just these of them, the ones that stay for now). A target bot that is not
        here yet and that this plan does not bring (its move waits for its trades) is left out:
        it runs where it is, and must not start here too."""
        absent = {b for b in container.bots if b not in self.arriving
                  and (b not in self.live.bots or self.live.bots[b].container != container.name)}
        leaving = [b for b in self.live.bots.values()
                   if b.container == container.name and b.name not in container.bots and b.record is not None
                   and (only is None or b.name in only)]
        if not leaving and not absent:
            return container, self.target
        live_view = baseline_from_live(self.live, None)
        bots = {**self.target.bots, **{b.name: live_view.bots[b.name] for b in leaving}}  # a leaver as it runs here
        merged = dataclasses.replace(container, bots=tuple(sorted((set(container.bots) - absent) | {b.name for b in leaving})))
        return merged, dataclasses.replace(self.target, bots=bots)

    def _check_moved(self, moved: set[str]) -> None:
        listed = {c.name: c for c in self.site.units()}
        self.live = dataclasses.replace(self.live, containers=listed)
        targets = {b: _health_target(self.site, listed, self.target.bots[b]) for b in moved if self.target.bots[b].essence.enabled}
        failed = [h for h in wait_answering(self.ports.probe, targets, self.move_timeout).values() if not h.passed]
        if failed:
            raise HealthError("moved bots did not answer in their new container, old copies kept running: "
                              + ", ".join(f"{h.bot} ({h.detail})" for h in failed))

    def _remove_leavers(self, containers: dict[str, Action]) -> None:
        """Phase B: programs, bot directories and containers that are no longer wanted."""
        leaving: dict[str, list[str]] = defaultdict(list)
        for name, live_bot in self.live.bots.items():
            target = self.target.bots.get(name)
            if (target is None or target.container != live_bot.container) and name in self.removing:
                leaving[live_bot.container].append(name)
        for container, names in sorted(leaving.items()):
            if container in self.target.containers and containers.get(container) not in _NEW_CONTAINER:
                desired = self.target.containers[container]
                if not desired.dedicated:
                    self.site.reconcile(container, self.materials.unit_files(*self._conf_with_leavers(desired, only=self._kept())))
            for name in names:
                self.progress(f"removing bot {name} from {container} (its files are archived)")
                self.site.archive_bot(container, name)
        for name, action in sorted(containers.items()):
            if action is Action.DELETE:
                self.progress(f"removing container {name} (its directory is archived)")
                self.site.remove(name)
                self.site.archive_unit(name)
        deleted = {n for n, a in containers.items() if a is Action.DELETE}
        if not self.target.containers and deleted and set(self.live.containers) <= deleted:  # none kept: a postponed delete's stays
            self._remove_network()

    def _remove_network(self) -> None:
        """The fleet's last unit is gone: its network goes too (issue 22). Kept, with a word, when the backend
        refuses (a container attached by hand still uses it): the apply itself did what it planned."""
        self.progress("removing the fleet's network (no container is left)")
        try:
            self.site.remove_network()
        except DockerError as exc:
            self.progress(f"the fleet's network is kept: {exc}")


def _verb(action: Action, reloaded: bool, enabled: bool) -> str | None:
    """What a bot whose files were just put needs so that its process runs them, if anything:
    ``reloaded`` (the pool's reconcile just (re)added its program) needs nothing more; a stop or a
    start is one (a dedicated unit's, or a program an interrupted apply already changed); a reload,
    restart, creation or move of an enabled bot restarts it. A policy change (update) reaches no process."""
    if reloaded or action is Action.UPDATE:
        return None
    if action is Action.STOP:
        return "stop"
    if action is Action.START:
        return "start"
    return "restart" if action in _RUNS_BOT and enabled else None


def _health_target(site: Site, listed: dict[str, ListedUnit], bot: DesiredBot) -> tuple[str | None, int]:
    """Where ``bot`` is pinged, (address, port): its unit's address for its port, as the backend gives it."""
    unit = listed.get(bot.container)
    address = site.address_of(unit, bot.placement.port) if unit is not None else None
    return address if address is not None else (None, bot.placement.port)
