"""The live fleet as a person reads it: ``fleetops status``, the watcher's ``/api/status`` and metrics.

Called by the CLI and the watcher. Read-only: it creates no state files. ``summarize`` is the
one place that decides a bot's state for people (running, failing, stopped, disabled, unknown)
and groups pools → containers → bots, so the terminal, the JSON and the metrics agree.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.backend.port import RUNNING_STATES
from engine.compile.payload import fleet_from_payload
from engine.context import Context
from engine.live import policy
from engine.live.observe import LiveBot, LiveFleet, observe
from engine.live.store import Revision, RevisionStatus, RevisionStore
from engine.live.trading import read_trading
from engine.naming import Labels

__all__ = ["bot_state", "fleet_status", "other_fleets", "status_to_text", "summarize"]




def bot_state(bot: LiveBot, failing: dict[str, str]) -> str:
    if not bot.enabled:
        return "disabled"
    if bot.name in failing:
        return "failing"
    if bot.process is None:
        return "unknown"
    return "running" if bot.process in RUNNING_STATES else "stopped"


def summarize(live: LiveFleet, revision: Revision | None, failing: dict[str, str] | None = None) -> dict[str, Any]:
    """Pools → containers → bots with states, the counts per state, and each pool's use of its slots."""
    failing = failing or {}
    capacity_of = {}
    if revision is not None:
        capacity_of = {name: pool.capacity for name, pool in fleet_from_payload(revision.payload).pools.items()}
    containers = []
    states: dict[str, int] = {}
    pool_bots: dict[str, int] = {}
    pool_capacity: dict[str, int] = {}
    for c in live.containers.values():
        pool = c.labels.get(Labels.POOL) or None
        bots = []
        for b in sorted((b for b in live.bots.values() if b.container == c.name), key=lambda b: b.name):
            state = bot_state(b, failing)
            states[state] = states.get(state, 0) + 1
            bots.append({"name": b.name, "state": state, "process": b.process, "pid": b.pid,
                         "port": b.record.placement.port if b.record else None,
                         "strategy": b.record.essence.strategy if b.record else None,
                         "exchange": b.record.essence.exchange if b.record else None,
                         "pairs": list(b.record.essence.pairs) if b.record else [],
                         "allocation": b.record.essence.allocation if b.record else None,
                         "currency": b.record.essence.currency if b.record else None,
                         "record": "ok" if b.record else f"unreadable: {b.unreadable}",
                         "failing": failing.get(b.name)})
        if pool is not None:
            pool_bots[pool] = pool_bots.get(pool, 0) + len(bots)
            pool_capacity[pool] = pool_capacity.get(pool, 0) + capacity_of.get(pool, 0)
        containers.append({"name": c.name, "pool": pool, "state": c.state, "ip": c.ip,
                           "capacity": capacity_of.get(pool, 1) if pool else 1,
                           "supervisor": live.unanswered.get(c.name), "renamed_by_hand": live.renamed.get(c.name), "bots": bots})
    return {"containers": containers, "bot_states": states, "pool_bots": pool_bots, "pool_capacity": pool_capacity,
            "revision": revision.summary() if revision else None}


def fleet_status(ctx: Context, fleet: str | None) -> dict[str, Any]:
    store: RevisionStore | None = ctx.read_store()
    latest = store.latest() if store is not None else None
    name = fleet or (latest.fleet if latest else None)
    if name is None:
        return {"fleet": None, "revision": None, "containers": [], "bot_states": {}}
    ctx.backend.ping()
    live = observe(ctx.site(name))
    current = policy.current_revision(store, name)
    report = {"fleet": name, **summarize(live, current), "unfinished": _unfinished(ctx, store, name, current, live)}
    _add_trading(ctx, live, report)
    report["other_fleets"] = other_fleets(ctx, name)
    return report


def other_fleets(ctx: Context, fleet: str | None) -> list[dict[str, Any]]:
    """Every other fleet name applied from this state dir that still has containers on the engine,
    summarised like the fleet itself: what runs, even when it is a copy left by a rename.

    Found from what the state dir keeps records of (``Backend.recorded_fleets``: a fleet whose
    containers were all removed has none left), so a state dir with one fleet costs no more here.
    """
    names = [name for name in ctx.backend.recorded_fleets() if name != fleet]
    store = ctx.read_store()
    found = []
    for name in names:
        live = observe(ctx.site(name))
        if live.containers:
            found.append({"fleet": name, **summarize(live, policy.current_revision(store, name))})
    return found


def _unfinished(ctx: Context, store: RevisionStore | None, fleet: str, current: Revision | None, live: LiveFleet) -> dict[str, Any] | None:
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
    return {"revision": newer.number, "status": newer.status.value, "commit": newer.commit, "bots": bots, "changing": changing}


def _add_trading(ctx: Context, live: LiveFleet, report: dict[str, Any]) -> None:
    """Each running bot's loop age and the strategy errors it logged since it started (its own API)."""
    asked = [(c, b) for c in report["containers"] for b in c["bots"] if b["state"] == "running" and c["ip"] and b["port"]]
    now = time.time()

    def ask(item: tuple[dict[str, Any], dict[str, Any]]) -> None:
        container, bot = item
        state = read_trading(ctx.ports.bot_api, live.fleet, bot["name"], container["ip"], bot["port"])
        bot["loop_age"] = round(now - state.last_loop, 1) if state.last_loop is not None else None
        bot["errors"] = len(state.errors) if state.started is not None else None

    for c in report["containers"]:
        for b in c["bots"]:
            b.setdefault("loop_age", None)
            b.setdefault("errors", None)
    if asked:
        with ThreadPoolExecutor(max_workers=min(16, len(asked))) as pool:
            list(pool.map(ask, asked))


def _unfinished_line(fleet: str, rev: dict[str, Any] | None, unfinished: dict[str, Any]) -> str:
    """The header when the applied revision is not all that runs."""
    number, commit = unfinished["revision"], (unfinished["commit"] or "-")[:7]
    base = f"the other bots run revision {rev['revision']}" if rev else "no healthy revision recorded"
    if unfinished["bots"]:
        head = (f"fleet {fleet}: revision {number} ({unfinished['status']}, not finished healthy, commit {commit}) runs on "
                f"{', '.join(unfinished['bots'])}; {base}")
    else:
        head = f"fleet {fleet}: revision {rev['revision'] if rev else '-'} ({rev['status'] if rev else '-'}); revision {number} is {unfinished['status']}"
    if unfinished.get("changing"):
        head += (f" (the apply of revision {number} stopped part-way while changing {', '.join(unfinished['changing'])}; "
                 "the next apply finishes it)")
    return head


def status_to_text(report: dict[str, Any]) -> str:
    if report["fleet"] is None:
        return "no fleet has been applied from this state dir yet\n"
    rev = report["revision"]
    bots = [b for c in report["containers"] for b in c["bots"]]
    lines = [f"fleet {report['fleet']}: revision {rev['revision']} ({rev['status']}, commit {(rev['commit'] or '-')[:7]})" if rev
             else f"fleet {report['fleet']}: no healthy revision recorded"]
    unfinished = report.get("unfinished")
    if unfinished:
        lines[0] = _unfinished_line(report["fleet"], rev, unfinished)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report["bot_states"].items()))
    lines.append(f"{len(report['containers'])} containers, {len(bots)} bots ({counts or 'none'})")
    lines.append("")
    lines.append(f"{'CONTAINER':<34} {'STATE':<10} {'IP':<15} BOTS")
    for c in report["containers"]:
        note = "  (supervisord did not answer)" if c["supervisor"] else ""
        if c.get("renamed_by_hand"):
            note += f"  (renamed by hand to {c['renamed_by_hand']}; the next apply renames it back)"
        used = f"{len(c['bots'])}/{c['capacity']}" if c["pool"] else str(len(c["bots"]))
        lines.append(f"{c['name']:<34} {c['state']:<10} {c['ip'] or '-':<15} {used}{note}")
    lines.append("")
    lines.append(f"{'BOT':<28} {'STATE':<10} {'PROCESS':<18} {'PORT':<6} {'LOOP':>7} {'ERRORS':>6}  {'CONTAINER':<34} STRATEGY")
    for c in report["containers"]:
        for b in c["bots"]:
            loop = "-" if b.get("loop_age") is None else f"{b['loop_age']:.0f} s"
            errors = "-" if b.get("errors") is None else str(b["errors"])
            lines.append(f"{b['name']:<28} {b['state']:<10} {b['process'] or '-':<18} {b['port'] or '-'!s:<6} {loop:>7} {errors:>6}  "
                         f"{c['name']:<34} {b['strategy'] or '(record unreadable)'}")
    lines.extend(_other_fleet_lines(report.get("other_fleets") or []))
    return "\n".join(lines) + "\n"


def _other_fleet_lines(others: list[dict[str, Any]]) -> list[str]:
    if not others:
        return []
    lines = ["", "ALSO RUNNING from this state dir under another fleet name (a copy left by a rename?):"]
    for other in others:
        bots = [b for c in other["containers"] for b in c["bots"]]
        counts = ", ".join(f"{n} {state}" for state, n in sorted(other["bot_states"].items()))
        lines.append(f"fleet {other['fleet']}: {len(other['containers'])} containers, {len(bots)} bots ({counts or 'none'}); "
                     f"see `fleetops status --fleet {other['fleet']}`")
        for c in other["containers"]:
            shown = ", ".join(f"{b['name']} ({b['state']})" for b in c["bots"]) or "no bots"
            lines.append(f"  {c['name']:<34} {c['state']:<10} {shown}")
    return lines
