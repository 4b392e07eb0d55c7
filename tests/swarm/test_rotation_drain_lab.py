"""Promises 6 (rotation) and 7 of issue 19 on the real lab, through the CLI (no watcher runs):

- promise 6: rotating a secret restarts only the bots that read it — their neighbours' PIDs, every task ID and
  every service's spec version unchanged, no Swarm config or secret made or changed — and the new value
  reaches those bots' files on their node while appearing in no service, task, config, secret or node
  object, in no log the swarm keeps (the units' and the agents' service logs), and in no plan, apply,
  status or history output;
- promise 7: a pool-wide change (the pool's memory) drains the pool's ``drain`` bot holding a trade first —
  ``stopbuy`` through the agent's relay, the trade closed — and only then updates the service; the plan
  names the open trade, and the apply says the drain before the service update, in that order, as the
  swarm's own timestamps confirm.

The stand-in bot (fleetops/standin-bot:1) holds ``STANDIN_OPEN_TRADES`` trades from its start when its
strategy module says so, and closes them ``STANDIN_CLOSE_AFTER`` seconds after ``stopbuy``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import git
import pytest

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE
from tests.conftest import FREQTRADE_CHECK, ROOT
from tests.support.repos import commit, edit
from tests.support.running_lab import host_client
from tests.support.swarm_fleet import FLEET, SwarmFleet, applied_to_lab

if TYPE_CHECKING:
    from tests.support.swarm_lab import SwarmLab

pytestmark = [pytest.mark.swarm, pytest.mark.docker]

POOL = f"{FLEET}-standard-1"
OLD = {"EX_KEY": "old-key-value-5e1f0c", "EX_OTHER": "other-key-value-9a2b7d"}
NEW = {**OLD, "EX_KEY": "new-key-value-3c8d41"}


@pytest.fixture(scope="module")
def fleet(lab: SwarmLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    """The test fleet, alpha-1 and alpha-2 reading EX_KEY and beta-1 EX_OTHER, applied to a cleared lab swarm."""
    for swarm_fleet in applied_to_lab(lab, tmp_path_factory):
        bots = swarm_fleet.root / "fleet" / "bots.yaml"
        edit(bots, "stoploss: -0.10", "stoploss: -0.10\nsecrets: {exchange_key: 'env:EX_KEY'}")
        edit(bots, "stoploss: -0.08", "stoploss: -0.08\nsecrets: {exchange_key: 'env:EX_KEY'}")
        edit(bots, "stoploss: -0.05", "stoploss: -0.05\nsecrets: {exchange_key: 'env:EX_OTHER'}")
        commit(git.Repo(swarm_fleet.root), "exchange keys for pool standard's bots (a key FreqTrade accepts alone in dry-run)")
        result = swarm_fleet.apply(env=OLD)
        assert result.code == 0, result.out + result.err
        yield swarm_fleet


def on_node(node: str, *command: str) -> str:
    result = host_client().containers.get(node).exec_run(list(command))
    assert result.exit_code == 0, result.output.decode()
    return str(result.output.decode())


def swarm_logs(fleet: SwarmFleet) -> str:
    """Every log the swarm keeps of the fleet's services and agents (``docker service logs``), as the manager serves them."""
    texts = []
    for service in fleet.manager.services.list():
        texts.append(b"".join(service.logs(stdout=True, stderr=True, timestamps=False)).decode(errors="replace"))
    return "\n".join(texts)


def test_rotating_a_secret_restarts_only_the_bots_that_read_it(fleet: SwarmFleet) -> None:
    """(a) Promise 6: EX_KEY's value changes; alpha-1 and alpha-2 (its readers) restart on the new value, beta-1 (EX_OTHER),
    euro-1 and solo keep their processes (solo's is its task); no task, service spec, config or secret of the swarm changes; the value is
    on the node in those bots' secrets files only, and nowhere the swarm or fleetops shows it."""
    node = fleet.node_of(POOL)
    units = (POOL, f"{FLEET}-small-1")  # solo's process is its task's own: an unchanged task says it kept running
    before = {unit: fleet.programs(unit) for unit in units}
    tasks, services, objects = fleet.tasks(), fleet.services(), fleet.swarm_objects()
    secrets_file = f"/var/lib/fleetops/{FLEET}/{POOL}/etc/bots/{{bot}}/secrets.json"
    assert OLD["EX_KEY"] in on_node(node, "cat", secrets_file.format(bot="alpha-1"))

    plan = fleet.run("plan", "--repo", str(fleet.root), env=NEW)
    assert plan.code == 0, plan.out + plan.err
    shown = json.loads(fleet.run("plan", "--repo", str(fleet.root), "--format", "json", env=NEW).out)
    assert sorted((c["address"], c["action"]) for c in shown["changes"]) == [("bot/alpha-1", "reload"), ("bot/alpha-2", "reload")], shown
    assert all(d["after"] == "(secret changed)" for c in shown["changes"] for d in c["diff"] if "secret" in d["path"]), shown

    applied = fleet.apply(env=NEW)
    assert applied.code == 0, applied.out + applied.err
    after = {unit: fleet.programs(unit) for unit in units}
    for bot in ("alpha-1", "alpha-2"):
        assert after[POOL][bot][0] == "RUNNING" and after[POOL][bot][1] != before[POOL][bot][1], (before, after)
    assert after[POOL]["beta-1"] == before[POOL]["beta-1"]
    assert {u: p for u, p in after.items() if u != POOL} == {u: p for u, p in before.items() if u != POOL}
    assert (fleet.tasks(), fleet.services(), fleet.swarm_objects()) == (tasks, services, objects)

    for bot in ("alpha-1", "alpha-2"):
        text = on_node(node, "cat", secrets_file.format(bot=bot))
        assert NEW["EX_KEY"] in text and OLD["EX_KEY"] not in text
    assert NEW["EX_KEY"] not in on_node(node, "cat", secrets_file.format(bot="beta-1"))
    assert int(on_node(node, "stat", "-c", "%a", secrets_file.format(bot="alpha-1")), 8) & 0o077 == 0  # its owner's alone

    manager = fleet.manager
    swarm_side = json.dumps([manager.api.services(), manager.api.tasks(), [c.attrs for c in manager.configs.list()],
                             [s.attrs for s in manager.secrets.list()], [n.attrs for n in manager.nodes.list()]])
    outputs = [plan, applied] + [fleet.run(*args, env=NEW) for args in
                                 (("plan", "--repo", str(fleet.root)), ("status", "--fleet", FLEET), ("history", "--format", "json"))]
    said = "".join(r.out + r.err for r in outputs)
    stored = "".join(p.read_text(errors="replace") for p in fleet.state.rglob("*") if p.is_file() and p.suffix in (".json", ".log", ".db", ""))
    for value in (NEW["EX_KEY"], OLD["EX_KEY"], OLD["EX_OTHER"]):
        assert value not in swarm_side and value not in said and value not in stored
    assert NEW["EX_KEY"] not in swarm_logs(fleet)


def test_a_pool_wide_change_drains_first_then_updates_the_service(fleet: SwarmFleet) -> None:
    """(b) Promise 7: alpha-1 (on_change: drain) holds a trade when pool standard's memory changes. The plan names the trade;
    the apply sends stopbuy to alpha-1 through the agent, waits for the trade to close, and only then updates the service:
    at the moment the apply says it drains, the service's spec is the old one, and Swarm's update starts after the drain."""
    repo = git.Repo(fleet.root)
    strategy = fleet.root / "strategies" / "Alpha.py"
    strategy.write_text(strategy.read_text() + "\nSTANDIN_OPEN_TRADES = 1\nSTANDIN_CLOSE_AFTER = 3\n")
    commit(repo, "Alpha v2: the stand-in holds one trade, closed 3 s after stopbuy", tag="v2")
    edit(fleet.root / "fleet" / "bots.yaml", "strategy: Alpha@v1\npairs: [BTC/USDT, ETH/USDT]",
         "strategy: Alpha@v2\npairs: [BTC/USDT, ETH/USDT]\non_change: drain\ndrain_timeout: 60")
    commit(repo, "alpha-1 on Alpha v2, drained before disruptions")
    result = fleet.apply(env=NEW)
    assert result.code == 0, result.out + result.err

    edit(fleet.root / "fleet" / "pools.yaml", "memory: 1g", "memory: 768m")
    commit(repo, "pool standard: 768m")
    plan = fleet.run("plan", "--repo", str(fleet.root), "--format", "json", env=NEW)
    changes = {c["address"]: c for c in json.loads(plan.out)["changes"]}
    assert changes[f"container/{POOL}"]["action"] == "replace", plan.out
    assert "alpha-1 holds 1 open trade" in json.dumps(changes[f"container/{POOL}"]), plan.out

    version = fleet.services()[POOL]["version"]
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(fleet.state), "NO_COLOR": "1", PLAIN_TCP_VARIABLE: "1", **FREQTRADE_CHECK, **NEW}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "apply", "--repo", str(fleet.root), "--yes"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    seen: dict[str, float] = {}
    for line in proc.stdout:
        line = line.strip()  # the apply indents its progress under the plan
        lines.append(line)
        if line.startswith("draining alpha-1") and "draining" not in seen:
            seen["draining"] = time.time()
            assert fleet.services()[POOL]["version"] == version  # the service is not touched while its bot drains
        elif line.startswith("alpha-1 drained") and "drained" not in seen:
            seen["drained"] = time.time()
    assert proc.wait(timeout=300) == 0, "\n".join(lines)
    said = "\n".join(lines)
    assert set(seen) == {"draining", "drained"}, said
    order = [next(i for i, line in enumerate(lines) if line.startswith(prefix)) for prefix in
             ("draining alpha-1: 1 open trade(s)", "alpha-1 drained: no open trades", f"replacing container {POOL}")]
    assert order == sorted(order), said
    service = fleet.manager.api.inspect_service(POOL)
    assert service["Version"]["Index"] > version and service["Spec"]["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 768 << 20
    started = datetime.fromisoformat(service["UpdateStatus"]["StartedAt"][:26].rstrip("Z") + "+00:00").timestamp()
    assert started >= seen["drained"] - 0.5, (started, seen)  # Swarm began the update only after the drain (0.5 s: line buffering)
    print(f"\ndrain: {seen['drained'] - seen['draining']:.1f} s; Swarm's update began {started - seen['drained']:+.1f} s after it")
    assert {p: s for p, (s, _pid) in fleet.programs(POOL).items()} == dict.fromkeys(("alpha-1", "alpha-2", "beta-1"), "RUNNING")
