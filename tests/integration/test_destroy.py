"""``fleetops destroy`` on the real Docker engine: nothing labelled is left, trade databases are archived, history has it."""

from __future__ import annotations

import json

from engine.naming import Labels, network_name
from tests.integration.conftest import FLEET, LiveFleetHelper

STANDARD = f"{FLEET}-standard-1"
SOLO = f"{FLEET}-bot-solo"


def test_destroy_leaves_nothing_labelled_archives_trade_databases_and_apply_brings_the_fleet_back(live: LiveFleetHelper) -> None:
    assert live.apply().code == 0
    runtime = live.state / "runtime" / FLEET
    databases = {"alpha-1": runtime / STANDARD / "data/bots/alpha-1/tradesv3.dryrun.sqlite",  # a pool bot
                 "solo": runtime / SOLO / "data/bots/solo/tradesv3.dryrun.sqlite"}  # a dedicated bot
    for bot, path in databases.items():
        path.write_bytes(f"trades of {bot}".encode())
    label = {"label": f"{Labels.FLEET}={FLEET}"}
    assert live.api.networks(filters=label) and live.api.containers(all=True, filters=label)

    unconfirmed = live.run("destroy", "--repo", str(live.root))
    assert unconfirmed.code == 1 and unconfirmed.err.endswith("(pass --yes)\n"), unconfirmed
    assert len(live.api.containers(all=True, filters=label)) == 3  # nothing touched

    done = live.run("destroy", "--repo", str(live.root), "--yes")
    assert done.code == 0, done.err
    assert f"fleetops plan for fleet '{FLEET}': nothing (fleetops destroy) against live Docker at " in done.out
    assert "--allow-mass-delete" not in done.out
    archive = live.state / "archive" / FLEET
    assert done.out.splitlines()[-1].startswith(f"fleet '{FLEET}' destroyed (revision 2); its runtime files and trade databases "
                                                f"are archived under {archive}/.")
    assert live.api.containers(all=True, filters=label) == []
    assert live.api.networks(filters=label) == [] and live.api.networks(names=[network_name(FLEET)]) == []
    assert live.api.volumes(filters=label)["Volumes"] in (None, [])
    assert not any(runtime.iterdir())  # every unit's runtime files moved to the archive
    archived = {p.read_bytes().decode() for p in archive.rglob("tradesv3.dryrun.sqlite")}
    assert archived == {"trades of alpha-1", "trades of solo"}

    rows = json.loads(live.run("history", "--format", "json").out)
    assert [(r["revision"], r["status"], r["subject"], r["commit"]) for r in rows] == [
        (1, "applied", rows[0]["subject"], rows[0]["commit"]), (2, "applied", "fleetops destroy", None)]
    assert "fleetops destroy" in live.run("history").out.splitlines()[-1]
    again = live.run("destroy", "--repo", str(live.root), "--yes")
    assert again.code == 0 and again.out.splitlines()[-1].startswith(f"Nothing to destroy: fleet '{FLEET}' has nothing on docker at ")

    back = live.apply()
    assert back.code == 0, back.err
    assert "revision 3 applied; 5 bot(s) answered their ping" in back.out
    assert set(live.containers()) == {SOLO, f"{FLEET}-small-1", STANDARD}
    assert live.plan("--detailed-exitcode").code == 0
