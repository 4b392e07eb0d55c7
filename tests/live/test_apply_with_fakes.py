"""Apply, drift and rollback, and their failure paths, against the in-memory fakes.

Each case starts from the applied test fleet (``tests/cases/base``), does one thing to the specs
or to the live host, and states the plan it expects, the outcome of applying it, and what the
fake host saw. The same behaviours are proven against the real Docker engine in
``tests/integration``; these run in seconds and reach the failure paths Docker rarely shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from engine.backend.fake import Exits, Fails, Refused, Runs
from engine.errors import ApplyError, DockerError
from engine.live.fake_bots import STRATEGY_ERROR, Behaviour
from engine.live.store import RevisionStatus, RevisionStore
from engine.plan.model import Risk
from tests.live.harness import IMAGE, SMALL, SOLO, STANDARD, Harness
from tests.support.repos import commit


@pytest.fixture
def fleet(base_repo: git.Repo, tmp_path: Path) -> Harness:
    harness = Harness(base_repo, tmp_path / "state")
    harness.fast_health()
    first = harness.apply()
    assert first.status is RevisionStatus.APPLIED, first.message
    harness.backend.log.clear()
    return harness


def remove_bot(h: Harness, name: str, next_name: str) -> None:
    text = (h.root / "fleet/bots.yaml").read_text()
    start, end = text.index(f"---\nkind: Bot\nname: {name}\n"), text.index(f"---\nkind: Bot\nname: {next_name}\n")
    (h.root / "fleet/bots.yaml").write_text(text[:start] + text[end:])


def break_alpha(h: Harness) -> None:
    """alpha-2 moves to Alpha v3, whose bots' APIs never come up."""
    h.strategy_version("Alpha", "v3", Behaviour(answers=False))
    h.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")


def add_bot(h: Harness, name: str, pool: str) -> None:
    (h.root / "fleet/bots.yaml").write_text((h.root / "fleet/bots.yaml").read_text() + (
        f"---\nkind: Bot\nname: {name}\nwallet: main\nallocation: 100\npool: {pool}\n"
        "strategy: Alpha@v1\npairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n"))


def rotate_a_secret(h: Harness) -> None:
    """alpha-1 and alpha-2 read TG_TOKEN, beta-1 another variable; then TG_TOKEN's value changes."""
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.10\nsecrets: {telegram_token: 'env:TG_TOKEN'}")
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nsecrets: {telegram_token: 'env:TG_TOKEN'}")
    h.edit("fleet/bots.yaml", "stoploss: -0.05", "stoploss: -0.05\nsecrets: {telegram_token: 'env:TG_OTHER'}")
    h.environ.update(TG_TOKEN="old-token-value", TG_OTHER="other-token-value")
    assert h.apply().status is RevisionStatus.APPLIED
    h.environ["TG_TOKEN"] = "new-token-value"


@dataclass
class Case:
    name: str
    change: Callable[[Harness], None]
    plan: list[tuple[str, str]]
    status: RevisionStatus = RevisionStatus.APPLIED
    mutations: list[str] = field(default_factory=list)
    """Exactly the Docker and supervisord mutations the apply makes, in order for each container
    (apply works on several containers at once, so only each one's own order is fixed)."""
    reason: str = ""
    """Text the first change's reason must contain."""
    allow: frozenset[str] = frozenset()
    """Plan-wide risks allowed, as ``--allow-<kind>`` does."""
    refused: str = ""
    """The one-line error apply must refuse with, before any mutation and any revision."""
    risk: str = ""
    """The plan's highest risk, when the case is about risk."""
    postponed: tuple[str, ...] = ()
    """Bots whose change waits for their trades (the fleet does not converge yet)."""
    unhealthy: dict[str, str] = field(default_factory=dict)
    """Bot → the health status the revision's record keeps for it, for every bot that failed the gate."""


def live_alpha_2_with_trades(h: Harness) -> None:
    """alpha-2 trades live money (keys from the environment) and holds a trade that does not close."""
    h.environ.update({"K": "key", "S": "secret"})
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\ndry_run: false\ndrain_timeout: 1\n"
           "secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    h.bots.open_trades["alpha-2"] = 1


def live_alpha_1_renamed(h: Harness, *, holding_trades: bool = False) -> None:
    """alpha-1 trades live money, and is renamed in its spec: the new name is the same bot (the same exchange key)."""
    h.environ.update({"K": "key", "S": "secret"})
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.10\ndry_run: false\ndrain_timeout: 1\n"
           "secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    assert h.apply().status is RevisionStatus.APPLIED
    if holding_trades:
        h.bots.open_trades["alpha-1"] = 1
    h.edit("fleet/bots.yaml", "name: alpha-1\n", "name: alpha-1b\n")


def alpha_1_disabled_then_command_changed(h: Harness) -> None:
    """alpha-1 is disabled and applied (stopped), then the fleet-wide bot command changes: every other bot restarts."""
    h.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.10\nenabled: false")
    assert h.apply().status is RevisionStatus.APPLIED
    h.edit("fleet/fleet.yaml", "--userdir {userdir}", "--userdir {userdir} --logfile {userdir}/bot.log")


def alpha_2_holding_trades_moves_to_small(h: Harness, *, new_container: bool) -> None:
    """alpha-2 (on_change: drain) holds a trade that does not close, and moves to the small pool:
    into a container this apply creates, or into the existing one while its neighbour changes too."""
    h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\non_change: drain\ndrain_timeout: 1")
    assert h.apply().status is RevisionStatus.APPLIED
    h.bots.open_trades["alpha-2"] = 1
    if new_container:
        h.edit("fleet/pools.yaml", "capacity: 2", "capacity: 1")
    else:
        h.edit("fleet/bots.yaml", "stoploss: -0.07", "stoploss: -0.06")
    h.edit("fleet/bots.yaml", "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
           "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]")


CASES = [
    Case("pin change reloads one bot", lambda h: (h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")),
         [("bot/alpha-2", "reload")], mutations=["supervisor testfleet-standard-1 restart alpha-2"]),
    Case("bot added to a full pool gets a new container", lambda h: add_bot(h, "aaa-new", "standard"),
         [("container/testfleet-standard-2", "create"), ("bot/aaa-new", "create")],
         mutations=["create testfleet-standard-2", "start testfleet-standard-2"]),
    Case("bot removed: only its program goes", lambda h: remove_bot(h, "alpha-2", "beta-1"),
         [("bot/alpha-2", "delete")], mutations=["supervisor testfleet-standard-1 remove alpha-2"]),
    Case("stopped container is started", lambda h: h.backend.stop(SMALL),
         [(f"container/{SMALL}", "start")], mutations=[f"start {SMALL}"], reason="container is exited"),
    Case("a container paused by hand (docker pause) is unpaused, its bots go on where they were",
         lambda h: setattr(h.backend.units[SMALL], "state", "paused"),
         [(f"container/{SMALL}", "start")], mutations=[f"unpause {SMALL}"], reason="container is paused"),
    Case("dead bot process is restarted alone", lambda h: h.backend.kill_program(STANDARD, "beta-1"),
         [("bot/beta-1", "restart")], mutations=["supervisor testfleet-standard-1 restart beta-1"], reason="EXITED"),
    Case("supervisord that does not answer is unknown, not 'no changes'", lambda h: h.backend.unreachable.add(STANDARD),
         [(f"container/{STANDARD}", "restart")], mutations=[f"restart {STANDARD}"], reason="unknown: supervisord in"),
    Case("unreadable bot record is re-applied", lambda h: h.record(STANDARD, "beta-1").write_text('{"hash": 1}'),
         [("bot/beta-1", "reload")], mutations=["supervisor testfleet-standard-1 restart beta-1"], reason="unreadable"),
    Case("extra-keyed bot record is drift too",
         lambda h: h.record(STANDARD, "alpha-1").write_text(h.record(STANDARD, "alpha-1").read_text().replace('"hash"', '"evil": 1, "hash"', 1)),
         [("bot/alpha-1", "reload")], mutations=["supervisor testfleet-standard-1 restart alpha-1"], reason="Extra inputs"),
    Case("unreadable container record is rewritten",
         lambda h: h.record(SMALL, "container").write_text("[]"),
         [(f"container/{SMALL}", "update")], mutations=[], reason="record is unreadable"),
    Case("a rotated secret value reloads exactly the bots that read it", rotate_a_secret,
         [("bot/alpha-1", "reload"), ("bot/alpha-2", "reload")],
         mutations=["supervisor testfleet-standard-1 restart alpha-1", "supervisor testfleet-standard-1 restart alpha-2"],
         reason="secret changed"),
    Case("memory and cpus changed by hand (docker update) are set back in place",
         lambda h: h.backend.units[STANDARD].by_hand.update(memory=512 << 20, nano_cpus=2 * 10**9),
         [(f"container/{STANDARD}", "update")], mutations=[f"update {STANDARD}"], reason="changed by hand (memory, cpus); set back in place"),
    Case("restart policy changed by hand is set back in place", lambda h: h.backend.units[SOLO].by_hand.update(restart="no"),
         [(f"container/{SOLO}", "update")], mutations=[f"update {SOLO}"], reason="changed by hand (restart)"),
    Case("a container disconnected from the fleet network is connected again",
         lambda h: h.backend.units[SMALL].by_hand.update(networks=("bridge",)),
         [(f"container/{SMALL}", "update")], mutations=[f"disconnect {SMALL}", f"connect {SMALL}"], reason="changed by hand (networks)"),
    Case("a container recreated by hand with another image is recreated",
         lambda h: h.backend.units[SMALL].by_hand.update(image="fleetops/base:1", labels=(("io.fleetops.fleet", "testfleet"),)),
         [(f"container/{SMALL}", "replace")], mutations=[f"remove {SMALL}", f"create {SMALL}", f"start {SMALL}"],
         reason="changed by hand (image, labels); recreates it (1 bot)"),
    Case("a container renamed by hand (docker rename) is renamed back in place: its bots are seen where they run, never started twice",
         lambda h: h.backend.rename(STANDARD, "by-hand"), [(f"container/{STANDARD}", "update")], mutations=["rename by-hand"],
         reason="renamed by hand to 'by-hand'; renamed back in place, no bot restarts"),
    Case("a container that runs the image's ENTRYPOINT before its command is recreated to run the command as rendered",
         lambda h: h.backend.units[SMALL].by_hand.update(entrypoint=("/docker-entrypoint.sh",)),
         [(f"container/{SMALL}", "replace")], mutations=[f"remove {SMALL}", f"create {SMALL}", f"start {SMALL}"],
         reason="changed by hand (entrypoint); recreates it (1 bot)"),
    Case("a limit the spec does not set cannot be lifted in place: recreated", lambda h: h.backend.units[SMALL].by_hand.update(memory=1 << 30),
         [(f"container/{SMALL}", "replace")], mutations=[f"remove {SMALL}", f"create {SMALL}", f"start {SMALL}"], reason="changed by hand (memory)"),
    Case("broken strategy is rolled back", break_alpha, [("bot/alpha-2", "reload")], RevisionStatus.ROLLED_BACK,
         mutations=["supervisor testfleet-standard-1 restart alpha-2", "supervisor testfleet-standard-1 restart alpha-2"],
         unhealthy={"alpha-2": "degraded"}),
    Case("a policy change updates the record and restarts nothing", lambda h: h.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\non_change: drain"),
         [("bot/solo", "update")], mutations=[], reason="the bot keeps running"),
    Case("disabled bot is stopped, not deleted", lambda h: h.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nenabled: false"),
         [("bot/alpha-2", "stop")], mutations=["supervisor testfleet-standard-1 change alpha-2"]),
    Case("pool-to-pool move", lambda h: h.edit("fleet/bots.yaml", "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
                                               "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]"),
         [("bot/alpha-2", "move")], mutations=["supervisor testfleet-standard-1 stop alpha-2", "supervisor testfleet-small-1 add alpha-2",
                                               "supervisor testfleet-standard-1 remove alpha-2"]),
    Case("more than half of the bots removed: refused before anything changes", lambda h: h.remove_bots("alpha-1", "alpha-2", "beta-1"),
         [(f"container/{STANDARD}", "delete"), ("bot/alpha-1", "delete"), ("bot/alpha-2", "delete"), ("bot/beta-1", "delete")],
         risk="high", refused="refusing to apply: this plan deletes 3 of the 5 bots of fleet 'testfleet' (more than half); "
                              "if that is intended, run it again with --allow-mass-delete"),
    Case("every bot removed (an emptied or unreadable fleet/ directory): refused",
         lambda h: h.remove_bots("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"),
         [(f"container/{SOLO}", "delete"), (f"container/{SMALL}", "delete"), (f"container/{STANDARD}", "delete"), ("bot/alpha-1", "delete"),
          ("bot/alpha-2", "delete"), ("bot/beta-1", "delete"), ("bot/euro-1", "delete"), ("bot/solo", "delete")],
         risk="high", refused="refusing to apply: this plan deletes 5 of the 5 bots of fleet 'testfleet' (all of them); "
                              "if that is intended, run it again with --allow-mass-delete"),
    Case("most of the fleet removed while a neighbour's settings drifted: the repair never drops the refusal",
         lambda h: (h.backend.units[SOLO].by_hand.update(restart="no"), h.remove_bots("alpha-1", "alpha-2", "beta-1")),
         [(f"container/{SOLO}", "update"), (f"container/{STANDARD}", "delete"), ("bot/alpha-1", "delete"), ("bot/alpha-2", "delete"),
          ("bot/beta-1", "delete")],
         risk="high", refused="refusing to apply: this plan deletes 3 of the 5 bots of fleet 'testfleet' (more than half); "
                              "if that is intended, run it again with --allow-mass-delete"),
    Case("most of the fleet removed on purpose (--allow-mass-delete)", lambda h: h.remove_bots("alpha-1", "alpha-2", "beta-1"),
         [(f"container/{STANDARD}", "delete"), ("bot/alpha-1", "delete"), ("bot/alpha-2", "delete"), ("bot/beta-1", "delete")],
         allow=frozenset({"mass-delete"}), mutations=[f"remove {STANDARD}"]),
    Case("every bot removed on purpose: the last container gone, the fleet's network goes too",
         lambda h: h.remove_bots("alpha-1", "alpha-2", "beta-1", "euro-1", "solo"),
         [(f"container/{SOLO}", "delete"), (f"container/{SMALL}", "delete"), (f"container/{STANDARD}", "delete"), ("bot/alpha-1", "delete"),
          ("bot/alpha-2", "delete"), ("bot/beta-1", "delete"), ("bot/euro-1", "delete"), ("bot/solo", "delete")],
         allow=frozenset({"mass-delete"}), mutations=[f"remove {SOLO}", f"remove {SMALL}", f"remove {STANDARD}", "remove-network fleetops-testfleet"]),
    Case("half of the bots is not 'most': two of five go without a flag", lambda h: h.remove_bots("alpha-2", "euro-1"),
         [(f"container/{SMALL}", "delete"), ("bot/alpha-2", "delete"), ("bot/euro-1", "delete")],
         mutations=[f"supervisor {STANDARD} remove alpha-2", f"remove {SMALL}"]),
    Case("a bot renamed on the same exchange account: the old name stops before the new one starts (never two on one account)",
         live_alpha_1_renamed, [("bot/alpha-1", "delete"), ("bot/alpha-1b", "create")], risk="high",
         mutations=[f"supervisor {STANDARD} stop alpha-1", f"supervisor {STANDARD} add alpha-1b", f"supervisor {STANDARD} remove alpha-1"]),
    Case("a live bot renamed while its trades stay open: its delete waits, and so does its new name (never two on one account)",
         lambda h: live_alpha_1_renamed(h, holding_trades=True), [("bot/alpha-1", "delete"), ("bot/alpha-1b", "create")],
         risk="high", mutations=[], postponed=("alpha-1",)),
    Case("a dry-run bot deleted with open trades: high risk, then deleted (its on_change is restart)",
         lambda h: (h.bots.open_trades.update({"alpha-2": 2}), h.remove_bots("alpha-2")),
         [("bot/alpha-2", "delete")], risk="high", mutations=[f"supervisor {STANDARD} remove alpha-2"]),
    Case("a live bot deleted with open trades drains first; still open: the delete waits, the bot keeps running",
         lambda h: (live_alpha_2_with_trades(h), h.remove_bots("alpha-2")),
         [("bot/alpha-2", "delete")], risk="high", mutations=[], postponed=("alpha-2",)),
    Case("a live bot deleted while its open trades cannot be read (its process died): high risk, it is not known to hold none",
         lambda h: (live_alpha_2_with_trades(h), h.backend.kill_program(STANDARD, "alpha-2"), h.remove_bots("alpha-2")),
         [("bot/alpha-2", "delete")], risk="high", mutations=[f"supervisor {STANDARD} remove alpha-2"]),
    Case("a move postponed by open trades never starts the bot in the container created for it",
         lambda h: alpha_2_holding_trades_moves_to_small(h, new_container=True),
         [("pool/small", "update"), ("container/testfleet-small-2", "create"), ("bot/alpha-2", "move")], mutations=[], postponed=("alpha-2",)),
    Case("a move postponed by open trades never starts the bot in an existing container rewritten for a neighbour",
         lambda h: alpha_2_holding_trades_moves_to_small(h, new_container=False),
         [("bot/alpha-2", "move"), ("bot/euro-1", "reload")], mutations=[f"supervisor {SMALL} restart euro-1"], postponed=("alpha-2",)),
    Case("a record that does not parse, of a bot gone from the specs: deleted, its risk saying why",
         lambda h: (h.record(STANDARD, "beta-1").write_text('{"hash": 1}'), h.remove_bots("beta-1")),
         [("bot/beta-1", "delete")], mutations=[f"supervisor {STANDARD} remove beta-1"], reason="unreadable", risk="medium"),
    Case("a disabled bot whose command changes plans as stop, not restart, and stays stopped while the others restart",
         alpha_1_disabled_then_command_changed,
         [("fleet/testfleet", "update"), (f"container/{SOLO}", "replace"), ("bot/alpha-1", "stop"), ("bot/alpha-2", "restart"),
          ("bot/beta-1", "restart"), ("bot/euro-1", "restart"), ("bot/solo", "restart")],
         mutations=[f"remove {SOLO}", f"create {SOLO}", f"start {SOLO}", f"supervisor {SMALL} change euro-1",
                    f"supervisor {STANDARD} change alpha-1", f"supervisor {STANDARD} change alpha-2", f"supervisor {STANDARD} change beta-1"],
         risk="medium"),
    Case("a pool container holding only disabled bots is created stopped, and stays stopped (no repair starts it)",
         lambda h: (h.edit("fleet/bots.yaml", "stoploss: -0.07", "stoploss: -0.07\nenabled: false"),
                    h.edit("fleet/pools.yaml", "capacity: 2", "capacity: 2\nmemory: 512m")),
         [("pool/small", "update"), (f"container/{SMALL}", "replace"), ("bot/euro-1", "stop")],
         mutations=[f"remove {SMALL}", f"create {SMALL}"]),
    Case("enabling a bot in a pool container created stopped starts the container",
         lambda h: (h.edit("fleet/bots.yaml", "stoploss: -0.07", "stoploss: -0.07\nenabled: false"),
                    h.edit("fleet/pools.yaml", "capacity: 2", "capacity: 2\nmemory: 512m"),
                    h.apply(), h.edit("fleet/bots.yaml", "stoploss: -0.07\nenabled: false", "stoploss: -0.07")),
         [(f"container/{SMALL}", "start"), ("bot/euro-1", "start")], mutations=[f"start {SMALL}", f"supervisor {SMALL} change euro-1"]),
    Case("rollback off in the fleet: the failed revision stays", lambda h: (h.edit("fleet/fleet.yaml", "health:", "health:\n  rollback: off"), break_alpha(h)),
         [("fleet/testfleet", "update"), ("bot/alpha-2", "reload")], RevisionStatus.FAILED,
         mutations=["supervisor testfleet-standard-1 restart alpha-2"], unhealthy={"alpha-2": "degraded"}),
]


def per_unit(mutations: list[str]) -> dict[str, list[str]]:
    """The mutations grouped by the container (or network) each names second, each group in order."""
    grouped: dict[str, list[str]] = {}
    for mutation in mutations:
        grouped.setdefault(mutation.split()[1], []).append(mutation)
    return grouped


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_live_case(case: Case, fleet: Harness) -> None:
    case.change(fleet)
    fleet.backend.log.clear()
    plan = fleet.plan().plan
    assert [(c.address, c.action.value) for c in plan.changes] == case.plan
    assert case.reason in plan.changes[0].reason
    assert all(c.risk_notes for c in plan.changes if c.risk is not Risk.LOW), "every risk names its reason"
    if case.risk:
        assert plan.risk.label == case.risk
    if case.refused:
        revisions = fleet.statuses()
        with pytest.raises(ApplyError) as refused:
            fleet.apply(allow=case.allow)
        assert str(refused.value) == case.refused
        assert fleet.backend.log == [] and fleet.statuses() == revisions  # nothing touched, nothing recorded
        return
    outcome = fleet.apply(allow=case.allow)
    assert outcome.status is case.status, outcome.message
    assert per_unit(fleet.backend.log) == per_unit(case.mutations)
    assert fleet.statuses()[-1] == case.status.value
    assert tuple(sorted(outcome.postponed)) == case.postponed
    details = RevisionStore(fleet.state).get(outcome.revision).details
    assert {bot: failure["status"] for bot, failure in details.items()} == case.unhealthy
    if case.status is RevisionStatus.APPLIED and not case.postponed:
        assert fleet.actions() == []  # converged: the next plan is empty
    for bot in case.postponed:  # still running where it was, once, and still planned
        assert [n for n, c in fleet.backend.units.items() if c.programs.get(bot) == "RUNNING"] == [STANDARD]
        assert f"bot/{bot}" in [a for a, _ in fleet.actions()]


def test_first_apply_creates_everything_and_a_second_plan_is_empty(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    assert h.actions()[:3] == [("fleet/testfleet", "create"), ("wallet/euro", "create"), ("wallet/main", "create")]
    outcome = h.apply()
    assert outcome.status is RevisionStatus.APPLIED and len(outcome.health) == 5
    assert h.programs(STANDARD) == {"alpha-1": "RUNNING", "alpha-2": "RUNNING", "beta-1": "RUNNING"}
    assert h.backend.units[SOLO].definition.user == "1000:1000"
    assert h.actions() == []  # caches what the image holds, now that the state dir exists
    calls, reads = h.backend.calls, h.backend.image_reads
    assert h.actions() == []
    assert h.backend.image_reads == reads  # the image's files are not read again: the answer is cached by its ID
    assert h.backend.calls - calls == 1 + 3 + 1  # a no-op live plan: one list call, one inspect per container, one of the image


def test_a_plan_names_its_backend_and_is_refused_by_another(fleet: Harness) -> None:
    """As Terraform's plan names its backend: a plan made for one backend or target is never applied to another."""
    from engine.backend.fake import FakeBackend
    from engine.context import Context
    from engine.flow import apply_plan
    from engine.live.fake_bots import FakeBots
    from engine.naming import BackendRef
    from engine.plan.jsonfmt import plan_as_dict
    from engine.plan.text import plan_to_text

    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")
    planned = fleet.plan()
    assert plan_as_dict(planned.plan)["backend"] == {"kind": "fake", "target": "memory"}
    assert "against live Fake at memory (revision 1)" in plan_to_text(planned.plan).splitlines()[0]
    other = FakeBackend(images=(IMAGE,))
    other.ref = BackendRef("fake", "elsewhere")
    with pytest.raises(ApplyError) as refused:
        apply_plan(Context(fleet.state, FakeBots(other).ports(), fleet.progress.append, fleet.environ), planned)
    assert str(refused.value) == ("refusing to apply: this plan was made for fake at memory, and this run would apply it to "
                                  "fake at elsewhere; plan again against the backend you mean to change")
    assert fleet.backend.log == [] and other.log == [] and fleet.statuses() == ["applied"]  # nothing touched, nothing recorded
    assert apply_plan(fleet.context(), planned).status is RevisionStatus.APPLIED  # where it was made, it applies


def test_a_broken_first_revision_fails_without_a_rollback_target(base_repo: git.Repo, tmp_path: Path) -> None:
    h = Harness(base_repo, tmp_path / "state")
    h.fast_health()
    break_alpha(h)
    outcome = h.apply()
    assert outcome.status is RevisionStatus.FAILED and "there is no earlier healthy revision" in outcome.message


def test_docker_failure_mid_apply_marks_the_revision_failed_not_pending(fleet: Harness) -> None:
    add_bot(fleet, "aaa-new", "standard")
    fleet.backend.fail_calls["create"] = DockerError("Docker refused to create container: disk full")
    with pytest.raises(DockerError, match="disk full"):
        fleet.apply()
    assert fleet.statuses() == ["applied", "failed"]
    assert fleet.apply().status is RevisionStatus.APPLIED  # the next apply converges


def test_an_apply_that_fails_after_its_drain_resumes_the_entries_it_paused(fleet: Harness) -> None:
    """alpha-2 drained (stopbuy) and then was never restarted: the apply failed first. It kept running paused,
    opening no new trade, and no later apply resumed it unless its spec changed again."""
    import threading

    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07\non_change: drain\ndrain_timeout: 10")
    add_bot(fleet, "aaa-new", "standard")  # needs a new container, whose creation fails
    fleet.bots.open_trades["alpha-2"] = 1
    threading.Timer(1.5, lambda: fleet.bots.open_trades.update({"alpha-2": 0})).start()
    fleet.backend.fail_calls["create"] = DockerError("Docker refused to create container: disk full")
    with pytest.raises(DockerError, match="disk full"):
        fleet.apply()
    assert fleet.statuses() == ["applied", "failed"]
    assert fleet.bots.posts == ["alpha-2 stopbuy", "alpha-2 reload_config"] and fleet.bots.entries_stopped == set()
    assert fleet.programs(STANDARD)["alpha-2"] == "RUNNING"


def test_nothing_is_touched_when_the_image_is_missing(fleet: Harness) -> None:
    fleet.edit("fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: fleetops/standin-bot:2")
    with pytest.raises(ApplyError, match="image fleetops/standin-bot:2 .* is not on this Docker engine"):
        fleet.apply()
    assert fleet.backend.log == []


def test_nothing_is_touched_when_a_secret_cannot_be_resolved(fleet: Harness) -> None:
    fleet.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\nsecrets: {telegram_token: 'env:FLEET_TG'}")
    with pytest.raises(ApplyError, match="FLEET_TG is not set"):
        fleet.apply()
    assert fleet.backend.log == []


def test_a_container_name_another_owner_holds_is_refused_before_any_change(fleet: Harness) -> None:
    fleet.backend.add_unmanaged("testfleet-standard-2")
    add_bot(fleet, "aaa-new", "standard")
    with pytest.raises(ApplyError, match="testfleet-standard-2 .* already taken by a container fleetops does not manage"):
        fleet.apply()
    assert fleet.backend.log == []
    assert fleet.backend.units["testfleet-standard-2"].state == "running"


def test_unmanaged_containers_are_invisible(fleet: Harness) -> None:
    fleet.backend.add_unmanaged("testfleet-standard-9", {"io.fleetops.test": "1"})
    assert fleet.actions() == []


def test_plan_and_status_create_no_state_files(base_repo: git.Repo, tmp_path: Path) -> None:
    from engine.status import fleet_status

    h = Harness(base_repo, tmp_path / "state")
    h.plan()
    assert fleet_status(h.context(), "testfleet")["containers"] == []
    assert not (tmp_path / "state").exists()


def test_a_bot_that_dies_at_start_fails_at_once_with_its_log_masked(fleet: Harness) -> None:
    import json
    import time

    fleet.edit("fleet/fleet.yaml", "timeout_seconds: 1", "timeout_seconds: 60")
    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\nsecrets: {telegram_token: 'env:FLEET_TG'}")
    fleet.environ["FLEET_TG"] = "tg-very-secret-123"
    assert fleet.apply().status is RevisionStatus.APPLIED
    fleet.backend.logs.setdefault((STANDARD, "alpha-2"), []).append("RuntimeError: an earlier run's failure, not this revision's")  # bot.log keeps every run's
    (fleet.root / "strategies/Alpha.py").write_text((fleet.root / "strategies/Alpha.py").read_text() + "\n# v3: raises at import\n")
    v3 = (fleet.root / "strategies/Alpha.py").read_bytes()
    commit(fleet.repo, "Alpha v3, crashes", tag="v3")
    fleet.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    # A process started with v3 dies at once, after a traceback that quotes its secrets file, as a careless strategy might.
    fleet.backend.process = lambda s: Exits(("Traceback (most recent call last):",
                                             f"RuntimeError: strategy crashed; config was {s.files.secrets.decode()}")) \
        if s.files.strategy[1] == v3 else Runs()
    started = time.monotonic()
    outcome = fleet.apply()
    assert time.monotonic() - started < 5  # not the 60 s health timeout
    assert outcome.status is RevisionStatus.ROLLED_BACK and "its process is BACKOFF (supervisord)" in outcome.message
    revision = RevisionStore(fleet.state).get(outcome.revision)
    log = revision.details["alpha-2"]["log"]
    assert revision.details["alpha-2"]["status"] == "failed"
    assert any("RuntimeError: strategy crashed" in line for line in log)
    assert not any("earlier run" in line for line in log) and log[0] == "Traceback (most recent call last):"
    assert "tg-very-secret-123" not in json.dumps(revision.details) and "***" in json.dumps(log)
    assert any("| RuntimeError" in line for line in fleet.progress)


@pytest.mark.parametrize("behaviour, status, reason", [
    (Behaviour(loop=False), "degraded", "its trading loop has not run since it started"),
    (Behaviour(strategy_errors=(STRATEGY_ERROR,)), "failed", "its strategy raised since it started: Strategy caused the following exception"),
])
def test_a_bot_that_answers_but_does_not_trade_fails_the_gate(behaviour: Behaviour, status: str, reason: str, fleet: Harness) -> None:
    fleet.strategy_version("Alpha", "v3", behaviour)
    fleet.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    outcome = fleet.apply()
    assert outcome.status is RevisionStatus.ROLLED_BACK and reason in outcome.message, outcome.message
    assert RevisionStore(fleet.state).get(outcome.revision).details["alpha-2"]["status"] == status


def test_with_health_check_ping_a_stalled_loop_passes(fleet: Harness) -> None:
    fleet.edit("fleet/fleet.yaml", "health:", "health:\n  check: ping")
    fleet.strategy_version("Alpha", "v3", Behaviour(loop=False))
    fleet.edit("fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v3\npairs: [SOL/USDT]")
    assert fleet.apply().status is RevisionStatus.APPLIED


def test_a_draining_bot_waits_for_its_trades_then_changes(fleet: Harness) -> None:
    import threading

    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07\non_change: drain\ndrain_timeout: 10")
    fleet.bots.open_trades["alpha-2"] = 2
    plan = fleet.plan().plan
    change = next(c for c in plan.changes if c.address == "bot/alpha-2")
    assert change.risk.label == "medium" and "alpha-2 holds 2 open trades" in change.risk_notes
    threading.Timer(1.5, lambda: fleet.bots.open_trades.update({"alpha-2": 0})).start()  # the trades close
    outcome = fleet.apply()
    assert outcome.status is RevisionStatus.APPLIED and outcome.postponed == {}
    assert fleet.bots.posts == ["alpha-2 stopbuy"]  # no new entries while its trades close
    assert fleet.backend.log == ["supervisor testfleet-standard-1 restart alpha-2"]  # changed once drained, neighbours untouched
    assert any("draining alpha-2: 2 open trade(s)" in line for line in fleet.progress)


def test_a_drain_that_times_out_postpones_only_that_bot(fleet: Harness) -> None:
    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09\non_change: drain\ndrain_timeout: 1")
    fleet.edit("fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.11")  # alpha-1 changes too (restart policy)
    fleet.bots.open_trades["alpha-2"] = 1
    outcome = fleet.apply()
    assert outcome.status is RevisionStatus.APPLIED and "alpha-2" in outcome.postponed
    assert fleet.backend.log == ["supervisor testfleet-standard-1 restart alpha-1"]  # alpha-2 untouched, still running
    assert fleet.bots.posts == ["alpha-2 stopbuy", "alpha-2 reload_config"] and "alpha-2" not in fleet.bots.entries_stopped
    assert fleet.programs("testfleet-standard-1")["alpha-2"] == "RUNNING"
    assert [(c.address, c.action.value) for c in fleet.plan().plan.changes] == [("bot/alpha-2", "reload")]  # tried again next time


def test_restarting_a_live_bot_with_open_trades_is_high_risk(fleet: Harness) -> None:
    fleet.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\ndry_run: false\nsecrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    fleet.environ.update({"K": "key", "S": "secret"})
    fleet.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\nexchange_url: https://localhost:9100")
    assert fleet.apply().status is RevisionStatus.APPLIED
    fleet.bots.open_trades["solo"] = 1
    fleet.edit("fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.14")
    change = next(c for c in fleet.plan().plan.changes if c.address == "bot/solo")
    assert change.risk.label == "high" and any("open live-money trades" in n for n in change.risk_notes)


@pytest.mark.parametrize("edits, image, message", [
    ([("fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: custom/nouser:1")], {"users": {"root": 0}},
     "image custom/nouser:1 cannot run what fleetops renders: no user with uid 1000 in /etc/passwd (for pool small: "
     "set run_as to a user the image has, or add it to the image)"),
    ([("fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: custom/nosup:1")], {"lacks": {"supervisord"}},
     "image custom/nosup:1 cannot run what fleetops renders: no supervisord on its PATH (for pool small)"),
    ([("fleet/fleet.yaml", "image: fleetops/standin-bot:1", "image: custom/nobot:1")], {"lacks": {"standin-bot"}},
     "image custom/nobot:1 cannot run what fleetops renders: no standin-bot on its PATH (for bot solo, pool small, pool standard)"),
    ([("fleet/fleet.yaml", "defaults:\n", "defaults:\n  run_as: ftuser\n")], {"image": "fleetops/standin-bot:1"},
     "image fleetops/standin-bot:1 cannot run what fleetops renders: no user 'ftuser' in /etc/passwd (for bot solo, pool small, "
     "pool standard: set run_as to a user the image has, or add it to the image)"),
])
def test_an_image_that_cannot_run_what_is_rendered_is_refused_before_any_change(
        edits: list[tuple[str, str, str]], image: dict, message: str, fleet: Harness) -> None:  # type: ignore[type-arg]
    name = image.get("image") or next(new.split("image: ")[1].split("\n")[0] for _, _, new in edits)
    fleet.backend.images.add(name)
    if "users" in image:
        fleet.backend.image_users[name] = image["users"]
    fleet.backend.image_lacks[name] = image.get("lacks", set())
    for rel, old, new in edits:
        fleet.edit(rel, old, new)
    with pytest.raises(ApplyError) as refused:
        fleet.apply()
    assert str(refused.value) == message
    assert fleet.backend.log == [] and fleet.statuses() == ["applied"]  # nothing touched, no revision begun


def test_bots_run_as_a_user_name_the_image_resolves(fleet: Harness) -> None:
    import json

    fleet.backend.images.add("custom/ftuser:1")
    fleet.backend.image_users["custom/ftuser:1"] = {"root": 0, "ftuser": 1001}
    fleet.edit("fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: custom/ftuser:1\nrun_as: ftuser")
    outcome = fleet.apply()
    assert outcome.status is RevisionStatus.APPLIED, outcome.message
    assert b"user=ftuser" in fleet.backend.unit_files[SMALL].conf
    record = json.loads(fleet.record(SMALL, "euro-1").read_text())
    assert (record["essence"]["run_as"], record["essence"]["run_as_uid"]) == ("ftuser", 1001)
    assert fleet.backend.bot_files[(SMALL, "euro-1")].uid == 1001  # its files are given to the uid the name has in the image
    assert fleet.actions() == []


def test_a_pool_whose_container_exits_at_start_fails_at_once_with_its_own_log(fleet: Harness) -> None:
    fleet.edit("fleet/fleet.yaml", "timeout_seconds: 1", "timeout_seconds: 60")
    assert fleet.apply().status is RevisionStatus.APPLIED
    fleet.backend.images.add("custom/badsup:1")
    fleet.backend.boot = lambda definition: Fails((  # its supervisord refuses the conf: the container restarts in a loop
        "Error: Invalid user id 1000 in section 'program:euro-1' (file: '/fleet/etc/supervisord.conf')",
        "For help, use /usr/bin/supervisord -h")) if definition.image == "custom/badsup:1" else None
    fleet.edit("fleet/pools.yaml", "capacity: 2", "capacity: 2\nimage: custom/badsup:1")
    started = time.monotonic()
    outcome = fleet.apply()
    assert time.monotonic() - started < 5  # not the 60 s health timeout
    assert outcome.status is RevisionStatus.ROLLED_BACK, outcome.message
    assert "euro-1: its container restarted 1 time(s) since it started" in outcome.message
    failure = RevisionStore(fleet.state).get(outcome.revision).details["euro-1"]
    assert failure["log"] == ["Error: Invalid user id 1000 in section 'program:euro-1' (file: '/fleet/etc/supervisord.conf')",
                              "For help, use /usr/bin/supervisord -h"]
    assert fleet.backend.units[SMALL].definition.image == "fleetops/standin-bot:1"  # rolled back


def test_a_program_supervisord_cannot_start_fails_with_supervisords_own_reason(fleet: Harness) -> None:
    fleet.backend.process = lambda s: Refused("can't find command 'standin-bot'") if s.bot == "alpha-2" else Runs()
    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07")
    outcome = fleet.apply()
    assert outcome.status is RevisionStatus.ROLLED_BACK and "alpha-2: its process is FATAL (supervisord)" in outcome.message
    log = RevisionStore(fleet.state).get(outcome.revision).details["alpha-2"]["log"]
    assert log == ["supervisord: spawnerr: can't find command 'standin-bot'",
                   "supervisord: 2026-01-01 00:00:01,000 INFO gave up: alpha-2 entered FATAL state, too many start retries too quickly"]


def test_a_secret_that_cannot_be_read_here_is_not_claimed_changed(fleet: Harness) -> None:
    rotate_a_secret(fleet)
    fleet.environ["TG_TOKEN"] = "old-token-value"  # as applied
    assert fleet.actions() == []
    del fleet.environ["TG_TOKEN"]  # a shell without the bots' environment: the value cannot be checked here
    fleet.progress.clear()
    assert fleet.actions() == []
    assert "secret reference env:TG_TOKEN cannot be read here; the plan assumes its value is unchanged" in fleet.progress
    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")  # a change that must write alpha-2's secrets
    fleet.backend.log.clear()
    with pytest.raises(ApplyError, match="environment variable TG_TOKEN is not set"):
        fleet.apply()
    assert fleet.backend.log == []


def test_a_rollback_after_a_secret_rotation_keeps_the_current_value(fleet: Harness) -> None:
    """A stored revision is re-planned with today's digests: rolling back to it (or healing to it) does not
    plan the old value again, and so never plans the rotation over and over."""
    from engine.flow import plan_revision

    rotate_a_secret(fleet)  # revision 2 applied with the old value; the value is rotated
    assert fleet.apply().status is RevisionStatus.APPLIED  # revision 3: reloads on the new value
    back = plan_revision(fleet.context(), RevisionStore(fleet.state).get(2))
    assert [(c.address, c.action.value) for c in back.plan.changes] == []
    digests = {b.essence.secret_digests["telegram_token"] for b in back.target.bots.values() if b.essence.secrets}
    assert len(digests) == 2  # TG_TOKEN's current digest, and TG_OTHER's
    assert "new-token-value" not in RevisionStore(fleet.state).get(3).plan_json + str(RevisionStore(fleet.state).get(3).payload)


class _Timeline(list[str]):
    """A log that also writes each entry, tagged, to one shared timeline: the order across the backend and the bots' APIs."""

    def __init__(self, tag: str, shared: list[str]) -> None:
        super().__init__()
        self.tag, self.shared = tag, shared

    def append(self, item: str) -> None:
        super().append(item)
        self.shared.append(f"{self.tag}: {item}")


def test_a_pool_wide_change_drains_its_bots_before_replacing_the_unit(fleet: Harness) -> None:
    """Promise 7 (issue 19): a pool-wide change (the pool's memory) replaces the unit through ``Units.replace``, and
    every ``drain`` bot of that unit holding trades is drained first: stopbuy, its trades closed, and only then the
    replacement; the apply says so in that order. The neighbours restart with the unit, as a replacement must."""
    import threading

    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.08\non_change: drain\ndrain_timeout: 10")
    assert fleet.apply().status is RevisionStatus.APPLIED
    timeline: list[str] = []
    fleet.backend.log, fleet.bots.posts = _Timeline("backend", timeline), _Timeline("bot", timeline)
    fleet.bots.open_trades["alpha-2"] = 2
    fleet.edit("fleet/pools.yaml", "memory: 1g", "memory: 2g")
    plan = fleet.plan().plan
    assert [(c.address, c.action.value) for c in plan.changes] == [("pool/standard", "update"), (f"container/{STANDARD}", "replace")]
    assert "alpha-2 holds 2 open trades" in next(c for c in plan.changes if c.action.value == "replace").risk_notes
    closes = threading.Timer(1.5, lambda: (timeline.append("trades closed"), fleet.bots.open_trades.update({"alpha-2": 0})))
    closes.start()
    fleet.progress.clear()
    outcome = fleet.apply()
    closes.join()
    assert outcome.status is RevisionStatus.APPLIED and outcome.postponed == {}, outcome.message
    assert timeline == ["bot: alpha-2 stopbuy", "trades closed",
                        f"backend: remove {STANDARD}", f"backend: create {STANDARD}", f"backend: start {STANDARD}"]
    said = [line for line in fleet.progress if "alpha-2" in line or STANDARD in line]
    drained = next(i for i, line in enumerate(said) if "alpha-2 drained: no open trades" in line)
    assert said[0].startswith("draining alpha-2: 2 open trade(s)") and drained > 0
    assert all(STANDARD not in line for line in said[:drained]), said  # nothing said about the unit before its bot drained
    assert any(STANDARD in line for line in said[drained:]), said
    assert fleet.programs(STANDARD) == dict.fromkeys(("alpha-1", "alpha-2", "beta-1"), "RUNNING")


def test_history_has_a_header_and_each_revision_its_duration_and_commit_subject(fleet: Harness, fleetops_in_process) -> None:  # type: ignore[no-untyped-def]
    """``history`` (issue 22): a header row; per revision how long its apply took and the subject of the commit it applied,
    in text and JSON (JSON gains ``subject`` and ``duration_seconds``, every key it had stays)."""
    import json
    import re

    from engine.cli.history import HEADER

    fleet.edit("fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.07")
    commit(git.Repo(fleet.root), "Tighten alpha-2's stoploss\n\nA body line that history does not show.")
    assert fleet.apply().status is RevisionStatus.APPLIED
    rows = json.loads(fleetops_in_process("history", "--format", "json").out)
    assert [(r["revision"], r["subject"]) for r in rows] == [(1, rows[0]["subject"]), (2, "Tighten alpha-2's stoploss")]
    assert rows[0]["subject"] and all(isinstance(r["duration_seconds"], int) and r["duration_seconds"] >= 0 for r in rows)
    assert {"revision", "fleet", "commit", "ref", "dirty", "status", "started_at", "finished_at", "message", "changes", "failures",
            "repairs"} <= set(rows[1])
    lines = fleetops_in_process("history").out.splitlines()
    assert lines[0] == HEADER and HEADER.split() == ["REV", "STATUS", "STARTED", "DURATION", "FLEET", "COMMIT", "CHANGES", "SUBJECT"]
    assert re.fullmatch(rf"   2  applied       \S+ +\d+s  testfleet         {rows[1]['commit'][:7]} +1  Tighten alpha-2's stoploss( — .*)?", lines[2])
