"""Stable assignment of bots to pool containers and API ports."""

from __future__ import annotations

from engine.compile.assign import Placement, assign_bots
from engine.naming import FIRST_POOL_PORT
from engine.spec.models import Bot, Pool


def pool(name: str, capacity: int) -> Pool:
    return Pool(kind="Pool", name=name, capacity=capacity)


def bot(name: str, pool_name: str | None = "p") -> Bot:
    return Bot.model_validate({
        "kind": "Bot", "name": name, "wallet": "w", "allocation": 1.0, "pool": pool_name, "strategy": "S@v1",
        "pairs": ["BTC/USDT"], "stake_amount": 1.0, "stoploss": -0.1,
    })


def containers(placements: dict[str, Placement]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, placement in placements.items():
        out.setdefault(placement.container, []).append(name)
    return out


def test_fresh_fleet_fills_containers_in_name_order() -> None:
    bots = {n: bot(n) for n in ["a", "b", "c", "d", "e"]}
    placed = assign_bots("f", {"p": pool("p", 2)}, bots, {})
    assert containers(placed) == {"f-p-1": ["a", "b"], "f-p-2": ["c", "d"], "f-p-3": ["e"]}
    assert [placed[n].port for n in "ab"] == [FIRST_POOL_PORT, FIRST_POOL_PORT + 1]


def test_new_bot_fills_least_loaded_container_and_nobody_moves() -> None:
    bots = {n: bot(n) for n in ["b", "c", "d", "e"]}
    prior = assign_bots("f", {"p": pool("p", 3)}, bots, {})
    assert containers(prior) == {"f-p-1": ["b", "c", "d"], "f-p-2": ["e"]}
    bots["a"] = bot("a")  # sorts first: a fresh compile would have put it in container 1
    placed = assign_bots("f", {"p": pool("p", 3)}, bots, prior)
    assert containers(placed) == {"f-p-1": ["b", "c", "d"], "f-p-2": ["a", "e"]}
    assert all(placed[n] == prior[n] for n in "bcde")


def test_ports_are_kept_and_freed_ports_reused_once_the_leaver_is_gone() -> None:
    bots = {n: bot(n) for n in ["a", "b", "c"]}
    prior = assign_bots("f", {"p": pool("p", 5)}, bots, {})
    del bots["a"]
    bots["z"] = bot("z")
    placed = assign_bots("f", {"p": pool("p", 5)}, bots, prior)
    assert placed["b"].port == prior["b"].port and placed["c"].port == prior["c"].port
    # "a" still runs until the newcomer answers (it is removed last), so its port is not reused yet
    assert placed["z"].port not in {p.port for p in prior.values()}
    bots["y"] = bot("y")
    later = assign_bots("f", {"p": pool("p", 5)}, bots, placed)
    assert later["y"].port == prior["a"].port  # the next change reuses it


def test_empty_container_disappears_and_others_keep_their_index() -> None:
    bots = {n: bot(n) for n in ["a", "b", "c", "d"]}
    prior = assign_bots("f", {"p": pool("p", 2)}, bots, {})
    del bots["a"], bots["b"]
    placed = assign_bots("f", {"p": pool("p", 2)}, bots, prior)
    assert containers(placed) == {"f-p-2": ["c", "d"]}


def test_capacity_shrink_moves_only_the_overflow() -> None:
    bots = {n: bot(n) for n in ["a", "b", "c", "d"]}
    prior = assign_bots("f", {"p": pool("p", 4)}, bots, {})
    placed = assign_bots("f", {"p": pool("p", 3)}, bots, prior)
    assert [n for n in bots if placed[n] != prior[n]] == ["d"]
    assert placed["d"].container == "f-p-2"


def test_rebalance_compacts_with_fewest_moves() -> None:
    bots = {n: bot(n) for n in "abcdefgh"}
    prior = assign_bots("f", {"p": pool("p", 3)}, bots, {})  # [abc][def][gh]
    for gone in "bcef":
        del bots[gone]  # [a][d][gh]: three containers for four bots
    kept = assign_bots("f", {"p": pool("p", 3)}, bots, prior)
    assert len(containers(kept)) == 3
    packed = assign_bots("f", {"p": pool("p", 3)}, bots, prior, rebalance=True)
    assert len(containers(packed)) == 2
    moved = [n for n in bots if packed[n].container != prior[n].container]
    assert len(moved) == 1  # the fullest container [gh] stays; one of a/d joins it or the other


def test_dedicated_bots_get_their_own_container() -> None:
    placed = assign_bots("f", {}, {"solo": bot("solo", None)}, {})
    assert placed["solo"] == Placement(container="f-bot-solo", pool=None, index=0, port=8080)
