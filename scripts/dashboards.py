"""Builds fleetops' Grafana dashboards with grafanalib and writes them as JSON into monitoring/dashboards/.

    .venv/bin/python scripts/dashboards.py    write monitoring/dashboards/*.json (what the package ships)

(scripts/render_dashboards.py draws them, with data from a real Prometheus, for the README.)

Four dashboards over what ``/metrics`` serves (``fleetops serve`` or ``fleetops watch --listen``):
the fleet at a glance, one bot, pools and containers, and GitOps (revisions, commit → healthy,
quarantine, repairs). A Prometheus data source is chosen on import (``datasource`` variable).
tests/test_monitoring.py regenerates them, compares with the checked-in JSON, and checks that
every metric an expression names is in a real exposition. grafanalib is a test dependency, not a
runtime one: the package ships the JSON only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard, GridPos, Stat, Target, Template, Templating, TimeSeries

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "monitoring" / "dashboards"
DS = "${datasource}"
F = 'fleet="$fleet"'
METRIC = re.compile(r"\b((?:fleetops|freqtrade)_[a-z0-9_]+)\b")


def _datasource() -> Template:
    return Template(name="datasource", query="prometheus", type="datasource", label="Data source")


def _var(name: str, query: str, label: str) -> Template:
    return Template(name=name, query=query, dataSource=DS, label=label, refresh=2)


def _targets(*exprs: tuple[str, str]) -> list[Target]:
    return [Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i), datasource=DS) for i, (expr, legend) in enumerate(exprs)]


def stat(title: str, x: int, y: int, *exprs: tuple[str, str], w: int = 4, h: int = 4, unit: str = "none", text: str = "auto") -> Stat:
    return Stat(title=title, dataSource=DS, targets=_targets(*exprs), gridPos=GridPos(h=h, w=w, x=x, y=y), format=unit,
                textMode=text, reduceCalc="lastNotNull", graphMode="none")


def series(title: str, x: int, y: int, *exprs: tuple[str, str], w: int = 12, h: int = 8, unit: str = "none") -> TimeSeries:
    return TimeSeries(title=title, dataSource=DS, targets=_targets(*exprs), gridPos=GridPos(h=h, w=w, x=x, y=y), unit=unit)


def fleet_overview() -> Dashboard:
    return Dashboard(
        title="fleetops: fleet overview", uid="fleetops-fleet", tags=["fleetops"], timezone="utc", refresh="30s",
        templating=Templating([_datasource(), _var("fleet", "label_values(freqtrade_bot_up, fleet)", "Fleet")]),
        panels=[
            stat("Bots up", 0, 0, (f"sum(freqtrade_bot_up{{{F}}})", "up")),
            stat("Failing bots", 4, 0, (f'sum(fleetops_bot_state{{{F},state="failing"}}) or vector(0)', "failing")),
            stat("Open trades", 8, 0, (f"sum(freqtrade_bot_open_trades{{{F}}})", "open")),
            stat("Profit (stake currency)", 12, 0, (f"sum(freqtrade_bot_profit_abs{{{F}}})", "profit")),
            stat("Equity (stake currency)", 16, 0, (f"sum(freqtrade_bot_balance{{{F}}})", "equity")),
            stat("Sync", 20, 0, (f"fleetops_sync_info{{{F}}} == 1", "{{status}}"), text="name"),
            series("Bots by state", 0, 4, (f"sum by (state) (fleetops_bot_state{{{F}}})", "{{state}}")),
            series("Bots by health", 12, 4, (f"sum by (status) (fleetops_bot_health_status{{{F}}})", "{{status}}")),
            series("Profit per bot", 0, 12, (f"freqtrade_bot_profit_abs{{{F}}}", "{{bot}}")),
            series("Trading loop age per bot", 12, 12, (f"fleetops_bot_loop_age_seconds{{{F}}}", "{{bot}}"), unit="s"),
            series("Strategy errors per bot", 0, 20, (f"fleetops_bot_strategy_errors{{{F}}}", "{{bot}}")),
            series("Drawdown per bot", 12, 20, (f"fleetops_bot_drawdown_ratio{{{F}}}", "{{bot}}"), unit="percentunit"),
            series("Wallets: allocated, in trades, free", 0, 28,
                   (f"fleetops_wallet_allocated{{{F}}}", "{{wallet}} allocated"), (f"fleetops_wallet_stake_used{{{F}}}", "{{wallet}} in trades"),
                   (f"fleetops_wallet_balance{{{F}}} - fleetops_wallet_reserve{{{F}}}", "{{wallet}} balance less reserve"), w=24),
        ],
    ).auto_panel_ids()


def one_bot() -> Dashboard:
    b = f'{F},bot="$bot"'
    info = f'fleetops_bot_info{{{b}}}'
    return Dashboard(
        title="fleetops: one bot", uid="fleetops-bot", tags=["fleetops"], timezone="utc", refresh="30s",
        templating=Templating([_datasource(), _var("fleet", "label_values(freqtrade_bot_up, fleet)", "Fleet"),
                               _var("bot", f"label_values(freqtrade_bot_up{{{F}}}, bot)", "Bot")]),
        panels=[
            stat("Up", 0, 0, (f"freqtrade_bot_up{{{b}}}", "up")),
            stat("State", 4, 0, (f"fleetops_bot_state{{{b}}} == 1", "{{state}}"), text="name"),
            stat("Health", 8, 0, (f"fleetops_bot_health_status{{{b}}} == 1", "{{status}}"), text="name"),
            stat("Loop age", 12, 0, (f"fleetops_bot_loop_age_seconds{{{b}}}", "age"), unit="s"),
            stat("Open / max trades", 16, 0, (f"freqtrade_bot_open_trades{{{b}}}", "open"), (f"freqtrade_bot_max_open_trades{{{b}}}", "max")),
            stat("Restarts (1 h)", 20, 0, (f"increase(fleetops_bot_restarts_total{{{b}}}[1h])", "restarts")),
            series("Profit", 0, 4, (f"freqtrade_bot_profit_abs{{{b}}}", "all"), (f"fleetops_bot_profit_realised{{{b}}}", "realised"),
                   (f"fleetops_bot_profit_unrealised{{{b}}}", "unrealised")),
            series("Equity", 12, 4, (f"freqtrade_bot_balance{{{b}}}", "equity")),
            series("Stake in trades vs allocation", 0, 12, (f"fleetops_bot_stake_used{{{b}}}", "in trades"),
                   (f"fleetops_bot_allocation{{{b}}}", "allocation")),
            series("Drawdown", 12, 12, (f"fleetops_bot_drawdown_ratio{{{b}}}", "drawdown"), unit="percentunit"),
            series("Trades", 0, 20, (f"freqtrade_bot_open_trades{{{b}}}", "open"), (f"fleetops_bot_closed_trades{{{b}}}", "closed")),
            series("Strategy errors and loop age", 12, 20, (f"fleetops_bot_strategy_errors{{{b}}}", "strategy errors"),
                   (f"fleetops_bot_loop_age_seconds{{{b}}}", "loop age (s)")),
            series("Container memory vs limit", 0, 28,
                   (f"fleetops_container_memory_bytes * on(fleet, container) group_left(bot) {info}", "{{container}} used"),
                   (f"fleetops_container_memory_limit_bytes * on(fleet, container) group_left(bot) {info}", "{{container}} limit"), unit="bytes"),
            series("Container CPU vs limit", 12, 28,
                   (f"rate(fleetops_container_cpu_seconds_total[2m]) * on(fleet, container) group_left(bot) {info}", "{{container}} used"),
                   (f"fleetops_container_cpu_limit_cores * on(fleet, container) group_left(bot) {info}", "{{container}} limit")),
        ],
    ).auto_panel_ids()


def pools() -> Dashboard:
    return Dashboard(
        title="fleetops: pools and containers", uid="fleetops-pools", tags=["fleetops"], timezone="utc", refresh="30s",
        templating=Templating([_datasource(), _var("fleet", "label_values(freqtrade_bot_up, fleet)", "Fleet")]),
        panels=[
            series("Pool utilisation (bots / slots)", 0, 0, (f"fleetops_pool_utilisation_ratio{{{F}}}", "{{pool}}"), unit="percentunit"),
            series("Pool bots and slots (watcher)", 12, 0, ("fleetops_pool_bots", "{{pool}} bots"), ("fleetops_pool_capacity", "{{pool}} slots")),
            series("Container memory / limit", 0, 8,
                   (f"fleetops_container_memory_bytes{{{F}}} / fleetops_container_memory_limit_bytes{{{F}}}", "{{container}}"), unit="percentunit"),
            series("Container memory", 12, 8, (f"fleetops_container_memory_bytes{{{F}}}", "{{container}}"), unit="bytes"),
            series("Container CPU / limit", 0, 16,
                   (f"rate(fleetops_container_cpu_seconds_total{{{F}}}[2m]) / fleetops_container_cpu_limit_cores{{{F}}}", "{{container}}"),
                   unit="percentunit"),
            series("Container CPU (CPUs)", 12, 16, (f"rate(fleetops_container_cpu_seconds_total{{{F}}}[2m])", "{{container}}")),
            series("Bots per node (a swarm)", 0, 24, ("sum by (node) (fleetops_node_bots)", "{{node}}"), w=24),
        ],
    ).auto_panel_ids()


def gitops() -> Dashboard:
    return Dashboard(
        title="fleetops: GitOps", uid="fleetops-gitops", tags=["fleetops"], timezone="utc", refresh="30s",
        templating=Templating([_datasource(), _var("fleet", "label_values(freqtrade_bot_up, fleet)", "Fleet")]),
        panels=[
            stat("Revision", 0, 0, ("fleetops_revision", "revision")),
            stat("Sync", 4, 0, (f"fleetops_sync_info{{{F}}} == 1", "{{status}}"), text="name"),
            stat("Commit → branch head", 8, 0, (f"fleetops_sync_info{{{F}}} == 1", "{{commit}} → {{branch_head}}"), w=8, text="name"),
            stat("Quarantined commits", 16, 0, ("fleetops_quarantined_commits", "quarantined")),
            stat("Last fetch", 20, 0, ("time() - fleetops_last_fetch_timestamp_seconds", "age"), unit="s"),
            series("Applies by result (1 h)", 0, 4, ("sum by (result) (increase(fleetops_applies_total[1h]))", "{{result}}")),
            series("Commit → healthy", 12, 4,
                   ("histogram_quantile(0.5, sum by (le) (rate(fleetops_commit_to_healthy_seconds_bucket[1h])))", "p50"),
                   ("histogram_quantile(0.95, sum by (le) (rate(fleetops_commit_to_healthy_seconds_bucket[1h])))", "p95"), unit="s"),
            series("Apply duration", 0, 12,
                   ("histogram_quantile(0.95, sum by (le) (rate(fleetops_apply_duration_seconds_bucket[1h])))", "p95"),
                   ("rate(fleetops_apply_duration_seconds_sum[1h]) / rate(fleetops_apply_duration_seconds_count[1h])", "mean"), unit="s"),
            series("Quarantines by reason (1 h)", 12, 12, ("sum by (reason) (increase(fleetops_quarantines_total[1h]))", "{{reason}}")),
            series("Self-heal repairs by kind (1 h)", 0, 20, ("sum by (kind) (increase(fleetops_repairs_total[1h]))", "{{kind}}")),
            series("Bot restarts (1 h)", 12, 20, (f"sum by (bot) (increase(fleetops_bot_restarts_total{{{F}}}[1h]))", "{{bot}}")),
            series("Fetch errors (1 h)", 0, 28, ("increase(fleetops_fetch_errors_total[1h])", "errors"), w=24),
        ],
    ).auto_panel_ids()


DASHBOARDS = {"fleet.json": fleet_overview, "bot.json": one_bot, "pools.json": pools, "gitops.json": gitops}


def build() -> dict[str, str]:
    """File name → the dashboard's JSON text, as written to monitoring/dashboards/."""
    return {name: json.dumps(make().to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2) + "\n" for name, make in DASHBOARDS.items()}


def expressions(document: dict[str, Any]) -> list[str]:
    """Every PromQL expression a dashboard's panels and variables evaluate."""
    exprs = [t["expr"] for p in document.get("panels", []) for t in p.get("targets", []) if t.get("expr")]
    return exprs + [v["query"] for v in document.get("templating", {}).get("list", []) if v.get("type") == "query"]


def main(argv: list[str]) -> int:
    texts = build()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (OUT / name).write_text(text)
    print(f"wrote {', '.join(sorted(texts))} to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
