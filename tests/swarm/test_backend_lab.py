"""The swarm backend end to end on the real lab (3 Docker-in-Docker nodes and a registry): the CLI plans
and applies the test fleet (pools ``standard`` and ``small``, dedicated bot ``solo``; the stand-in
image pushed to the lab registry by the manager) with ``backend: kind: swarm``, its node agents
created by the first apply and served by the CLI's own server for the agents (no watcher runs).

What each test proves, on services, tasks and processes read from the lab itself (not from fleetops):
- the fleet runs: every bot running on a node, each unit a service pinned to one node by digest;
- promise 1: a one-bot change restarts exactly that bot's process — its neighbours' PIDs, the
  pool's task ID and the service's spec version unchanged;
- promise 2: a no-op apply, twice, changes no task, service spec, config or secret.

The node setup a user does once (README): ``mkdir -p /var/lib/fleetops`` on every node.
"""

from __future__ import annotations

import json
import re

import git
import pytest

from tests.support.repos import commit, edit
from tests.support.swarm_fleet import FLEET, SwarmFleet

pytestmark = [pytest.mark.swarm, pytest.mark.docker]


def test_apply_runs_every_bot_on_a_node(fleet: SwarmFleet) -> None:
    """(a) A cold apply on the swarm: each unit a service pinned to one node and run by registry digest, every bot running."""
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    services = fleet.services()
    assert set(services) == {"testfleet-standard-1", "testfleet-small-1", "testfleet-bot-solo"}
    for name, service in services.items():
        assert re.fullmatch(rf"{re.escape(fleet.lab.registry)}/fleetops/standin-bot@sha256:[0-9a-f]{{64}}", service["image"]), name
        assert [c for c in service["constraints"] if c.startswith("node.id == ")], name
    nodes = {name: fleet.node_of(name) for name in services}
    assert len(set(nodes.values())) >= 2, nodes
    for name, node in nodes.items():  # the plan showed where each unit goes: where it runs
        assert re.search(rf"container/{name} create  \([^)\n]*; on node {node}\)", result.out), result.out
    assert {p: s for p, (s, _pid) in fleet.programs("testfleet-standard-1").items()} == \
        {"alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    status = fleet.status()
    assert {c["name"]: c.get("node") for c in status["containers"]} == nodes
    assert {b["name"]: b["state"] for c in status["containers"] for b in c["bots"]} == \
        dict.fromkeys(("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"), "running")


def test_one_bot_change_restarts_only_that_process(fleet: SwarmFleet) -> None:
    """(b) Promise 1: a new stoploss for alpha-1 restarts alpha-1's process alone: alpha-2's and beta-1's
    PIDs, the pool's task and its service's spec version are unchanged."""
    pool = "testfleet-standard-1"
    before, tasks, services = fleet.programs(pool), fleet.tasks(), fleet.services()
    edit(fleet.root / "fleet" / "bots.yaml", "stoploss: -0.10", "stoploss: -0.11")
    commit(git.Repo(fleet.root), "alpha-1: a tighter stoploss")
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    after = fleet.programs(pool)
    assert after["alpha-1"][1] != before["alpha-1"][1] and after["alpha-1"][0] == "RUNNING", (before, after)
    assert {b: after[b] for b in ("alpha-2", "beta-1")} == {b: before[b] for b in ("alpha-2", "beta-1")}
    assert fleet.tasks() == tasks
    assert fleet.services() == services


def test_noop_apply_twice_changes_nothing_on_the_swarm(fleet: SwarmFleet) -> None:
    """(c) Promise 2: two applies with nothing to do change no task, service spec, config or secret."""
    before = (fleet.tasks(), fleet.services(), fleet.swarm_objects())
    for _ in range(2):
        result = fleet.apply()
        assert result.code == 0, result.out + result.err
        assert "No changes" in result.out, result.out
        assert (fleet.tasks(), fleet.services(), fleet.swarm_objects()) == before


def test_a_failed_health_check_rolls_back_and_exits_3(fleet: SwarmFleet) -> None:
    """(d) Promise 5: a strategy that raises on every candle fails alpha-2's health check on its node; the apply rolls
    back to the revision before and exits 3; alpha-2 runs again, its neighbours untouched, no task replaced."""
    pool = "testfleet-standard-1"
    repo = git.Repo(fleet.root)
    before, tasks = fleet.programs(pool), fleet.tasks()
    (fleet.root / "strategies/Alpha.py").write_text((fleet.root / "strategies/Alpha.py").read_text()
                                                    + "\nSTANDIN_LOOP_ERROR = \"RuntimeError('broken')\"\n")
    commit(repo, "Alpha v3, raises on every candle (it loads: the plan's load check passes)", tag="v3")
    edit(fleet.root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    commit(repo, "alpha-2 on Alpha v3")
    result = fleet.apply()
    assert result.code == 3, result.out + result.err
    assert "rolled back to revision" in result.err
    after = fleet.programs(pool)
    assert after["alpha-2"][0] == "RUNNING" and after["alpha-2"][1] != before["alpha-2"][1]
    assert {b: after[b] for b in ("alpha-1", "beta-1")} == {b: before[b] for b in ("alpha-1", "beta-1")}
    assert fleet.tasks() == tasks
    history = json.loads(fleet.run("history", "--format", "json").out)
    assert history[-1]["status"] == "rolled_back", history[-1]
    edit(fleet.root / "fleet/bots.yaml", "strategy: Alpha@v3\npairs: [SOL/USDT]", "strategy: Alpha@v1\npairs: [SOL/USDT]")
    commit(repo, "alpha-2 back on Alpha v1")  # what runs: the next tests start from a fleet with nothing to do


def test_a_fleet_over_its_exchange_budget_is_refused_at_the_budget_it_breaks(fleet: SwarmFleet) -> None:
    """(e) Placement on the live plan: a budget of 2 binance bots per node cannot hold pool standard's unit of 3;
    the plan fails with a located error at the budget's value and changes nothing on the swarm."""
    fleet_yaml = fleet.root / "fleet" / "fleet.yaml"
    kept = fleet_yaml.read_text()
    before = (fleet.tasks(), fleet.services())
    fleet_yaml.write_text(kept.replace("backend:\n", "backend:\n  exchange_budget: {binance: 2}\n"))
    try:
        result = fleet.run("plan", "--repo", str(fleet.root))
    finally:
        fleet_yaml.write_text(kept)
    assert result.code == 1
    line = next(n for n, text in enumerate(kept.replace("backend:\n", "backend:\n  exchange_budget: {binance: 2}\n").splitlines(), 1)
                if "exchange_budget" in text)
    assert re.search(rf"^fleet/fleet\.yaml:{line}:\d+: error: unit testfleet-standard-1 runs 3 binance bots, more than exchange_budget "
                     r"allows on one node \(binance: 2\)", result.err, re.M), result.err
    assert (fleet.tasks(), fleet.services()) == before


def test_a_pool_wide_change_updates_the_service_in_place_on_its_node(fleet: SwarmFleet) -> None:
    """(f) A pool-wide change (pool standard's memory limit) is one service update, not remove + create: the service
    keeps its ID and node, Swarm replaces its one task (stop-first) with the new limit, every bot runs again; the
    other units' services and tasks are untouched."""
    pool = "testfleet-standard-1"
    services, tasks, node = fleet.services(), fleet.tasks(), fleet.node_of(pool)
    edit(fleet.root / "fleet" / "pools.yaml", "memory: 1g", "memory: 768m")
    commit(git.Repo(fleet.root), "pool standard: 768m")
    result = fleet.apply()
    assert result.code == 0, result.out + result.err
    after = fleet.services()
    assert after[pool]["id"] == services[pool]["id"] and after[pool]["version"] > services[pool]["version"]
    assert fleet.manager.api.inspect_service(pool)["Spec"]["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 768 << 20
    assert fleet.tasks()[pool] != tasks[pool] and fleet.node_of(pool) == node
    assert {p: s for p, (s, _pid) in fleet.programs(pool).items()} == {"alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    assert {n: s for n, s in after.items() if n != pool} == {n: s for n, s in services.items() if n != pool}
    assert {n: t for n, t in fleet.tasks().items() if n != pool} == {n: t for n, t in tasks.items() if n != pool}


def test_no_secret_is_in_any_service_task_config_or_output(fleet: SwarmFleet) -> None:
    """(g) Promise 6, in part: the bots' API credentials (secrets.json, written by the agents on the nodes) and the
    agents' own credentials (Swarm secrets) appear in no service or task spec, label, config, Swarm object or CLI output."""
    from engine.live.botapi import read_key
    from engine.live.secrets import api_credentials

    key = read_key(fleet.state)
    assert key is not None
    values = [api_credentials(key, FLEET, bot)[field] for bot in ("alpha-1", "alpha-2", "beta-1", "euro-1", "solo")
              for field in ("password", "jwt_secret_key")]
    values += [path.read_text().strip() for path in (fleet.state / "swarm" / FLEET / "agents").glob("*.key")]
    assert len(values) == 13 and all(len(v) >= 32 for v in values)
    manager = fleet.manager
    swarm_side = json.dumps([manager.api.services(), manager.api.tasks(), [c.attrs for c in manager.configs.list()],
                             [s.attrs for s in manager.secrets.list()], [n.attrs for n in manager.nodes.list()]])
    outputs = [fleet.run(*args) for args in (("plan", "--repo", str(fleet.root)), ("status", "--fleet", FLEET), ("history",))]
    said = "".join(r.out + r.err for r in outputs)
    assert [v for v in values if v in swarm_side or v in said] == []
