"""A swarm fleet's spec (contract §8) is checked offline, and refused where it would be planned live or
applied, until the swarm backend applies end to end (issue 19). The located errors of bad ``backend:``
and ``placement:`` values are rows of tests/cases/bad_specs.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import git

from tests.conftest import Run
from tests.support.repos import commit, edit

SWARM = ("backend:\n  kind: swarm\n  manager: tcp://127.0.0.1:1\n  registry: 10.0.0.5:5000\n  exchange_budget: {binance: 4}\n"
         "health:\n")


def test_validate_and_plan_against_accept_a_swarm_fleet_offline(
        base_repo: git.Repo, fleetops_in_process: Callable[..., Run]) -> None:
    root = Path(base_repo.working_dir)
    edit(root / "fleet/fleet.yaml", "health:\n", SWARM)
    edit(root / "fleet/pools.yaml", "capacity: 2", "capacity: 2\nplacement: ['node.labels.zone == eu']")
    validated = fleetops_in_process("validate", "--repo", str(root))
    assert (validated.code, validated.err.splitlines()) == (0, [])
    assert validated.out.startswith("fleet 'testfleet' is valid:")
    as_json = json.loads(fleetops_in_process("validate", "--repo", str(root), "--format", "json").out)
    assert as_json["valid"] is True and as_json["warnings"] == []
    commit(base_repo, "on a swarm")
    edit(root / "fleet/pools.yaml", "node.labels.zone == eu", "node.labels.zone == us")
    planned = fleetops_in_process("plan", "--repo", str(root), "--against", "HEAD", "--format", "json")
    assert planned.code == 0, planned.err
    changes = {c["address"]: c for c in json.loads(planned.out)["changes"]}
    assert [(d["path"], d["before"], d["after"]) for d in changes["pool/small"]["diff"]] == [
        ("placement", ["node.labels.zone == eu"], ["node.labels.zone == us"])]


def test_a_live_plan_of_a_swarm_fleet_goes_to_its_manager_not_to_docker_host(base_repo: git.Repo, fleetops_in_process: Callable[..., Run]) -> None:
    root = Path(base_repo.working_dir)
    edit(root / "fleet/fleet.yaml", "health:\n", SWARM)
    for command in (["plan"], ["apply", "--yes"]):
        result = fleetops_in_process(*command, "--repo", str(root), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        assert result.code == 1
        assert "cannot reach the swarm manager at tcp://127.0.0.1:1" in result.err, result.err
