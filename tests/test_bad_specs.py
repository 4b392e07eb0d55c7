"""Every invariant, broken one case at a time: the exact error lines, and nothing rendered.

Cases live in ``cases/bad_specs.yaml``; a new bad spec is a new entry there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest
from ruamel.yaml import YAML

from tests.conftest import Run
from tests.support.repos import CASES, commit, edit, move_into_submodule

CASES_FILE = CASES / "bad_specs.yaml"
BAD_SPECS: list[dict[str, Any]] = YAML(typ="safe").load(CASES_FILE.read_text())


def apply_case(repo: git.Repo, case: dict[str, Any]) -> Path:
    root = Path(repo.working_dir)
    if case.get("strategies") or case.get("strategy_links"):
        for name, text in (case.get("strategies") or {}).items():
            (root / "strategies" / name).write_text(text)
        for name, target in (case.get("strategy_links") or {}).items():
            (root / "strategies" / name).symlink_to(target)
        commit(repo, "strategies v2", tag="v2")
    for rel, old, new in case.get("edits", []):
        edit(root / rel, old, new)
    for rel, text in (case.get("files") or {}).items():
        target = root / rel
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    for rel, text in (case.get("bytes") or {}).items():  # "\xff" in YAML is byte 0xff here
        (root / rel).write_bytes(text.encode("latin-1"))
    for rel, spec in (case.get("generated") or {}).items():  # large inputs: head + repeat * times
        (root / rel).write_text(spec["head"] + spec["repeat"] * spec["times"] + spec.get("tail", ""))
    for rel, target in (case.get("moves") or {}).items():  # a path moved (outside the repository with ../)
        (root / rel).rename(root / target)
    for rel, target in (case.get("links") or {}).items():  # symbolic links, target as written
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)
    for rel, moved in (case.get("submodules") or {}).items():  # a real submodule holding files moved out of the repository
        move_into_submodule(repo, rel, moved)
    for rel in case.get("gitlinks") or []:  # a submodule registered but never checked out: an empty directory
        (root / rel).mkdir(parents=True)
        repo.git.update_index("--add", "--cacheinfo", f"160000,{repo.head.commit.hexsha},{rel}")
    for rel in case.get("fifos") or []:
        os.mkfifo(root / rel)
    if case.get("sparse"):  # a sparse checkout (non-cone patterns): what is left out is not on disk
        repo.git.execute(["git", "sparse-checkout", "set", "--no-cone", *case["sparse"]])
    return root


@pytest.mark.parametrize("case", BAD_SPECS, ids=[c["name"] for c in BAD_SPECS])
def test_bad_spec_is_reported_exactly_and_nothing_is_rendered(
    case: dict[str, Any], base_repo: git.Repo, fleetops_in_process: Callable[..., Run], tmp_path: Path
) -> None:
    root = apply_case(base_repo, case)
    out_dir = tmp_path / "rendered"
    result = fleetops_in_process("render", "--repo", str(root), "--out", str(out_dir))
    assert result.err.splitlines() == case["expect"]
    assert "Traceback" not in result.err
    if case.get("exit", 1) == 0:  # warnings only: printed, and the run goes on
        assert result.code == 0 and out_dir.is_dir()
    else:
        assert result.code == 1
        assert not out_dir.exists()


@pytest.mark.parametrize("case", [c for c in BAD_SPECS if not c.get("worktree_only")], ids=lambda c: c["name"])
def test_the_same_shape_committed_reads_the_same(
    case: dict[str, Any], base_repo: git.Repo, fleetops_in_process: Callable[..., Run], tmp_path: Path
) -> None:
    """The differential test of the two readers: every case, committed as it is (``git add -A``),
    read from the ref gives exactly what the working tree gave — the same files or the same errors."""
    root = apply_case(base_repo, case)
    commit(base_repo, "the case, committed")
    out_dir = tmp_path / "rendered"
    result = fleetops_in_process("render", "--repo", str(root), "--ref", "HEAD", "--out", str(out_dir))
    assert result.err.splitlines() == case.get("ref_expect", case["expect"])
    assert result.code == case.get("ref_exit", case.get("exit", 1))


INDEPENDENT_CASES = ["unknown-pool", "reserve-above-balance", "pair-quote-not-wallet-currency", "stoploss-out-of-range", "capacity-zero"]


def test_all_problems_of_a_run_are_reported_together(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    by_name = {c["name"]: c for c in BAD_SPECS}
    expected: list[str] = []
    for name in INDEPENDENT_CASES:
        apply_case(base_repo, by_name[name])
        expected += by_name[name]["expect"]
    result = fleetops("validate", "--repo", base_repo.working_dir, "--format", "json")
    report = json.loads(result.out)
    assert result.code == 1
    assert report["valid"] is False
    assert [f"{p['path']}:{p['line']}:{p['col']}: error: {p['message']}" for p in report["problems"]] == sorted(expected)


ADVERSARIAL = ["alias-bomb", "deep-nesting", "file-over-1-mib", "huge-integer"]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversarial_inputs_are_refused_within_bounded_memory_and_time(name: str, base_repo: git.Repo, tmp_path: Path) -> None:
    """The same cases as above, in a process capped at 1 GiB of address space and 10 s: before the
    bounds, the alias bomb took 25 s and gigabytes, a 50 MB file 54 s and 3 GB."""
    import resource
    import subprocess
    import sys

    from tests.conftest import ROOT

    case = next(c for c in BAD_SPECS if c["name"] == name)
    root = apply_case(base_repo, case)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run([sys.executable, "-m", "engine", "validate", "--repo", str(root)], cwd=ROOT, capture_output=True,
                          text=True, timeout=10, preexec_fn=cap)
    assert proc.returncode == 1 and proc.stderr.splitlines() == case["expect"], proc.stderr[-2000:]
