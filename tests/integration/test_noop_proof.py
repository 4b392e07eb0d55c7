"""The no-op proof against the real engine: a proven "No changes" is exactly what the full plan says.

Differential: after each way the fleet or its inputs can change behind a proof, ``plan`` (which
may use the proof) must print what ``FLEETOPS_FULL_PLAN=1 plan`` prints, and when nothing
changed it must have answered from the proof (no spec was loaded, no Docker SDK imported).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from engine.naming import Labels, network_name
from tests.conftest import FREQTRADE_CHECK, ROOT, Run
from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import commit, edit

FULL = {"FLEETOPS_FULL_PLAN": "1"}
TIMED = {"FLEETOPS_TIMINGS": "1"}


def proven(run: Run) -> bool:
    """Whether the plan was answered from the proof (its stages show no spec load)."""
    return "timing: no-op proof" in run.err and "timing: load specs" not in run.err


def plan_both(live: LiveFleetHelper) -> tuple[Run, Run]:
    fast = live.run("plan", "--repo", str(live.root), env=TIMED)
    full = live.run("plan", "--repo", str(live.root), env={**FULL, **TIMED})
    assert fast.code == full.code == 0, (fast.err, full.err)
    return fast, full


def converged_with_proof(live: LiveFleetHelper) -> None:
    """Apply until nothing changes; the no-changes apply writes the proof the next plan uses."""
    assert live.apply().code == 0
    settled = live.apply()
    assert settled.code == 0 and "No changes" in settled.out, settled.out + settled.err
    fast, full = plan_both(live)
    assert proven(fast), fast.err
    assert fast.out == full.out


@pytest.fixture
def fleet(live: LiveFleetHelper) -> LiveFleetHelper:
    converged_with_proof(live)
    return live


def test_an_unchanged_fleet_is_answered_from_the_proof_and_says_what_the_full_plan_says(fleet: LiveFleetHelper) -> None:
    for _ in range(2):
        fast, full = plan_both(fleet)
        assert proven(fast) and not proven(full)
        assert fast.out == full.out and "No changes. The fleet matches the target." in fast.out
    applied = fleet.run("apply", "--repo", str(fleet.root), "--yes", env=TIMED)
    assert applied.code == 0 and proven(applied) and "No changes" in applied.out


def test_the_console_entry_answers_an_unchanged_fleet_before_the_cli_loads(fleet: LiveFleetHelper) -> None:
    """``fleetops plan`` and ``fleetops apply --yes`` of an unchanged fleet are answered by ``engine.entry`` from
    the proof, byte for byte what the full plan prints, without importing click or the CLI (~35 ms of the
    process); a shape it does not know is left to the CLI."""
    probe = ("import os, sys\nfrom pathlib import Path\nfrom engine.entry import no_op_answer\n"
             "for argv in (['plan', '--repo', sys.argv[1]], ['--state-dir', os.environ['FLEETOPS_STATE_DIR'], 'apply', '--yes', "
             "f'--repo={sys.argv[1]}'], ['plan', '--repo', sys.argv[1], '--format', 'json']):\n"
             "    print(repr(no_op_answer(argv, os.environ, Path.cwd())))\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'click' or m.startswith('engine.cli')))")
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(fleet.state), "NO_COLOR": "1", **FREQTRADE_CHECK}
    proc = subprocess.run([sys.executable, "-c", probe, str(fleet.root)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    full = fleet.run("plan", "--repo", str(fleet.root), env=FULL)
    assert proc.returncode == 0 and full.code == 0, proc.stderr + full.err
    assert proc.stdout.splitlines() == [repr(full.out), repr(full.out), "None", "[]"]
    widen_a_stoploss(fleet)
    proc = subprocess.run([sys.executable, "-c", probe, str(fleet.root)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == ["None", "None", "None", "[]"], proc.stdout + proc.stderr
    changed = fleet.run("plan", "--repo", str(fleet.root), env=TIMED)
    assert changed.err.count("timing: no-op proof") == 1 and "stoploss" in changed.out  # checked once: the CLI plans in full


def widen_a_stoploss(live: LiveFleetHelper) -> None:
    bots = live.root / "fleet/bots.yaml"
    text = bots.read_text()
    assert "stoploss: -0.10\n" in text
    bots.write_text(text.replace("stoploss: -0.10\n", "stoploss: -0.20\n", 1))


def test_a_spec_edit_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    widen_a_stoploss(fleet)
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "stoploss" in fast.out


@pytest.mark.parametrize("shape", ["warned-about", "symbolic-link", "submodule-not-checked-out", "sparse-checkout", "git-attribute"])
def test_an_entry_the_loader_refuses_or_warns_about_falls_back_to_the_full_plan(fleet: LiveFleetHelper, shape: str) -> None:
    """The proof lists the working tree with the loader's own listing (issue 17): a file it would
    only warn about, or an entry it refuses, is never answered "No changes" from the proof."""
    if shape == "warned-about":
        (fleet.root / "fleet/more-bots.yaml.txt").write_text("kind: Bot\n")
    elif shape == "symbolic-link":
        (fleet.root / "fleet/again.yaml").symlink_to("bots.yaml")
    elif shape == "sparse-checkout":  # the disk lost files git still has: never "No changes", never a plan without their bots
        fleet.repo.git.execute(["git", "sparse-checkout", "set", "--no-cone", "/*", "!/fleet/bots.yaml"])
    elif shape == "git-attribute":  # git would commit other bytes than the disk holds
        (fleet.root / ".gitattributes").write_text("fleet/*.yaml filter=git-crypt\n")
    else:
        (fleet.root / "fleet/vendor").mkdir()
        fleet.repo.git.update_index("--add", "--cacheinfo", f"160000,{fleet.repo.head.commit.hexsha},fleet/vendor")
    fast = fleet.run("plan", "--repo", str(fleet.root), env=TIMED)
    full = fleet.run("plan", "--repo", str(fleet.root), env={**FULL, **TIMED})
    assert not proven(fast)
    untimed = [[line for line in run.err.splitlines() if not line.startswith("timing")] for run in (fast, full)]
    assert (fast.code, fast.out, untimed[0]) == (full.code, full.out, untimed[1])
    assert any(f"{'warning' if shape == 'warned-about' else 'error'}: fleet/" in line for line in untimed[0]), fast.err
    assert fast.code == (0 if shape == "warned-about" else 1)


def test_a_moved_tag_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    strategy = fleet.root / "strategies/Alpha.py"
    strategy.write_text(strategy.read_text() + "\n# v1 re-cut\n")
    commit(fleet.repo, "re-cut Alpha")
    fleet.repo.git.tag("-f", "v1")  # the pin's name stays, its commit moves
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "reload" in fast.out


def test_an_uncommitted_change_outside_the_specs_changes_only_the_header(fleet: LiveFleetHelper) -> None:
    strategy = fleet.root / "strategies/Alpha.py"
    strategy.write_text(strategy.read_text() + "\n# work in progress\n")  # pins read commits: nothing to do, but dirty
    fast, full = plan_both(fleet)
    assert proven(fast) and fast.out == full.out and "uncommitted changes" in fast.out


def test_a_dead_bot_process_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    container = next(n for n, c in fleet.containers().items() if c["Labels"].get(Labels.POOL) == "standard")
    _, pid = fleet.programs(container)["alpha-2"]
    assert pid is not None
    run = fleet.api.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "stop", "alpha-2"])
    fleet.api.exec_start(run)
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "bot/alpha-2" in fast.out and "restart" in fast.out


def test_a_stopped_container_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    fleet.api.stop(f"{FLEET}-bot-solo", timeout=1)
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "start" in fast.out


def test_a_recreated_or_removed_container_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    fleet.api.remove_container(f"{FLEET}-bot-solo", force=True)
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and f"container/{FLEET}-bot-solo" in fast.out


def test_a_rewritten_record_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    record = next((fleet.state / "runtime" / FLEET).glob("*/records/bots/alpha-1.json"))
    with record.open("r+") as handle:  # in place, not by rename: the directory's own times do not move
        handle.write("not json")
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "unreadable" in fast.out


def test_another_revision_or_setting_falls_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    widen_a_stoploss(fleet)
    commit(fleet.repo, "widen a stoploss")
    assert fleet.apply().code == 0  # a new revision: the old proof names revision 1
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "No changes" in fast.out
    converged_with_proof(fleet)
    secrets_dir = {"FLEETOPS_SECRETS_DIR": str(fleet.state)}  # a setting validation reads
    fast = fleet.run("plan", "--repo", str(fleet.root), env={**TIMED, **secrets_dir})
    assert fast.code == 0 and not proven(fast)


def test_a_killed_supervisord_is_not_proven_running(fleet: LiveFleetHelper) -> None:
    container = next(n for n, c in fleet.containers().items() if c["Labels"].get(Labels.POOL) == "small")
    top = fleet.api.top(container, ps_args="-eo pid,comm")
    pid = next(int(row[0]) for row in top["Processes"] if "supervisord" in row[1])
    os.kill(pid, signal.SIGSTOP)  # alive but silent: its bots' states are unknown
    try:
        fast = fleet.run("plan", "--repo", str(fleet.root), env=TIMED)
        assert fast.code == 0 and not proven(fast) and "unknown" in fast.out
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_rotated_secret_value_is_never_answered_no_changes(fleet: LiveFleetHelper) -> None:
    edit(fleet.root / "fleet/bots.yaml", "stoploss: -0.10", "stoploss: -0.10\nsecrets: {exchange_key: 'env:EX_KEY'}")
    edit(fleet.root / "fleet/bots.yaml", "stoploss: -0.15", "stoploss: -0.15\nsecrets: {exchange_key: 'env:EX_KEY'}")
    commit(fleet.repo, "alpha-1 and solo read EX_KEY")  # a key FreqTrade accepts alone in dry-run
    old, new = {"EX_KEY": "old-token-4411"}, {"EX_KEY": "new-token-7722"}
    assert fleet.run("apply", "--repo", str(fleet.root), "--yes", env=old).code == 0
    settled = fleet.run("apply", "--repo", str(fleet.root), "--yes", env={**old, **TIMED})
    assert settled.code == 0 and "No changes" in settled.out, settled.out + settled.err
    fast = fleet.run("plan", "--repo", str(fleet.root), env={**old, **TIMED})
    assert proven(fast), fast.err  # the same value: proven unchanged
    fast = fleet.run("plan", "--repo", str(fleet.root), env={**new, **TIMED})
    full = fleet.run("plan", "--repo", str(fleet.root), env={**new, **FULL})
    assert not proven(fast) and fast.out == full.out, (fast.out, full.out)
    assert "bot/alpha-1" in full.out and "bot/solo" in full.out and "(secret changed)" in full.out
    assert "bot/alpha-2" not in full.out and "new-token" not in full.out + full.err and "old-token" not in full.out + full.err
    applied = fleet.run("apply", "--repo", str(fleet.root), "--yes", env=new)
    assert applied.code == 0, applied.out + applied.err
    secrets = next((fleet.state / "runtime" / FLEET).glob("*/etc/bots/alpha-1/secrets.json")).read_text()
    assert "new-token-7722" in secrets  # the bot was restarted on the new value
    assert fleet.run("plan", "--repo", str(fleet.root), "--detailed-exitcode", env=new).code == 0
    assert "new-token" not in "".join(p.read_text() for p in (fleet.state / "runtime" / FLEET).glob("*/records/**/*.json"))


def update_by_hand(live: LiveFleetHelper, container: str, **settings: object) -> None:
    """`docker update` as a person would run it: the container keeps its id and keeps running."""
    live.api.update_container(container, **settings)


def test_settings_changed_by_hand_fall_back_to_the_full_plan(fleet: LiveFleetHelper) -> None:
    standard = next(n for n, c in fleet.containers().items() if c["Labels"].get(Labels.POOL) == "standard")
    update_by_hand(fleet, standard, mem_limit="512m", memswap_limit="1g")
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and f"container/{standard}" in fast.out and "memory" in fast.out
    assert fleet.apply().code == 0
    converged_with_proof(fleet)
    update_by_hand(fleet, f"{FLEET}-bot-solo", restart_policy={"Name": "no"})
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "restart" in fast.out
    assert fleet.apply().code == 0
    converged_with_proof(fleet)
    small = next(n for n, c in fleet.containers().items() if c["Labels"].get(Labels.POOL) == "small")
    fleet.api.disconnect_container_from_network(small, network_name(FLEET))
    fast, full = plan_both(fleet)
    assert not proven(fast) and fast.out == full.out and "networks" in fast.out
