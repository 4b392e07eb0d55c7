"""Per-bot, per-container, per-pool and per-wallet series for ``/metrics``, read from the page's snapshot.

Used by ``fleetops watch --listen`` and ``fleetops serve`` (``engine.watch.runner`` registers a
``FleetCollector`` on the registry ``/metrics`` serves). A scrape reads the refresher's last
snapshot (``engine.web.refresher``) and the figures its bounded cache already fetched
(``engine.web.figures``: each bot at most once per ttl, at most ``workers`` at once): it never
asks a bot or Docker itself, so ten scrapers cost the bots what one page does. This is
prometheus-client's way for values owned elsewhere: a custom collector yielding metric families
at scrape time, nothing kept in the client's own gauges (and no ``*_created`` series).

Names follow ark-sys/freqtrade-operator where they overlap (``freqtrade_bot_up``, ``_state``,
``_open_trades``, ``_max_open_trades``, ``_profit_abs``, ``_profit_ratio``, ``_balance``,
``_last_poll_timestamp_seconds``; its README and internal/metrics), ``fleetops_*`` for the rest.
Money is in each bot's stake currency, ratios are fractions (0.05 = 5 %), times Unix seconds.
Labels: ``fleet``, ``bot``, ``pool`` (empty for a dedicated bot), ``exchange``, ``strategy``, and
``node`` when a container of the fleet runs on a swarm node. The shapes are the ``SERIES`` table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.fleetview import BotView
from engine.watch.sync import SyncInfo
from engine.web.refresher import PageSnapshot

__all__ = ["SERIES", "FleetCollector"]

BOT = ("fleet", "bot", "pool", "exchange", "strategy")
CONTAINER = ("fleet", "container", "pool")

SERIES: dict[str, str] = {
    "freqtrade_bot_up": "1 if the bot's API answered the collector's last /api/v1/health, else 0",
    "freqtrade_bot_state": "1 if the bot's process runs (fleetops state running), else 0",
    "freqtrade_bot_open_trades": "Open trades, as the bot last reported (/api/v1/count current)",
    "freqtrade_bot_max_open_trades": "The bot's max_open_trades, as it last reported (/api/v1/count max)",
    "freqtrade_bot_profit_abs": "Realised and unrealised profit in the stake currency (/api/v1/profit profit_all_coin)",
    "freqtrade_bot_profit_ratio": "Realised and unrealised profit as a ratio, 0.05 = 5% (profit_all_ratio)",
    "freqtrade_bot_balance": "The bot's equity in its stake currency (/api/v1/balance total)",
    "freqtrade_bot_last_poll_timestamp_seconds": "Unix time the collector last asked the bot",
    "fleetops_bot_info": "1, labelled with the bot's container and stake currency (join on fleet and container for its memory and CPU)",
    "fleetops_bot_state": "1, labelled with the bot's fleetops state (running, failing, stopped, disabled, unknown)",
    "fleetops_bot_health_status": "1, labelled with the bot's health status as last looked at (engine.health); no series when not looked at",
    "fleetops_bot_loop_age_seconds": "Seconds since the bot's trading loop last finished an iteration (since it started, if never)",
    "fleetops_bot_last_loop_timestamp_seconds": "Unix time the bot's trading loop last finished an iteration",
    "fleetops_bot_strategy_errors": "Strategy error lines the bot logged since it started (of its last 100 log lines)",
    "fleetops_bot_restarts": "Restarts of the bot's process the collector saw (its start time changed) since fleetops started",
    "fleetops_bot_closed_trades": "Closed trades, as the bot last reported (/api/v1/profit closed_trade_count)",
    "fleetops_bot_profit_realised": "Closed trades' profit in the stake currency (profit_closed_coin)",
    "fleetops_bot_profit_unrealised": "Open trades' profit in the stake currency (profit_all_coin - profit_closed_coin)",
    "fleetops_bot_drawdown_ratio": "The account's drawdown from its high now, 0.1 = 10% (/api/v1/profit current_drawdown)",
    "fleetops_bot_allocation": "Capital the running revision allocates to the bot, in its wallet's currency",
    "fleetops_bot_stake_used": "Stake the bot's open trades hold, in the stake currency (/api/v1/count total_stake)",
    "fleetops_container_memory_bytes": "Memory the container uses now (cgroup, page cache that can be dropped left out)",
    "fleetops_container_memory_limit_bytes": "The container's memory limit (no series: no limit)",
    "fleetops_container_cpu_seconds": "CPU seconds the container used since it started (a rate of it is CPUs in use)",
    "fleetops_container_cpu_limit_cores": "The container's CPU limit in CPUs (no series: no limit)",
    "fleetops_pool_utilisation_ratio": "Bots assigned to the pool over its containers' bot slots",
    "fleetops_wallet_balance": "The wallet's balance in the running revision's specs",
    "fleetops_wallet_reserve": "The wallet's reserve in the running revision's specs",
    "fleetops_wallet_allocated": "Capital the running revision allocates to the wallet's bots",
    "fleetops_wallet_stake_used": "Stake the wallet's bots' open trades hold now, as they last reported",
    "fleetops_collector_requests": "Bot API requests the collector made since it started (every page and scrape reads its cache)",
    "fleetops_collector_snapshot_timestamp_seconds": "Unix time the snapshot this scrape reads was built",
    "fleetops_sync_info": "1, labelled with the running revision, its commit, the branch head and the sync status (Synced, OutOfSync, Unknown)",
}
"""Series name (without ``_total`` for counters) → its help: what ``/metrics`` exposes, and what the dashboards and alerts may use."""


class FleetCollector(Collector):
    """Yields the ``SERIES`` from ``snapshot()`` at each scrape; ``requests()`` is the bot API
    requests the cache made so far, ``sync()`` the fleet's sync status (``engine.watch.sync``: the
    watcher's own, or what ``serve`` reads from the state dir); no ``fleetops_sync_info`` sample without it."""

    def __init__(self, snapshot: Callable[[], PageSnapshot], requests: Callable[[], int], *,
                 sync: Callable[[], SyncInfo | None] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.snapshot = snapshot
        self.requests = requests
        self.sync = sync
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        now = self.clock()
        fleet = snap.fleet or ""
        nodes = any(c.node for c in snap.containers)
        bot_labels = (*BOT, "node") if nodes else BOT
        node_of = {c.name: c.node or "" for c in snap.containers}

        def family(name: str, extra: tuple[str, ...] = (), labels: tuple[str, ...] = bot_labels) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, SERIES[name], labels=[*labels, *extra])

        def values(bot: BotView) -> list[str]:
            shown = [fleet, bot.name, bot.pool or "", bot.exchange or "", bot.strategy or ""]
            return [*shown, node_of.get(bot.container, "")] if nodes else shown

        gauges = {name: family(name) for name in SERIES if name.startswith(("freqtrade_bot_", "fleetops_bot_"))
                  and name not in ("fleetops_bot_info", "fleetops_bot_state", "fleetops_bot_health_status", "fleetops_bot_restarts")}
        info = family("fleetops_bot_info", ("container", "currency"))
        states = family("fleetops_bot_state", ("state",))
        health = family("fleetops_bot_health_status", ("status",))
        restarts = CounterMetricFamily("fleetops_bot_restarts", SERIES["fleetops_bot_restarts"], labels=list(bot_labels))
        stake_by_wallet: dict[str, float] = {}
        for bot in snap.bots:
            labels = values(bot)
            f = bot.figures

            def put(name: str, value: float | None, labels: list[str] = labels) -> None:
                if value is not None:
                    gauges[name].add_metric(labels, float(value))

            put("freqtrade_bot_up", 1.0 if f is not None and f.up else 0.0)
            put("freqtrade_bot_state", 1.0 if bot.state == "running" else 0.0)
            put("fleetops_bot_allocation", bot.allocation)
            info.add_metric([*labels, bot.container, bot.currency or ""], 1.0)
            states.add_metric([*labels, bot.state], 1.0)  # the state it is in only: zeros for the others would double the exposition
            if bot.health is not None:
                health.add_metric([*labels, bot.health.status.value], 1.0)
            if f is None:
                continue
            restarts.add_metric(labels, f.restarts)
            put("freqtrade_bot_last_poll_timestamp_seconds", f.fetched_at or None)
            if not f.up:
                continue
            since = f.last_loop if f.last_loop is not None else (f.loop.process_started if f.loop is not None else None)
            put("fleetops_bot_loop_age_seconds", max(0.0, now - since) if since is not None else None)
            put("fleetops_bot_last_loop_timestamp_seconds", f.last_loop)
            put("fleetops_bot_strategy_errors", f.strategy_errors)
            put("freqtrade_bot_open_trades", f.open_trades)
            put("freqtrade_bot_max_open_trades", f.max_open_trades)
            put("fleetops_bot_closed_trades", f.closed_trades)
            put("freqtrade_bot_profit_abs", f.profit)
            put("freqtrade_bot_profit_ratio", f.profit_ratio)
            put("fleetops_bot_profit_realised", f.realised)
            put("fleetops_bot_profit_unrealised", f.unrealised)
            put("freqtrade_bot_balance", f.equity)
            put("fleetops_bot_drawdown_ratio", f.drawdown)
            put("fleetops_bot_stake_used", f.stake_used)
            wallet = snap.bot_wallets.get(bot.name)
            if wallet is not None and f.stake_used is not None:
                stake_by_wallet[wallet] = stake_by_wallet.get(wallet, 0.0) + f.stake_used
        yield from gauges.values()
        yield from (info, states, health, restarts)
        yield from self._containers(snap, fleet, nodes)
        yield from self._wallets(snap, fleet, stake_by_wallet)
        requests = CounterMetricFamily("fleetops_collector_requests", SERIES["fleetops_collector_requests"], labels=["fleet"])
        requests.add_metric([fleet], self.requests())
        yield requests
        taken = GaugeMetricFamily("fleetops_collector_snapshot_timestamp_seconds", SERIES["fleetops_collector_snapshot_timestamp_seconds"],
                                  labels=["fleet"])
        if snap.taken_at:
            taken.add_metric([fleet], snap.taken_at)
        yield taken
        sync_info = GaugeMetricFamily("fleetops_sync_info", SERIES["fleetops_sync_info"],
                                 labels=["fleet", "revision", "commit", "branch_head", "status"])
        sync = self.sync() if self.sync is not None else None
        if sync is not None:
            shown = sync.labels()
            sync_info.add_metric([fleet, shown["revision"], shown["commit"], shown["branch_head"], shown["status"]], 1.0)
        yield sync_info

    def _containers(self, snap: PageSnapshot, fleet: str, nodes: bool) -> Iterator[Metric]:
        labels = (*CONTAINER, "node") if nodes else CONTAINER
        names = ("fleetops_container_memory_bytes", "fleetops_container_memory_limit_bytes", "fleetops_container_cpu_limit_cores")
        gauges = {name: GaugeMetricFamily(name, SERIES[name], labels=list(labels)) for name in names}
        cpu = CounterMetricFamily("fleetops_container_cpu_seconds", SERIES["fleetops_container_cpu_seconds"], labels=list(labels))
        for c in snap.containers:
            shown = [fleet, c.name, c.pool or "", *([c.node or ""] if nodes else [])]
            limits = snap.limits.get(c.name)
            for name, value in (("fleetops_container_memory_bytes", snap.memory.get(c.name)),
                                ("fleetops_container_memory_limit_bytes", limits.memory if limits else None),
                                ("fleetops_container_cpu_limit_cores", limits.cpus if limits else None)):
                if value is not None:
                    gauges[name].add_metric(shown, float(value))
            seconds = snap.cpu.get(c.name)
            if seconds is not None:
                cpu.add_metric(shown, seconds)
        yield from gauges.values()
        yield cpu
        pools = GaugeMetricFamily("fleetops_pool_utilisation_ratio", SERIES["fleetops_pool_utilisation_ratio"], labels=["fleet", "pool"])
        if snap.view is not None:
            members = snap.view.pool_bots
            for pool, capacity in sorted(snap.view.pool_capacity.items()):
                if capacity > 0:
                    pools.add_metric([fleet, pool], members.get(pool, 0) / capacity)
        yield pools

    def _wallets(self, snap: PageSnapshot, fleet: str, stake: dict[str, float]) -> Iterator[Metric]:
        labels = ["fleet", "wallet", "currency"]
        names = ("fleetops_wallet_balance", "fleetops_wallet_reserve", "fleetops_wallet_allocated", "fleetops_wallet_stake_used")
        gauges = {name: GaugeMetricFamily(name, SERIES[name], labels=labels) for name in names}
        for name, wallet in sorted(snap.wallets.items()):
            shown = [fleet, name, wallet.currency]
            gauges["fleetops_wallet_balance"].add_metric(shown, wallet.balance)
            gauges["fleetops_wallet_reserve"].add_metric(shown, wallet.reserve)
            gauges["fleetops_wallet_allocated"].add_metric(shown, snap.allocated.get(name, 0.0))
            gauges["fleetops_wallet_stake_used"].add_metric(shown, stake.get(name, 0.0))
        yield from gauges.values()
