"""Run N in-process live plans of a generated fleet against the fakes; print RSS samples as JSON.

Run in its own process by tests/live/test_memory.py, so other tests' garbage does not count.
Each plan follows a new edit of one bot file (what a watcher sees as commits arrive), so any
cache keyed by content would grow if it were unbounded. Usage: memory_probe.py DIR BOTS PLANS
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.backend.fake import FakeBackend
from engine.context import Context
from engine.flow import apply_plan, plan_commit
from engine.live.fake_bots import FakeBots
from tests.support.bigfleet import make_big_fleet, write_bots


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    root, bots, plans = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    make_big_fleet(root / "repo", bots)
    backend = FakeBackend(images=("fleetops/standin-bot:1",))
    ctx = Context(root / "state", FakeBots(backend).ports(), lambda _line: None, {})
    outcome = apply_plan(ctx, plan_commit(ctx, root / "repo", None, proof=False))
    assert outcome.status.value == "applied", outcome.message
    samples = []
    pools = bots // 10
    for i in range(plans):
        write_bots(root / "repo", bots, pools, stoploss_of={i % bots: -0.5 + (i % 997) / 10000})
        live = plan_commit(ctx, root / "repo", None, proof=False)
        assert [c.action.value for c in live.plan.changes] == ["reload"], [c.address for c in live.plan.changes]
        if i % 50 == 49:
            gc.collect()
            samples.append({"plans": i + 1, "rss_kib": rss_kib()})
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
