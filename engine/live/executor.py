"""The apply stage: execute exactly the printed plan against Docker, with the least disruption.

Called by the flow for apply and rollback, through ``Ports`` only. Two phases, so that nothing
running is removed before its replacement answers:
  A. create / replace / start / restart containers (4 in parallel: more did not help on 2
     cores), then change bots inside existing containers: write files, ``supervisorctl
     update``-style reconcile (only changed programs are touched), restart only reloaded bots.
     A moving bot's trade database is copied into its new container first.
  B. after moved bots answer their ping: remove what left (programs, bot directories, containers).
Everything that can fail without touching Docker (secrets, images, container names another
fleet holds) is checked first.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.compile.container import container_definition
from engine.compile.desired import DesiredContainer, DesiredFleet
from engine.errors import ApplyError, HealthError, SupervisorRefused
from engine.live.health import wait_answering
from engine.live.observe import LiveFleet, baseline_from_live
from engine.live.ports import Ports, SupervisorPort
from engine.live.processes import LogStart, marks
from engine.live.records import Unreadable
from engine.live.runtime import Runtime
from engine.live.settings_drift import expected_settings, settings_drift
from engine.naming import Labels, network_name
from engine.plan.model import Action, Plan

__all__ = ["ExecutionResult", "Executor"]

WORKERS = 4
SUPERVISOR_CALL_TIMEOUT = 30.0
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
    def __init__(self, ports: Ports, runtime: Runtime, target: DesiredFleet, live: LiveFleet, revision: int,
                 progress: Callable[[str], None], move_timeout: float = 60.0) -> None:
        self.ports = ports
        self.docker = ports.docker
        self.runtime = runtime
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
        result.start = self._log_start(containers, bots)
        self.docker.ensure_network(network_name(self.target.name), {Labels.FLEET: self.target.name})
        for name, action in sorted(bots.items()):  # stop, then data: the new copy starts from the old one's
            if action is Action.MOVE:
                self._stop_old_copy(name)
                self._carry(name)
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

    def _supervisor(self, container: str) -> SupervisorPort:
        return self.ports.supervisor(container, self.runtime.data_dir(container), SUPERVISOR_CALL_TIMEOUT)

    def _check_ready(self, containers: dict[str, Action], bots: dict[str, Action]) -> None:
        """Everything that can fail before Docker is touched: secrets, images, names."""
        written = {n for n, a in bots.items() if a is not Action.DELETE}
        for name, action in containers.items():
            if action in _NEW_CONTAINER:
                written |= set(self.target.containers[name].bots)
                image = self.target.containers[name].essence.image
                if not self.docker.image_exists(image):
                    raise ApplyError(f"image {image} (for {name}) is not on this Docker engine; build or pull it first")
        self.runtime.check_secrets([self.target.bots[n] for n in sorted(written) if n in self.target.bots])
        created = {n for n, a in containers.items() if a is Action.CREATE}
        for name, owner in sorted(self.docker.name_owners(created).items()):
            holder = f"fleet '{owner}'" if owner else "a container fleetops does not manage"
            raise ApplyError(f"container name {name} (for fleet '{self.target.name}') is already taken by {holder}; "
                             "rename the pool or the fleet so their container names differ")

    def _log_start(self, containers: dict[str, Action], bots: dict[str, Action]) -> LogStart:
        touched_containers = set(containers) | {self.target.bots[b].container for b in bots if b in self.target.bots}
        touched_bots = set(bots) | {b for c in containers if c in self.target.containers for b in self.target.containers[c].bots}
        fresh = {n for n, a in containers.items() if a in _NEW_CONTAINER}
        return marks(self.runtime, self.target, touched_bots, touched_containers, fresh)

    def _stop_old_copy(self, bot: str) -> None:
        """Never two copies of one bot: the old one stops before its database is copied."""
        live = self.live.bots[bot]
        container = self.live.containers.get(live.container)
        if container is None or not container.running:
            return
        self.progress(f"stopping bot {bot} in {live.container} before it moves")
        if container.labels.get(Labels.ROLE) == "dedicated":
            self.docker.stop(live.container)
        else:
            self._supervisor(live.container).stop(bot)

    def _carry(self, bot: str) -> None:
        skipped = self.runtime.carry_bot_data(bot, self.live.bots[bot].container, self.target.bots[bot].container,
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
            if action is Action.START:
                self.progress(f"starting container {name}")
                self.docker.start(name)
            elif action is Action.RESTART:
                self.progress(f"restarting container {name}")
                self.docker.restart(name)
            elif action is Action.UPDATE:
                if isinstance(self.live.container_records.get(name), Unreadable) or any(b.container == name for b in self.live.strays):
                    self._rewrite(container)
                return
            else:
                if action is Action.REPLACE:
                    self.progress(f"replacing container {name}")
                    self.docker.remove(name)
                else:
                    self.progress(f"creating container {name}")
                self.runtime.write_container(container, self.target)
                self.docker.create_and_start(container_definition(self.target, container),
                                             self.runtime.container_dir(name), self.revision)
                self.runtime.record_container(container, self.target)
            result.check_bots.update(b for b in container.bots if self.target.bots[b].essence.enabled)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(one, work))

    def _restore_settings(self, container: DesiredContainer) -> None:
        """Set back in place what a person changed by hand and Docker can change without a restart
        (``engine.live.settings_drift``): limits, restart policy, the fleet network."""
        inspected = self.live.inspected.get(container.name)
        if inspected is None:
            return
        want = expected_settings(container_definition(self.target, container), self.runtime)
        drift = settings_drift(inspected.settings, want)
        if drift is None or not drift.in_place:
            return
        live = inspected.settings
        self.progress(f"setting back {', '.join(drift.fields)} of container {container.name} (changed by hand)")
        if (live.memory, live.nano_cpus, live.restart) != (want.memory, want.nano_cpus, want.restart):
            self.docker.update_settings(container.name, memory=want.memory or None, nano_cpus=want.nano_cpus or None, restart=want.restart)
        for network in sorted(set(live.networks) - set(want.networks)):
            self.docker.disconnect_network(network, container.name)
        for network in sorted(set(want.networks) - set(live.networks)):
            self.docker.connect_network(network, container.name)

    def _rewrite(self, container: DesiredContainer) -> None:
        """Files and records of a container that stays: after a record went bad, or to drop the
        second copy of a bot (a move cut short). Every bot's files first, then supervisord —
        which stops the strays and starts nothing from stale files — then the strays' archive."""
        name = container.name
        strays = [b.name for b in self.live.strays if b.container == name]
        self.progress(f"rewriting the files of container {name}")
        view, fleet = self._conf_with_leavers(container, only=self._kept())
        for bot in view.bots:
            self.runtime.write_bot(fleet.bots[bot])
        if strays and not container.dedicated:
            self.runtime.write_supervisord(view, fleet)
            supervisor = self._supervisor(name)
            supervisor.wait_ready()
            supervisor.update()
        for bot in strays:
            self.progress(f"removing the second copy of bot {bot} from {name} (its files are archived)")
        self.runtime.write_container(view, fleet)
        self.runtime.record_container(view, fleet)

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
            self.runtime.write_bot(self.target.bots[bot])
        if container.dedicated:
            action = next(iter(changes.values()))
            if action is Action.STOP:
                self.docker.stop(name)
            elif action is Action.START:
                self.docker.start(name)
            elif action is not Action.UPDATE:  # a policy change reaches no process
                self.docker.restart(name)
            self._record(changes)
            return
        staying = self._conf_with_leavers(container)
        supervisor = self._supervisor(name)
        self.runtime.write_supervisord(*staying)
        supervisor.wait_ready()
        added, changed, _ = supervisor.update()
        for bot, action in sorted(changes.items()):
            # Its files are new; unless supervisord just (re)added the program, restart it so the
            # process runs them: a reload, or a program an interrupted apply already started.
            if action in _RUNS_BOT and action is not Action.START and bot not in added + changed \
                    and self.target.bots[bot].essence.enabled:
                try:
                    supervisor.restart(bot)
                except SupervisorRefused as exc:  # e.g. NO_FILE: the health gate fails it with supervisord's reason
                    self.progress(f"{exc}")
                    refused[bot] = str(exc)
        self._record(changes)

    def _record(self, changes: dict[str, Action]) -> None:
        for bot in sorted(changes):
            self.runtime.record_bot(self.target.bots[bot])

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
        listed = self.docker.list_fleet(self.target.name, network_name(self.target.name))
        self.live = dataclasses.replace(self.live, containers={c.name: c for c in listed})
        targets = {b: (self.live.ip_of(self.target.bots[b].container), self.target.bots[b].placement.port)
                   for b in moved if self.target.bots[b].essence.enabled}
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
                    self.runtime.write_supervisord(*self._conf_with_leavers(desired, only=self._kept()))
                    supervisor = self._supervisor(container)
                    supervisor.wait_ready()
                    supervisor.update()
            for name in names:
                self.progress(f"removing bot {name} from {container} (its files are archived)")
                self.runtime.archive_bot(container, name)
        for name, action in sorted(containers.items()):
            if action is Action.DELETE:
                self.progress(f"removing container {name} (its directory is archived)")
                self.docker.remove(name)
                self.runtime.archive_container(name)
