"""Placement of units on nodes (``engine.backend.swarm.placement``): deterministic, sticky, within the
exchange budgets, and an unplaceable fleet is a located error. Properties over generated swarms and
fleets (hypothesis), then the operator's cases one by one."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import git
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backend.swarm.placement import Demand, Node, matches, place, problems
from engine.spec.constraints import parse_constraint
from engine.spec.load import load_fleet
from tests.support.repos import edit

EU = ("node.labels.zone == eu",)


@st.composite
def swarms(draw: st.DrawFn) -> tuple[list[Node], list[Demand], dict[str, int]]:
    nodes = [Node(f"id{i}", f"host{i}", labels={"zone": draw(st.sampled_from(["eu", "us"]))},
                  availability=draw(st.sampled_from(["active"] * 4 + ["pause", "drain"])),
                  state=draw(st.sampled_from(["ready"] * 4 + ["down"])))
             for i in range(draw(st.integers(1, 5)))]
    demands = []
    for i in range(draw(st.integers(0, 12))):
        pool = draw(st.sampled_from(["eu-pool", "any", None]))
        exchanges = {e: n for e in ("binance", "kraken") if (n := draw(st.integers(0, 3)))} or {"binance": 1}
        demands.append(Demand(f"u{i:02d}", pool, EU if pool == "eu-pool" else (), exchanges,
                              draw(st.sampled_from([None, *[n.id for n in nodes]]))))
    budget = {"binance": draw(st.integers(1, 6))}
    return nodes, demands, budget


@given(swarms(), st.randoms(use_true_random=False), st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_same_swarm_and_fleet_give_the_same_placement_in_any_order(case: tuple[list[Node], list[Demand], dict[str, int]],
                                                                        shuffler: random.Random, rebalance: bool) -> None:
    nodes, demands, budget = case
    shuffled_nodes, shuffled_demands = nodes[:], demands[:]
    shuffler.shuffle(shuffled_nodes)
    shuffler.shuffle(shuffled_demands)
    assert place(shuffled_demands, shuffled_nodes, budget, fleet="f", rebalance=rebalance) == place(demands, nodes, budget, fleet="f",
                                                                                                     rebalance=rebalance)


@given(swarms(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_every_unit_is_placed_within_budget_on_a_node_that_may_take_it_or_said_unplaceable(
        case: tuple[list[Node], list[Demand], dict[str, int]], rebalance: bool) -> None:
    nodes, demands, budget = case
    result = place(demands, nodes, budget, fleet="f", rebalance=rebalance)
    by_id = {n.id: n for n in nodes}
    assert sorted([*result.nodes, *(u.unit for u in result.unplaced)]) == sorted(d.unit for d in demands)
    load: dict[str, Counter[str]] = {n.id: Counter() for n in nodes}
    for demand in demands:
        if demand.unit not in result.nodes:
            continue
        node = by_id[result.nodes[demand.unit]]
        load[node.id].update(demand.exchanges)
        if node.id == demand.prior and node.state != "ready":
            continue  # unreachable: kept, whatever else holds (no other unit is added to it)
        assert matches(node, [parse_constraint(c) for c in demand.constraints])
        if node.id == demand.prior and not rebalance:
            assert node.availability == "active"  # a paused or drained node's units leave it
        else:
            assert node.takes_new
    for node_id, counts in load.items():
        if by_id[node_id].state == "ready":
            assert all(counts[exchange] <= limit for exchange, limit in budget.items())


@given(swarms())
@settings(max_examples=300, deadline=None)
def test_adding_a_node_moves_nothing_unless_asked(case: tuple[list[Node], list[Demand], dict[str, int]]) -> None:
    nodes, demands, budget = case
    first = place([Demand(d.unit, d.pool, d.constraints, d.exchanges) for d in demands], nodes, budget, fleet="f")
    running = [Demand(d.unit, d.pool, d.constraints, d.exchanges, first.nodes.get(d.unit)) for d in demands]
    grown = place(running, [*nodes, Node("id9", "host9", labels={"zone": "eu"})], budget, fleet="f")
    assert {u: grown.nodes[u] for u in first.nodes} == first.nodes and grown.moved == {}
    assert set(grown.nodes) >= set(first.nodes)  # a unit nothing could take before may fit the new node now


def test_new_units_spread_by_load_and_a_rebalance_evens_out_only_when_asked() -> None:
    nodes = [Node("a", "node-a"), Node("b", "node-b")]
    demands = [Demand(f"u{i}", "p", (), {"binance": 1}, "a") for i in range(4)]
    assert place(demands, nodes, {}, fleet="f").nodes == dict.fromkeys(["u0", "u1", "u2", "u3"], "a")
    rebalanced = place(demands, nodes, {}, fleet="f", rebalance=True)
    assert Counter(rebalanced.nodes.values()) == {"a": 2, "b": 2}
    assert rebalanced.moved == {u: ("a", "b") for u, n in rebalanced.nodes.items() if n == "b"}
    fresh = place([Demand(f"n{i}", "p", (), {"binance": 1 + i}) for i in range(3)], nodes, {}, fleet="f")
    assert fresh.nodes == {"n0": "b", "n1": "b", "n2": "a"}  # most bots first onto the emptiest node, then the next


def test_a_drained_or_paused_node_moves_its_units_a_down_node_keeps_them_and_a_removed_node_frees_them() -> None:
    demand = Demand("u", "p", (), {"binance": 1}, "a")
    other = Node("b", "node-b")
    for availability in ("drain", "pause"):
        assert place([demand], [Node("a", "node-a", availability=availability), other], {}, fleet="f").moved == {"u": ("a", "b")}
    for down in (Node("a", "node-a", state="down"), Node("a", "node-a", state="down", availability="drain")):
        for rebalance in (False, True):
            kept = place([demand], [down, other], {}, fleet="f", rebalance=rebalance)
            assert kept.nodes == {"u": "a"} and kept.moved == {}  # unreachable: nothing replaces it elsewhere
    assert place([demand], [other], {}, fleet="f").moved == {"u": ("a", "b")}


def test_budgets_move_the_excess_when_lowered_and_bound_every_node() -> None:
    nodes = [Node("a", "node-a"), Node("b", "node-b")]
    demands = [Demand(f"u{i}", None, (), {"binance": 1}, "a") for i in range(3)]
    result = place(demands, nodes, {"binance": 2}, fleet="f")
    assert result.nodes == {"u0": "a", "u1": "a", "u2": "b"} and result.moved == {"u2": ("a", "b")}
    full = place([*demands, Demand("u3", None, (), {"binance": 1}), Demand("u4", None, (), {"binance": 1})], nodes, {"binance": 2}, fleet="f")
    assert [u.unit for u in full.unplaced] == ["u4"]
    assert full.unplaced[0].reason == ("unit u4 needs room for 1 binance bot(s), but all 2 node(s) already run binance bots up to "
                                       "exchange_budget (binance: 2); add a node, raise the budget, or move bots to another exchange")


def test_an_unplaceable_fleet_is_located_at_the_spec_value_to_blame(base_repo: git.Repo) -> None:
    root = Path(base_repo.working_dir)
    edit(root / "fleet/fleet.yaml", "health:\n", "backend:\n  kind: swarm\n  registry: 10.0.0.5:5000\n  exchange_budget: {binance: 1}\nhealth:\n")
    edit(root / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nplacement: ['node.labels.zone == eu']")
    spec = load_fleet(root).spec
    result = place([Demand("testfleet-small-1", "small", EU, {"kraken": 1}), Demand("testfleet-standard-1", "standard", (), {"binance": 2})],
                   [Node("a", "node-a", labels={"zone": "us"})], {"binance": 1}, fleet="testfleet")
    assert [str(p) for p in problems(spec, result.unplaced)] == [
        "fleet/pools.yaml:10:12: error: no active, ready node meets pool small's placement (node.labels.zone == eu) for unit "
        "testfleet-small-1; label a node to match (docker node update --label-add) or change the placement",
        "fleet/fleet.yaml:9:30: error: unit testfleet-standard-1 runs 2 binance bots, more than exchange_budget allows on one node "
        "(binance: 1); raise the budget or give pool standard fewer binance bots per unit"]


def test_constraints_match_as_swarm_matches_them() -> None:
    node = Node("abc", "Node-A", role="manager", labels={"zone": "EU", "Disk": "ssd"}, engine_labels={"os": "debian"})
    def ok(*texts: str) -> bool:
        return matches(node, [parse_constraint(t) for t in texts])
    assert ok("node.labels.zone == eu", "node.hostname == node-a", "node.role == MANAGER", "engine.labels.os == debian", "node.id != x")
    assert ok("node.labels.Disk == ssd") and not ok("node.labels.disk == ssd")  # label names are case-sensitive, values not
    assert ok("node.labels.missing != x") and not ok("node.labels.missing == x")
    assert ok("NODE.LABELS.zone == eu")
