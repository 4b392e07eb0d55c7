"""The strategy changelog of a pin change, in real git repositories (issue 20, item 2).

One table of cases: each releases new versions of the test fleet's strategy ``Alpha`` (commits,
a tag), moves bots' pins, plans ``--against`` the commit before (what CI runs), and states the
changelog and the risk it expects. The rules for a setting that takes effect are a table of
their own (``strategy_setting_risk``); the live plan and the formats have a test each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import git
import pytest

from engine.offline import offline_plan
from engine.plan.jsonfmt import plan_as_dict, plan_from_dict, plan_to_json
from engine.plan.markdown import plan_to_markdown
from engine.plan.model import Plan, Risk
from engine.plan.risk import strategy_setting_risk
from engine.plan.text import plan_to_text
from engine.spec.history import MAX_SUBJECT
from tests.support.repos import commit, edit

ALPHA = "strategies/Alpha.py"
BOTS = "fleet/bots.yaml"
ALPHA_2_PIN = "strategy: Alpha@v1\npairs: [SOL/USDT]"


def change(repo: git.Repo, rel: str, old: str, new: str, message: str, tag: str | None = None) -> None:
    edit(Path(repo.working_dir) / rel, old, new)
    commit(repo, message, tag=tag)


def pin_alpha_2(repo: git.Repo, ref: str) -> None:
    """alpha-2 (trailing stop with a positive, stoploss -0.08) moves to ``Alpha@ref``: the pull request."""
    edit(Path(repo.working_dir) / BOTS, ALPHA_2_PIN, f"strategy: Alpha@{ref}\npairs: [SOL/USDT]")


def upgrade(repo: git.Repo) -> None:
    change(repo, ALPHA, 'minimal_roi = {"0": 0.04}', 'minimal_roi = {"0": 0.05}', "Alpha: take profit later")
    change(repo, "strategies/Beta.py", "rolling(50)", "rolling(60)", "Beta: slower mean")  # not Alpha's: not listed
    change(repo, ALPHA, "rolling(20).mean()", "rolling(30).mean()\n        dataframe[\"rsi\"] = 50", "Alpha: slower mean, rsi", tag="v2")
    pin_alpha_2(repo, "v2")


def release(old: str, new: str) -> Callable[[git.Repo], None]:
    def run(repo: git.Repo) -> None:
        change(repo, ALPHA, old, new, "Alpha v2", tag="v2")
        pin_alpha_2(repo, "v2")
    return run


def downgrade(repo: git.Repo) -> None:
    """The fleet runs v3; the pull request takes alpha-2 back to v1 (two releases, one spec commit)."""
    change(repo, ALPHA, "stoploss = -0.10", "stoploss = -0.12", "Alpha: wider stop", tag="v2")
    change(repo, ALPHA, "timeframe = \"5m\"", "timeframe = \"5m\"\n    can_short = True", "Alpha: shorts", tag="v3")
    change(repo, BOTS, ALPHA_2_PIN, "strategy: Alpha@v3\npairs: [SOL/USDT]", "alpha-2 on v3")
    edit(Path(repo.working_dir) / BOTS, "strategy: Alpha@v3\npairs: [SOL/USDT]", ALPHA_2_PIN)


def diverged(repo: git.Repo) -> None:
    """The fleet runs a version from a side branch; the pull request moves to main's newer release."""
    repo.git.checkout("-q", "-b", "side", "v1")
    change(repo, ALPHA, "stoploss = -0.10", "stoploss = -0.09", "side: tighter stop", tag="s1")
    repo.git.checkout("-q", "main")
    change(repo, BOTS, ALPHA_2_PIN, "strategy: Alpha@s1\npairs: [SOL/USDT]", "alpha-2 on the side branch")
    change(repo, ALPHA, 'minimal_roi = {"0": 0.04}', 'minimal_roi = {"0": 0.05}', "Alpha: take profit later", tag="v2")
    edit(Path(repo.working_dir) / BOTS, "strategy: Alpha@s1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")


def many_commits(repo: git.Repo) -> None:
    for i in range(13):
        change(repo, ALPHA, f"rolling({20 + i})", f"rolling({21 + i})", f"Alpha: mean of {21 + i} " + "x" * (150 if i == 12 else 0),
               tag="v2" if i == 12 else None)
    pin_alpha_2(repo, "v2")


def trailing_without_positive(repo: git.Repo) -> None:
    """alpha-2's spec trails without a ``positive``: the strategy's trailing_stop_positive is the one FreqTrade uses."""
    edit(Path(repo.working_dir) / BOTS, "trailing_stop: {enabled: true, positive: 0.01, offset: 0.02}", "trailing_stop: {enabled: true}")
    commit(repo, "alpha-2 trails on the strategy's terms")
    release("stoploss = -0.10", "stoploss = -0.10\n    trailing_stop_positive = 0.03")(repo)


def another_class(repo: git.Repo) -> None:
    edit(Path(repo.working_dir) / BOTS, ALPHA_2_PIN, "strategy: Beta@v1\npairs: [SOL/USDT]")


@dataclass
class Case:
    name: str
    pull_request: Callable[[git.Repo], None]
    summary: str
    """The changelog's summary line (``{v1}``…: the tags' short SHAs)."""
    settings: list[tuple[str, object, object, str, bool]] = field(default_factory=list)
    """(name, before, after, risk, overridden) of each changed setting, in plan order."""
    risk: str = "medium"
    """The bot change's risk."""
    commits: list[str] | None = None
    """The subjects listed, newest first (None: not checked)."""
    notes: list[str] = field(default_factory=list)
    """Texts the bot change's risk notes must contain."""
    setting_notes: dict[str, str] = field(default_factory=dict)
    """Text each named setting's note must contain."""
    more: int = 0


CASES = [
    Case("an upgrade lists the commits touching the file and its lines", upgrade,
         "upgrade: 2 commits to strategies/Alpha.py; +3 -2 lines",
         [("minimal_roi", {"0": 0.04}, {"0": 0.05}, "low", True)],
         commits=["Alpha: slower mean, rsi", "Alpha: take profit later"],
         setting_notes={"minimal_roi": 'overridden: the bot\'s config sets minimal_roi ({"0": 0.1}, rendered from its spec)'}),
    Case("a widened strategy stoploss the spec overrides is noted, not high", release("stoploss = -0.10", "stoploss = -0.30"),
         "upgrade: 1 commit to strategies/Alpha.py; +1 -1 lines",
         [("stoploss", -0.1, -0.3, "low", True)],
         setting_notes={"stoploss": "config sets stoploss (-0.08, rendered from its spec), which FreqTrade uses instead: no effect"}),
    Case("a strategy that starts shorting is high risk, and refused in spot", release("stoploss = -0.10", "stoploss = -0.10\n    can_short = True"),
         "upgrade: 1 commit to strategies/Alpha.py; +1 -0 lines",
         [("can_short", "(not set)", True, "high", False)], risk="high",
         notes=["strategy can now open short positions", "FreqTrade refuses a short strategy: it would not start"]),
    Case("a strategy setting the config leaves to it takes effect", trailing_without_positive,
         "upgrade: 1 commit to strategies/Alpha.py; +1 -0 lines",
         [("trailing_stop_positive", "(not set)", 0.03, "medium", False)],
         notes=["strategy trailing_stop_positive (not set) -> 0.03"]),
    Case("a timeframe the bot does not run is named", release('timeframe = "5m"', 'timeframe = "1h"'),
         "upgrade: 1 commit to strategies/Alpha.py; +1 -1 lines",
         [("timeframe", "5m", "1h", "medium", True)],
         notes=["the strategy now declares timeframe 1h, and this bot runs it on 5m"]),
    Case("values that are not literals are shown as such", release("stoploss = -0.10\n", "stoploss = -0.05 * 2\n    use_exit_signal = bool(1)\n"),
         "upgrade: 1 commit to strategies/Alpha.py; +2 -1 lines",
         [("stoploss", -0.1, "(not a literal)", "low", True), ("use_exit_signal", "(not set)", "(not a literal)", "medium", False)],
         notes=["strategy use_exit_signal (not set) -> (not a literal) (computed when FreqTrade loads the strategy: read it in the code)"]),
    Case("a downgrade is labelled, with the commits it undoes", downgrade,
         "downgrade: 3 commits back, undoing 2 commits to strategies/Alpha.py; +1 -2 lines",
         [("can_short", True, "(not set)", "medium", False), ("stoploss", -0.12, -0.1, "low", True)],
         commits=["Alpha: shorts", "Alpha: wider stop"], notes=["strategy downgrade: 3 commits back"]),
    Case("a version from another line of history says so", diverged,
         "another line of history (neither version contains the other): 1 commit to strategies/Alpha.py the old version lacks, "
         "1 commit of its own left out; +2 -2 lines",
         [("stoploss", -0.09, -0.1, "low", True), ("minimal_roi", {"0": 0.04}, {"0": 0.05}, "low", True)],
         commits=["Alpha: take profit later"]),
    Case("the list of commits is bounded and subjects are cut", many_commits,
         "upgrade: 13 commits to strategies/Alpha.py; +1 -1 lines", more=3),
    Case("another class is another file", another_class,
         "another strategy class: strategies/Beta.py replaces the old class's file; +3 -3 lines"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_changelog_of_a_pin_change(base_repo: git.Repo, case: Case) -> None:
    case.pull_request(base_repo)
    plan = offline_plan(base_repo.working_dir, None, "HEAD")
    [strategy] = plan.strategy_changes
    assert strategy.address == "bot/alpha-2"
    assert strategy.summary == case.summary
    assert [(s.name, s.before, s.after, s.risk.label, s.overridden) for s in strategy.settings] == (case.settings or [])
    bot = next(c for c in plan.changes if c.address == "bot/alpha-2")
    assert bot.risk.label == case.risk, bot.risk_notes
    for note in case.notes:
        assert any(note in n for n in bot.risk_notes), (note, bot.risk_notes)
    for name, text in case.setting_notes.items():
        assert text in next(s.note for s in strategy.settings if s.name == name)
    if case.commits is not None:
        assert [c.subject for c in strategy.commits] == case.commits
    assert strategy.more == case.more
    shas = {c.sha for c in strategy.commits}
    assert shas <= {c.hexsha[:7] for c in git.Repo(base_repo.working_dir).iter_commits("--all")}
    assert all(len(c.subject) <= MAX_SUBJECT + 1 for c in strategy.commits)
    assert strategy.notes == ()


@pytest.mark.parametrize(("name", "before", "after", "live", "risk", "reason"), [
    ("stoploss", -0.05, -0.2, False, Risk.HIGH, "strategy stoploss widened from -0.05 to -0.2"),
    ("stoploss", -0.2, -0.05, False, Risk.LOW, "strategy stoploss tightened from -0.2 to -0.05"),
    ("stoploss", "(not set)", -0.05, False, Risk.MEDIUM, "strategy stoploss (not set) -> -0.05"),
    ("can_short", False, True, False, Risk.HIGH, "strategy can now open short positions (can_short turned on): a short's loss grows as the price rises"),
    ("can_short", True, False, False, Risk.MEDIUM, "strategy can_short true -> false"),
    ("order_types", {"stoploss_on_exchange": True}, {"stoploss_on_exchange": False}, True, Risk.HIGH,
     "strategy order_types no longer place the stoploss on the exchange: a live bot that stops leaves its positions unprotected"),
    ("order_types", {"stoploss_on_exchange": True}, {"stoploss_on_exchange": False}, False, Risk.MEDIUM,
     'strategy order_types {"stoploss_on_exchange": true} -> {"stoploss_on_exchange": false}'),
    ("startup_candle_count", 20, 400, False, Risk.LOW, "strategy startup_candle_count 20 -> 400"),
    ("INTERFACE_VERSION", 2, 3, False, Risk.MEDIUM, "strategy INTERFACE_VERSION 2 -> 3"),
])
def test_a_setting_that_takes_effect_is_rated_like_the_spec(name: str, before: object, after: object, live: bool, risk: Risk,
                                                            reason: str) -> None:
    """What a strategy setting's change risks when the bot's config leaves the key to the strategy
    (fleetops always renders stoploss, so a strategy's stoploss reaches a bot only if that changes)."""
    assert strategy_setting_risk(name, before, after, live=live) == (risk, reason)


def test_a_plan_without_pin_changes_has_no_changelog(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / BOTS, "stoploss: -0.08", "stoploss: -0.09")
    plan = offline_plan(base_repo.working_dir, None, "HEAD")
    assert plan.changes and plan.strategy_changes == ()
    assert plan_as_dict(plan)["strategy_changes"] == []


def test_every_format_shows_the_changelog_and_json_keeps_it(base_repo: git.Repo) -> None:
    downgrade(base_repo)
    commit(base_repo, "alpha-2 back to v1")
    plan = offline_plan(base_repo.working_dir, "HEAD", "HEAD~1")
    text = click.unstyle(plan_to_text(plan))
    assert "      changelog: downgrade: 3 commits back, undoing 2 commits to strategies/Alpha.py; +1 -2 lines\n" in text
    assert "can_short  true -> (not set)  [medium]" in text
    markdown = plan_to_markdown(plan)
    assert "#### Strategy changes" in markdown and "downgrade&#58; 3 commits back" in markdown
    data = json.loads(plan_to_json(plan))
    assert list(data)[:6] == ["format_version", "fleet", "target", "baseline", "changes", "summary"]
    [entry] = data["strategy_changes"]
    assert (entry["address"], entry["relation"], entry["behind"], entry["lines"]) == ("bot/alpha-2", "downgrade", 3, {"added": 1, "removed": 2})
    assert [c["subject"] for c in entry["commits"]] == ["Alpha: shorts", "Alpha: wider stop"]
    again: Plan = plan_from_dict(data)
    assert click.unstyle(plan_to_text(again)) == text and plan_to_json(again) == plan_to_json(plan)


def test_the_live_plan_reads_the_running_version_from_git(base_repo: git.Repo, tmp_path: Path) -> None:
    """Against live state (the fakes' backend), the old version is the one the bot's record names
    (its pin's short SHA, checked against the sha256 it ran): the working tree, then ``--ref``."""
    from engine.flow import plan_commit
    from engine.live.store import RevisionStatus
    from tests.live.harness import Harness

    harness = Harness(base_repo, tmp_path / "state")
    harness.fast_health()
    assert harness.apply().status is RevisionStatus.APPLIED
    release("stoploss = -0.10", "stoploss = -0.10\n    can_short = True")(base_repo)
    for ref in (None, "HEAD"):
        if ref == "HEAD":
            commit(base_repo, "alpha-2 on v2")
        planned = plan_commit(harness.context(), harness.root, ref, proof=False).plan
        assert planned.baseline.kind == "live"
        [strategy] = planned.strategy_changes
        assert (strategy.address, strategy.summary) == ("bot/alpha-2", "upgrade: 1 commit to strategies/Alpha.py; +1 -0 lines")
        assert [c.subject for c in strategy.commits] == ["Alpha v2"] and strategy.notes == ()
        assert [(s.name, s.risk) for s in strategy.settings] == [("can_short", Risk.HIGH)]
        assert next(c for c in planned.changes if c.address == "bot/alpha-2").risk is Risk.HIGH


def test_a_running_version_git_does_not_have_is_a_note(base_repo: git.Repo) -> None:
    """A baseline whose pinned commit is not in the repository (another clone's, a rewritten history):
    the plan stands, and its changelog says what it could not read."""
    from engine.changelog import with_changelog
    from engine.compile.desired import compile_fleet
    from engine.plan.diff import plan_fleets
    from engine.plan.model import Snapshot
    from engine.spec.load import load_fleet

    release("stoploss = -0.10", "stoploss = -0.20")(base_repo)
    before = compile_fleet(load_fleet(base_repo.working_dir, "HEAD").spec)
    loaded = load_fleet(base_repo.working_dir, None)
    after = compile_fleet(loaded.spec)
    old = before.bots["alpha-2"].essence
    unknown = {**{n: b.essence for n, b in before.bots.items()},
               "alpha-2": old.model_copy(update={"strategy": old.strategy.replace(old.strategy[-8:-1], "0000000")})}
    plan = with_changelog(plan_fleets(before, after, Snapshot("ref", "new"), Snapshot("ref", "old")), unknown,
                          {n: b.essence for n, b in after.bots.items()}, loaded.source)
    [strategy] = plan.strategy_changes
    assert strategy.relation == "unknown" and strategy.settings == () and strategy.added is None
    assert strategy.notes == ("the old version's commit 0000000 is not in this repository (fetch it to see the changelog)",)
    assert "      note: the old version's commit 0000000 is not in this repository" in click.unstyle(plan_to_text(plan))
