"""A plan shows every change: each field of each kind, changed alone, is named by the plan.

The cases are checked against the spec models themselves, so a new field without a case here
fails this test; a field whose change the plan would hide ("No changes") fails it too.
"""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from engine.offline import offline_plan
from engine.spec.models import KIND_MODELS
from tests.support.repos import edit

FLEET = "fleet/fleet.yaml"
MONEY = "fleet/money.yaml"
POOLS = "fleet/pools.yaml"
BOTS = "fleet/bots.yaml"
REGISTRY = "registry: '10.0.0.5:5000'"
ALPHA_2 = "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]"

# (kind, field) → edits [(file, old, new)], the address and the diff path the plan must show.
CASES: dict[tuple[str, str], tuple[list[tuple[str, str, str]], str, str]] = {
    ("Fleet", "defaults.image"): ([(FLEET, "image: fleetops/standin-bot:1", "image: fleetops/standin-bot:2")], "fleet/testfleet", "image"),
    ("Fleet", "defaults.bot_command"): ([(FLEET, "standin-bot trade", "standin-bot webserver")], "fleet/testfleet", "bot_command"),
    ("Fleet", "defaults.exchange"): ([(FLEET, "defaults:\n", "defaults:\n  exchange: kraken\n")], "fleet/testfleet", "exchange"),
    ("Fleet", "defaults.timeframe"): ([(FLEET, "defaults:\n", "defaults:\n  timeframe: 1h\n")], "fleet/testfleet", "timeframe"),
    ("Fleet", "defaults.exchange_url"): ([(FLEET, "defaults:\n", "defaults:\n  exchange_url: http://172.17.0.1:9100\n"),
                                          (BOTS, "exchange: kraken", "exchange: binance")], "fleet/testfleet", "exchange_url"),
    ("Fleet", "defaults.drain_timeout"): ([(FLEET, "defaults:\n", "defaults:\n  drain_timeout: 60\n")], "fleet/testfleet", "drain_timeout"),
    ("Fleet", "defaults.run_as"): ([(FLEET, "defaults:\n", "defaults:\n  run_as: ftuser\n")], "fleet/testfleet", "run_as"),
    ("Fleet", "defaults.memory"): ([(FLEET, "defaults:\n", "defaults:\n  memory: 512m\n")], "fleet/testfleet", "memory"),
    ("Fleet", "health.check"): ([(FLEET, "health:\n", "health:\n  check: ping\n")], "fleet/testfleet", "health.check"),
    ("Fleet", "health.timeout_seconds"): ([(FLEET, "timeout_seconds: 30", "timeout_seconds: 31")], "fleet/testfleet", "health.timeout_seconds"),
    ("Fleet", "health.rollback"): ([(FLEET, "health:\n", "health:\n  rollback: off\n")], "fleet/testfleet", "health.rollback"),
    ("Fleet", "notify"): ([(FLEET, "health:\n", "notify: [{url: 'https://hooks.example.com/x'}]\nhealth:\n")], "fleet/testfleet", "notify"),
    ("Fleet", "backend.kind"): ([(FLEET, "health:\n", f"backend: {{kind: swarm, {REGISTRY}}}\nhealth:\n")], "fleet/testfleet", "backend.kind"),
    ("Fleet", "backend.manager"): ([(FLEET, "health:\n", f"backend: {{kind: swarm, {REGISTRY}, manager: 'tcp://10.0.0.5:2376'}}\nhealth:\n")],
                                   "fleet/testfleet", "backend.manager"),
    ("Fleet", "backend.registry"): ([(FLEET, "health:\n", f"backend: {{kind: swarm, {REGISTRY}}}\nhealth:\n")], "fleet/testfleet", "backend.registry"),
    ("Fleet", "backend.controller"): ([(FLEET, "health:\n", f"backend: {{kind: swarm, {REGISTRY}, controller: 'http://10.0.0.5:9400'}}\nhealth:\n")],
                                      "fleet/testfleet", "backend.controller"),
    ("Fleet", "backend.exchange_budget"): ([(FLEET, "health:\n", f"backend: {{kind: swarm, {REGISTRY}, exchange_budget: {{binance: 4}}}}\nhealth:\n")],
                                           "fleet/testfleet", "backend.exchange_budget.binance"),
    ("Wallet", "currency"): ([(MONEY, "currency: EUR", "currency: USD"), (BOTS, "pairs: [BTC/EUR]", "pairs: [BTC/USD]")], "wallet/euro", "currency"),
    ("Wallet", "balance"): ([(MONEY, "balance: 3000", "balance: 3100")], "wallet/euro", "balance"),
    ("Wallet", "reserve"): ([(MONEY, "balance: 3000", "balance: 3000\nreserve: 10")], "wallet/euro", "reserve"),
    ("Pool", "capacity"): ([(POOLS, "capacity: 3", "capacity: 4")], "pool/standard", "capacity"),
    ("Pool", "memory"): ([(POOLS, "memory: 1g", "memory: 2g")], "pool/standard", "memory"),
    ("Pool", "cpus"): ([(POOLS, "cpus: 1.0", "cpus: 2.0")], "pool/standard", "cpus"),
    ("Pool", "preload"): ([(POOLS, "capacity: 2", "capacity: 2\npreload: true")], "pool/small", "preload"),
    ("Pool", "run_as"): ([(POOLS, "capacity: 2", "capacity: 2\nrun_as: 1001")], "pool/small", "run_as"),
    ("Pool", "image"): ([(POOLS, "capacity: 2", "capacity: 2\nimage: fleetops/standin-bot:2")], "pool/small", "image"),
    ("Pool", "placement"): ([(POOLS, "capacity: 2", "capacity: 2\nplacement: ['node.labels.zone == eu']")], "pool/small", "placement"),
    ("Bot", "wallet"): ([(BOTS, "name: solo\nwallet: main", "name: solo\nwallet: euro"), (BOTS, "pairs: [ETH/USDT]", "pairs: [ETH/EUR]")], "bot/solo", "wallet"),
    ("Bot", "allocation"): ([(BOTS, "allocation: 500", "allocation: 501")], "bot/solo", "allocation"),
    ("Bot", "pool"): ([(BOTS, ALPHA_2, ALPHA_2.replace("pool: standard", "pool: small"))], "bot/alpha-2", "pool"),
    ("Bot", "strategy"): ([(BOTS, ALPHA_2, ALPHA_2.replace("Alpha@v1", "Beta@v1"))], "bot/alpha-2", "strategy"),
    ("Bot", "pairs"): ([(BOTS, "pairs: [SOL/USDT]", "pairs: [SOL/USDT, XRP/USDT]")], "bot/alpha-2", "pairs"),
    ("Bot", "timeframe"): ([(BOTS, "timeframe: 1h", "timeframe: 4h")], "bot/beta-1", "timeframe"),
    ("Bot", "exchange"): ([(BOTS, "exchange: kraken", "exchange: bitstamp")], "bot/euro-1", "exchange"),
    ("Bot", "exchange_url"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nexchange_url: http://localhost:9100")], "bot/solo", "exchange_url"),
    ("Bot", "on_change"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\non_change: drain")], "bot/solo", "on_change"),
    ("Bot", "drain_timeout"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\ndrain_timeout: 120")], "bot/solo", "drain_timeout"),
    ("Bot", "max_open_trades"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nmax_open_trades: 4")], "bot/solo", "max_open_trades"),
    ("Bot", "stake_amount"): ([(BOTS, "stake_amount: 50", "stake_amount: 51")], "bot/solo", "stake_amount"),
    ("Bot", "stoploss"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.14")], "bot/solo", "stoploss"),
    ("Bot", "minimal_roi"): ([(BOTS, '{"0": 0.04, "30": 0.02}', '{"0": 0.04, "30": 0.03}')], "bot/alpha-1", "minimal_roi"),
    ("Bot", "trailing_stop.enabled"): ([(BOTS, "trailing_stop: {enabled: true", "trailing_stop: {enabled: false")], "bot/alpha-2", "trailing_stop.enabled"),
    ("Bot", "trailing_stop.positive"): ([(BOTS, "positive: 0.01", "positive: 0.015")], "bot/alpha-2", "trailing_stop.positive"),
    ("Bot", "trailing_stop.offset"): ([(BOTS, "offset: 0.02", "offset: 0.03")], "bot/alpha-2", "trailing_stop.offset"),
    ("Bot", "trailing_stop.only_offset_is_reached"): ([(BOTS, "offset: 0.02}", "offset: 0.02, only_offset_is_reached: true}")],
                                                      "bot/alpha-2", "trailing_stop.only_offset_is_reached"),
    ("Bot", "dry_run"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")],
                         "bot/solo", "dry_run"),
    ("Bot", "enabled"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nenabled: false")], "bot/solo", "enabled"),
    ("Bot", "secrets"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nsecrets: {telegram_token: 'env:TG'}")], "bot/solo", "secrets.telegram_token"),
    ("Bot", "order_types"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\norder_types: {entry: market}")], "bot/solo", "order_types.entry"),
    ("Bot", "entry_pricing"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nentry_pricing: {price_side: ask}")], "bot/solo",
                              "entry_pricing.price_side"),
    ("Bot", "exit_pricing"): ([(BOTS, "stoploss: -0.15", "stoploss: -0.15\nexit_pricing: {use_order_book: true}")], "bot/solo",
                             "exit_pricing.use_order_book"),
    ("Bot", "freqtrade"): ([(BOTS, "process_only_new_candles: true", "process_only_new_candles: false")], "bot/euro-1",
                           "freqtrade.process_only_new_candles"),
}


def model_fields(kind: str) -> set[str]:
    """Every settable field of a kind, nested blocks expanded where the plan diffs them one by one."""
    model = KIND_MODELS[kind]
    fields = set()
    for name, info in model.model_fields.items():
        if name in ("kind", "name"):
            continue
        options = getattr(info.annotation, "__args__", (info.annotation,)) if "list" not in str(info.annotation) else ()
        nested = next((a for a in options if hasattr(a, "model_fields")), None)
        if nested is not None and (kind == "Fleet" or name == "trailing_stop"):
            fields |= {f"{name}.{sub}" for sub in nested.model_fields}
        else:
            fields.add(name)
    return fields


NO_CHANGE_TO_SHOW: set[tuple[str, str]] = set()
"""Fields no plan can change (one valid value): none since ``backend.kind`` took ``swarm`` too."""


def test_every_field_of_every_kind_has_a_case() -> None:
    for kind in KIND_MODELS:
        covered = {field for k, field in CASES if k == kind} | {field for k, field in NO_CHANGE_TO_SHOW if k == kind}
        assert model_fields(kind) == covered, f"{kind}: fields without a plan case: {model_fields(kind) - covered}"


@pytest.mark.parametrize("case", sorted(CASES), ids=[f"{k}.{f}" for k, f in sorted(CASES)])
def test_changing_one_field_is_named_by_the_plan(case: tuple[str, str], base_repo: git.Repo) -> None:
    edits, address, path = CASES[case]
    root = Path(base_repo.working_dir)
    for rel, old, new in edits:
        edit(root / rel, old, new)
    plan = offline_plan(root, None, "HEAD")
    named = {(c.address, d.path) for c in plan.changes for d in c.diff}
    assert (address, path) in named, f"plan names only {sorted(named)}"
