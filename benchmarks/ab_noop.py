"""Benchmark: two checkouts of fleetops, A and B, on the same machine at the same time — the no-op and one-bot figures.

Why: on a machine others share, one run of ``scale.py`` before a change and one after are minutes
apart and the load between them differs more than the change does. Here both checkouts manage
a fleet of their own (same size, same stand-in bots, fleet names ``<fleet>a`` and ``<fleet>b``),
and every measurement alternates A, B, A, B…, so load drifts hit both alike. What: the CLI's
``apply --yes`` and ``plan`` on the unchanged fleet (answered by the no-op proof), the full plan
(``FLEETOPS_FULL_PLAN=1``) and a one-bot change (b007 repinned to v2 and back, each apply until
its bot runs its loop again); medians and minima per checkout. Every container of both fleets
is removed on the way out.

Usage: python benchmarks/ab_noop.py A_DIR B_DIR [--bots 50] [--runs 15] [--changes 4] [--fleet ab]
(each directory a checkout with its own ``.venv``; run it from either).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleetbench as fb


def run(checkout: Path, state: Path, *args: str, env: dict[str, str] | None = None, expect: str | None = None) -> float:
    full_env = {**os.environ, **(env or {}), "FLEETOPS_STATE_DIR": str(state)}
    start = time.perf_counter()
    proc = subprocess.run([str(checkout / ".venv/bin/python"), "-m", "engine", *args], cwd=checkout, env=full_env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2) or (expect is not None and expect not in proc.stdout):
        sys.exit(f"{checkout}: fleetops {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--changes", type=int, default=4)
    parser.add_argument("--fleet", default="ab")
    args = parser.parse_args()
    sides = {"A": args.a.resolve(), "B": args.b.resolve()}
    fleets = {"A": f"{args.fleet}a", "B": f"{args.fleet}b"}
    figures: dict[str, dict[str, list[float]]] = {side: {"apply": [], "plan": [], "full": [], "one_bot": []} for side in sides}
    with tempfile.TemporaryDirectory(prefix="fleetops-ab-") as tmp_name:
        tmp = Path(tmp_name)
        repos = {}
        try:
            for side in sides:
                fb.FLEET = fleets[side]
                fb.teardown()
                repos[side] = fb.make_repo(tmp / side, bots=args.bots, per_pool=10, dedicated=False, image=fb.STANDIN_IMAGE,
                                           command=fb.STANDIN_COMMAND)
                cold = run(sides[side], tmp / f"state-{side}", "apply", "--repo", str(tmp / side), "--yes")
                run(sides[side], tmp / f"state-{side}", "apply", "--repo", str(tmp / side), "--yes", expect="No changes")  # writes the proof
                print(f"{side} ({sides[side]}): fleet {fleets[side]} applied cold in {cold:.2f} s", flush=True)
            for _ in range(args.runs):
                for side in sides:
                    figures[side]["apply"].append(run(sides[side], tmp / f"state-{side}", "apply", "--repo", str(tmp / side), "--yes",
                                                      expect="No changes"))
                    figures[side]["plan"].append(run(sides[side], tmp / f"state-{side}", "plan", "--repo", str(tmp / side),
                                                     expect="No changes"))
            for _ in range(max(1, args.runs // 3)):
                for side in sides:
                    figures[side]["full"].append(run(sides[side], tmp / f"state-{side}", "plan", "--repo", str(tmp / side),
                                                     env={"FLEETOPS_FULL_PLAN": "1"}, expect="No changes"))
            for i in range(args.changes):
                for side in sides:
                    fb.FLEET = fleets[side]
                    fb.write_fleet(tmp / side, bots=args.bots, per_pool=10, dedicated=False, image=fb.STANDIN_IMAGE,
                                   command=fb.STANDIN_COMMAND, pin_of={7: "Bench@v2"} if i % 2 == 0 else {})
                    fb.commit_all(repos[side], f"b007 change {i}")
                    figures[side]["one_bot"].append(run(sides[side], tmp / f"state-{side}", "apply", "--repo", str(tmp / side), "--yes"))
        finally:
            for side in sides:
                fb.FLEET = fleets[side]
                fb.teardown()
    print(f"\n{args.bots} stand-in bots each, measurements alternating A and B ({args.runs} no-op runs, {args.changes} one-bot changes)")
    print(f"{'':10} {'A median':>10} {'A min':>9} {'B median':>10} {'B min':>9}  B/A (median)")
    for what in ("apply", "plan", "full", "one_bot"):
        a, b = figures["A"][what], figures["B"][what]
        print(f"{what:10} {statistics.median(a):9.3f}s {min(a):8.3f}s {statistics.median(b):9.3f}s {min(b):8.3f}s  "
              f"{statistics.median(b) / statistics.median(a):.2f}x")


if __name__ == "__main__":
    main()
