"""What the health checks see of live bots: the gate's subjects, and one-off looks.

The checks and the gate are ``engine.health`` (pure); this module gives them their observations
through ``Ports``: a bot's ping (``ProbePort``), its loop and log (``engine.ftapi.FreqtradeApi`` on
``Ports.bot_api``), its process (``ProcessWatch`` while the gate waits, ``observe``'s ``LiveBot``
otherwise). Each observation is taken at most once per round, so the loop and the strategy-error
checks share one ``/api/v1/health`` call.

Called by the flow (``gate_bots``: after converging, after a rollback, when a killed apply is
finished, after the watcher's repairs), the executor (``wait_answering``: a moved bot must answer
before its old copy goes) and ``status``, the page and the watcher (``LiveLook``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from engine.backend.port import Address, ListedUnit, Site
from engine.compile.desired import DesiredFleet
from engine.ftapi import BotEndpoint, BotLogs, FreqtradeApi, LoopHealth
from engine.health.check import Check, PingSeen, ProcessSeen
from engine.health.gate import BotHealth, look_once, run_gate
from engine.health.ping import PING
from engine.health.status import HealthStatus, Verdict
from engine.health.table import DEFAULT_KIND, checks_of
from engine.live.materials import Materials
from engine.live.observe import LiveBot, LiveFleet
from engine.live.ports import Ports, ProbePort
from engine.live.processes import LogStart, ProcessWatch

__all__ = ["GateSubject", "LiveLook", "gate_bots", "look_at", "wait_answering"]

_T = TypeVar("_T")


class _Rounds:
    """Observations taken once per round (``forget`` starts the next)."""

    def __init__(self) -> None:
        self._seen: dict[str, object] = {}

    def forget(self) -> None:
        self._seen.clear()

    def _once(self, key: str, take: Callable[[], _T]) -> _T:
        if key not in self._seen:
            self._seen[key] = take()
        return self._seen[key]  # type: ignore[return-value]


class GateSubject(_Rounds):
    """A bot the gate waits for: just (re)started, so "not yet" is progressing. ``endpoint``'s
    address is empty when its container has none; without ``api`` or ``watch``, its loop and log,
    or its process, are not observed."""

    waiting = True

    def __init__(self, endpoint: BotEndpoint, probe: ProbePort, api: FreqtradeApi | None = None,
                 watch: ProcessWatch | None = None) -> None:
        super().__init__()
        self.endpoint, self.probe, self.api, self.watch = endpoint, probe, api, watch

    def now(self) -> float:
        return time.time()

    def process(self) -> ProcessSeen | None:
        watch = self.watch
        return self._once("process", lambda: watch.seen(self.endpoint.bot)) if watch is not None else None

    def ping(self) -> PingSeen:
        if not self.endpoint.address:
            return PingSeen(None, False, "no address")
        return self._once("ping", lambda: _ping(self.probe, self.endpoint))

    def loop(self) -> LoopHealth | None:
        api = self.api
        return self._once("loop", lambda: api.health(self.endpoint)) if api is not None else None

    def logs(self) -> BotLogs | None:
        api = self.api
        return self._once("logs", lambda: api.logs(self.endpoint)) if api is not None else None


def _ping(probe: ProbePort, at: BotEndpoint) -> PingSeen:
    answer = probe.ping(at.address, at.port)
    return PingSeen(at.address, answer.ok, answer.detail)


def gate_bots(ports: Ports, site: Site, materials: Materials, target: DesiredFleet, bots: set[str], *, start: LogStart | None = None,
              refused: Mapping[str, str] | None = None, progress: Callable[[str], None] = lambda _line: None) -> dict[str, BotHealth]:
    """The health gate on ``bots`` of ``target``, which the executor just (re)started: each must pass
    the checks of the fleet's ``health.check`` kind within ``health.timeout_seconds``. One
    supervisord ``refused`` to start fails at once with its reason; a bot that did not pass
    carries this run's last log lines (``start``: where they begin, from the executor)."""
    failed_to_start = {b: BotHealth(b, HealthStatus.FAILED, "supervisord could not start it", 0.0, (f"supervisord: {why}",))
                       for b, why in sorted((refused or {}).items()) if b in bots}
    bots = bots - set(failed_to_start)
    if not bots:
        return failed_to_start
    listed = {c.name: c for c in site.units()}
    health = target.settings.health if target.settings is not None else None
    timeout = float(health.timeout_seconds if health is not None else 60)
    watch = ProcessWatch(site, materials, target, bots, start=start)
    api = FreqtradeApi(ports.bot_api)
    subjects = {}
    for name in sorted(bots):
        bot = target.bots[name]
        unit = listed.get(bot.container)
        address = site.address_of(unit, bot.placement.port) if unit is not None else None  # the backend says where it answers
        endpoint = BotEndpoint(target.name, name, *address) if address is not None else BotEndpoint(target.name, name, "", bot.placement.port)
        subjects[name] = GateSubject(endpoint, ports.probe, api, watch)
    results = run_gate(subjects, checks_of(health.check if health is not None else DEFAULT_KIND), timeout, progress=progress)
    return {**failed_to_start, **{name: h if h.passed else dataclasses.replace(h, log=watch.last_log(name)) for name, h in results.items()}}


def wait_answering(probe: ProbePort, targets: Mapping[str, tuple[str | None, int]], timeout: float) -> dict[str, BotHealth]:
    """Bot → whether it answers its ping within ``timeout`` at (address, port): the ping step alone."""
    subjects = {bot: GateSubject(BotEndpoint("", bot, address or "", port), probe) for bot, (address, port) in targets.items()}
    return run_gate(subjects, (PING,), timeout)


class LiveLook(_Rounds):
    """One look at a running fleet's bot (``status``, the page, the watcher): it should be up by now,
    so "not yet" is degraded. What is not given is not observed: without ``probe`` no ping, without
    ``api`` no call to the bot (``loop``: a /api/v1/health answer fetched already, as the page's)."""

    waiting = False

    def __init__(self, bot: LiveBot, container: ListedUnit | None, fleet: str, *, address: Address | None = None,
                 probe: ProbePort | None = None, api: FreqtradeApi | None = None, loop: LoopHealth | None = None,
                 loop_at: float | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.bot, self.container, self.probe, self.api, self._loop, self.clock = bot, container, probe, api, loop, clock
        self._loop_at = loop_at
        """When ``loop`` was fetched: the loop's age is judged as of then."""
        running = container is not None and container.running
        self.endpoint = BotEndpoint(fleet, bot.name, *address) if address is not None and running else None
        """Where its API answers (``address``: as the backend gave it, ``LiveFleet.address_of``)."""
        self.verdict: Verdict | None = None
        """What ``look`` found (None: nothing observed, or not looked at yet)."""

    def look(self, checks: Sequence[Check]) -> Verdict | None:
        self.verdict = look_once(self, checks)
        return self.verdict

    def now(self) -> float:
        return self._loop_at if self._loop is not None and self._loop_at is not None else self.clock()

    def process(self) -> ProcessSeen | None:
        if self.container is not None and not self.container.running:
            return ProcessSeen(None, self.container.state)
        if self.bot.process is None or self.bot.process.startswith("CONTAINER_"):
            return None
        return ProcessSeen(self.bot.process)

    def ping(self) -> PingSeen | None:
        probe, at = self.probe, self.endpoint
        if probe is None:
            return None
        if at is None:
            return PingSeen(None, False, "no address")
        return self._once("ping", lambda: _ping(probe, at))

    def loop(self) -> LoopHealth | None:
        api, at = self.api, self.endpoint
        if api is None or at is None:
            return self._loop
        return self._once("loop", lambda: api.health(at))

    def logs(self) -> BotLogs | None:
        api, at = self.api, self.endpoint
        if api is None or at is None:
            return None
        return self._once("logs", lambda: api.logs(at))


def look_at(live: LiveFleet, kind: str, *, probe: ProbePort | None = None, api: FreqtradeApi | None = None,
            loops: Mapping[str, tuple[LoopHealth, float]] | None = None) -> dict[str, LiveLook]:
    """Each enabled bot of ``live`` looked at once with the checks of ``kind`` (its ``verdict``):
    through ``probe`` and ``api`` when given (16 bots at a time), else from what ``live`` and
    ``loops`` (bot → a /api/v1/health answer already fetched, and when) show."""
    checks = checks_of(kind)
    loops = loops or {}
    looks = {name: LiveLook(bot, live.containers.get(bot.container), live.fleet_of(bot.container), address=live.address_of(name),
                            probe=probe, api=api,
                            loop=loops[name][0] if name in loops else None, loop_at=loops[name][1] if name in loops else None)
             for name, bot in sorted(live.bots.items()) if bot.enabled}
    if probe is None and api is None:
        for look in looks.values():
            look.look(checks)
    elif looks:
        with ThreadPoolExecutor(max_workers=min(16, len(looks))) as pool:
            list(pool.map(lambda look: look.look(checks), looks.values()))
    return looks
