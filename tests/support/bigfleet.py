"""Generated fleets of any size, for memory tests and scale benchmarks: N bots in pools of P."""

from __future__ import annotations

from pathlib import Path

import git

from engine.demo_repo import commit_all

STRATEGY = '''from freqtrade.strategy import IStrategy


class Bench(IStrategy):
    INTERFACE_VERSION = 3
    minimal_roi = {"0": 0.04}
    stoploss = -0.1
'''


def bot_doc(i: int, pools: int, stoploss: float = -0.10) -> str:
    return (
        f"kind: Bot\nname: bot-{i:04d}\nwallet: w{i % 10}\nallocation: 100\npool: pool-{i % pools:03d}\n"
        f"strategy: Bench@v1\npairs: [BTC/USDT, ETH/USDT]\ntimeframe: 5m\nmax_open_trades: 3\n"
        f"stake_amount: 20\nstoploss: {stoploss}\nminimal_roi: {{\"0\": 0.04, \"30\": 0.02}}\n"
    )


def write_bots(root: Path, bots: int, pools: int, *, stoploss_of: dict[int, float] | None = None) -> None:
    """One file per pool's bots, the way teams split a large fleet."""
    stoploss_of = stoploss_of or {}
    for p in range(pools):
        docs = [bot_doc(i, pools, stoploss_of.get(i, -0.10)) for i in range(p, bots, pools)]
        (root / "fleet" / "bots" / f"pool-{p:03d}.yaml").write_text("---\n".join(docs))


def make_big_fleet(root: Path, bots: int, *, per_pool: int = 10, image: str = "fleetops/standin-bot:1",
                   command: str = "standin-bot trade --config {config} --config {secrets} --userdir {userdir}") -> git.Repo:
    """A git repo holding a fleet of ``bots`` bots in pools of ``per_pool`` (strategy Bench tagged v1)."""
    pools = max(1, bots // per_pool)
    (root / "strategies").mkdir(parents=True)
    (root / "strategies" / "Bench.py").write_text(STRATEGY)
    repo = git.Repo.init(root, initial_branch="main")
    commit_all(repo, "strategy", when="2026-01-01T00:00:00+00:00", tag="v1")
    fleet = root / "fleet"
    (fleet / "bots").mkdir(parents=True)
    (fleet / "fleet.yaml").write_text(f"kind: Fleet\nname: big\ndefaults:\n  image: {image}\n  bot_command: {command}\n"
                                      "health:\n  timeout_seconds: 120\n")
    wallets = "---\n".join(f"kind: Wallet\nname: w{i}\ncurrency: USDT\nbalance: {bots * 100}\nreserve: 0\n" for i in range(10))
    (fleet / "wallets.yaml").write_text(wallets)
    (fleet / "pools.yaml").write_text("---\n".join(f"kind: Pool\nname: pool-{p:03d}\ncapacity: {per_pool}\n" for p in range(pools)))
    write_bots(root, bots, pools)
    commit_all(repo, "fleet", when="2026-01-01T00:00:00+00:00")
    return repo
