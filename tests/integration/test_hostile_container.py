"""A hostile pool container cannot make the host touch a host file, and cannot crash fleetops.

The container (as root inside it) replaces every entry of its bots' directories with symlinks
to a canary file on the host and tries to rewrite its config; the host-side records are
corrupted too. Then plan, an apply that changes one of its bots, a move and a rollback run: the
canary is unchanged, nothing crashes, and the bots end healthy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.integration.conftest import FLEET, LiveFleetHelper
from tests.support.repos import edit

STANDARD = f"{FLEET}-standard-1"


def fingerprint(directory: Path) -> dict[str, tuple[str, int, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode, p.stat().st_mtime_ns)
            for p in sorted(directory.iterdir())}


def sh(live: LiveFleetHelper, script: str) -> tuple[int, str]:
    exec_id = live.api.exec_create(STANDARD, ["sh", "-c", script], user="root")
    out = live.api.exec_start(exec_id).decode()
    return live.api.exec_inspect(exec_id)["ExitCode"], out


def no_crash(*outputs: str) -> None:
    for out in outputs:
        assert "Traceback" not in out and "internal error" not in out, out


def test_hostile_container(live: LiveFleetHelper, tmp_path: Path) -> None:
    canary_dir = tmp_path / "host-only"
    canary_dir.mkdir()
    canary = canary_dir / "canary.txt"
    canary.write_text("host secret\n")
    os.chmod(canary, 0o644)
    before = fingerprint(canary_dir)
    assert live.apply().code == 0

    code, out = sh(live, "ps -o user,args | grep '[/]usr/local/bin/standin-bot' | awk '{print $1}' | sort -u")
    assert out.split() == ["bot"], out  # bots run unprivileged; only supervisord is root
    code, out = sh(live, "echo evil > /fleet/etc/bots/alpha-1/config.json")
    assert code != 0 and "Read-only file system" in out  # fleetops' files are read-only inside
    code, out = sh(live, f"""
        for bot in /fleet/data/bots/*; do
          for entry in "$bot"/* "$bot"/.[!.]*; do [ -e "$entry" ] || [ -L "$entry" ] || continue; rm -rf "$entry"; ln -s {canary} "$entry"; done
          for name in secrets.json config.json tradesv3.dryrun.sqlite bot.log user_data applied.json; do
            [ -e "$bot/$name" ] || ln -s {canary} "$bot/$name"
          done
        done
        rm -rf /fleet/data/bots/beta-1 && ln -s {canary_dir} /fleet/data/bots/beta-1
        ls -la /fleet/data/bots/alpha-2""")
    assert code == 0 and "tradesv3.dryrun.sqlite -> " in out, out
    records = live.state / "runtime" / FLEET / STANDARD / "records"
    (records / "bots/alpha-2.json").write_text("{not json")
    (records / "bots/alpha-1.json").write_text((records / "bots/alpha-1.json").read_text().replace('"hash"', '"extra": 1, "hash"', 1))

    plan = live.plan()
    no_crash(plan.out, plan.err)
    assert "bot/alpha-2 reload" in plan.out and "unreadable" in plan.out

    edit(live.root / "fleet/bots.yaml", "stoploss: -0.08", "stoploss: -0.09")  # change a bot of the hostile container
    changed = live.apply()
    no_crash(changed.out, changed.err)
    assert changed.code == 0, changed.out + changed.err
    assert "moved aside" in changed.err
    assert fingerprint(canary_dir) == before

    edit(live.root / "fleet/bots.yaml", "allocation: 1000\npool: standard\nstrategy: Alpha@v1\npairs: [SOL/USDT]",
         "allocation: 1000\npool: small\nstrategy: Alpha@v1\npairs: [SOL/USDT]")
    moved = live.apply()
    no_crash(moved.out, moved.err)
    assert moved.code == 0, moved.out + moved.err
    assert fingerprint(canary_dir) == before
    moved_dir = live.state / "runtime" / FLEET / f"{FLEET}-small-1" / "data/bots/alpha-2"
    assert not any(p.is_symlink() for p in moved_dir.rglob("*"))  # links were not carried along

    back = live.run("rollback", "--yes")
    no_crash(back.out, back.err)
    assert back.code == 0, back.out + back.err
    assert fingerprint(canary_dir) == before
    final = live.plan("--detailed-exitcode")
    no_crash(final.out, final.err)
    assert {n: s for n, (s, _) in live.programs(STANDARD).items()}["alpha-2"] == "RUNNING"
