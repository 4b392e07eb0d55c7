"""Changes that respect open positions: ask a bot for its open trades before disrupting it.

Used twice. For a live plan (``engine.live.liveplan``), ``trade_notes`` asks every bot the plan
will restart, reload, move, stop or remove (directly, or through its container) how many trades
it holds: a named part of the live plan, shown with the changes, rating a restart with open
live-money trades, and any delete of a bot holding trades, high risk. Before executing
(``engine.flow.converge``), ``drain`` applies each bot's ``on_change`` policy (a live bot being
deleted always drains: nothing manages its trades after it): a ``drain`` bot with open trades gets
``POST /api/v1/stopbuy`` (no new entries) and the change waits up to its ``drain_timeout`` for the
trades to close; if they do not, that bot's change is postponed — the bot keeps running and
trading normally again (``reload_config`` resets stopbuy) — and the next apply tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.compile.container import account_of
from engine.compile.desired import DesiredFleet
from engine.ftapi import BotApiPort, BotEndpoint, FreqtradeApi
from engine.live.observe import LiveFleet
from engine.plan.model import Action, Change, Plan, Risk, RiskNote

__all__ = ["DISRUPTIVE", "Drained", "affected_bots", "drain", "open_trades", "resume_entries", "trade_notes", "without"]

DISRUPTIVE = frozenset({Action.RELOAD, Action.RESTART, Action.MOVE, Action.STOP, Action.DELETE, Action.REPLACE})


def affected_bots(changes: tuple[Change, ...], live: LiveFleet) -> dict[str, str]:
    """Running bots the changes disrupt → the address of the change that does it."""
    affected: dict[str, str] = {}
    for change in changes:
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
    running, where = live.bots[bot], live.address_of(bot)
    if where is None or running.record is None:
        return None
    return BotEndpoint(live.fleet_of(running.container), bot, *where)


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


def trade_notes(changes: tuple[Change, ...], live: LiveFleet, api: BotApiPort) -> tuple[dict[str, RiskNote], dict[str, int | None]]:
    """Each disruptive change's open trades as a risk note (live money: high risk), by address; and
    the open trades of every bot the changes disrupt (None: it did not say)."""
    affected = affected_bots(changes, live)
    counts = open_trades(api, live, list(affected))
    held = {b: n for b, n in counts.items() if n}
    unknown = _live_deletes_unknown(changes, live, counts)
    if not held and not unknown:
        return {}, counts
    own = {c.name: c.address for c in changes if c.kind == "bot" and c.action in DISRUPTIVE}
    noted = {b: own.get(b, address) for b, address in affected.items()}  # a bot's own change first, else its container's
    deleted = {c.name for c in changes if c.kind == "bot" and c.action is Action.DELETE}
    found: dict[str, RiskNote] = {}
    for change in changes:
        bots = sorted(b for b, address in noted.items() if address == change.address and b in held)
        if change.address in unknown:
            found[change.address] = RiskNote(Risk.HIGH, (unknown[change.address],))
        if not bots:
            continue
        live_money = [b for b in bots if live.bots[b].record is not None and not live.bots[b].record.essence.dry_run]  # type: ignore[union-attr]
        notes = tuple(f"{b} holds {held[b]} open trade{'s' * (held[b] != 1)}" for b in bots)
        risk = Risk.MEDIUM
        if live_money:
            risk = Risk.HIGH
            notes = (f"{change.action.value} with open live-money trades ({', '.join(live_money)})", *notes)
        if any(b in deleted for b in bots):  # after a delete, no bot manages those trades any more
            risk = Risk.HIGH
            notes = ("deletes a bot that holds open trades; it drains first when its on_change is drain or it trades live", *notes)
        found[change.address] = RiskNote(risk, notes)
    return found, counts


def _live_deletes_unknown(changes: tuple[Change, ...], live: LiveFleet, counts: dict[str, int | None]) -> dict[str, str]:
    """Deletes of live-money bots whose open trades could not be read (their API did not answer, their
    process is not running): after the delete nothing manages them, so not knowing is high risk too."""
    found = {}
    for change in changes:
        bot = live.bots.get(change.name) if change.kind == "bot" and change.action is Action.DELETE else None
        if bot is not None and bot.record is not None and not bot.record.essence.dry_run and counts.get(change.name) is None:
            found[change.address] = (f"deletes a live bot whose open trades are unknown ({change.name} did not say; "
                                     "its process is not running or its API did not answer): nothing manages them after the delete")
    return found


@dataclass(frozen=True)
class Drained:
    ready: set[str]
    postponed: dict[str, str]
    """Bot → why its change waits for the next apply (its trades did not close in time)."""


def drain(api: BotApiPort, plan: Plan, live: LiveFleet, target: DesiredFleet, progress: Callable[[str], None], *,
          wait: float | None = None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
          pausing: Callable[[list[str]], None] = lambda _bots: None) -> Drained:
    """Drain every affected ``drain`` bot that holds trades; ``wait`` caps each bot's drain_timeout.
    ``pausing`` hears which bots get ``stopbuy`` before any does: an apply killed from there on leaves
    them paused until restarted or resumed (``resume_entries``), and the next run must know."""
    affected = affected_bots(plan.changes, live)
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
        pausing(sorted(b for b, _ in busy))
        with ThreadPoolExecutor(max_workers=min(16, len(busy))) as pool:
            list(pool.map(lambda item: one(*item), busy))
    return Drained(ready | {b for b in affected if b not in postponed}, postponed)


def without(plan: Plan, postponed: dict[str, str], live: LiveFleet, target: DesiredFleet | None = None) -> Plan:
    """The plan less every change that would disrupt a postponed bot (its own, or its container's)
    and, given the ``target``, every change that would start it in another container while it
    still runs here: the creation of the container it was moving to, and every bot change into
    that container (those wait with it; the next apply plans them again) — and so for a bot of
    another name on the exchange account of a postponed delete (the same bot renamed), which
    would otherwise trade that account beside it."""
    if not postponed:
        return plan
    held = {address for bot, address in affected_bots(plan.changes, live).items() if bot in postponed}
    if target is not None:
        created = {c.name for c in plan.changes if c.kind == "container" and c.action in (Action.CREATE, Action.REPLACE)}
        waiting = {target.bots[b].container for b in postponed if b in target.bots and target.bots[b].container in created
                   and b in live.bots and live.bots[b].container != target.bots[b].container}
        twins = _twins(postponed, live, target)
        waiting |= {target.bots[b].container for b in twins if target.bots[b].container in created}
        held |= {f"bot/{b}" for b in twins}
        held |= {f"container/{name}" for name in waiting}
        held |= {c.address for c in plan.changes if c.kind == "bot" and c.action is not Action.DELETE and c.name in target.bots
                 and target.bots[c.name].container in waiting}
    kept = tuple(c for c in plan.changes if c.address not in held and not (c.kind == "bot" and c.name in postponed))
    return plan.with_changes(kept)


def _twins(postponed: dict[str, str], live: LiveFleet, target: DesiredFleet) -> set[str]:
    """Target bots, other than the postponed ones, on the exchange account of a postponed bot the target lacks."""
    accounts = {account_of(live.bots[b].record.essence) for b in postponed  # type: ignore[union-attr]
                if b not in target.bots and b in live.bots and live.bots[b].record is not None}
    accounts.discard(None)
    return {name for name, bot in target.bots.items() if name not in postponed and account_of(bot.essence) in accounts} if accounts else set()


def resume_entries(api: BotApiPort, live: LiveFleet, bots: list[str], progress: Callable[[str], None]) -> None:
    """``POST reload_config`` to each of ``bots`` that runs where ``live`` saw it: a drain's ``stopbuy``
    lasts until the bot restarts or reloads, so a bot an apply paused and then never changed (the apply
    was killed or failed, or the next specs leave it alone) would keep its open trades and open no new
    one, silently, for good. FreqTrade's answer to ``stopbuy`` names this call as its reset; a bot whose
    ``show_config`` says it is not ``paused`` (restarted since) is left alone."""
    client = FreqtradeApi(api)
    for bot in sorted(bots):
        running = live.bots.get(bot)
        at = _endpoint(live, bot) if running is not None else None
        if running is None or at is None or running.process not in ("RUNNING", None):
            continue
        if client.show_config(at).state not in (None, "paused"):
            continue  # restarted since (a restart clears stopbuy), or resumed by its drain
        answer = client.reload_config(at)
        progress(f"{bot}: entries resumed (an earlier drain had paused them)" if answer.answered
                 else f"{bot}: could not resume its entries ({answer.why}); it opens no new trade until it restarts")
