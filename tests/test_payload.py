"""A desired fleet survives the trip through a revision's JSON unchanged."""

from __future__ import annotations

import json

import git

from engine.compile.payload import fleet_from_payload, fleet_to_payload
from engine.compile.render import render_fleet
from engine.offline import compile_at
from engine.plan.diff import plan_fleets


def test_payload_round_trip_is_lossless(base_repo: git.Repo) -> None:
    _, desired = compile_at(base_repo.working_dir, None)
    restored = fleet_from_payload(json.loads(json.dumps(fleet_to_payload(desired))))
    assert restored == desired
    assert render_fleet(restored).files == render_fleet(desired).files
    assert plan_fleets(restored, desired, {}, {}).changes == ()
