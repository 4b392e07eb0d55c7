"""One exchange account, one running bot: nothing starts a bot whose account trades in another fleet.

Called by the live plan (``engine.live.liveplan``) for every plan that (re)starts a bot with an exchange key. Two processes
on one account each believe they own its balance and its open orders; two
copies of one bot (the same fleet applied under two names, say) cancel and duplicate each other's
orders. An account is ``engine.compile.container.account_of``: a digest of the exchange and the
key's *reference*, never the key; within one state dir also the keyed digest of the key's value
(``engine.live.secret_values``), so a second reference to the same key (``env:`` beside ``file:``)
is the same account. What runs under other fleet labels on this Docker engine is read
from one labelled list call: the ``io.fleetops.accounts`` label (any state dir; set when the
container was created, so a pool container's label misses bots added to it later) and, for
fleets applied from this state dir, their records, which are current (a disabled bot does not
count, and a pool bot counts only while supervisord runs it).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.backend.port import RUNNING_STATES, Backend, ListedUnit, Site
from engine.backend.records import AppliedBot
from engine.compile.container import account_of
from engine.compile.desired import DesiredFleet
from engine.compile.essence import BotEssence
from engine.live.secret_values import UNRESOLVED
from engine.naming import Labels, parse_accounts
from engine.plan.model import Action, Change, Risk, RiskNote

__all__ = ["Conflict", "account_conflicts", "conflict_notes", "starting_bots"]

_MAY_RUN = frozenset({"running", "paused", "restarting"})
"""Container states whose bots trade, or will again without fleetops: ``docker unpause``, Docker's restart policy."""
_STARTS_BOT = frozenset({Action.CREATE, Action.MOVE, Action.START, Action.RESTART, Action.RELOAD})
_STARTS_CONTAINER = frozenset({Action.CREATE, Action.REPLACE, Action.START, Action.RESTART})


@dataclass(frozen=True)
class Conflict:
    """``bot`` would trade the account that ``other_bot`` of ``fleet`` trades in ``container``."""

    bot: str
    exchange: str
    fleet: str
    other_bot: str
    container: str

    same_value: bool = False
    """Found by the key's value (another reference to the same key), not by its reference."""

    def sentence(self) -> str:
        same = "the same exchange_key value under another reference" if self.same_value else "same exchange_key"
        return (f"bot '{self.bot}' would trade the exchange account (on {self.exchange}, {same}) that bot "
                f"'{self.other_bot}' of fleet '{self.fleet}' trades on this Docker engine (container {self.container})")


def _identities(essence: BotEssence) -> set[str]:
    """How an account is recognised: ``account_of`` (exchange and key reference: any state dir, from the
    label too), and within this state dir the keyed digest of the key's value, which two references
    (``env:K`` and ``file:/etc/fleetops/k``, a link, ``//`` in a path) to one key share."""
    found = {a} if (a := account_of(essence)) is not None else set()
    digest = essence.secret_digests.get("exchange_key") if "exchange_key" in essence.secrets else None
    if digest and digest != UNRESOLVED:
        found.add(f"{essence.exchange}#value:{digest}")
    return found


def starting_bots(changes: tuple[Change, ...], target: DesiredFleet) -> set[str]:
    """Enabled bots of ``target`` whose process the changes start: by their own change or their container's."""
    bots = {c.name for c in changes if c.kind == "bot" and c.action in _STARTS_BOT and c.name in target.bots}
    for change in changes:
        if change.kind == "container" and change.action in _STARTS_CONTAINER and change.name in target.containers:
            bots.update(target.containers[change.name].bots)
    return {b for b in bots if target.bots[b].essence.enabled}


def account_conflicts(backend: Backend, target: DesiredFleet, bots: set[str], *, ignore: frozenset[str] = frozenset()) -> list[Conflict]:
    """Each of ``bots`` whose account a running container of another fleet (not in ``ignore``) trades.
    No Docker call when none of them has an exchange key."""
    wanted: dict[str, list[str]] = {}
    for bot in sorted(bots):
        for identity in _identities(target.bots[bot].essence):
            wanted.setdefault(identity, []).append(bot)
    if not wanted:
        return []
    conflicts: dict[tuple[str, str, str, str], Conflict] = {}
    for listed in backend.list_managed():
        fleet = listed.labels.get(Labels.FLEET, "")
        if fleet == target.name or fleet in ignore or listed.state not in _MAY_RUN:
            continue
        for other_bot, identities in sorted(_accounts_in(backend.site(fleet), listed, set(wanted)).items()):
            for identity in sorted(identities, key=lambda i: "#value:" in i):  # by reference first
                for bot in wanted[identity]:
                    conflicts.setdefault((bot, fleet, listed.name, other_bot), Conflict(
                        bot, target.bots[bot].essence.exchange, fleet, other_bot, listed.name, "#value:" in identity))
    return sorted(conflicts.values(), key=lambda c: (c.bot, c.fleet, c.container))


def _accounts_in(site: Site, listed: ListedUnit, wanted: set[str]) -> dict[str, set[str]]:
    """Bot → how its account is recognised, for the bots with keys ``listed`` runs, as far as they matter (in ``wanted``)."""
    records = {b: r for b, r in site.bot_records(listed.name).items() if isinstance(r, AppliedBot)}
    if not records:  # another state dir's container: its label is all there is
        return {b: {a} for b, a in parse_accounts(listed.labels.get(Labels.ACCOUNTS, "")).items() if a in wanted}
    found = {b: ids for b, r in records.items() if r.essence.enabled and (ids := _identities(r.essence) & wanted)}
    if found and listed.labels.get(Labels.POOL):  # only what supervisord runs; silence counts as running
        table = site.processes([listed.name]).get(listed.name)
        if isinstance(table, dict):
            found = {b: ids for b, ids in found.items() if b in table and table[b].state in RUNNING_STATES}
    return found


def conflict_notes(changes: tuple[Change, ...], target: DesiredFleet, conflicts: list[Conflict]) -> dict[str, RiskNote]:
    """Each change that starts a conflicting bot, marked high risk naming the other fleet, by address."""
    by_bot: dict[str, list[Conflict]] = {}
    for conflict in conflicts:
        by_bot.setdefault(conflict.bot, []).append(conflict)
    own = {c.name for c in changes if c.kind == "bot"}
    found: dict[str, RiskNote] = {}
    for change in changes:
        if change.kind == "bot":
            hits = by_bot.get(change.name, [])
        elif change.kind == "container" and change.name in target.containers:
            hits = [c for b in target.containers[change.name].bots if b not in own for c in by_bot.get(b, [])]
        else:
            hits = []
        if hits:
            found[change.address] = RiskNote(Risk.HIGH, tuple(
                f"its exchange account already trades in fleet '{c.fleet}' (bot {c.other_bot}, container {c.container}); "
                f"apply refuses to start {c.bot} while that runs" for c in hits), first=True)
    return found
