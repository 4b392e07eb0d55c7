"""``plan --backtest`` (issue 20, items 3 and 4): old and new strategy version side by side, reproducibly.

The real FreqTrade of .venv-freqtrade runs every backtest here (marked ``freqtrade``: not in the
fast lane), on 3 days of synthetic 5m candles of one pair, a few seconds a plan. The candles, the
options and the formats need no FreqTrade and run in the fast lane.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import git
import pytest

from engine.backtest import BacktestSettings, versions_of, with_backtests
from engine.backtest.candles import CandleSet, from_datadir, synthetic
from engine.backtest.runners import LocalRunner, Runner
from engine.errors import FleetopsError
from engine.flow import plan_commit
from engine.live.fake_bots import Behaviour
from engine.offline import compile_at, offline_plan
from engine.plan.backtest import BacktestMetrics, BacktestReport, BotBacktest, DataSet
from engine.plan.jsonfmt import plan_from_dict, plan_to_json
from engine.plan.markdown import plan_to_markdown
from engine.plan.model import Action, Change, Plan, Snapshot
from engine.plan.text import plan_to_text
from tests.conftest import FREQTRADE_CHECK, Run
from tests.live.harness import Harness
from tests.support.repos import commit, edit

BOTS = "fleet/bots.yaml"
ALPHA = "strategies/Alpha.py"
LOCAL = {"FLEETOPS_FREQTRADE_CHECK": "local", "FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_CHECK["FLEETOPS_FREQTRADE_PYTHON"]}
"""The local FreqTrade, never the Docker engine (tests/integration/test_backtest_image.py runs the image's)."""
SLOWER_MEAN = ("rolling(20).mean()", "rolling(50).mean()")


def release_v2(repo: git.Repo, old: str, new: str) -> None:
    """Alpha v2 (``old`` replaced by ``new`` in its file), and alpha-2 (SOL/USDT, 5m) moved to it: the pull request."""
    root = Path(repo.working_dir)
    edit(root / ALPHA, old, new)
    commit(repo, "Alpha v2", tag="v2")
    edit(root / BOTS, "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")


def backtested(repo: git.Repo, **settings: object) -> Plan:
    return offline_plan(repo.working_dir, None, "HEAD", backtest=BacktestSettings(days=3, environ=LOCAL, **settings))  # type: ignore[arg-type]


@pytest.mark.freqtrade
def test_old_and_new_side_by_side_and_two_runs_are_byte_identical(base_repo: git.Repo) -> None:
    release_v2(base_repo, *SLOWER_MEAN)
    first = backtested(base_repo)  # no state dir and no FLEETOPS_CACHE_DIR: nothing cached, both runs are FreqTrade's
    report = first.backtest
    assert report is not None and report.freqtrade == "2026.9" and report.synthetic
    [data] = report.datasets
    assert (data.pairs, data.timeframe, data.timerange) == (("SOL/USDT",), "5m", "1767744000-1768003200")
    assert data.sha256 == synthetic(("SOL/USDT",), "5m", 3).sha256
    [bot] = report.bots
    assert (bot.address, bot.before, bot.after, bot.data, bot.notes) == ("bot/alpha-2", first.strategy_changes[0].before,
                                                                         first.strategy_changes[0].after, data.sha256, ())
    assert bot.old is not None and bot.new is not None and bot.old.trades > 0 and bot.new.trades > 0
    assert bot.old.trades_sha256 != bot.new.trades_sha256, "a slower mean trades differently on the same candles"
    assert bot.delta()["trades"] == bot.new.trades - bot.old.trades
    assert bot.lookahead is not None and (bot.lookahead.bias, bot.lookahead.signals) == (False, 20)
    second = backtested(base_repo)
    assert second.backtest is not None and second.backtest.results_sha256 == report.results_sha256
    assert plan_to_json(second) == plan_to_json(first)
    text = click.unstyle(plan_to_text(first))
    assert "behaviour check, not a profit forecast (synthetic candles)" in text and f"sha256 {data.sha256}" in text
    assert f"results sha256 {report.results_sha256}" in text


@pytest.mark.freqtrade
def test_results_are_cached_by_strategy_data_settings_and_freqtrade(base_repo: git.Repo, tmp_path: Path) -> None:
    release_v2(base_repo, *SLOWER_MEAN)
    _, before = compile_at(base_repo.working_dir, "HEAD")
    plain = offline_plan(base_repo.working_dir, None, "HEAD")
    _, after = compile_at(base_repo.working_dir, None)
    cache = tmp_path / "cache"

    def run(days: int) -> tuple[int, Plan]:
        runner = LocalRunner(LOCAL, cache)
        plan = with_backtests(plain, versions_of(before), after, BacktestSettings(days=days), runner)
        return runner.ran, plan

    ran, cold = run(2)
    assert ran == 3 and len(list(cache.glob("*.json"))) == 3  # old, new, and the new version's lookahead-analysis
    ran, warm = run(2)
    assert ran == 0 and plan_to_json(warm) == plan_to_json(cold)
    ran, _ = run(3)  # other candles: other results
    assert ran == 3 and len(list(cache.glob("*.json"))) == 6


@pytest.mark.freqtrade
def test_a_new_version_that_sees_the_future_is_flagged_by_lookahead_analysis(base_repo: git.Repo) -> None:
    release_v2(base_repo, 'dataframe["close"].rolling(20).mean()', 'dataframe["close"].shift(-3)')  # "mean" is three candles ahead
    plan = backtested(base_repo)
    assert plan.backtest is not None
    [bot] = plan.backtest.bots
    assert bot.lookahead is not None and bot.lookahead.bias is True and bot.lookahead.false_entries > 0, bot.lookahead
    assert "LOOKAHEAD BIAS: " in click.unstyle(plan_to_text(plan))
    assert "> [!WARNING]\n> <code>bot/alpha-2</code>" in plan_to_markdown(plan)


@pytest.mark.freqtrade
def test_a_new_version_that_fails_in_backtesting_is_a_note_not_an_error(base_repo: git.Repo) -> None:
    release_v2(base_repo, '        dataframe.loc[dataframe["close"] > dataframe["mean"], "enter_long"] = 1\n',
               '        raise ValueError("no entries today")\n')
    report = backtested(base_repo).backtest
    assert report is not None
    [bot] = report.bots
    assert bot.old is not None and bot.new is None
    assert bot.notes and bot.notes[0].startswith("the new version's backtest failed: ") and "no entries today" in bot.notes[0]
    markdown = plan_to_markdown(backtested(base_repo))
    assert "no entries today" in markdown


@pytest.mark.freqtrade
def test_your_own_datadir_is_backtested_as_it_is_and_not_labelled_synthetic(base_repo: git.Repo, tmp_path: Path) -> None:
    release_v2(base_repo, *SLOWER_MEAN)
    mine = synthetic(("SOL/USDT",), "5m", 2).write(tmp_path / "candles")  # any FreqTrade json candles will do
    report = backtested(base_repo, datadir=mine).backtest
    assert report is not None and not report.synthetic
    [data] = report.datasets
    assert (data.name.startswith(f"{mine}: 5m candles, 1 pair (SOL/USDT)"), data.timerange) == (True, None)
    [bot] = report.bots
    assert bot.old is not None and bot.new is not None and bot.old.trades > 0
    assert "not a profit forecast" not in click.unstyle(plan_to_text(backtested(base_repo, datadir=mine)))


# --- no FreqTrade needed -------------------------------------------------------------------------


def test_synthetic_candles_are_fixed_and_in_freqtrades_json_format(tmp_path: Path) -> None:
    one = synthetic(("BTC/USDT", "ETH/USDT"), "5m", 1)
    assert one == synthetic(("BTC/USDT", "ETH/USDT"), "5m", 1) == synthetic(("BTC/USDT", "ETH/USDT"), "5m", 1, tmp_path)
    [kept, _] = sorted(tmp_path.iterdir(), key=lambda p: p.read_bytes() != one.files["BTC_USDT-5m.json"])
    kept.write_bytes(b"[]")  # read back from the cache next time, and hashed as it is
    assert synthetic(("BTC/USDT",), "5m", 1, tmp_path).files["BTC_USDT-5m.json"] == b"[]"
    assert sorted(one.files) == ["BTC_USDT-5m.json", "ETH_USDT-5m.json"]
    rows = json.loads(one.files["BTC_USDT-5m.json"])
    assert len(rows) == 3 * 288 and all(len(r) == 6 for r in rows)  # two days of warm-up (500 candles, rounded up), one backtested
    assert [rows[1][0] - rows[0][0], rows[0][0]] == [300_000, 1767571200_000]
    assert all(r[3] <= min(r[1], r[4]) <= max(r[1], r[4]) <= r[2] for r in rows)
    assert one.timerange == "1767744000-1767830400"
    assert synthetic(("BTC/USDT",), "5m", 1).sha256 != synthetic(("BTC/USDT",), "5m", 2).sha256
    with pytest.raises(FleetopsError, match="the synthetic market has no 2m candles"):
        synthetic(("BTC/USDT",), "2m", 1)


def test_a_datadir_is_hashed_as_it_is_and_a_missing_pair_is_named(tmp_path: Path) -> None:
    synthetic(("BTC/USDT",), "1h", 1).write(tmp_path)
    mine = from_datadir(tmp_path, ("BTC/USDT",), "1h")
    assert (mine.sha256, mine.timerange, mine.dataformat, mine.synthetic) == (synthetic(("BTC/USDT",), "1h", 1).sha256, None, "json", False)
    assert mine.write(tmp_path / "elsewhere") == tmp_path
    with pytest.raises(FleetopsError, match=r"has no 1h candles of ETH/USDT \(looked for ETH_USDT-1h.json"):
        from_datadir(tmp_path, ("BTC/USDT", "ETH/USDT"), "1h")


def test_the_section_survives_json_and_every_format_labels_synthetic_data() -> None:
    data = DataSet("synthetic: walk", "ab" * 32, ("BTC/USDT",), "5m", "1-2", True)
    bot = BotBacktest("bot/a", "A@v1 (1111111)", "A@v2 (2222222)", data.sha256, BacktestMetrics(4, -1.5, 2.25, 50.0, "x"),
                      BacktestMetrics(2, 0.5, 1.0, None, "y"), ("a <b>note</b>",))
    report = BacktestReport("2026.9", "local python", "the same settings", (data,), (bot,))
    plan = Plan("f", Snapshot("ref", "HEAD", "c" * 40), Snapshot("ref", "main", "d" * 40), (Change("bot/a", Action.RELOAD, "strategy pin changed"),),
                backtest=report)
    again = plan_from_dict(json.loads(plan_to_json(plan)))
    assert again.backtest == report and plan_to_json(again) == plan_to_json(plan)
    assert bot.delta() == {"trades": -2, "profit_pct": 2.0, "max_drawdown_pct": -1.25, "win_rate_pct": None}
    text = click.unstyle(plan_to_text(plan))
    assert "      delta               -2           +2.00           -1.25               -\n" in text
    markdown = plan_to_markdown(plan)
    assert "> Synthetic candles: a **behaviour check, not a profit forecast**." in markdown
    assert "a &lt;b&gt;note&lt;/b&gt;" in markdown and "<b>" not in markdown


class TextEcho(Runner):
    """Answers every run at once, without FreqTrade, with figures that name the strategy text it was
    given (``trades_sha256``: that text's sha256): which version reached which side, at the gate's seam."""

    name = identity = version = "echo"

    def _execute(self, payload: dict[str, Any], candle_sets: Mapping[str, CandleSet], deadline: float) -> dict[str, Any]:
        runs = {name: {"signals": 0, "bias": None} if run["analysis"] == "lookahead" else
                {"trades": 1, "profit_pct": 0.0, "max_drawdown_pct": 0.0, "win_rate_pct": None,
                 "trades_sha256": hashlib.sha256(run["text"].encode()).hexdigest()} for name, run in payload["runs"].items()}
        return {"freqtrade": "echo", "runs": runs}


def test_the_live_plan_backtests_the_version_each_bot_runs_and_notes_one_git_no_longer_has(base_repo: git.Repo, tmp_path: Path) -> None:
    fleet = Harness(base_repo, tmp_path / "state")
    specs = fleet.repo.head.commit.hexsha
    dropped = fleet.strategy_version("Alpha", "v1b", Behaviour())  # alpha-2 runs it; then the branch is rewritten without it
    fleet.edit(BOTS, "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v1b\npairs: [SOL/USDT]")
    assert fleet.apply().status.value == "applied"
    running = fleet.plan().live.bots["alpha-2"].record
    assert running is not None and running.essence.strategy.startswith("Alpha@v1b (")
    fleet.repo.git.reset("--hard", specs)
    fleet.repo.delete_tag(fleet.repo.tags["v1b"])
    fleet.repo.git.reflog("expire", "--expire=now", "--all")
    fleet.repo.git.gc("--prune=now", "--quiet")
    v1 = (fleet.root / ALPHA).read_text()
    v2 = fleet.strategy_version("Alpha", "v2", Behaviour())
    fleet.edit(BOTS, "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")
    fleet.edit(BOTS, "strategy: Alpha@v1\npairs: [BTC/USDT, ETH/USDT]", "strategy: Alpha@v2\npairs: [BTC/USDT, ETH/USDT]")

    settings = BacktestSettings(days=1, runner=TextEcho(None))
    planned = plan_commit(fleet.context(), fleet.root, None, proof=False, backtest=settings)
    report = planned.plan.backtest
    assert report is not None and [b.address for b in report.bots] == ["bot/alpha-1", "bot/alpha-2"]
    alpha1, alpha2 = report.bots
    sha = {text: hashlib.sha256(text.encode()).hexdigest() for text in (v1, v2, dropped)}
    assert alpha1.old is not None and alpha1.new is not None and alpha1.notes == ()
    assert (alpha1.old.trades_sha256, alpha1.new.trades_sha256) == (sha[v1], sha[v2])  # the running v1 against the spec's v2
    assert alpha2.before == running.essence.strategy and alpha2.old is None and alpha2.new is not None
    assert alpha2.new.trades_sha256 == sha[v2]
    short = running.essence.strategy[-8:-1]
    assert alpha2.notes == (f"the running version's commit {short} is not in this repository (fetch it to backtest it): "
                            "only the new version was backtested",)
    assert f"{short} is not in this repository (fetch it to see the changelog)" in planned.plan.strategy_changes[1].notes[0]
    assert plan_commit(fleet.context(), fleet.root, None, proof=False).plan.backtest is None  # only when asked


@pytest.mark.parametrize(("args", "message"), [
    (["--backtest-days", "3"], "--backtest-days and --datadir go with --backtest; add it"),
    (["--backtest", "--against", "HEAD", "--backtest-days", "0"], "--backtest-days must be between 1 and 365 (it is 0)"),
])
def test_backtest_options_are_checked(base_repo: git.Repo, fleetops_in_process: Callable[..., Run], args: list[str], message: str) -> None:
    result = fleetops_in_process("plan", "--repo", base_repo.working_dir, *args)
    assert result.code == 1 and message in result.err, result.err
