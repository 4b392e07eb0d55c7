"""One fleet identity, never two copies: renames, other fleets on the same engine, what status shows.

Against the fakes, with real git repositories: the example of issue 17 (only ``name:`` changed in
the Fleet document planned a second fleet beside the first, at low risk) and its variants.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from engine.backend.fake import FakeBackend
from engine.errors import ApplyError
from engine.live.store import RevisionStatus, RevisionStore
from engine.naming import Labels, account_digest
from engine.status import fleet_report, fleet_status, status_to_text
from tests.live.harness import SMALL, SOLO, STANDARD, Harness
from tests.support.repos import commit

NEW = "newfleet"
LIVE_ALPHA_1 = ("stoploss: -0.10", "stoploss: -0.10\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")


@pytest.fixture
def fleet(base_repo: git.Repo, tmp_path: Path) -> Harness:
    harness = Harness(base_repo, tmp_path / "state")
    harness.fast_health()
    harness.environ.update({"K": "key-value-1", "S": "secret-value-1"})
    assert harness.apply().status is RevisionStatus.APPLIED
    harness.backend.log.clear()
    return harness


def rename(h: Harness, to: str = NEW) -> None:
    h.edit("fleet/fleet.yaml", "name: testfleet", f"name: {to}")


def put_trades(h: Harness, container: str, bot: str, text: str) -> None:
    h.backend.data[(container, bot)] = {"tradesv3.sqlite": text.encode()}  # what the bot wrote: its trade database


def test_a_renamed_fleet_is_refused_naming_both_names_and_the_option(fleet: Harness) -> None:
    rename(fleet)
    plan = fleet.plan().plan
    assert plan.risk.label == "high" and [r.kind for r in plan.plan_risks] == ["rename"]
    assert [c.address for c in plan.changes if c.action.value == "move"] == [f"bot/{b}" for b in ("alpha-1", "alpha-2", "beta-1", "euro-1", "solo")]
    assert {c.address for c in plan.changes if c.action.value == "delete"} == {f"container/{c}" for c in (STANDARD, SMALL, SOLO)}
    assert {c.address for c in plan.changes if c.action.value == "create"} == {f"container/{NEW}-{c}" for c in ("standard-1", "small-1", "bot-solo")}
    assert not any(c.action.value == "create" and c.kind == "bot" for c in plan.changes)  # never a second copy of a bot
    with pytest.raises(ApplyError) as refused:
        fleet.apply()
    assert str(refused.value) == (
        "refusing to apply: this plan renames fleet 'testfleet' to 'newfleet': every bot stops in 'testfleet' and starts in "
        "'newfleet' with its trade database; the old containers are removed; if that is intended, run it again with --allow-rename")
    assert fleet.backend.log == [] and fleet.statuses() == ["applied"]


def test_an_allowed_rename_stops_the_old_copies_first_carries_their_databases_and_removes_the_old_fleet(fleet: Harness) -> None:
    fleet.edit("fleet/bots.yaml", *LIVE_ALPHA_1)  # its account runs under the old name: the rename itself is no conflict
    assert fleet.apply().status is RevisionStatus.APPLIED
    fleet.backend.log.clear()
    put_trades(fleet, STANDARD, "alpha-1", "alpha-1 trades")
    put_trades(fleet, SOLO, "solo", "solo trades")
    rename(fleet)
    outcome = fleet.apply(allow=frozenset({"rename"}))
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    log = fleet.backend.log
    stops = [i for i, m in enumerate(log) if m.startswith(("supervisor testfleet-", "stop testfleet-"))]
    starts = [i for i, m in enumerate(log) if m.startswith(("create newfleet-", "start newfleet-"))]
    removes = [i for i, m in enumerate(log) if m.startswith("remove testfleet-")]
    assert len(stops) == 5 and len(starts) == 6 and len(removes) == 3, log
    assert max(stops) < min(starts) and max(starts) < min(removes), log  # never two copies running at once
    assert sorted(fleet.backend.units) == [f"{NEW}-bot-solo", f"{NEW}-small-1", f"{NEW}-standard-1"]
    assert fleet.backend.data[(f"{NEW}-standard-1", "alpha-1")] == {"tradesv3.sqlite": b"alpha-1 trades"}
    assert fleet.backend.data[(f"{NEW}-bot-solo", "solo")] == {"tradesv3.sqlite": b"solo trades"}
    assert not any(unit.startswith("testfleet-") for unit, _ in (*fleet.backend.data, *fleet.backend.bot_files))  # archived, not deleted:
    assert {"tradesv3.sqlite": b"alpha-1 trades"} in fleet.backend.archived.values()
    assert fleet.actions() == []  # the repository is now 'newfleet': nothing left to do
    status = fleet_status(fleet.context(), None)
    assert status["fleet"] == NEW and status["other_fleets"] == []


def test_a_fleet_and_a_live_bot_renamed_at_once_never_trade_its_account_twice(fleet: Harness) -> None:
    """The renamed bot is not a move (another name): it is deleted with the old fleet, and was removed only
    after its new name had started in the new fleet's container, on the same key."""
    fleet.edit("fleet/bots.yaml", *LIVE_ALPHA_1)
    assert fleet.apply().status is RevisionStatus.APPLIED
    fleet.backend.log.clear()
    rename(fleet)
    fleet.edit("fleet/bots.yaml", "name: alpha-1\n", "name: alpha-1b\n")
    assert fleet.apply(allow=frozenset({"rename"})).status is RevisionStatus.APPLIED
    log = fleet.backend.log
    assert log.index(f"supervisor {STANDARD} stop alpha-1") < log.index(f"create {NEW}-standard-1"), log
    assert fleet.programs(f"{NEW}-standard-1")["alpha-1b"] == "RUNNING" and STANDARD not in fleet.backend.units


def test_a_rename_while_both_names_already_run_keeps_the_new_copy_and_removes_the_old(fleet: Harness, tmp_path: Path) -> None:
    """The state issue 17 found: both names ran every bot (applied before identities were kept)."""
    copy = git.Repo.clone_from(fleet.repo.working_dir, tmp_path / "copy")
    other = Harness(copy, fleet.state, fleet.backend, dict(fleet.environ))
    (other.root / "fleet/fleet.yaml").write_text((fleet.root / "fleet/fleet.yaml").read_text().replace("name: testfleet", f"name: {NEW}"))
    assert other.apply().status is RevisionStatus.APPLIED  # another path: no identity, a second fleet (dry-run: no account)
    status = fleet_status(fleet.context(), "testfleet")
    assert [o["fleet"] for o in status["other_fleets"]] == [NEW] and status["other_fleets"][0]["bot_states"] == {"running": 5}
    text = status_to_text(fleet_report(fleet.context(), "testfleet"))
    assert "ALSO RUNNING from this state dir under another fleet name" in text and f"fleet {NEW}: 3 containers, 5 bots (5 running)" in text
    rename(fleet)  # now the original repository is renamed too: the old name's copies go
    plan = fleet.plan().plan
    assert [c.address for c in plan.changes if c.kind == "bot"] == []  # each bot already runs under the new name
    assert {c.address for c in plan.changes if c.action.value == "delete"} == {f"container/{c}" for c in (STANDARD, SMALL, SOLO)}
    fleet.backend.log.clear()
    assert fleet.apply(allow=frozenset({"rename"})).status is RevisionStatus.APPLIED
    assert sorted(fleet.backend.log) == sorted(f"remove {c}" for c in (STANDARD, SMALL, SOLO))
    assert fleet_status(fleet.context(), NEW)["other_fleets"] == []


def test_a_bot_is_not_started_while_its_account_trades_in_another_fleet(fleet: Harness, tmp_path: Path) -> None:
    fleet.edit("fleet/bots.yaml", *LIVE_ALPHA_1)
    assert fleet.apply().status is RevisionStatus.APPLIED
    copy = git.Repo.clone_from(fleet.repo.working_dir, tmp_path / "copy")
    commit(fleet.repo, "alpha-1 live")
    other = Harness(copy, fleet.state, fleet.backend, dict(fleet.environ))
    (other.root / "fleet/fleet.yaml").write_text((fleet.root / "fleet/fleet.yaml").read_text().replace("name: testfleet", f"name: {NEW}"))
    (other.root / "fleet/bots.yaml").write_text((fleet.root / "fleet/bots.yaml").read_text())
    plan = other.plan()
    change = next(c for c in plan.plan.changes if c.address == "bot/alpha-1")
    assert change.risk.label == "high" and change.risk_notes[0] == (
        f"its exchange account already trades in fleet 'testfleet' (bot alpha-1, container {STANDARD}); "
        "apply refuses to start alpha-1 while that runs")
    fleet.backend.log.clear()
    with pytest.raises(ApplyError) as refused:
        other.apply()
    assert str(refused.value).startswith(
        "refusing to apply: bot 'alpha-1' would trade the exchange account (on binance, same exchange_key) that bot 'alpha-1' "
        f"of fleet 'testfleet' trades on this Docker engine (container {STANDARD}); stop that fleet first")
    assert "env:K" not in str(refused.value) and "key-value-1" not in str(refused.value)
    assert fleet.backend.log == []
    fleet.backend.site("testfleet").stop_bot(STANDARD, "alpha-1", dedicated=False)  # the old copy stopped by hand: now it may start
    assert other.apply().status is RevisionStatus.APPLIED


def test_the_same_key_under_another_reference_is_the_same_account(fleet: Harness, tmp_path: Path) -> None:
    """The account was the exchange and the key's reference: the same key read from a file (or another variable)
    in a copy of the fleet under another name started a second bot on it."""
    fleet.edit("fleet/bots.yaml", *LIVE_ALPHA_1)
    assert fleet.apply().status is RevisionStatus.APPLIED
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "binance.key").write_text("key-value-1\n")
    copy = git.Repo.clone_from(fleet.repo.working_dir, tmp_path / "copy")
    other = Harness(copy, fleet.state, fleet.backend, {**fleet.environ, "FLEETOPS_SECRETS_DIR": str(secrets)})
    (other.root / "fleet/fleet.yaml").write_text((fleet.root / "fleet/fleet.yaml").read_text().replace("name: testfleet", f"name: {NEW}"))
    (other.root / "fleet/bots.yaml").write_text((fleet.root / "fleet/bots.yaml").read_text().replace(
        "exchange_key: 'env:K'", f"exchange_key: 'file:{secrets}/binance.key'").replace("dry_run: false", "dry_run: true"))
    fleet.backend.log.clear()
    with pytest.raises(ApplyError) as refused:
        other.apply()
    assert ("bot 'alpha-1' would trade the exchange account (on binance, the same exchange_key value under another reference) that "
            f"bot 'alpha-1' of fleet 'testfleet' trades on this Docker engine (container {STANDARD})") in str(refused.value)
    assert "key-value-1" not in str(refused.value) and fleet.backend.log == []
    (secrets / "binance.key").write_text("another-key\n")  # another key: another account
    assert other.apply().status is RevisionStatus.APPLIED


def test_an_account_label_of_another_state_dirs_container_counts_too(fleet: Harness) -> None:
    fleet.backend.add_unmanaged("elsewhere-1", {Labels.FLEET: "elsewhere", Labels.ACCOUNTS: f"gw:{account_digest('binance', 'env:K')}"})
    fleet.edit("fleet/bots.yaml", *LIVE_ALPHA_1)
    with pytest.raises(ApplyError, match="that bot 'gw' of fleet 'elsewhere' trades on this Docker engine .container elsewhere-1."):
        fleet.apply()
    for state in ("paused", "restarting"):  # frozen by `docker pause`, or coming back by its restart policy: it trades again
        fleet.backend.units["elsewhere-1"].state = state
        with pytest.raises(ApplyError, match="that bot 'gw' of fleet 'elsewhere' trades on this Docker engine"):
            fleet.apply()
    fleet.backend.units["elsewhere-1"].state = "exited"
    assert fleet.apply().status is RevisionStatus.APPLIED
    labels = fleet.backend.units[STANDARD].labels  # recreated? no: pool labels are set at creation only
    assert Labels.ACCOUNTS not in labels


def test_a_new_live_container_carries_its_accounts_never_a_key(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state", FakeBackend(images=("fleetops/standin-bot:1",)), {"K": "key-value-1", "S": "secret-value-1"})
    h.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    label = h.backend.units[SOLO].labels[Labels.ACCOUNTS]
    assert label == f"solo:{account_digest('binance', 'env:K')}" and "key-value-1" not in label and "env:K" not in label
    assert Labels.ACCOUNTS not in h.backend.units[STANDARD].labels  # bots without keys have no account


def test_the_identity_follows_the_repository_path(fleet: Harness, tmp_path: Path) -> None:
    """Moving the checkout is a new source (no rename is guessed); the account check still guards money."""
    moved = tmp_path / "moved"
    shutil.copytree(fleet.root, moved)
    other = Harness(git.Repo(moved), fleet.state, fleet.backend, dict(fleet.environ))
    rename(other)
    assert other.plan().plan.plan_risks == ()
    assert RevisionStore(fleet.state).latest() is not None
