"""Git refs a user types that git would read as something else are one-line errors, never tracebacks."""

from __future__ import annotations

from collections.abc import Callable

import git
import pytest

from tests.conftest import Run


@pytest.mark.parametrize("ref", ["main@{1.day.ago}", "HEAD@{0}", ":/fleet", "HEAD..main", "-x", "v1^{tree}", "no-such-ref"])
def test_odd_refs_are_clear_errors(ref: str, base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    for args in (["plan", "--against", ref], ["validate", "--ref", ref]):
        result = fleetops(*args, "--repo", base_repo.working_dir)
        assert result.code == 1, result.out + result.err
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("fleetops: error: git ref") and "not found" in lines[0], result.err


def test_a_registry_image_with_a_port_is_valid(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    from pathlib import Path

    from tests.support.repos import edit

    edit(Path(base_repo.working_dir) / "fleet/pools.yaml", "memory: 1g", "memory: 1g\nimage: registry.local:5000/team/bot:2026.9")
    result = fleetops("validate", "--repo", base_repo.working_dir)
    assert result.code == 0, result.err
