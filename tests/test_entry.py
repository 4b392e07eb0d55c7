"""The console entry point's no-op path (``engine.entry``): which command lines it answers from the proof
before the CLI loads, and that every other one is left to the CLI untouched. Against the real engine:
tests/integration/test_noop_proof.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.entry import _parsed, no_op_answer

ANSWERED = [
    (["plan"], ("plan", {})),
    (["plan", "--repo", "r", "--format", "text", "--detailed-exitcode"], ("plan", {"--repo": "r", "--format": "text", "--detailed-exitcode": ""})),
    (["--state-dir=s", "--docker-host", "unix:///d.sock", "apply", "--yes", "--repo=r"],
     ("apply", {"--state-dir": "s", "--docker-host": "unix:///d.sock", "--yes": "", "--repo": "r"})),
    (["apply", "--no-rollback", "--allow-mass-delete", "--allow-rename"],
     ("apply", {"--no-rollback": "", "--allow-mass-delete": "", "--allow-rename": ""})),
]
LEFT_TO_THE_CLI = [
    [], ["--help"], ["plan", "-h"], ["plan", "--help"], ["status"], ["plan", "--ref", "HEAD"], ["plan", "--against", "HEAD~1"],
    ["plan", "--rebalance"], ["plan", "--backtest"], ["plan", "--repo"], ["plan", "--repo="], ["plan", "--repo", "a", "--repo", "b"],
    ["plan", "extra"], ["apply", "--detailed-exitcode"], ["plan", "--yes"], ["apply", "--yes=1"], ["--state-dir", "s"],
    ["plan", "--state-dir", "s"], ["apply", "plan"], ["--version"],
]


@pytest.mark.parametrize(("argv", "parsed"), ANSWERED)
def test_the_shapes_it_answers_are_parsed_as_the_cli_would(argv: list[str], parsed: tuple[str, dict[str, str]]) -> None:
    assert _parsed(argv) == parsed


@pytest.mark.parametrize("argv", LEFT_TO_THE_CLI)
def test_every_other_command_line_is_left_to_the_cli_and_touches_nothing(argv: list[str], tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert _parsed(argv) is None
    assert no_op_answer(argv, {"FLEETOPS_STATE_DIR": str(state)}, tmp_path) is None
    assert not state.exists()


def test_no_proof_no_answer_and_full_plan_asked_for_no_answer(tmp_path: Path) -> None:
    state = tmp_path / "state"
    repo = tmp_path / "repo"
    (repo / "fleet").mkdir(parents=True)
    assert no_op_answer(["plan", "--repo", str(repo)], {"FLEETOPS_STATE_DIR": str(state)}, tmp_path) is None  # no proof written
    assert no_op_answer(["plan", "--format", "json"], {"FLEETOPS_STATE_DIR": str(state)}, tmp_path) is None
    assert no_op_answer(["apply"], {"FLEETOPS_STATE_DIR": str(state), "FLEETOPS_FULL_PLAN": "1"}, tmp_path) is None
    assert no_op_answer(["apply", "--docker-host", "http://[::1"], {"FLEETOPS_STATE_DIR": str(state)}, tmp_path) is None  # the CLI says why
