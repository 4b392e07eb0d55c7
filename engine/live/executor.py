"""The apply stage: execute exactly the printed plan against Docker, with the least disruption.

Called by apply and rollback. Two phases, so that nothing running is removed before its
replacement answers:
  A. create / replace / start containers (4 in parallel: more did not help on 2 cores), then
     change bots inside existing containers: write files, ``supervisorctl update``-style
     reconcile (only changed programs are touched), restart only reloaded bots.
     A moving bot's trade database is copied into its new container first.
  B. after moved bots answer their ping: remove what left (programs, bot directories, containers).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.compile.desired import DesiredContainer, DesiredFleet
from engine.live.docker_api import ContainerSpec, DockerEngine
from engine.errors import ApplyError, HealthError
from engine.live.health import check_health
from engine.naming import FLEET, REVISION, container_labels
from engine.live.observe import LiveFleet, baseline_from_live
from engine.plan.model import Action, Plan
from engine.compile.render import network_name
from engine.live.runtime import Runtime
from engine.live.supervisor_ctl import Supervisor

__all__ = ["ExecutionResult", "Executor"]

WORKERS = 4
_RUNS_BOT = frozenset({Action.CREATE, Action.RELOAD, Action.RESTART, Action.START, Action.MOVE})


@dataclass
class ExecutionResult:
    check_bots: set[str] = field(default_factory=set)
    """Bots that were (re)started and must now answer their ping."""


class Executor:
    def __init__(self, docker: DockerEngine, runtime: Runtime, target: DesiredFleet, live: LiveFleet, revision: int,
                 progress: Callable[[str], None], move_timeout: float = 60.0) -> None:
        self.docker = docker
        self.runtime = runtime
        self.target = target
        self.live = live
        self.revision = revision
        self.progress = progress
        self.move_timeout = move_timeout

    def run(self, plan: Plan) -> ExecutionResult:
        containers = {c.name: c.action for c in plan.changes if c.kind == "container"}
        bots = {c.name: c.action for c in plan.changes if c.kind == "bot"}
        result = ExecutionResult()
        self._check_ready(containers, bots)
        self.docker.ensure_network(network_name(self.target.name), {FLEET: self.target.name})
        for name, action in bots.items():  # data first: a new container must start with it
            if action is Action.MOVE:
                self.runtime.carry_bot_data(name, self.live.bots[name].container, self.target.bots[name].container)
        self._containers(containers, result)
        self._bots_in_place(containers, bots, result)
        moved = {n for n, a in bots.items() if a is Action.MOVE}
        if moved:
            self._check_moved(moved)
        self._remove_leavers(containers, bots)
        return result

    def _check_ready(self, containers: dict[str, Action], bots: dict[str, Action]) -> None:
        """Everything that can fail before Docker is touched: secrets and images."""
        written = {n for n, a in bots.items() if a is not Action.DELETE}
        for name, action in containers.items():
            if action in (Action.CREATE, Action.REPLACE):
                written |= set(self.target.containers[name].bots)
                image = self.target.containers[name].essence["image"]
                if not self.docker.image_exists(image):
                    raise ApplyError(f"image {image} (for {name}) is not on this Docker engine; build or pull it first")
        self.runtime.check_secrets([self.target.bots[n] for n in sorted(written) if n in self.target.bots])

    def _containers(self, containers: dict[str, Action], result: ExecutionResult) -> None:
        work = [(n, a) for n, a in sorted(containers.items()) if a in (Action.CREATE, Action.REPLACE, Action.START)]

        def one(item: tuple[str, Action]) -> None:
            name, action = item
            container = self.target.containers[name]
            if action is Action.START:
                self.progress(f"starting container {name}")
                self.docker.start(name)
            else:
                if action is Action.REPLACE:
                    self.progress(f"replacing container {name}")
                    self.docker.remove(name)
                else:
                    self.progress(f"creating container {name}")
                self.runtime.write_container(container, self.target)
                self.docker.create_and_start(self._spec(container))
            result.check_bots.update(b for b in container.bots if self.target.bots[b].essence["enabled"])

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(one, work))

    def _spec(self, container: DesiredContainer) -> ContainerSpec:
        labels = container_labels(self.target.name, container.pool, container.index, container.hash, container.bots)
        labels[REVISION] = str(self.revision)
        essence = container.essence
        return ContainerSpec(
            name=container.name, image=essence["image"], command=list(essence["command"]), labels=labels,
            runtime_dir=str(self.runtime.container_dir(container.name)), network=network_name(self.target.name),
            memory=essence.get("memory"), cpus=essence.get("cpus"),
        )

    def _bots_in_place(self, containers: dict[str, Action], bots: dict[str, Action], result: ExecutionResult) -> None:
        """Bot changes in containers that are not being (re)created."""
        fresh = {n for n, a in containers.items() if a in (Action.CREATE, Action.REPLACE)}
        by_container: dict[str, dict[str, Action]] = defaultdict(dict)
        for name, action in bots.items():
            if action is Action.DELETE:
                continue
            container = self.target.bots[name].container
            if container not in fresh:
                by_container[container][name] = action
            if action in _RUNS_BOT and self.target.bots[name].essence["enabled"]:
                result.check_bots.add(name)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(lambda item: self._update_container(*item), sorted(by_container.items())))

    def _update_container(self, name: str, changes: dict[str, Action]) -> None:
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
            else:
                self.docker.restart(name)
            return
        staying = self._conf_with_leavers(container)
        supervisor = Supervisor(self.runtime.container_dir(name), name)
        self.runtime.write_supervisord(*staying)
        supervisor.wait_ready()
        added, changed, _ = supervisor.update()
        for bot, action in sorted(changes.items()):
            if action in (Action.RELOAD, Action.RESTART) and bot not in added + changed:
                supervisor.restart(bot)

    def _conf_with_leavers(self, container: DesiredContainer) -> tuple[DesiredContainer, DesiredFleet]:
        """Phase A's supervisord view: the target's bots plus those still to leave in phase B."""
        leaving = [b for b in self.live.bots.values() if b.container == container.name and b.name not in container.bots]
        if not leaving:
            return container, self.target
        live_view = baseline_from_live(self.live, self.runtime, None)
        bots = {**{b.name: live_view.bots[b.name] for b in leaving}, **self.target.bots}
        merged = dataclasses.replace(container, bots=tuple(sorted(set(container.bots) | {b.name for b in leaving})))
        return merged, dataclasses.replace(self.target, bots=bots)

    def _check_moved(self, moved: set[str]) -> None:
        self.live = dataclasses.replace(self.live, containers={c.name: c for c in self.docker.list_fleet(self.target.name, network_name(self.target.name))})
        targets = {b: (self.live.ip_of(self.target.bots[b].container), self.target.bots[b].placement.port) for b in moved if self.target.bots[b].essence["enabled"]}
        failed = [h for h in check_health(targets, self.move_timeout).values() if not h.healthy]
        if failed:
            raise HealthError("moved bots did not answer in their new container, old copies kept running: "
                              + ", ".join(f"{h.bot} ({h.detail})" for h in failed))

    def _remove_leavers(self, containers: dict[str, Action], bots: dict[str, Action]) -> None:
        """Phase B: programs, bot directories and containers that are no longer wanted."""
        leaving: dict[str, list[str]] = defaultdict(list)
        for name, live_bot in self.live.bots.items():
            target = self.target.bots.get(name)
            if target is None or target.container != live_bot.container:
                leaving[live_bot.container].append(name)
        for container, names in sorted(leaving.items()):
            if container in self.target.containers and containers.get(container) not in (Action.CREATE, Action.REPLACE):
                desired = self.target.containers[container]
                if not desired.dedicated:
                    self.runtime.write_supervisord(desired, self.target)
                    supervisor = Supervisor(self.runtime.container_dir(container), container)
                    supervisor.wait_ready()
                    supervisor.update()
            for name in names:
                self.progress(f"removing bot {name} from {container} (its directory is archived)")
                self.runtime.archive_bot(container, name)
        for name, action in sorted(containers.items()):
            if action is Action.DELETE:
                self.progress(f"removing container {name} (its directory is archived)")
                self.docker.remove(name)
                self.runtime.archive_container(name)
