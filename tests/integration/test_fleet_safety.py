"""Issue 17's money-safety examples against the real engine, through the CLI and real git.

Most of the fleet deleted by one change (refused until allowed by name), a fleet renamed in its
specs (refused; allowed, the bots move to the new name's containers with their databases and the
old containers go — never two copies), and a bot whose exchange account trades in another fleet
(never started).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from engine.naming import network_name
from tests.integration.conftest import FLEET, LiveFleetHelper, remove_fleet
from tests.support.repos import edit

NEW = "newfleet"


@pytest.fixture
def both_names(live: LiveFleetHelper) -> Iterator[LiveFleetHelper]:
    """The live fixture, also cleaning up the new name's containers."""
    remove_fleet(live.api, NEW)
    yield live
    remove_fleet(live.api, NEW)


def drop_bots(root: Path, *names: str) -> None:
    path = root / "fleet/bots.yaml"
    docs = path.read_text().split("---\n")
    path.write_text("---\n".join(d for d in docs if not any(d.startswith(f"kind: Bot\nname: {n}\n") for n in names)))


def ids(live: LiveFleetHelper, fleet: str = FLEET) -> dict[str, str]:
    rows = live.api.containers(all=True, filters={"label": f"io.fleetops.fleet={fleet}"})
    return {r["Names"][0].lstrip("/"): r["Id"] for r in rows}


def test_a_change_deleting_most_of_the_fleet_is_refused_until_allowed(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = ids(live)
    drop_bots(live.root, "alpha-1", "alpha-2", "beta-1", "euro-1", "solo")  # say, the specs moved into a submodule
    plan = live.plan()
    assert ("High risk for the whole plan: deletes 5 of the 5 bots of fleet 'testfleet' (all of them); apply refuses it unless "
            "given --allow-mass-delete (the watcher: a commit trailer 'Fleetops-Allow: mass-delete').") in plan.out.splitlines()
    refused = live.apply()
    assert refused.code == 1
    assert refused.err.splitlines() == [
        "fleetops: error: refusing to apply: this plan deletes 5 of the 5 bots of fleet 'testfleet' (all of them); "
        "if that is intended, run it again with --allow-mass-delete"]
    assert ids(live) == before and live.programs(f"{FLEET}-standard-1")["alpha-1"][0] == "RUNNING"
    history = json.loads(live.run("history", "--format", "json").out)
    assert [r["revision"] for r in history] == [1]  # nothing recorded either
    allowed = live.apply("--allow-mass-delete")
    assert allowed.code == 0, allowed.err
    assert ids(live) == {}
    assert live.api.networks(names=[network_name(FLEET)]) == []  # the last container gone, its network goes (issue 22)
    back = live.run("rollback", "--to", "1", "--yes")  # creating the fleet again needs no flag
    assert back.code == 0, back.err
    assert len(ids(live)) == 3 and [n["Name"] for n in live.api.networks(names=[network_name(FLEET)])] == [network_name(FLEET)]
    again = live.run("rollback", "--to", "2", "--yes")  # a rollback is an apply: deleting most of the fleet needs saying so
    assert again.code == 1 and again.err.splitlines() == [
        "fleetops: error: refusing to apply: this plan deletes 5 of the 5 bots of fleet 'testfleet' (all of them); "
        "if that is intended, run it again with --allow-mass-delete"]
    assert len(ids(live)) == 3
    assert live.run("rollback", "--to", "2", "--yes", "--allow-mass-delete").code == 0 and ids(live) == {}


def test_a_renamed_fleet_moves_its_bots_with_their_databases_and_never_runs_twice(both_names: LiveFleetHelper) -> None:
    live = both_names
    assert live.apply().code == 0
    old_db = live.state / "runtime" / FLEET / f"{FLEET}-bot-solo" / "data/bots/solo/tradesv3.dryrun.sqlite"
    old_db.write_bytes(b"trades of solo")
    edit(live.root / "fleet/fleet.yaml", "name: testfleet", f"name: {NEW}")  # the example: only the name changes
    refused = live.apply()
    assert refused.code == 1 and len(refused.err.splitlines()) == 1
    assert refused.err.startswith("fleetops: error: refusing to apply: this plan renames fleet 'testfleet' to 'newfleet'")
    assert refused.err.rstrip().endswith("run it again with --allow-rename")
    assert ids(live, NEW) == {} and len(ids(live)) == 3
    plan = json.loads(live.plan("--format", "json").out)
    assert plan["risk"] == "high" and [r["kind"] for r in plan["plan_risks"]] == ["rename"]
    assert sorted(c["address"] for c in plan["changes"] if c["action"] == "move") == [
        "bot/alpha-1", "bot/alpha-2", "bot/beta-1", "bot/euro-1", "bot/solo"]
    renamed = live.apply("--allow-rename")
    assert renamed.code == 0, renamed.err
    assert ids(live) == {} and set(ids(live, NEW)) == {f"{NEW}-bot-solo", f"{NEW}-small-1", f"{NEW}-standard-1"}
    assert {n: s for n, (s, _) in live.programs(f"{NEW}-standard-1").items()} == {"alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    new_db = live.state / "runtime" / NEW / f"{NEW}-bot-solo" / "data/bots/solo/tradesv3.dryrun.sqlite"
    assert new_db.read_bytes() == b"trades of solo"
    status = json.loads(live.run("status", "--format", "json").out)
    assert status["fleet"] == NEW and status["other_fleets"] == [] and status["bot_states"] == {"running": 5}
    again = live.plan("--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_a_bot_is_never_started_on_an_account_another_fleet_trades(both_names: LiveFleetHelper, tmp_path: Path) -> None:
    """The same repository checked out elsewhere and applied under another name (no identity links
    the two): status shows both, and a live bot's second copy is refused naming the other fleet."""
    live = both_names
    env = {"K": "key-value-1", "S": "secret-value-1"}
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    first = live.run("apply", "--repo", str(live.root), "--yes", env=env)
    assert first.code == 0, first.err
    other = tmp_path / "elsewhere"
    shutil.copytree(live.root, other)
    git.Repo(other)  # a repository in its own right
    edit(other / "fleet/fleet.yaml", "name: testfleet", f"name: {NEW}")
    refused = live.run("apply", "--repo", str(other), "--yes", env=env)
    assert refused.code == 1 and len(refused.err.splitlines()) == 1, refused.err
    assert ("bot 'solo' would trade the exchange account (on binance, same exchange_key) that bot 'solo' of fleet 'testfleet' "
            f"trades on this Docker engine (container {FLEET}-bot-solo)") in refused.err
    assert "key-value-1" not in refused.err + refused.out and ids(live, NEW) == {}
    edit(other / "fleet/bots.yaml", "dry_run: false", "dry_run: true")  # a paper copy with the same key: still that account
    assert "bot 'solo' would trade the exchange account" in live.run("apply", "--repo", str(other), "--yes", env=env).err
    edit(other / "fleet/bots.yaml", "secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}", "secrets: {}")  # no key: no account
    assert live.run("apply", "--repo", str(other), "--yes", env=env).code == 0
    status = json.loads(live.run("status", "--format", "json", "--fleet", FLEET).out)
    assert [(o["fleet"], o["bot_states"]) for o in status["other_fleets"]] == [(NEW, {"running": 5})]
    text = live.run("status", "--fleet", FLEET).out
    assert "ALSO RUNNING from this state dir under another fleet name" in text and f"fleet {NEW}: 3 containers, 5 bots (5 running)" in text


def test_a_container_renamed_by_hand_is_renamed_back_and_its_bots_never_run_twice(live: LiveFleetHelper) -> None:
    """``docker rename``: its bots looked absent (no records under the new name), so apply started them again in a
    new container beside the running copies, on the same trade databases, and status showed the pool empty."""
    assert live.apply().code == 0
    before = ids(live)
    live.api.rename(f"{FLEET}-standard-1", "by-hand")
    status = live.run("status")
    assert "(renamed by hand to by-hand; the next apply renames it back)" in status.out, status.out
    assert "alpha-1                      running" in status.out
    plan = live.plan()
    assert "~ container/testfleet-standard-1 update  (renamed by hand to 'by-hand'; renamed back in place, no bot restarts)" in plan.out
    assert "bot/" not in plan.out, plan.out
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert ids(live) == before  # the same containers (no second one for its bots), under their own names
    assert {b: state for b, (state, _) in live.programs(f"{FLEET}-standard-1").items()} == {
        "alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    assert live.plan("--detailed-exitcode").code == 0


def test_a_fleet_applied_from_another_state_dir_is_refused_naming_it(live: LiveFleetHelper, tmp_path: Path) -> None:
    """Another checkout with a state dir of its own took the containers' mounts for drift and recreated every
    container from its own empty runtime files: the bots restarted without their trade databases."""
    assert live.apply().code == 0
    before = ids(live)
    other = tmp_path / "other-checkout"
    shutil.copytree(live.root, other)
    elsewhere = {"FLEETOPS_STATE_DIR": str(tmp_path / "other-state")}
    expected = (f"fleetops: error: fleet 'testfleet' already runs on this Docker engine from another state dir ({live.state}: "
                f"containers {FLEET}-bot-solo, {FLEET}-small-1, {FLEET}-standard-1), not from {tmp_path / 'other-state'}; plan and "
                f"apply it with --state-dir {live.state} (or FLEETOPS_STATE_DIR), or give this fleet another name\n")
    for command in ("plan", "apply"):
        result = live.run(command, "--repo", str(other), *(["--yes"] if command == "apply" else []), env=elsewhere)
        assert (result.code, result.err) == (1, expected), result.out + result.err
    assert ids(live) == before and not (tmp_path / "other-state" / "revisions.sqlite").exists()
    assert live.plan("--detailed-exitcode").code == 0  # its own state dir still owns it
