"""``fleetops status``: the live fleet as a person reads it, from Docker and supervisord.

Called by the CLI (and the watcher's /api/status). Read-only: it creates no state files.
"""

from __future__ import annotations

from typing import Any

from engine.flow import Context
from engine.live import policy
from engine.live.observe import observe
from engine.naming import Labels

__all__ = ["fleet_status", "status_to_text"]


def fleet_status(ctx: Context, fleet: str | None) -> dict[str, Any]:
    store = ctx.read_store()
    latest = store.latest() if store is not None else None
    name = fleet or (latest.fleet if latest else None)
    if name is None:
        return {"fleet": None, "revision": None, "containers": [], "bots": []}
    ctx.ports.docker.ping()
    live = observe(ctx.ports, ctx.runtime(name), name)
    revision = policy.current_revision(store, name)
    return {
        "fleet": name,
        "revision": revision.summary() if revision else None,
        "containers": [
            {"name": c.name, "state": c.state, "ip": c.ip, "pool": c.labels.get(Labels.POOL) or None,
             "bots": sorted(b.name for b in live.bots.values() if b.container == c.name),
             "supervisor": "no answer" if c.name in live.unanswered else None}
            for c in live.containers.values()
        ],
        "bots": [
            {"name": b.name, "container": b.container, "process": b.process, "enabled": b.enabled,
             "port": b.record.placement.port if b.record else None,
             "strategy": b.record.essence.strategy if b.record else None,
             "record": "unreadable" if b.record is None else "ok", "healthy_process": not b.dead}
            for b in sorted(live.bots.values(), key=lambda b: b.name)
        ],
    }


def status_to_text(report: dict[str, Any]) -> str:
    if report["fleet"] is None:
        return "no fleet has been applied from this state dir yet\n"
    rev = report["revision"]
    lines = [f"fleet {report['fleet']}: revision {rev['revision']} ({rev['status']}, commit {(rev['commit'] or '-')[:7]})" if rev
             else f"fleet {report['fleet']}: no healthy revision recorded"]
    lines.append(f"{len(report['containers'])} containers, {len(report['bots'])} bots")
    lines.append("")
    lines.append(f"{'CONTAINER':<34} {'STATE':<10} {'IP':<15} BOTS")
    for c in report["containers"]:
        note = "  (supervisord did not answer)" if c["supervisor"] else ""
        lines.append(f"{c['name']:<34} {c['state']:<10} {c['ip'] or '-':<15} {len(c['bots'])}{note}")
    lines.append("")
    lines.append(f"{'BOT':<28} {'PROCESS':<18} {'PORT':<6} {'CONTAINER':<34} STRATEGY")
    for b in report["bots"]:
        process = b["process"] or "unknown"
        if not b["enabled"]:
            process += " (disabled)"
        strategy = b["strategy"] or "(record unreadable)"
        lines.append(f"{b['name']:<28} {process:<18} {b['port'] or '-'!s:<6} {b['container']:<34} {strategy}")
    return "\n".join(lines) + "\n"
