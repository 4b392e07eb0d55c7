"""The witness of promise 3 (tests/support/process_sampler.py) on a /proc made in a temp dir: it must see a bot
on two nodes when it runs on two, tell nodes apart by their container's cgroup, and time a move's gap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.process_sampler import ProcessSampler, bots_by_node

NODES = {"n1": "a" * 64, "n2": "b" * 64}


def process(proc: Path, pid: int, node: str | None, bot: str | None) -> None:
    (proc / str(pid)).mkdir(parents=True)
    words = ["/usr/bin/python3", "/usr/local/bin/standin-bot", "trade"] + (["--config", f"/fleet/etc/bots/{bot}/config.json"] if bot else [])
    (proc / str(pid) / "cmdline").write_bytes("\0".join(words).encode() + b"\0")
    group = f"/docker/{NODES[node]}/docker/{'c' * 64}" if node else "/docker/" + "d" * 64  # None: a container of the host itself
    (proc / str(pid) / "cgroup").write_text(f"9:name=systemd:{group}\n8:pids:{group}\n")


def test_a_bot_on_two_nodes_is_seen_on_both_and_a_host_container_or_another_program_is_not(tmp_path: Path) -> None:
    process(tmp_path, 10, "n1", "alpha-1")
    process(tmp_path, 11, "n2", "alpha-1")
    process(tmp_path, 12, "n2", "beta-1")
    process(tmp_path, 13, None, "beta-1")  # the host's own testfleet (integration tests) is no lab node
    process(tmp_path, 14, "n1", None)  # supervisord, the agent: not a bot
    (tmp_path / "self").mkdir()
    assert bots_by_node(NODES, str(tmp_path)) == {"alpha-1": {"n1", "n2"}, "beta-1": {"n2"}}


def test_the_sampler_records_doubles_and_the_gap_of_a_move(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.support.process_sampler as sampler_module

    views = iter([{"x": {"n1"}}] * 3 + [{"x": {"n1", "n2"}}] + [{"x": {"n1"}}] * 2 + [{}] * 4 + [{"x": {"n2"}}] * 10_000)
    monkeypatch.setattr(sampler_module, "bots_by_node", lambda nodes, proc="/proc": next(views))
    sampler = ProcessSampler(dict(NODES), interval=0.01).start()
    deadline = time.monotonic() + 5
    while sampler.passes < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert [(d.bot, d.nodes) for d in sampler.doubled] == [("x", ("n1", "n2"))]
    assert [where for _, where in sampler.transitions["x"]] == [frozenset({"n1"}), frozenset({"n1", "n2"}), frozenset({"n1"}), frozenset(),
                                                                frozenset({"n2"})]
    gap = sampler.gap("x", "n1", "n2")
    assert gap is not None and 0.03 <= gap < 1.0  # four passes with x nowhere, 10 ms or more apart
    assert sampler.gap("x", "n2", "n3") is None and sampler.rate > 10
