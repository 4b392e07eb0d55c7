"""Changes that respect open positions: ask a bot for its open trades before disrupting it.

Used by the flow, twice. For a live plan, ``open_trades`` asks every bot the plan will restart,
reload, move, stop or remove (directly, or through its container) how many trades it holds, so
the plan can show them and rate a restart with open live-money trades, and any delete of a bot
holding trades, high risk. Before executing, ``drain`` applies each bot's ``on_change`` policy
(a live bot being deleted always drains: nothing manages its trades after it): a ``drain`` bot with open trades
gets ``POST /api/v1/stopbuy`` (no new entries) and the change waits up to its ``drain_timeout``
for the trades to close; if they do not, that bot's change is postponed — the bot keeps running
and trading normally again (``reload_config`` resets stopbuy) — and the next apply tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.compile.desired import DesiredFleet
from engine.ftapi import BotApiPort, BotEndpoint, FreqtradeApi
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, Plan, Risk

__all__ = ["DISRUPTIVE", "Drained", "affected_bots", "drain", "open_trades", "with_open_trades", "without"]

DISRUPTIVE = frozenset({Action.RELOAD, Action.RESTART, Action.MOVE, Action.STOP, Action.DELETE, Action.REPLACE})


def affected_bots(plan: Plan, live: LiveFleet) -> dict[str, str]:
    """Running bots the plan disrupts → the address of the change that does it."""
    affected: dict[str, str] = {}
    for change in plan.changes:
        if change.action not in DISRUPTIVE:
            continue
        if change.kind == "bot" and change.name in live.bots:
            affected.setdefault(change.name, change.address)
        elif change.kind == "container":
            for bot in live.bots.values():
                if bot.container == change.name:
                    affected.setdefault(bot.name, change.address)
    return {b: a for b, a in affected.items() if live.bots[b].process in ("RUNNING", None) and live.bots[b].record is not None}


def _endpoint(live: LiveFleet, bot: str) -> BotEndpoint | None:
    """Where a running bot's API answers (its container's fleet label gives its credentials)."""
    running = live.bots[bot]
    address = live.ip_of(running.container)
    if address is None or running.record is None:
        return None
    return BotEndpoint(live.fleet_of(running.container), bot, address, running.record.placement.port)


def open_trades(api: BotApiPort, live: LiveFleet, bots: list[str]) -> dict[str, int | None]:
    """Bot → its open trades now (None when it did not say: ``TradeCount.current``), asked in parallel."""
    client = FreqtradeApi(api)

    def ask(bot: str) -> tuple[str, int | None]:
        at = _endpoint(live, bot)
        return bot, client.count(at).current if at is not None else None

    if not bots:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(bots))) as pool:
        return dict(pool.map(ask, sorted(bots)))


def with_open_trades(plan: Plan, live: LiveFleet, api: BotApiPort) -> tuple[Plan, dict[str, int | None]]:
    """The plan with each disruptive change's open trades in its risk notes (live money: high risk)."""
    affected = affected_bots(plan, live)
    counts = open_trades(api, live, list(affected))
    held = {b: n for b, n in counts.items() if n}
    if not held:
        return plan, counts
    own = {c.name: c.address for c in plan.changes if c.kind == "bot" and c.action in DISRUPTIVE}
    noted = {b: own.get(b, address) for b, address in affected.items()}  # a bot's own change first, else its container's
    deleted = {c.name for c in plan.changes if c.kind == "bot" and c.action is Action.DELETE}
    changes = []
    for change in plan.changes:
        bots = sorted(b for b, address in noted.items() if address == change.address and b in held)
        if not bots:
            changes.append(change)
            continue
        live_money = [b for b in bots if live.bots[b].record is not None and not live.bots[b].record.essence.dry_run]  # type: ignore[union-attr]
        notes = tuple(f"{b} holds {held[b]} open trade{'s' * (held[b] != 1)}" for b in bots)
        risk = change.risk
        if live_money:
            risk = Risk.HIGH
            notes = (f"{change.action.value} with open live-money trades ({', '.join(live_money)})", *notes)
        elif risk < Risk.MEDIUM:
            risk = Risk.MEDIUM
        if any(b in deleted for b in bots):  # after a delete, no bot manages those trades any more
            risk = Risk.HIGH
            notes = ("deletes a bot that holds open trades; it drains first when its on_change is drain or it trades live", *notes)
        changes.append(Change(change.address, change.action, change.reason, risk, change.diff, (*change.risk_notes, *notes)))
    return plan.with_changes(tuple(changes)), counts


@dataclass(frozen=True)
class Drained:
    ready: set[str]
    postponed: dict[str, str]
    """Bot → why its change waits for the next apply (its trades did not close in time)."""


def drain(api: BotApiPort, plan: Plan, live: LiveFleet, target: DesiredFleet, progress: Callable[[str], None], *,
          wait: float | None = None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Drained:
    """Drain every affected ``drain`` bot that holds trades; ``wait`` caps each bot's drain_timeout."""
    affected = affected_bots(plan, live)
    draining = []
    for bot in affected:
        essence = target.bots[bot].essence if bot in target.bots else live.bots[bot].record.essence  # type: ignore[union-attr]
        # A restart hands the trades back to the same bot; a delete leaves them to nobody, so a
        # live bot drains before it goes whatever its on_change says.
        if essence.on_change == "drain" or (bot not in target.bots and not essence.dry_run):
            draining.append((bot, float(essence.drain_timeout if wait is None else min(wait, essence.drain_timeout))))
    counts = open_trades(api, live, [b for b, _ in draining])
    client = FreqtradeApi(api)
    ready: set[str] = set()
    postponed: dict[str, str] = {}

    def one(bot: str, timeout: float) -> None:
        at = _endpoint(live, bot)
        assert at is not None  # it said how many trades it holds
        progress(f"draining {bot}: {counts[bot]} open trade(s); no new entries (stopbuy), waiting up to {timeout:.0f} s")
        client.stopbuy(at)
        deadline = clock() + timeout
        while True:
            current = client.count(at).current
            if current == 0:
                progress(f"{bot} drained: no open trades")
                ready.add(bot)
                return
            if clock() >= deadline:
                client.reload_config(at)  # trading resumes as before
                postponed[bot] = f"{current if current is not None else 'its'} open trade(s) still open after {timeout:.0f} s"
                progress(f"{bot}: change postponed ({postponed[bot]}); it keeps trading and the next apply tries again")
                return
            sleep(1.0)

    busy = [(b, t) for b, t in draining if counts.get(b)]
    if busy:
        with ThreadPoolExecutor(max_workers=min(16, len(busy))) as pool:
            list(pool.map(lambda item: one(*item), busy))
    return Drained(ready | {b for b in affected if b not in postponed}, postponed)


def without(plan: Plan, postponed: dict[str, str], live: LiveFleet, target: DesiredFleet | None = None) -> Plan:
    """The plan less every change that would disrupt a postponed bot (its own, or its container's)
    and, given the ``target``, every change that would start it in another container while it
    still runs here: the creation of the container it was moving to, and every bot change into
    that container (those wait with it; the next apply plans them again)."""
    if not postponed:
        return plan
    held = {address for bot, address in affected_bots(plan, live).items() if bot in postponed}
    if target is not None:
        created = {c.name for c in plan.changes if c.kind == "container" and c.action in (Action.CREATE, Action.REPLACE)}
        waiting = {target.bots[b].container for b in postponed if b in target.bots and target.bots[b].container in created
                   and b in live.bots and live.bots[b].container != target.bots[b].container}
        held |= {f"container/{name}" for name in waiting}
        held |= {c.address for c in plan.changes if c.kind == "bot" and c.action is not Action.DELETE and c.name in target.bots
                 and target.bots[c.name].container in waiting}
    kept = tuple(c for c in plan.changes if c.address not in held and not (c.kind == "bot" and c.name in postponed))
    return plan.with_changes(kept)
