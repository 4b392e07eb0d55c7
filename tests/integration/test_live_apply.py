"""Apply against the real Docker engine with the stand-in bot: least disruption, idempotence, drift."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import commit, edit

STANDARD = f"{FLEET}-standard-1"


def actions(plan: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(c["address"], c["action"]) for c in plan["changes"]]


@pytest.mark.also_preloaded
def test_apply_then_plan_is_empty_and_bots_answer(live: LiveFleetHelper, preloaded: bool) -> None:
    first = live.apply()
    assert first.code == 0, first.err
    assert "revision 1 applied; 5 bot(s) answered their ping" in first.out
    assert set(live.containers()) == {f"{FLEET}-bot-solo", f"{FLEET}-small-1", STANDARD}
    assert {n: s for n, (s, _) in live.programs(STANDARD).items()} == {"alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    preloader = live.preloader_children(STANDARD)
    if preloaded:  # every bot of the pool was forked by its preloader
        assert preloader is not None and preloader[0] == "RUNNING" and len(preloader[1]) == 3, preloader
    else:
        assert preloader is None
    config = live.show_config(STANDARD, "beta-1", 8083)
    assert (config["bot_name"], config["strategy"]) == ("beta-1", "Beta")
    again = live.plan("--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    second = live.apply()
    assert second.code == 0 and "No changes." in second.out
    assert "revision 2" not in second.out


@pytest.mark.also_preloaded
def test_pin_change_reloads_one_bot_and_leaves_neighbours_running(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    edit(live.root / "strategies/Alpha.py", '{"0": 0.04}', '{"0": 0.05}')
    edit(live.root / "strategies/Alpha.py", "rolling(20).mean()", "rolling(50).mean()")
    commit(live.repo, "Alpha v2", tag="v2")
    edit(live.root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")
    assert actions(live.plan_json()) == [("bot/alpha-2", "reload")]
    # plan --backtest of the live plan: the version alpha-2 runs (v1) against the spec's, by the local FreqTrade,
    # exactly as `plan --against` backtests the same two versions
    backtest = live.plan("--backtest", "--backtest-days", "2", "--format", "json")
    assert backtest.code == 0, backtest.err
    planned = json.loads(backtest.out)
    [bot] = planned["backtest"]["bots"]
    assert (bot["address"], bot["before"], bot["notes"]) == ("bot/alpha-2", planned["strategy_changes"][0]["before"], [])
    assert bot["before"].startswith("Alpha@v1 (") and bot["after"].startswith("Alpha@v2 (")
    assert bot["old"]["trades"] > 0 and bot["old"]["trades_sha256"] != bot["new"]["trades_sha256"]
    against = live.plan("--against", "HEAD", "--backtest", "--backtest-days", "2", "--format", "json")
    assert against.code == 0, against.err
    assert json.loads(against.out)["backtest"]["bots"] == [bot]
    result = live.apply()
    assert result.code == 0, result.err
    after = live.programs(STANDARD)
    assert after["alpha-1"] == before["alpha-1"] and after["beta-1"] == before["beta-1"]
    assert after["alpha-2"][1] != before["alpha-2"][1]
    v2 = hashlib.sha256((live.root / "strategies/Alpha.py").read_bytes()).hexdigest()
    assert live.show_config(STANDARD, "alpha-2", 8082)["strategy_version"] == v2
    assert live.plan("--detailed-exitcode").code == 0


@pytest.mark.also_preloaded
def test_adding_a_bot_to_a_full_pool_creates_a_container_and_moves_nobody(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    bots = live.root / "fleet/bots.yaml"
    bots.write_text(bots.read_text() + "---\nkind: Bot\nname: aaa-new\nwallet: main\nallocation: 100\npool: standard\n"
                    "strategy: Alpha@v1\npairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n")
    assert actions(live.plan_json()) == [(f"container/{FLEET}-standard-2", "create"), ("bot/aaa-new", "create")]
    assert live.apply().code == 0
    assert live.programs(STANDARD) == before
    assert set(live.programs(f"{FLEET}-standard-2")) == {"aaa-new"}


@pytest.mark.also_preloaded
def test_removing_a_bot_removes_only_its_program_and_archives_its_data(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    text = (live.root / "fleet/bots.yaml").read_text()
    start, end = text.index("---\nkind: Bot\nname: alpha-2"), text.index("---\nkind: Bot\nname: beta-1")
    (live.root / "fleet/bots.yaml").write_text(text[:start] + text[end:])
    assert actions(live.plan_json()) == [("bot/alpha-2", "delete")]
    assert live.apply().code == 0
    after = live.programs(STANDARD)
    assert after == {k: v for k, v in before.items() if k != "alpha-2"}
    archived = list((live.state / "archive" / FLEET).glob("*-bot-alpha-2-from-*"))
    assert len(archived) == 1 and (archived[0] / "etc/alpha-2/config.json").exists()


@pytest.mark.also_preloaded
def test_stopped_container_is_planned_as_start_and_repaired(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    live.api.stop(f"{FLEET}-small-1", timeout=5)
    assert actions(live.plan_json()) == [(f"container/{FLEET}-small-1", "start")]
    result = live.apply()
    assert result.code == 0, result.err
    assert live.containers()[f"{FLEET}-small-1"]["State"] == "running"
    assert live.plan("--detailed-exitcode").code == 0


@pytest.mark.also_preloaded
def test_dead_bot_process_is_restarted_alone(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    exec_id = live.api.exec_create(STANDARD, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "stop", "beta-1"])
    live.api.exec_start(exec_id)
    assert actions(live.plan_json()) == [("bot/beta-1", "restart")]
    assert live.apply().code == 0
    after = live.programs(STANDARD)
    assert after["beta-1"][0] == "RUNNING" and after["alpha-1"] == before["alpha-1"]


def test_supervisord_that_does_not_answer_is_shown_as_unknown_and_repaired(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    (live.state / "runtime" / FLEET / STANDARD / "data/supervisor.sock").unlink()  # supervisord runs on, unreachable
    plan = live.plan("--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert f"container/{STANDARD} restart" in plan.out
    assert "unknown: supervisord in testfleet-standard-1 did not answer" in plan.out and "(alpha-1, alpha-2, beta-1)" in plan.out
    result = live.apply()
    assert result.code == 0, result.err
    assert "3 bot(s) answered their ping" in result.out
    assert live.plan("--detailed-exitcode").code == 0


def test_unlabelled_container_with_a_similar_name_is_never_touched(live: LiveFleetHelper) -> None:
    impostor = f"{FLEET}-standard-9"
    live.api.create_container("fleetops/base:1", command=["sleep", "300"], name=impostor, labels={"io.fleetops.test": "1"})
    try:
        assert live.apply().code == 0
        assert impostor not in live.containers()
        assert all(impostor not in c["address"] for c in live.plan_json()["changes"])
        assert live.api.inspect_container(impostor)["State"]["Status"] == "created"
    finally:
        live.api.remove_container(impostor, force=True)


def test_pool_image_change_replaces_its_containers(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    live.api.tag("fleetops/standin-bot:1", "fleetops/standin-bot", "retag")
    try:
        edit(live.root / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: fleetops/standin-bot:retag")
        assert actions(live.plan_json()) == [("pool/small", "update"), (f"container/{FLEET}-small-1", "replace")]
        old_id = live.containers()[f"{FLEET}-small-1"]["Id"]
        assert live.apply().code == 0
        assert live.containers()[f"{FLEET}-small-1"]["Id"] != old_id
        assert live.plan("--detailed-exitcode").code == 0
    finally:
        live.api.remove_image("fleetops/standin-bot:retag")


def test_dedicated_bot_moves_into_a_pool_with_its_database(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    old_db = live.state / "runtime" / FLEET / f"{FLEET}-bot-solo" / "data/bots/solo/tradesv3.dryrun.sqlite"
    old_db.write_bytes(b"trades of solo")
    edit(live.root / "fleet/bots.yaml", "allocation: 500\n", "allocation: 500\npool: small\n")
    assert actions(live.plan_json()) == [(f"container/{FLEET}-bot-solo", "delete"), ("bot/solo", "move")]
    result = live.apply()
    assert result.code == 0, result.err
    assert f"{FLEET}-bot-solo" not in live.containers()
    assert set(live.programs(f"{FLEET}-small-1")) == {"euro-1", "solo"}
    new_db = live.state / "runtime" / FLEET / f"{FLEET}-small-1" / "data/bots/solo/tradesv3.dryrun.sqlite"
    assert new_db.read_bytes() == b"trades of solo"
    assert live.plan("--detailed-exitcode").code == 0


def test_disabled_bot_is_stopped_not_deleted(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nenabled: false")
    assert actions(live.plan_json()) == [("bot/alpha-2", "stop")]
    assert live.apply().code == 0
    programs = live.programs(STANDARD)
    assert programs["alpha-2"][0] == "STOPPED" and programs["alpha-1"][0] == "RUNNING"
    config = live.state / "runtime" / FLEET / STANDARD / "etc/bots/alpha-2/config.json"
    assert config.exists()
    assert live.plan("--detailed-exitcode").code == 0
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.08\nenabled: false", "stoploss: -0.07\nenabled: false")
    plan = live.plan_json()  # a disabled bot's config changes: written for its next start, nothing to interrupt (issue 22)
    assert [(c["address"], c["action"], c["risk"]) for c in plan["changes"]] == [("bot/alpha-2", "stop", "low")]
    assert live.apply().code == 0
    assert live.programs(STANDARD)["alpha-2"][0] == "STOPPED" and json.loads(config.read_text())["stoploss"] == -0.07
    assert live.plan("--detailed-exitcode").code == 0


def test_a_pool_container_holding_only_disabled_bots_is_created_stopped(live: LiveFleetHelper) -> None:
    """Nothing in it would run, so it is not started (issue 22); enabling a bot starts it again."""
    small = f"{FLEET}-small-1"
    assert live.apply().code == 0
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.07", "stoploss: -0.07\nenabled: false")
    edit(live.root / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nmemory: 512m")
    assert live.apply().code == 0
    assert live.containers()[small]["State"] == "created"  # recreated for the new memory limit, never started
    assert (live.state / "runtime" / FLEET / small / "etc/bots/euro-1/config.json").exists()
    assert live.plan("--detailed-exitcode").code == 0  # converged: no repair wants it started
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.07\nenabled: false", "stoploss: -0.07")
    assert actions(live.plan_json()) == [(f"container/{small}", "start"), ("bot/euro-1", "start")]
    assert live.apply().code == 0
    assert live.containers()[small]["State"] == "running" and live.programs(small)["euro-1"][0] == "RUNNING"
    assert live.plan("--detailed-exitcode").code == 0


@pytest.mark.also_preloaded
def test_broken_strategy_is_rolled_back_with_exit_code_3(live: LiveFleetHelper) -> None:
    """A strategy that fails at import never reaches a bot: the plan's load check refuses it (exit 1, nothing
    changed). One that loads but fails in its loop is applied, fails its health gate and is rolled back (exit 3)."""
    edit(live.root / "fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 8")
    commit(live.repo, "short health timeout")
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    with (live.state / "runtime" / FLEET / STANDARD / "data/bots/alpha-2/bot.log").open("a") as log:
        log.write("RuntimeError: an earlier run's failure, not revision 2's\n")  # bot.log keeps every run's lines
    strategy = live.root / "strategies/Alpha.py"
    v1 = strategy.read_text()
    strategy.write_text(v1 + "\nraise RuntimeError('broken')\n")
    commit(live.repo, "Alpha v3, broken at import", tag="v3")
    edit(live.root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    refused = live.apply()
    assert refused.code == 1 and re.search(r"^fleet/bots\.yaml:\d+:\d+: error: .*alpha-2", refused.err, re.M), refused.out + refused.err
    assert "broken" in refused.err and live.programs(STANDARD) == before
    strategy.write_text(v1 + "\nSTANDIN_LOOP_ERROR = \"RuntimeError('broken')\"\n")
    commit(live.repo, "Alpha v4, loads but fails in its loop", tag="v4")
    edit(live.root / "fleet/bots.yaml", "strategy: Alpha@v3\npairs: [SOL/USDT]", "strategy: Alpha@v4\npairs: [SOL/USDT]")
    result = live.apply()
    assert result.code == 3, result.out + result.err
    assert "rolled back to revision 1" in result.err
    assert live.plan_json()["changes"] == [{"address": "bot/alpha-2", "action": "reload", "reason": "strategy pin changed",
                                            "risk": "medium", "risk_notes": ["trading logic changes"],
                                            "diff": live.plan_json()["changes"][0]["diff"]}]
    after = live.programs(STANDARD)
    assert after["alpha-2"][0] == "RUNNING" and after["alpha-1"] == before["alpha-1"]
    history = live.run("history", "--format", "json")
    import json

    assert [r["status"] for r in json.loads(history.out)] == ["applied", "rolled_back"]
    failure_log = json.loads(history.out)[1]["failures"]["alpha-2"]["log"]
    assert any("RuntimeError('broken')" in line for line in failure_log), failure_log
    assert not any("earlier run" in line for line in failure_log), failure_log  # only this revision's lines


def test_real_freqtrade_bots_serve_their_config(live: LiveFleetHelper) -> None:
    """The real FreqTrade (webserver mode, offline) in a pool: its own API reports what fleetops rendered."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    edit(live.root / "fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: fleetops/freqtrade:2026.9")
    edit(live.root / "fleet/fleet.yaml", "bot_command: standin-bot trade", "bot_command: freqtrade webserver")
    edit(live.root / "fleet/fleet.yaml", "health:", "health:\n  check: ping")  # webserver mode has no trading loop
    edit(live.root / "fleet/fleet.yaml", "timeout_seconds: 30", "timeout_seconds: 120")
    text = (live.root / "fleet/bots.yaml").read_text()
    (live.root / "fleet/bots.yaml").write_text(text[: text.index("---\nkind: Bot\nname: beta-1")])  # alpha-1, alpha-2 only
    edit(live.root / "fleet/money.yaml", "---\nkind: Wallet\nname: euro", "---\nkind: Wallet\nname: euro-unused")
    (live.root / "fleet/pools.yaml").write_text((live.root / "fleet/pools.yaml").read_text().split("---")[0])
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert "2 bot(s) answered their ping" in result.out
    config = live.show_config(STANDARD, "alpha-2", 8082)
    assert (config["bot_name"], config["strategy"], config["runmode"], config["dry_run"]) == ("alpha-2", "Alpha", "webserver", True)
    assert config["stoploss"] == -0.08 and config["stake_currency"] == "USDT"
    assert live.plan("--detailed-exitcode").code == 0


def test_secrets_reach_only_the_bots_runtime_file(live: LiveFleetHelper, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    token = "tg-7f3a9c1e-very-secret"
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\nfreqtrade: {telegram: {enabled: false}}\n"
         "secrets: {telegram_token: 'env:FLEET_TG_TOKEN', telegram_chat_id: 'env:FLEET_TG_CHAT'}")  # what FreqTrade's schema requires
    monkeypatch.setenv("FLEET_TG_CHAT", "4242")
    missing = live.apply()
    assert missing.code == 1 and "environment variable FLEET_TG_TOKEN is not set" in missing.err
    assert live.containers() == {}  # nothing was touched
    monkeypatch.setenv("FLEET_TG_TOKEN", token)
    result = live.apply()
    assert result.code == 0, result.err
    secrets = live.state / "runtime" / FLEET / f"{FLEET}-bot-solo" / "etc/bots/solo/secrets.json"
    assert token in secrets.read_text()
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o400 and os.stat(secrets).st_uid == 1000  # the bot's user only
    for path in live.state.rglob("*"):
        if path.is_file() and path != secrets and path.name != "bot.log":
            assert token.encode() not in path.read_bytes(), path
    for out in (result.out, result.err, live.plan().out, live.run("history", "--format", "json").out):
        assert token not in out


def test_apply_rebalance_compacts_a_live_pool(live: LiveFleetHelper) -> None:
    edit(live.root / "fleet/pools.yaml", "capacity: 3", "capacity: 2")
    assert live.apply().code == 0  # standard: [alpha-1 alpha-2] [beta-1]
    text = (live.root / "fleet/bots.yaml").read_text()
    start, end = text.index("---\nkind: Bot\nname: alpha-2"), text.index("---\nkind: Bot\nname: beta-1")
    (live.root / "fleet/bots.yaml").write_text(text[:start] + text[end:])  # [alpha-1] [beta-1]: one container would do
    assert actions(live.plan_json()) == [("bot/alpha-2", "delete")]
    packed = live.run("plan", "--repo", str(live.root), "--rebalance", "--format", "json")
    import json

    assert [(c["address"], c["action"]) for c in json.loads(packed.out)["changes"]] == [
        (f"container/{FLEET}-standard-2", "delete"), ("bot/alpha-2", "delete"), ("bot/beta-1", "move")]
    result = live.apply("--rebalance")
    assert result.code == 0, result.err
    assert set(live.programs(STANDARD)) == {"alpha-1", "beta-1"}
    assert f"{FLEET}-standard-2" not in live.containers()
    assert live.plan("--detailed-exitcode").code == 0


def test_unknown_options_and_unconfirmed_apply_exit_1(live: LiveFleetHelper) -> None:
    assert live.run("plan", "--bogus").code == 1
    unconfirmed = live.run("apply", "--repo", str(live.root))
    assert unconfirmed.code == 1 and "pass --yes" in unconfirmed.err
    assert live.containers() == {}


def test_dedicated_bot_reload_and_disable(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    solo = f"{FLEET}-bot-solo"
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.12")
    assert actions(live.plan_json()) == [("bot/solo", "reload")]
    assert live.apply().code == 0
    assert live.show_config(solo, "solo", 8080)["stoploss"] == -0.12
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.12", "stoploss: -0.12\nenabled: false")
    assert actions(live.plan_json()) == [("bot/solo", "stop")]
    assert live.apply().code == 0
    assert live.containers()[solo]["State"] == "exited"
    assert live.plan("--detailed-exitcode").code == 0  # a stopped disabled bot is not drift
    edit(live.root / "fleet/bots.yaml", "stoploss: -0.12\nenabled: false", "stoploss: -0.11\nenabled: false")
    assert [(c["address"], c["action"], c["risk"]) for c in live.plan_json()["changes"]] == [("bot/solo", "stop", "low")]
    assert live.apply().code == 0
    assert live.containers()[solo]["State"] == "exited" and live.plan("--detailed-exitcode").code == 0


def test_bot_moves_between_pools_and_neighbours_stay_up(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    before = live.programs(STANDARD)
    db = live.state / "runtime" / FLEET / STANDARD / "data/bots/alpha-2/tradesv3.dryrun.sqlite"
    db.write_bytes(b"alpha-2 trades")
    edit(live.root / "fleet/bots.yaml", "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
         "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]")
    assert actions(live.plan_json()) == [("bot/alpha-2", "move")]
    result = live.apply()
    assert result.code == 0, result.err
    after = live.programs(STANDARD)
    assert after == {k: v for k, v in before.items() if k != "alpha-2"}  # neighbours untouched
    assert set(live.programs(f"{FLEET}-small-1")) == {"alpha-2", "euro-1"}
    moved_db = live.state / "runtime" / FLEET / f"{FLEET}-small-1" / "data/bots/alpha-2/tradesv3.dryrun.sqlite"
    assert moved_db.read_bytes() == b"alpha-2 trades"
    assert live.plan("--detailed-exitcode").code == 0


def test_notify_hooks_receive_each_apply_and_rollback(live: LiveFleetHelper) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []  # type: ignore[type-arg]

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        edit(live.root / "fleet/fleet.yaml", "health:", f"notify:\n  - url: http://127.0.0.1:{server.server_port}/fleet\n"
             "  - url: http://127.0.0.1:1/unreachable\nhealth:")
        first = live.apply()
        assert first.code == 0, first.err
        assert "notify http://127.0.0.1:1/… (#" in first.err and "not delivered (ConnectError)" in first.err
        assert "unreachable" not in first.err  # hook URLs are shown masked: their paths often hold tokens
        edit(live.root / "fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.14")
        assert live.apply().code == 0
        assert live.run("rollback", "--yes").code == 0
    finally:
        server.shutdown()
    assert [(e["event"], e["revision"], e["status"]) for e in received] == [("apply", 1, "applied"), ("apply", 2, "applied"), ("rollback", 3, "applied")]
    assert received[0]["fleet"] == FLEET and received[0]["plan_summary"]["create"] == 13
    assert received[2]["message"] == "rollback to revision 1"


@pytest.mark.also_preloaded
def test_a_quoted_argument_with_an_inline_comment_marker_reaches_every_bot(live: LiveFleetHelper) -> None:
    """supervisord's config parser reads whitespace + ';' or '#' as a comment: the rendered command must still
    give every pool bot (and the dedicated one, through Docker) exactly the argv the spec meant."""
    note = "keep ;this #and %(ENV_HOME)s 100%"
    command = "standin-bot trade --config {config} --config {secrets} --userdir {userdir}"
    edit(live.root / "fleet/fleet.yaml", command, f'"{command} --note \'{note}\'"')  # YAML-quoted: ' #' would start a YAML comment
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert "5 bot(s) answered their ping" in result.out
    for container in (STANDARD, f"{FLEET}-small-1"):
        programs = live.programs(container)
        assert programs and all(state == "RUNNING" for state, _ in programs.values()), programs
        for bot, (_, pid) in programs.items():
            exec_id = live.api.exec_create(container, ["cat", f"/proc/{pid}/cmdline"])
            argv = live.api.exec_start(exec_id).decode().rstrip("\0").split("\0")
            assert argv[-2:] == ["--note", note], (bot, argv)
    assert live.api.inspect_container(f"{FLEET}-bot-solo")["Config"]["Cmd"][-2:] == ["--note", note]


def test_settings_changed_by_hand_are_drift_repaired_in_place_or_by_recreating(live: LiveFleetHelper) -> None:
    from engine.naming import network_name

    assert live.apply().code == 0
    before = live.programs(STANDARD)
    live.api.update_container(STANDARD, mem_limit="512m", memswap_limit="1g")  # docker update, as a person would
    live.api.update_container(f"{FLEET}-bot-solo", restart_policy={"Name": "no"})
    live.api.disconnect_container_from_network(f"{FLEET}-small-1", network_name(FLEET))
    plan = live.plan_json()
    assert actions(plan) == [(f"container/{FLEET}-bot-solo", "update"), (f"container/{FLEET}-small-1", "update"), (f"container/{STANDARD}", "update")]
    memory = next(c for c in plan["changes"] if c["address"] == f"container/{STANDARD}")["diff"]
    assert memory == [{"path": "memory", "before": "512m", "after": "1g"}]
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert live.programs(STANDARD) == before  # set back in place: no bot restarted
    assert live.api.inspect_container(STANDARD)["HostConfig"]["Memory"] == 1 << 30
    assert live.api.inspect_container(f"{FLEET}-bot-solo")["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert live.ip(f"{FLEET}-small-1")
    assert live.plan("--detailed-exitcode").code == 0
    # recreated by hand with other settings (no init, no memory limit, another restart policy): recreated
    info = live.api.inspect_container(STANDARD)
    live.api.remove_container(STANDARD, force=True)
    live.api.create_container(info["Config"]["Image"], command=info["Config"]["Cmd"], name=STANDARD, labels=info["Config"]["Labels"],
                              host_config=live.api.create_host_config(binds=info["HostConfig"]["Binds"], network_mode=network_name(FLEET)))
    live.api.start(STANDARD)
    plan = live.plan_json()
    assert actions(plan) == [(f"container/{STANDARD}", "replace")], plan
    assert "changed by hand (user, memory, cpus, restart, init)" in plan["changes"][0]["reason"]  # pools run supervisord as 0:0
    result = live.apply()
    assert result.code == 0, result.out + result.err
    assert live.api.inspect_container(STANDARD)["HostConfig"]["Memory"] == 1 << 30
    assert live.plan("--detailed-exitcode").code == 0
