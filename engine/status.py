"""``fleetops status``: the live fleet, each bot's health, and whether a revision is unfinished.

Called by the CLI. Read-only: it creates no state files. The fleet is observed once and grouped
by ``engine.fleetview``; each enabled bot is looked at once with the checks of the fleet's
``health.check`` kind (``engine.health``: its process, its ping, its loop and log), and each running
bot's loop age and strategy errors are read from the same answers. ``StatusReport`` is passed
around typed; ``to_json`` is ``status --format json``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.backend.records import AppliedContainer
from engine.backend.values import BackendChoice
from engine.context import Context
from engine.fleetview import FleetView, bot_state, fleet_view
from engine.ftapi import FreqtradeApi
from engine.health.status import HealthStatus
from engine.health.strategy_errors import strategy_errors
from engine.health.table import DEFAULT_KIND
from engine.live import policy
from engine.live.health import LiveLook, look_at
from engine.live.observe import LiveFleet, observe
from engine.live.store import Revision, RevisionStatus, RevisionStore
from engine.textsafe import one_line

__all__ = ["StatusReport", "Trading", "Unfinished", "bot_state", "fleet_report", "fleet_status", "other_fleets", "status_to_text"]




@dataclass(frozen=True)
class Unfinished:
    """A newer revision than the running one that did not finish healthy, and the bots that run it."""

    revision: int
    status: str
    commit: str | None
    bots: tuple[str, ...]
    """Bots that run it now (their record is its bot)."""
    changing: tuple[str, ...]
    """Bots a pending revision's apply was changing when it stopped."""

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "status": self.status, "commit": self.commit, "bots": list(self.bots),
                "changing": list(self.changing)}


@dataclass(frozen=True)
class Trading:
    """What a running bot's API says: seconds since its loop last ran, strategy errors since it started,
    when it started (unix time, ``/api/v1/health``'s ``bot_start_ts``) and its profit in the stake
    currency, realised and unrealised (``/api/v1/profit``'s ``profit_all_coin`` / ``_percent``)."""

    loop_age: float | None
    errors: int | None
    started: float | None = None
    profit: float | None = None
    profit_pct: float | None = None


@dataclass(frozen=True)
class StatusReport:
    fleet: str | None
    """None: nothing was ever applied from this state dir."""
    view: FleetView | None = None
    unfinished: Unfinished | None = None
    trading: Mapping[str, Trading] = field(default_factory=dict)
    others: tuple[FleetView, ...] = ()
    """Other fleet names applied from this state dir that still have containers (``other_fleets``)."""
    memory: Mapping[str, int | None] = field(default_factory=dict)
    """Container → bytes it uses now (``Units.memory_of``: the host's cgroups on Docker, its node's agent
    on a swarm); None when not running or unknown."""
    limits: Mapping[str, str | None] = field(default_factory=dict)
    """Container → the memory limit it was applied with, as the spec writes it (``1g``), from its record."""
    at: float = field(default_factory=time.time)
    """When it was observed (unix time): a bot's uptime is counted to here."""

    def to_json(self) -> dict[str, Any]:
        """``status --format json``: the fleet view's keys, each container's ``memory`` (bytes) and
        ``memory_limit`` (spec text), each bot's ``loop_age``, ``errors``, ``uptime`` (whole seconds since
        its process started, from its API), ``profit`` and ``profit_pct`` (issue 21; null when it did not
        answer), the others."""
        if self.fleet is None or self.view is None:
            return {"fleet": None, "revision": None, "containers": [], "bot_states": {}}
        document: dict[str, Any] = {"fleet": self.fleet, **self.view.to_json(),
                                    "unfinished": self.unfinished.to_json() if self.unfinished else None}
        for container in document["containers"]:
            container["memory"], container["memory_limit"] = self.memory.get(container["name"]), self.limits.get(container["name"])
            for bot in container["bots"]:
                trading = self.trading.get(bot["name"], Trading(None, None))
                bot["loop_age"], bot["errors"] = trading.loop_age, trading.errors
                bot["uptime"] = round(self.at - trading.started) if trading.started is not None else None
                bot["profit"], bot["profit_pct"] = trading.profit, trading.profit_pct
        document["other_fleets"] = [{"fleet": other.fleet, **other.to_json()} for other in self.others]
        return document


def fleet_report(ctx: Context, fleet: str | None) -> StatusReport:
    store: RevisionStore | None = ctx.read_store()
    latest = store.latest() if store is not None else None
    name = fleet or (latest.fleet if latest else None)
    if name is None:
        return StatusReport(None)
    current = policy.current_revision(store, name)
    if current is not None:  # where the fleet was applied (a swarm fleet's services are on its manager, not at DOCKER_HOST)
        ctx.use(BackendChoice.of(ctx.stored_fleet(current).backend))
    ctx.backend.ping()
    site = ctx.site(name)
    live = observe(site)
    settings = ctx.stored_fleet(current).settings if current is not None else None
    looks = look_at(live, settings.health.check if settings is not None else DEFAULT_KIND, probe=ctx.ports.probe,
                    api=FreqtradeApi(ctx.ports.bot_api))
    view = fleet_view(live, current).with_looks({name: look.verdict for name, look in looks.items()})
    memory = {c.name: site.memory_of(live.containers[c.name]) if c.state == "running" else None for c in view.containers}
    return StatusReport(name, view, _unfinished(ctx, store, name, current, live), _trading(view, looks), tuple(other_fleets(ctx, name)),
                        memory, _limits(live))


def _limits(live: LiveFleet) -> dict[str, str | None]:
    """Container → its recorded memory limit (spec text); None without a readable record or a limit."""
    return {name: record.essence.memory if isinstance(record, AppliedContainer) else None for name, record in live.container_records.items()}


def fleet_status(ctx: Context, fleet: str | None) -> dict[str, Any]:
    """``fleetops status --format json``."""
    return fleet_report(ctx, fleet).to_json()


def other_fleets(ctx: Context, fleet: str | None) -> list[FleetView]:
    """Every other fleet name applied from this state dir that still has containers on the engine,
    viewed like the fleet itself: what runs, even when it is a copy left by a rename.

    Found from what the state dir keeps records of (``Backend.recorded_fleets``: a fleet whose
    containers were all removed has none left), so a state dir with one fleet costs no more here.
    """
    names = [name for name in ctx.backend.recorded_fleets() if name != fleet]
    store = ctx.read_store()
    found = []
    for name in names:
        live = observe(ctx.site(name))
        if live.containers:
            found.append(fleet_view(live, policy.current_revision(store, name)))
    return found


def _unfinished(ctx: Context, store: RevisionStore | None, fleet: str, current: Revision | None, live: LiveFleet) -> Unfinished | None:
    """A newer revision that did not finish healthy but that some bots run: the running revision is
    then not the applied one alone, and status must not say it is (a killed apply, a refused rollback)."""
    newer = policy.unfinished_revision(store, fleet)
    if newer is None:
        return None
    target = ctx.stored_fleet(newer)
    previous = ctx.stored_fleet(current) if current is not None else None
    bots = [b for b in policy.running(target, live, target.bots)
            if previous is None or b not in previous.bots or previous.bots[b].hash != target.bots[b].hash]
    # A pending revision's apply stopped (or runs now): a bot it was restarting may run its files before
    # its record says so (records are written once a bot started), so those are named too.
    changing = sorted(policy.changed_bots(newer, target)) if newer.status is RevisionStatus.PENDING else []
    if not bots and not changing:
        return None
    return Unfinished(newer.number, newer.status.value, newer.commit, tuple(bots), tuple(changing))


def _trading(view: FleetView, looks: Mapping[str, LiveLook]) -> dict[str, Trading]:
    """Each running bot's loop age and the strategy errors it logged since it started (its own API;
    the answers its health look read already are not asked again)."""
    asked = [looks[b.name] for b in view.bots if b.state == "running" and b.name in looks and looks[b.name].endpoint is not None]
    now = time.time()

    def ask(look: LiveLook) -> tuple[str, Trading]:
        health, logs = look.loop(), look.logs()
        if health is None or logs is None or not health.answered:
            return look.bot.name, Trading(None, None)
        loop_age = round(now - health.last_loop, 1) if health.last_loop is not None else None
        profit = look.api.profit(look.endpoint) if look.api is not None and look.endpoint is not None else None
        return look.bot.name, Trading(loop_age, len(strategy_errors(health, logs)) if health.started is not None else None,
                                      health.started, profit.profit_all_coin if profit else None,
                                      profit.profit_all_percent if profit else None)

    if not asked:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(asked))) as pool:
        return dict(pool.map(ask, asked))


def _unfinished_line(fleet: str, rev: dict[str, Any] | None, unfinished: Unfinished) -> str:
    """The header when the applied revision is not all that runs."""
    number, commit = unfinished.revision, (unfinished.commit or "-")[:7]
    base = f"the other bots run revision {rev['revision']}" if rev else "no healthy revision recorded"
    if unfinished.bots:
        head = (f"fleet {fleet}: revision {number} ({unfinished.status}, not finished healthy, commit {commit}) runs on "
                f"{', '.join(unfinished.bots)}; {base}")
    else:
        head = f"fleet {fleet}: revision {rev['revision'] if rev else '-'} ({rev['status'] if rev else '-'}); revision {number} is {unfinished.status}"
    if unfinished.changing:
        head += (f" (the apply of revision {number} stopped part-way while changing {', '.join(unfinished.changing)}; "
                 "the next apply finishes it)")
    return head


def _counts(view: FleetView) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(view.bot_states.items()))


def status_to_text(report: StatusReport) -> str:
    if report.fleet is None or report.view is None:
        return "no fleet has been applied from this state dir yet\n"
    view, rev = report.view, report.view.revision
    bots = list(view.bots)
    lines = [f"fleet {report.fleet}: revision {rev['revision']} ({rev['status']}, commit {(rev['commit'] or '-')[:7]})" if rev
             else f"fleet {report.fleet}: no healthy revision recorded"]
    if report.unfinished:
        lines[0] = _unfinished_line(report.fleet, rev, report.unfinished)
    lines.append(f"{len(view.containers)} containers, {len(bots)} bots ({_counts(view) or 'none'})")
    lines.append("")
    lines.append(f"{'CONTAINER':<34} {'STATE':<10} {'IP':<15} {'BOTS':<5} MEMORY")
    for c in view.containers:
        note = "  (supervisord did not answer)" if c.supervisor else ""
        if c.renamed_by_hand:
            note += f"  (renamed by hand to {c.renamed_by_hand}; the next apply renames it back)"
        used = f"{len(c.bots)}/{c.capacity}" if c.pool else str(len(c.bots))
        lines.append(f"{c.name:<34} {c.state:<10} {c.ip or '-':<15} {used:<5} {_memory(report.memory.get(c.name), report.limits.get(c.name))}"
                     f"{note}")
    lines.append("")
    lines.append(f"{'BOT':<28} {'STATE':<10} {'HEALTH':<12} {'PROCESS':<18} {'PORT':<6} {'UPTIME':>7} {'LOOP':>7} {'ERRORS':>6} "
                 f"{'P/L':>16}  {'CONTAINER':<34} STRATEGY")
    for b in bots:
        trading = report.trading.get(b.name, Trading(None, None))
        loop = "-" if trading.loop_age is None else f"{trading.loop_age:.0f} s"
        errors = "-" if trading.errors is None else str(trading.errors)
        health = b.health.status.value if b.health is not None else "-"
        uptime = _duration(report.at - trading.started) if trading.started is not None else "-"
        profit = "-" if trading.profit is None else f"{trading.profit:+.2f} {b.currency or ''}".rstrip()
        lines.append(f"{b.name:<28} {b.state:<10} {health:<12} {b.process or '-':<18} {b.port or '-'!s:<6} {uptime:>7} {loop:>7} {errors:>6} "
                     f"{profit:>16}  {b.container:<34} {b.strategy or '(record unreadable)'}")
    sick = [b for b in bots if b.health is not None and b.health.status is not HealthStatus.HEALTHY]
    if sick:
        lines.append("")
        lines.extend(f"{b.name}: {b.health.status.value}: {one_line(b.health.detail)}" for b in sick if b.health is not None)
    lines.extend(_other_fleet_lines(report.others))
    return "\n".join(lines) + "\n"


def _memory(used: int | None, limit: str | None) -> str:
    """``312 MiB / 1g`` (the limit as the spec writes it), ``312 MiB`` without a limit, ``-`` when unknown."""
    if used is None:
        return f"- / {limit}" if limit else "-"
    shown = f"{used / (1 << 30):.1f} GiB" if used >= 1 << 30 else f"{used / (1 << 20):.0f} MiB"
    return f"{shown} / {limit}" if limit else shown


def _duration(seconds: float) -> str:
    """An uptime as people read it: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _other_fleet_lines(others: tuple[FleetView, ...]) -> list[str]:
    if not others:
        return []
    lines = ["", "ALSO RUNNING from this state dir under another fleet name (a copy left by a rename?):"]
    for other in others:
        lines.append(f"fleet {other.fleet}: {len(other.containers)} containers, {sum(len(c.bots) for c in other.containers)} bots "
                     f"({_counts(other) or 'none'}); see `fleetops status --fleet {other.fleet}`")
        for c in other.containers:
            shown = ", ".join(f"{b.name} ({b.state})" for b in c.bots) or "no bots"
            lines.append(f"  {c.name:<34} {c.state:<10} {shown}")
    return lines
