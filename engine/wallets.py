"""``fleetops wallets``: what each wallet holds, what its bots took, and how they are doing.

Called by the CLI. Capital comes from the specs (``--repo``/``--ref``) or, without them, from the
revision the fleet runs; each bot's equity, open trades and realised profit come live from its own
API (``/api/v1/balance``, ``/count``, ``/profit``), so a bot that does not answer shows as unknown.
``--history`` is the ledger: revision by revision, the allocations that were made, released,
changed or moved between wallets, derived from the desired fleets the revisions stored.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.backend.port import Address
from engine.compile.desired import DesiredFleet
from engine.compile.payload import fleet_from_payload
from engine.context import Context
from engine.fleetview import BotFigures, BotView, fleet_view
from engine.ftapi import BotEndpoint, FreqtradeApi
from engine.live.observe import observe
from engine.live.store import RevisionStatus, RevisionStore

__all__ = ["bot_figures", "ledger", "wallet_report", "wallets_to_text"]


def bot_figures(api: FreqtradeApi, fleet: str, bot: BotView, address: Address | None) -> BotFigures | None:
    """A running bot's equity, open trades and realised profit from its own API, asked where the
    backend says it answers (``LiveFleet.address_of``; None: it cannot be asked)."""
    if address is None or bot.record != "ok":
        return None
    at = BotEndpoint(fleet, bot.name, *address)
    balance, count, profit = api.balance(at), api.count(at), api.profit(at)
    return BotFigures(open_trades=count.current, realised=profit.profit_closed_coin, equity=balance.total)


def wallet_report(ctx: Context, desired: DesiredFleet) -> dict[str, Any]:
    """Per wallet: balance, reserve, allocated, free; per bot: allocation and live figures."""
    live = observe(ctx.site(desired.name), with_processes=False)
    view = fleet_view(live, None)
    api = FreqtradeApi(ctx.ports.bot_api)
    running = {b.name: (b, live.address_of(b.name)) for c in view.containers for b in c.bots}
    names = sorted(desired.bots)

    def ask(name: str) -> BotFigures | None:
        bot, address = running.get(name, (None, None))
        return bot_figures(api, view.fleet, bot, address) if bot is not None else None

    with ThreadPoolExecutor(max_workers=8) as pool:
        figures = dict(zip(names, pool.map(ask, names), strict=True))
    wallets = []
    for name, wallet in sorted(desired.wallets.items()):
        bots = [b for b in names if desired.bots[b].essence.wallet == name]
        allocated = sum(desired.bots[b].essence.allocation for b in bots)
        wallets.append({
            "name": name, "currency": wallet.currency, "balance": wallet.balance, "reserve": wallet.reserve,
            "allocated": allocated, "free": wallet.free - allocated,
            "bots": [{"name": b, "allocation": desired.bots[b].essence.allocation, "dry_run": desired.bots[b].essence.dry_run,
                      **_figures_json(figures[b])} for b in bots],
        })
    return {"fleet": desired.name, "wallets": wallets}


def _figures_json(figures: BotFigures | None) -> dict[str, float | int | None]:
    if figures is None:
        return {"equity": None, "open_trades": None, "realised": None}
    return {"equity": figures.equity, "open_trades": figures.open_trades, "realised": figures.realised}


def ledger(store: RevisionStore | None, fleet: str | None) -> list[dict[str, Any]]:
    """Allocation entries revision by revision (applied revisions only): allocate, release, change, move."""
    entries: list[dict[str, Any]] = []
    before: dict[str, tuple[str, float]] = {}
    for revision in store.all() if store is not None else []:
        if revision.status is not RevisionStatus.APPLIED or (fleet is not None and revision.fleet != fleet):
            continue
        after = {n: (b.essence.wallet, b.essence.allocation) for n, b in fleet_from_payload(revision.payload).bots.items()}
        for bot in sorted(set(before) | set(after)):
            old, new = before.get(bot), after.get(bot)
            if old == new:
                continue
            if old is None:
                kind, detail = "allocate", {"wallet": new[0], "amount": new[1]}  # type: ignore[index]
            elif new is None:
                kind, detail = "release", {"wallet": old[0], "amount": old[1]}
            elif old[0] != new[0]:
                kind, detail = "move", {"from": old[0], "to": new[0], "amount": new[1]}
            else:
                kind, detail = "change", {"wallet": new[0], "from_amount": old[1], "amount": new[1]}
            entries.append({"revision": revision.number, "at": revision.finished_at, "bot": bot, "entry": kind, **detail})
        before = after
    return entries


def _money(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def wallets_to_text(report: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> str:
    lines = [f"fleet {report['fleet']}", ""]
    for w in report["wallets"]:
        lines.append(f"wallet {w['name']} ({w['currency']}): balance {_money(w['balance'], 0)}, reserve {_money(w['reserve'], 0)}, "
                     f"allocated {_money(w['allocated'], 0)}, free {_money(w['free'], 0)}")
        lines.append(f"  {'BOT':<24} {'ALLOCATION':>12} {'EQUITY':>12} {'OPEN':>5} {'REALISED P/L':>13}  MODE")
        for b in w["bots"]:
            open_trades = "–" if b["open_trades"] is None else f"{b['open_trades']:.0f}"
            lines.append(f"  {b['name']:<24} {_money(b['allocation'], 0):>12} {_money(b['equity']):>12} {open_trades:>5} "
                         f"{_money(b['realised']):>13}  {'dry-run' if b['dry_run'] else 'LIVE'}")
        lines.append("")
    if entries is not None:
        lines.append("ledger (applied revisions):")
        for e in entries:
            what = (f"{e['amount']:g} from {e['from']} to {e['to']}" if e["entry"] == "move" else
                    f"{e['from_amount']:g} -> {e['amount']:g} in {e['wallet']}" if e["entry"] == "change" else f"{e['amount']:g} in {e['wallet']}")
            lines.append(f"  revision {e['revision']:>3}  {e['entry']:<8} {e['bot']:<24} {what}")
        if not entries:
            lines.append("  (none yet)")
    return "\n".join(lines) + "\n"
