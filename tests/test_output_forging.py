"""No spec text can forge a line of fleetops' output: errors, text plans, the PR comment."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import git

from engine.offline import offline_plan
from engine.plan.markdown import plan_to_markdown
from engine.plan.text import plan_to_text
from tests.conftest import Run
from tests.support.repos import edit

FORGED_KEY = '"note\\n+ bot/evil create  (new bot)\\nfleet/x.yaml:1:1: error: forged"'
MARKUP = '"a ` b `</code> <img src=x onerror=alert(1)> [link](http://evil) | cell | **bold** @team #1"'


def test_a_key_with_line_breaks_cannot_add_lines_to_a_text_plan(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / "fleet/bots.yaml", "process_only_new_candles: true",
         f"process_only_new_candles: true, {FORGED_KEY}: 1")
    text = plan_to_text(offline_plan(base_repo.working_dir, None, "HEAD"))
    assert not any(line.startswith(("+ bot/evil", "fleet/x.yaml")) for line in text.splitlines())
    assert "\\n+ bot/evil create" in text  # shown, escaped, on the line of its change
    assert len([line for line in text.splitlines() if re.match(r"^ *\S+ (bot|container|pool|wallet|fleet)/", line)]) == 1


def test_the_pull_request_comment_shows_markup_as_text(base_repo: git.Repo) -> None:
    edit(Path(base_repo.working_dir) / "fleet/bots.yaml", "process_only_new_candles: true", f"process_only_new_candles: true, note: {MARKUP}")
    markdown = plan_to_markdown(offline_plan(base_repo.working_dir, None, "HEAD"))
    for active in ("<img", "](http", "**bold**", "`</code>", "| cell |", "@team"):
        assert active not in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("|") and "note" in line]
    assert len(rows) == 1 and rows[0].count(" | ") == 2  # still exactly three cells


def test_an_error_about_a_forged_key_stays_one_line(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "capacity: 2", f"capacity: 2\n{FORGED_KEY}: 1")
    result = fleetops("validate", "--repo", base_repo.working_dir)
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fleet/pools.yaml:10:1: error: ") and "\\n" in lines[0]


def test_a_strategy_changelog_shows_commit_subjects_and_values_as_text(base_repo: git.Repo) -> None:
    """The changelog quotes the pull request's own words (commit subjects) and values (literals of
    its strategy): markup stays text in the comment, escapes stay on their line in the text plan."""
    root = Path(base_repo.working_dir)
    edit(root / "strategies/Alpha.py", 'timeframe = "5m"', f'timeframe = {MARKUP}')
    base_repo.git.add(A=True)
    base_repo.git.commit("-q", "-m", "a ` b `</code> <img src=x onerror=alert(1)> [link](http://evil) | cell | **bold** @team \x1b[2J")
    base_repo.create_tag("v2")
    edit(root / "fleet/bots.yaml", "strategy: Alpha@v1\npairs: [SOL/USDT]", "strategy: Alpha@v2\npairs: [SOL/USDT]")
    plan = offline_plan(base_repo.working_dir, None, "HEAD")
    assert plan.strategy_changes and plan.strategy_changes[0].settings[0].name == "timeframe"
    markdown = plan_to_markdown(plan)
    for active in ("<img", "](http", "**bold**", "`</code>", "| cell |", "@team", "\x1b"):
        assert active not in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| <code>timeframe")]
    assert len(rows) == 1 and rows[0].count(" | ") == 4  # still exactly five cells
    assert "\x1b[2J" not in plan_to_text(plan)
