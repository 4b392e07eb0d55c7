"""Benchmark: commit → every changed bot healthy, through the watcher, beside a plain apply.

A 50-bot fleet of stand-in bots (pools of 10) on the real Docker engine, a bare git repository
as 'origin'. For 10 commits that each change one bot's stoploss, measures from the moment
`git push` returns to the moment the watcher reports the commit applied (it reports only after
the changed bot answered its ping):
  webhook   the watcher polls hourly; a signed GitHub-style webhook is POSTed after each push
  polling   no webhooks; the watcher fetches every second
  apply     no watcher: `fleetops apply --yes` run by hand after each commit (CLI wall time)
Prints median and max of each, in one run. Usage: python benchmarks/converge.py [--commits 10] [--bots 50]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import git
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.bigfleet import make_big_fleet  # noqa: E402
from tests.support.remove_fleet import remove_fleet  # noqa: E402
from tests.support.repos import commit  # noqa: E402

SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(state: Path) -> dict[str, str]:
    return {**os.environ, "FLEETOPS_STATE_DIR": str(state), "FLEETOPS_WEBHOOK_SECRET": SECRET, "NO_COLOR": "1"}


def change(work: git.Repo, n: int) -> str:
    """One bot's stoploss, a new value each time; returns the pushed commit."""
    path = Path(work.working_dir) / "fleet/bots/pool-000.yaml"
    text = path.read_text()
    start = text.index("stoploss: ")
    end = text.index("\n", start)
    path.write_text(text[:start] + f"stoploss: -0.{11 + n:02d}" + text[end:])
    sha = commit(work, f"bot-0000 stoploss {n}")
    work.git.push("-q", "origin", "main")
    return sha


def watched(state: Path, bare: Path, work: git.Repo, commits: int, offset: int, *, webhook: bool) -> list[float]:
    port = free_port()
    interval = "3600" if webhook else "1"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(bare), "--interval", interval,
                             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env(state),
                            stdout=subprocess.DEVNULL, stderr=open(state / f"watch-{interval}.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: status(url).get("queue", {}).get("applied") == work.head.commit.hexsha, 600, "the watcher's first apply")
        times = []
        for n in range(commits):
            sha = change(work, offset + n)
            pushed = time.perf_counter()
            if webhook:
                body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
                signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                httpx.post(f"{url}/hooks/git", content=body, headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature,
                                                                       "X-GitHub-Delivery": sha}).raise_for_status()
            wait_for(lambda sha=sha: status(url)["queue"]["applied"] == sha, 120, f"commit {n}")
            times.append(time.perf_counter() - pushed)
            assert status(url)["last_apply"]["result"] == "applied"
        return times
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def status(url: str) -> dict:  # type: ignore[type-arg]
    try:
        return httpx.get(f"{url}/api/status", timeout=2).json()
    except httpx.HTTPError:
        return {}


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


def plain_apply(state: Path, work: git.Repo, commits: int, offset: int) -> list[float]:
    times = []
    for n in range(commits):
        change(work, offset + n)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "engine", "apply", "--repo", work.working_dir, "--yes"],
                              cwd=ROOT, env=env(state), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stdout + proc.stderr)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--bots", type=int, default=50)
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts/ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "base", "standin"], check=True)
    with tempfile.TemporaryDirectory(prefix="fleetops-converge-") as tmp:
        root = Path(tmp)
        make_big_fleet(root / "src", args.bots)
        bare = root / "origin.git"
        git.Repo.clone_from(root / "src", bare, bare=True)
        work = git.Repo.clone_from(bare, root / "work")
        state = root / "state"
        state.mkdir()
        results = {
            "webhook": watched(state, bare, work, args.commits, 0, webhook=True),
            "polling (1 s)": watched(state, bare, work, args.commits, args.commits, webhook=False),
            "fleetops apply": plain_apply(state, work, args.commits, 2 * args.commits),
        }
        remove_fleet("big")
    print(f"\ncommit → changed bot healthy, {args.bots}-bot fleet, one-bot change, {args.commits} commits each")
    print(f"{'path':<16} {'median s':>9} {'max s':>7}")
    for name, times in results.items():
        print(f"{name:<16} {statistics.median(times):>9.2f} {max(times):>7.2f}")


if __name__ == "__main__":
    main()
