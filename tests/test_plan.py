"""Offline plans between two git refs: actions, least disruption, risk, formats, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import git
import pytest

from engine.offline import offline_plan
from engine.plan.jsonfmt import UNSTATED, plan_from_dict, plan_to_json
from engine.plan.markdown import plan_to_markdown
from engine.plan.model import Action, Change, Plan, Risk
from engine.plan.text import plan_to_text
from tests.conftest import Run
from tests.support.repos import commit, edit

ALPHA_V2 = '    minimal_roi = {"0": 0.04}\n'


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(c.address, c.action.value) for c in plan.changes]


def plan_of(repo: git.Repo, against: str = "HEAD", ref: str | None = None) -> Plan:
    return offline_plan(repo.working_dir, ref, against)


def bots_file(repo: git.Repo) -> Path:
    return Path(repo.working_dir) / "fleet/bots.yaml"


def tag_alpha_v2(repo: git.Repo) -> None:
    edit(Path(repo.working_dir) / "strategies/Alpha.py", ALPHA_V2, '    minimal_roi = {"0": 0.05}\n')
    commit(repo, "Alpha v2", tag="v2")


def test_identical_refs_plan_nothing(base_repo: git.Repo) -> None:
    plan = plan_of(base_repo)
    assert plan.changes == ()
    assert plan_to_text(plan).splitlines()[2] == "No changes. The fleet matches the target."


def test_pin_change_reloads_only_that_bot(base_repo: git.Repo) -> None:
    tag_alpha_v2(base_repo)
    edit(bots_file(base_repo), "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
         "allocation: 1000\npool: standard\nstrategy: Alpha@v2\npairs: [SOL/USDT]")
    plan = plan_of(base_repo, against="HEAD~1")
    assert actions(plan) == [("bot/alpha-2", "reload")]
    change = plan.changes[0]
    assert change.reason == "strategy pin changed"
    v1 = git.Repo(base_repo.working_dir).commit("v1").hexsha[:7]
    v2 = git.Repo(base_repo.working_dir).commit("v2").hexsha[:7]
    assert [(d.path, d.before, d.after) for d in change.diff] == [("strategy", f"Alpha@v1 ({v1})", f"Alpha@v2 ({v2})")]


def test_adding_a_bot_to_a_full_pool_adds_a_container_and_moves_nobody(base_repo: git.Repo) -> None:
    bots_file(base_repo).write_text(bots_file(base_repo).read_text() + (
        "---\nkind: Bot\nname: aaa-new\nwallet: main\nallocation: 100\npool: standard\nstrategy: Alpha@v1\n"
        "pairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n"
    ))
    plan = plan_of(base_repo)
    # "aaa-new" sorts first by name: a fresh compile would put it in container 1 and push beta-1 out.
    assert actions(plan) == [("container/testfleet-standard-2", "create"), ("bot/aaa-new", "create")]
    assert plan.changes[1].reason == "new bot in testfleet-standard-2"


def test_removing_a_bot_removes_only_it_and_its_empty_container(base_repo: git.Repo) -> None:
    text = bots_file(base_repo).read_text()
    start = text.index("---\nkind: Bot\nname: euro-1")
    end = text.index("---\nkind: Bot\nname: solo")
    bots_file(base_repo).write_text(text[:start] + text[end:])
    assert actions(plan_of(base_repo)) == [("container/testfleet-small-1", "delete"), ("bot/euro-1", "delete")]


def test_removing_one_bot_of_several_keeps_the_container(base_repo: git.Repo) -> None:
    text = bots_file(base_repo).read_text()
    start = text.index("---\nkind: Bot\nname: alpha-2")
    end = text.index("---\nkind: Bot\nname: beta-1")
    bots_file(base_repo).write_text(text[:start] + text[end:])
    assert actions(plan_of(base_repo)) == [("bot/alpha-2", "delete")]


def test_pool_image_change_replaces_its_containers_only(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: fleetops/standin-bot:2")
    plan = plan_of(base_repo)
    assert actions(plan) == [("pool/small", "update"), ("container/testfleet-small-1", "replace")]
    assert plan.changes[1].diff[0].path == "image"


def test_moving_a_bot_between_pools_is_a_move(base_repo: git.Repo) -> None:
    edit(bots_file(base_repo), "pool: small", "pool: standard")
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 3", "capacity: 4")
    plan = plan_of(base_repo)
    assert ("bot/euro-1", "move") in actions(plan)
    assert ("container/testfleet-small-1", "delete") in actions(plan)
    assert not any(a == "bot/alpha-1" for a, _ in actions(plan))


def test_dedicated_bot_into_a_pool_is_a_move(base_repo: git.Repo) -> None:
    edit(bots_file(base_repo), "allocation: 500\n", "allocation: 500\npool: small\n")
    plan = plan_of(base_repo)
    assert actions(plan) == [("container/testfleet-bot-solo", "delete"), ("bot/solo", "move")]
    move = next(c for c in plan.changes if c.address == "bot/solo")
    assert move.reason == "moves from testfleet-bot-solo to testfleet-small-1"


@pytest.mark.parametrize(
    ("old", "new", "note", "address", "risk"),
    [
        ("stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}", "switches to live trading",
         "bot/solo", "high"),
        ("stake_amount: 50\n", "stake_amount: 80\n", "stake_amount up 60%", "bot/solo", "high"),
        ("allocation: 500\n", "allocation: 800\n", "allocation up 60%", "bot/solo", "high"),
        ("stoploss: -0.15", "stoploss: -0.25", "stoploss widened from -0.15 to -0.25", "bot/solo", "high"),
        ("stake_amount: 50\n", "stake_amount: unlimited\n", "stake_amount becomes unlimited", "bot/solo", "high"),
        ("pool: small\n", "", "removes the container (its directory is archived)", "container/testfleet-small-1", "medium"),
        ("stoploss: -0.15", "stoploss: -0.15\nenabled: false", "stop interrupts the bot", "bot/solo", "medium"),
        ("strategy: Alpha@v1\npairs: [ETH/USDT]", "strategy: Beta@v1\npairs: [ETH/USDT]", "trading logic changes", "bot/solo", "medium"),
        ("memory: 1g", "memory: 2g", "restarts 3 bots", "container/testfleet-standard-1", "medium"),
    ],
)
def test_risky_changes_name_their_reason(base_repo: git.Repo, old: str, new: str, note: str, address: str, risk: str) -> None:
    """Every risk above low names its reason in every format (issue 22: a delete printed ``[medium risk: ]``)."""
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml" if old.startswith("memory") else bots_file(base_repo), old, new)
    plan = plan_of(base_repo)
    change = next(c for c in plan.changes if c.address == address)
    assert change.risk.label == risk
    assert note in change.risk_notes
    assert all(c.risk_notes for c in plan.changes if c.risk is not Risk.LOW)
    assert "risk: ]" not in plan_to_text(plan) and f"[{risk} risk: {'; '.join(change.risk_notes)}]" in plan_to_text(plan)


def test_a_risk_without_a_reason_cannot_be_built_and_an_old_stored_one_says_so() -> None:
    with pytest.raises(ValueError, match="a medium risk must name its reason"):
        Change("container/x", Action.DELETE, "no bots left in it", Risk.MEDIUM)
    with pytest.raises(ValueError, match="blank"):
        Change("bot/x", Action.RESTART, "bot command changed", Risk.MEDIUM, risk_notes=(" ",))
    stored = {"changes": [{"address": "container/x", "action": "delete", "reason": "no bots left in it", "risk": "medium", "risk_notes": []}]}
    assert plan_from_dict(stored).changes[0].risk_notes == (UNSTATED,)


def test_a_disabled_bot_plans_as_stop_and_nothing_it_runs_is_interrupted(base_repo: git.Repo) -> None:
    """A disabled bot runs nothing: a change of its command or config is written for its next start (``stop``: it stays stopped),
    never a ``restart`` that "interrupts the bot" (issue 22)."""
    edit(bots_file(base_repo), "stoploss: -0.10", "stoploss: -0.10\nenabled: false")
    commit(base_repo, "alpha-1 disabled")
    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "--userdir {userdir}", "--userdir {userdir} --logfile {userdir}/bot.log")
    edit(bots_file(base_repo), "pairs: [BTC/USDT, ETH/USDT]", "pairs: [BTC/USDT]")
    plan = plan_of(base_repo)
    disabled = next(c for c in plan.changes if c.address == "bot/alpha-1")
    assert (disabled.action.value, disabled.risk, disabled.risk_notes) == ("stop", Risk.LOW, ())
    assert disabled.reason == "disabled: bot command changed; written for its next start, it stays stopped"
    running = next(c for c in plan.changes if c.address == "bot/alpha-2")
    assert (running.action.value, running.risk_notes) == ("restart", ("restart interrupts the bot",))


SWARM = "backend: {kind: swarm, registry: '10.0.0.5:5000'}\n"


@pytest.mark.parametrize(("baseline", "target", "risk", "diff"), [
    ("", SWARM, "high", [("backend.kind", "docker", "swarm"), ("backend.registry", None, "10.0.0.5:5000")]),
    (SWARM, SWARM.replace("}", ", manager: 'tcp://10.0.0.9:2376'}"), "high", [("backend.manager", None, "tcp://10.0.0.9:2376")]),
    (SWARM, SWARM.replace("}", ", exchange_budget: {binance: 3}}"), "low", [("backend.exchange_budget.binance", None, 3)]),
    (SWARM, SWARM.replace("10.0.0.5:5000", "10.0.0.6:5000"), "low", [("backend.registry", "10.0.0.5:5000", "10.0.0.6:5000")]),
])
def test_a_backend_change_is_a_fleet_change_and_moving_the_fleet_is_high_risk(base_repo: git.Repo, baseline: str, target: str, risk: str,
                                                                              diff: list[tuple[str, object, object]]) -> None:
    """Another backend (kind or swarm manager) starts the bots there while those where they ran go on: a
    reviewer must see it. A fleet that never names a backend shows none (the snapshots of every plan above)."""
    fleet_file = Path(base_repo.working_dir) / "fleet/fleet.yaml"
    if baseline:
        edit(fleet_file, "health:\n", baseline + "health:\n")
        commit(base_repo, "on a swarm")
    edit(fleet_file, baseline + "health:\n" if baseline else "health:\n", target + "health:\n")
    change = next(c for c in plan_of(base_repo).changes if c.address == "fleet/testfleet")
    assert [(d.path, d.before, d.after) for d in change.diff] == diff
    assert change.risk.label == risk
    assert ("the fleet moves to another backend" in " ".join(change.risk_notes)) == (risk == "high")


def test_a_pool_placement_change_is_a_pool_change(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nplacement: ['node.labels.zone == eu']")
    plan = plan_of(base_repo)
    assert actions(plan) == [("pool/small", "update")]
    assert [(d.path, d.before, d.after) for d in plan.changes[0].diff] == [("placement", None, ["node.labels.zone == eu"])]


LIVE_SOLO = "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}\nexchange_url: https://api.example.com"
PROXY = "freqtrade: {exchange: {ccxt_config: {httpsProxy: 'http://10.9.9.9:3128'}}}"
FUTURES = "freqtrade: {trading_mode: futures, margin_mode: isolated}"


@pytest.mark.parametrize(("old", "new", "note"), [
    ("exchange_url: https://api.example.com", "exchange_url: https://api.example.net",
     "changes where a live bot's signed requests go: exchange_url https://api.example.com -> https://api.example.net"),
    ("exchange_url: https://api.example.com", "exchange_url: https://api.example.com\n" + PROXY,
     "changes where a live bot's signed requests go: freqtrade.exchange.ccxt_config"),
    ("exchange_url: https://api.example.com", "exchange_url: https://api.example.com\nfreqtrade: {exchange: {ccxt_async_config: {aiohttp_trust_env: true}}}",
     "changes where a live bot's signed requests go: freqtrade.exchange.ccxt_async_config"),
    ("exchange_url: https://api.example.com", "exchange: kraken",
     "changes where a live bot's signed requests go: exchange binance -> kraken, exchange_url https://api.example.com -> (none)"),
    ("secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}", "secrets: {exchange_key: 'env:K2', exchange_secret: 'env:S2'}",
     "changes the exchange account a live bot trades: secrets.exchange_key env:K -> env:K2, secrets.exchange_secret env:S -> env:S2"),
    ("exchange_url: https://api.example.com", "exchange_url: https://api.example.com\n" + FUTURES,
     "changes how much of its account a live bot commits: freqtrade.trading_mode (none) -> futures, freqtrade.margin_mode (none) -> isolated"),
])
def test_where_a_live_bots_requests_go_is_high_risk(base_repo: git.Repo, old: str, new: str, note: str) -> None:
    edit(bots_file(base_repo), "stoploss: -0.15", LIVE_SOLO)
    commit(base_repo, "solo trades live through a gateway")
    edit(bots_file(base_repo), old, new)
    change = next(c for c in plan_of(base_repo).changes if c.address == "bot/solo")
    assert change.risk.label == "high" and note in change.risk_notes, change.risk_notes


@pytest.mark.parametrize("new", ["exchange_url: https://api.example.net", "exchange_url: https://api.example.com\n" + PROXY,
                                 "exchange_url: https://api.example.com\n" + FUTURES])
def test_the_same_route_change_of_a_dry_run_bot_is_not_high_risk(base_repo: git.Repo, new: str) -> None:
    edit(bots_file(base_repo), "stoploss: -0.15", "stoploss: -0.15\nexchange_url: https://api.example.com")
    commit(base_repo, "solo paper-trades against a sandbox")
    edit(bots_file(base_repo), "exchange_url: https://api.example.com", new)
    change = next(c for c in plan_of(base_repo).changes if c.address == "bot/solo")
    assert (change.action.value, change.risk.label) == ("reload", "low")


@pytest.mark.parametrize(("old", "new", "note"), [
    ("stoploss: -0.15", LIVE_SOLO, "trades live with its requests sent through exchange_url https://api.example.com"),
    ("stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}\n" + PROXY,
     "trades live with its requests sent through freqtrade.exchange.ccxt_config"),
])
def test_a_bot_going_live_on_a_custom_route_says_where_its_requests_go(base_repo: git.Repo, old: str, new: str, note: str) -> None:
    edit(bots_file(base_repo), old, new)
    change = next(c for c in plan_of(base_repo).changes if c.address == "bot/solo")
    assert change.risk.label == "high" and change.risk_notes[:2] == ("switches to live trading", note)


def test_a_live_bot_created_on_a_custom_url_is_high_risk(base_repo: git.Repo) -> None:
    bots_file(base_repo).write_text(bots_file(base_repo).read_text() + (
        "---\nkind: Bot\nname: gw\nwallet: main\nallocation: 100\nstrategy: Alpha@v1\npairs: [BTC/USDT]\nstake_amount: 10\n"
        "stoploss: -0.1\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}\nexchange_url: https://gw.example.com\n"))
    change = next(c for c in plan_of(base_repo).changes if c.address == "bot/gw")
    assert change.risk_notes == ("created trading live money", "trades live with its requests sent through exchange_url https://gw.example.com")


def remove_bots(repo: git.Repo, *names: str) -> None:
    text = bots_file(repo).read_text()
    docs = text.split("---\n")
    bots_file(repo).write_text("---\n".join(d for d in docs if not any(d.startswith(f"kind: Bot\nname: {n}\n") for n in names)))


@pytest.mark.parametrize(("names", "reason"), [
    (("alpha-1", "alpha-2", "beta-1"), "deletes 3 of the 5 bots of fleet 'testfleet' (more than half)"),
    (("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"), "deletes 5 of the 5 bots of fleet 'testfleet' (all of them)"),
    (("alpha-1", "alpha-2"), None),
])
def test_a_plan_deleting_most_of_the_fleet_is_high_risk_as_a_whole(base_repo: git.Repo, fleetops: Callable[..., Run],
                                                                   names: tuple[str, ...], reason: str | None) -> None:
    remove_bots(base_repo, *names)
    plan = plan_of(base_repo)
    assert [c.address for c in plan.changes if c.action.value == "delete" and c.kind == "bot"] == [f"bot/{n}" for n in sorted(names)]
    if reason is None:
        assert plan.plan_risks == () and plan.risk.label == "medium"
        return
    assert [(r.kind, r.reason, r.risk.label) for r in plan.plan_risks] == [("mass-delete", reason, "high")] and plan.risk.label == "high"
    text = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD").out
    assert (f"High risk for the whole plan: {reason}; apply refuses it unless given --allow-mass-delete "
            "(the watcher: a commit trailer 'Fleetops-Allow: mass-delete').") in text.splitlines()
    as_json = json.loads(fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD", "--format", "json").out)
    assert as_json["risk"] == "high" and as_json["plan_risks"] == [{"kind": "mass-delete", "risk": "high", "reason": reason,
                                                                    "allow": {"flag": "--allow-mass-delete", "trailer": "Fleetops-Allow: mass-delete"}}]
    markdown = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD", "--format", "markdown").out
    from engine.textsafe import md_text

    assert f"> - **whole plan**: {md_text(reason)}" in markdown and "Highest risk: :warning: **HIGH**" in markdown


def test_a_renamed_fleet_is_a_rename_not_a_second_fleet(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "name: testfleet", "name: newfleet")
    plan = plan_of(base_repo)
    assert [(r.kind, r.risk.label) for r in plan.plan_risks] == [("rename", "high")]
    assert "renames fleet 'testfleet' to 'newfleet'" in plan.plan_risks[0].reason
    fleet = plan.changes[0]
    assert (fleet.address, fleet.action.value, fleet.risk.label) == ("fleet/newfleet", "update", "high")
    assert [(d.path, d.before, d.after) for d in fleet.diff] == [("name", "testfleet", "newfleet")]
    moves = [c.address for c in plan.changes if c.action.value == "move"]
    assert moves == ["bot/alpha-1", "bot/alpha-2", "bot/beta-1", "bot/euro-1", "bot/solo"]
    gone = next(c for c in plan.changes if c.address == "container/testfleet-standard-1")
    assert gone.action.value == "delete" and "renamed 'newfleet'" in gone.reason


def test_a_fleet_wide_change_is_shown_once_with_its_bots_and_json_keeps_each_bot(base_repo: git.Repo) -> None:
    """A fleet-wide bot_command change printed the whole command twice for each bot (issue 22): text and markdown
    show it once with the list of bots, each bot's own name reading <bot>; the JSON plan keeps every bot's entry."""
    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "--userdir {userdir}", "--userdir {userdir} --logfile {userdir}/bot.log")
    plan = plan_of(base_repo)
    bots = ["bot/alpha-1", "bot/alpha-2", "bot/beta-1", "bot/euro-1", "bot/solo"]
    assert [c.address for c in plan.changes if c.action.value == "restart"] == bots
    text = click.unstyle(plan_to_text(plan))
    assert "<> 5 bots restart  (bot command changed)  [medium risk: restart interrupts the bot]\n      " + ", ".join(bots) + "\n" in text
    assert text.count('"/fleet/etc/bots/<bot>/config.json", "--config"') == 2  # before and after, once
    assert not any(f"/fleet/etc/bots/{b[4:]}/" in text for b in bots if b != "bot/solo")  # solo: its container's own command
    markdown = plan_to_markdown(plan)
    row = ", ".join(f"<code>{b}</code>" for b in bots) + " (5 bots)"
    assert f"| <code><></code> | {row} | restart | **medium** | bot command changed |" in markdown.replace("&lt;", "<").replace("&gt;", ">")
    assert markdown.count("/fleet/etc/bots/&lt;bot&gt;/config.json") + markdown.count("/fleet/etc/bots/<bot>/config.json") == 2
    as_json = json.loads(plan_to_json(plan))
    restarts = [c for c in as_json["changes"] if c["action"] == "restart"]
    assert [c["address"] for c in restarts] == bots
    assert all(f"/fleet/etc/bots/{c['address'][4:]}/config.json" in c["diff"][0]["after"] for c in restarts)


def test_a_fleet_default_memory_limits_every_dedicated_bot_and_pools_keep_their_own(base_repo: git.Repo) -> None:
    """``defaults.memory`` (issue 22: a bot without a pool had no memory limit): each dedicated bot's container gets it."""
    from engine.compile.container import container_definition
    from engine.offline import compile_at

    edit(Path(base_repo.working_dir) / "fleet/fleet.yaml", "  image: fleetops/standin-bot:1", "  image: fleetops/standin-bot:1\n  memory: 512m")
    plan = plan_of(base_repo)
    assert [(c.address, c.action.value, [(d.path, d.before, d.after) for d in c.diff]) for c in plan.changes] == [
        ("fleet/testfleet", "update", [("memory", None, "512m")]),
        ("container/testfleet-bot-solo", "replace", [("memory", None, "512m")])]
    _, target = compile_at(base_repo.working_dir, None)
    assert {name: container_definition(target, c).memory for name, c in target.containers.items()} == {
        "testfleet-bot-solo": "512m", "testfleet-small-1": None, "testfleet-standard-1": "1g"}


def test_two_bots_changed_alike_are_still_listed_one_by_one(base_repo: git.Repo) -> None:
    edit(bots_file(base_repo), "stoploss: -0.10", "stoploss: -0.10\non_change: drain")
    edit(bots_file(base_repo), "stoploss: -0.08", "stoploss: -0.08\non_change: drain")
    text = click.unstyle(plan_to_text(plan_of(base_repo)))
    assert "bots update" not in text and "~ bot/alpha-1 update" in text and "~ bot/alpha-2 update" in text


@pytest.mark.parametrize(("old", "new"), [("stake_amount: 50\n", "stake_amount: 70\n"), ("stoploss: -0.15", "stoploss: -0.12")])
def test_moderate_money_changes_stay_low_risk(base_repo: git.Repo, old: str, new: str) -> None:
    edit(bots_file(base_repo), old, new)
    change = next(c for c in plan_of(base_repo).changes if c.address == "bot/solo")
    assert (change.action.value, change.risk.label) == ("reload", "low")


def test_wallet_pushed_over_90_percent_is_high_risk(base_repo: git.Repo) -> None:
    edit(bots_file(base_repo), "allocation: 2000", "allocation: 5700")
    plan = plan_of(base_repo)
    wallet = next(c for c in plan.changes if c.address == "wallet/main")
    assert wallet.risk.label == "high"
    assert wallet.risk_notes == ("wallet 91% allocated",)
    assert [(d.path, d.before, d.after) for d in wallet.diff] == [("allocated", 4500, 8200)]


def test_secret_changes_never_show_values(base_repo: git.Repo) -> None:
    edit(bots_file(base_repo), "stoploss: -0.15", "stoploss: -0.15\nsecrets: {telegram_token: 'env:TG_TOKEN_OLD'}")
    commit(base_repo, "telegram")
    edit(bots_file(base_repo), "env:TG_TOKEN_OLD", "env:TG_TOKEN_NEW")
    plan = plan_of(base_repo)
    rendered = plan_to_text(plan) + plan_to_json(plan) + plan_to_markdown(plan)
    assert "TG_TOKEN" not in rendered
    diff = plan.changes[0].diff
    assert [(d.path, d.before, d.after) for d in diff] == [("secrets.telegram_token", "(secret)", "(secret changed)")]


def scenario(repo: git.Repo) -> None:
    """Several changes at once, for the format snapshots."""
    tag_alpha_v2(repo)
    edit(bots_file(repo), "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
         "allocation: 1000\npool: standard\nstrategy: Alpha@v2\npairs: [SOL/USDT]")
    edit(bots_file(repo), "stoploss: -0.15", "stoploss: -0.25\nenabled: false")
    edit(bots_file(repo), "stoploss: -0.07", "stoploss: -0.07\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'file:/run/s'}")
    edit(bots_file(repo), "freqtrade: {process_only_new_candles: true}",
         "freqtrade: {process_only_new_candles: true, exchange: {ccxt_config: {httpsProxy: 'http://10.0.0.8:3128'}}}")
    edit(Path(repo.working_dir) / "fleet/money.yaml", "balance: 3000", "balance: 1600")
    edit(Path(repo.working_dir) / "fleet/pools.yaml", "memory: 1g", "memory: 2g")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_formats_match_snapshot(base_repo: git.Repo, fleetops: Callable[..., Run], snapshot, fmt: str) -> None:  # type: ignore[no-untyped-def]
    scenario(base_repo)
    result = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD~1", "--format", fmt)
    assert result.code == 0, result.err
    assert result.out == snapshot


def test_json_plan_is_byte_identical_and_follows_the_contract(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    scenario(base_repo)
    runs = [fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD~1", "--format", "json") for _ in range(2)]
    assert runs[0].out == runs[1].out
    plan = json.loads(runs[0].out)
    assert list(plan)[:6] == ["format_version", "fleet", "target", "baseline", "changes", "summary"]
    assert plan["baseline"]["kind"] == "ref" and plan["baseline"]["ref"] == "HEAD~1"
    assert len(plan["target"]["commit"]) == 40
    assert set(plan["summary"]) == {"create", "update", "replace", "delete", "reload", "restart", "start", "stop", "move"}
    assert sum(plan["summary"].values()) == len(plan["changes"])
    for change in plan["changes"]:
        assert set(change) >= {"address", "action", "reason", "risk", "diff"}
        assert change["risk"] in ("low", "medium", "high")


def test_detailed_exitcode(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    same = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD", "--detailed-exitcode")
    assert same.code == 0, same.err
    edit(bots_file(base_repo), "stoploss: -0.15", "stoploss: -0.14")
    changed = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD", "--detailed-exitcode")
    assert changed.code == 2
    assert "bot/solo reload" in changed.out


def test_unknown_against_ref_is_a_one_line_error(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    result = fleetops("plan", "--repo", base_repo.working_dir, "--against", "origin/nope")
    assert result.code == 1
    assert result.err.startswith("fleetops: error: git ref 'origin/nope' not found in ")
    assert len(result.err.splitlines()) == 1


def test_rebalance_compacts_a_pool_with_the_fewest_moves(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    new_bots = "".join(
        f"---\nkind: Bot\nname: {name}\nwallet: main\nallocation: 100\npool: standard\nstrategy: Alpha@v1\n"
        "pairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n" for name in ("zed-1", "zed-2")
    )
    bots_file(base_repo).write_text(bots_file(base_repo).read_text() + new_bots)
    commit(base_repo, "two more bots: standard-2 holds zed-1, zed-2")
    text = bots_file(base_repo).read_text()
    start, end = text.index("---\nkind: Bot\nname: alpha-2"), text.index("---\nkind: Bot\nname: beta-1")
    bots_file(base_repo).write_text(text[:start] + text[end:])  # alpha-2 goes: standard-1 keeps alpha-1, beta-1
    edit(bots_file(base_repo), "name: alpha-1\nwallet: main\nallocation: 1000\npool: standard", "name: alpha-1\nwallet: main\nallocation: 1000\npool: small")
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 2", "capacity: 3")
    plain = offline_plan(base_repo.working_dir, None, "HEAD")
    assert ("container/testfleet-standard-1", "delete") not in actions(plain)
    packed = offline_plan(base_repo.working_dir, None, "HEAD", rebalance=True)
    assert ("container/testfleet-standard-1", "delete") in actions(packed)
    moved = [a for a, action in actions(packed) if action == "move"]
    assert moved == ["bot/alpha-1", "bot/beta-1"]  # alpha-1 changed pool; beta-1 is the one rebalance moves
    cli = fleetops("plan", "--repo", base_repo.working_dir, "--against", "HEAD", "--rebalance", "--format", "json")
    assert [(c["address"], c["action"]) for c in json.loads(cli.out)["changes"]] == actions(packed)
