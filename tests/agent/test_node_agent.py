"""The node agent's commands against a real supervisord and a real directory tree (no Docker).

What a swarm's per-bot promises rest on: a conf put and reconciled starts exactly the added
program, one program is stopped, started, restarted while its neighbour keeps its PID, a stop
returns once the process is gone, logs read from a mark hold only the new run, a bot's data
travels between units as regular files only, nothing a task planted is followed, and a bad
command is answered, never raised.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.agent.ops import RELAY_LIMIT
from tests.support.agent_node import UNIT, Node, tar_of, wait_for


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_conf_put_and_reconciled_starts_only_the_added_program(node: Node) -> None:
    node.put_unit({"alpha": node.sleeper()})
    node.start_supervisord()
    wait_for("alpha running", lambda: node.pids()["alpha"][0] == "RUNNING")
    alpha = node.pids()["alpha"][1]

    node.put_unit({"alpha": node.sleeper(), "beta": node.sleeper()})
    assert node.run("reconcile", unit=UNIT) == {"added": ["beta"], "changed": [], "removed": []}
    wait_for("beta running", lambda: node.pids()["beta"][0] == "RUNNING")
    assert node.pids()["alpha"] == ("RUNNING", alpha)
    assert node.run("reconcile", unit=UNIT) == {"added": [], "changed": [], "removed": []}  # nothing changed: nothing touched

    node.put_unit({"beta": node.sleeper()})
    assert node.run("reconcile", unit=UNIT) == {"added": [], "changed": [], "removed": ["alpha"]}
    assert gone(alpha) and set(node.pids()) == {"beta"}


def test_one_program_stops_starts_and_restarts_while_its_neighbour_keeps_its_pid(node: Node) -> None:
    node.put_unit({"alpha": node.sleeper(), "beta": node.sleeper()})
    node.start_supervisord()
    wait_for("both running", lambda: all(state == "RUNNING" for state, _ in node.pids().values()) and len(node.pids()) == 2)
    before = node.pids()

    node.run("stop_bot", unit=UNIT, bot="alpha")
    assert gone(before["alpha"][1]), "stop_bot returned before the process was gone"
    assert node.pids()["alpha"][0] == "STOPPED" and node.pids()["beta"] == before["beta"]

    node.run("start_bot", unit=UNIT, bot="alpha")
    started = node.pids()["alpha"]
    assert started[0] == "RUNNING" and started[1] not in (0, before["alpha"][1]) and node.pids()["beta"] == before["beta"]

    node.run("restart_bot", unit=UNIT, bot="beta")
    assert gone(before["beta"][1]) and node.pids()["beta"][1] != before["beta"][1] and node.pids()["alpha"] == started

    refused = node.ops.execute("start_bot", {"unit": UNIT, "bot": "beta"})
    assert refused["kind"] == "refused" and "ALREADY_STARTED" in refused["message"]
    node.run("stop_bot", unit=UNIT, bot="alpha")
    node.run("stop_bot", unit=UNIT, bot="alpha")  # stopping a stopped bot is no error


def test_logs_from_a_mark_hold_only_what_the_new_run_wrote(node: Node) -> None:
    node.put_unit({"alpha": node.sleeper()})
    node.start_supervisord()
    wait_for("the first run's line", lambda: "started" in node.run("bot_log", unit=UNIT, bot="alpha")["text"])  # type: ignore[operator]
    first = node.pids()["alpha"][1]
    mark = node.run("bot_log_mark", unit=UNIT, bot="alpha")["mark"]
    unit_mark = node.run("unit_log_mark", unit=UNIT)["mark"]
    assert isinstance(mark, list) and mark[1] > 0

    node.run("restart_bot", unit=UNIT, bot="alpha")
    second = node.pids()["alpha"][1]
    wait_for("the second run's line", lambda: f"started {second}" in node.run("bot_log", unit=UNIT, bot="alpha", after=mark)["text"])  # type: ignore[operator]
    assert f"started {first}" not in node.run("bot_log", unit=UNIT, bot="alpha", after=mark)["text"]  # type: ignore[operator]
    assert f"started {first}" in node.run("bot_log", unit=UNIT, bot="alpha")["text"]  # type: ignore[operator]
    since = node.run("unit_log", unit=UNIT, after=unit_mark)["text"]
    assert f"spawned: 'alpha' with pid {second}" in since and f"with pid {first}" not in since  # type: ignore[operator]
    assert node.run("bot_log", unit=UNIT, bot="nobody") == {"text": ""}
    assert node.run("bot_log_mark", unit=UNIT, bot="nobody") == {"mark": [0, 0]}


def test_a_bots_data_travels_as_regular_files_only(node: Node, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("host only\n")
    node.run("put_bot", unit=UNIT, bot="alpha", config=node.put(b"{}"), secrets=node.put(b"{}"), strategy=["S.py", node.put(b"x")], uid=None)
    source = node.data() / "bots" / "alpha"
    (source / "tradesv3.sqlite").write_bytes(b"trades")
    (source / "tradesv3.sqlite-wal").write_bytes(b"wal")
    (source / "bot.log").write_text("not carried")
    (source / "user_data" / "data" / "binance").mkdir(parents=True)
    (source / "user_data" / "data" / "binance" / "BTC_USDT-5m.feather").write_bytes(b"candles")
    (source / "user_data" / "planted").symlink_to(canary)
    os.mkfifo(source / "user_data" / "fifo")

    exported = node.run("export_bot_data", unit=UNIT, bot="alpha")
    assert sorted(exported["skipped"]) == [f"{source}/user_data/fifo (not a regular file)",  # type: ignore[arg-type]
                                           f"{source}/user_data/planted (not a regular file)"]
    with tarfile.open(fileobj=io.BytesIO(node.uploaded[str(exported["sha"])])) as tar:
        assert sorted(tar.getnames()) == ["tradesv3.sqlite", "tradesv3.sqlite-wal", "user_data", "user_data/data",
                                          "user_data/data/binance", "user_data/data/binance/BTC_USDT-5m.feather"]
        assert all(m.isreg() or m.isdir() for m in tar.getmembers())

    assert node.run("import_bot_data", unit="testfleet-pool-2", bot="alpha", sha=exported["sha"], uid=None) == {"skipped": []}
    target = node.data("testfleet-pool-2") / "bots" / "alpha"
    assert (target / "tradesv3.sqlite").read_bytes() == b"trades" and (target / "tradesv3.sqlite-wal").read_bytes() == b"wal"
    assert (target / "user_data" / "data" / "binance" / "BTC_USDT-5m.feather").read_bytes() == b"candles"
    assert not (target / "bot.log").exists() and not (target / "user_data" / "planted").exists()

    nothing = node.run("export_bot_data", unit=UNIT, bot="never-ran")  # as Docker's carry: said, not raised
    assert nothing["skipped"] == [f"{node.data()}/bots/never-ran is not a plain directory (No such file or directory)"]
    assert node.run("import_bot_data", unit="testfleet-pool-2", bot="never-ran", sha=nothing["sha"], uid=None) == {"skipped": []}


def test_an_imported_tar_writes_nothing_but_carried_regular_files(node: Node) -> None:
    hostile = tar_of([("user_data", b"a file where a directory goes"), ("tradesv3.sqlite", b"ok"), ("../escape", b"x"),
                      ("user_data/../../escape2", b"x"), ("config.json", b"{}"), ("user_data", None), ("user_data/notes", b"fine"),
                      ("user_data/link", "/etc/passwd")])
    sha = node.put(hostile)
    skipped = node.run("import_bot_data", unit=UNIT, bot="alpha", sha=sha, uid=None)["skipped"]
    assert sorted(skipped) == ["../escape (not carried)", "config.json (not carried)", "user_data (not a directory)",  # type: ignore[arg-type]
                               "user_data/../../escape2 (not carried)", "user_data/link (not a file)"]
    target = node.data() / "bots" / "alpha"
    assert sorted(p.name for p in target.rglob("*")) == ["notes", "tradesv3.sqlite", "user_data"]
    assert not (node.data() / "bots" / "escape").exists() and not (node.data() / "escape2").exists()


class _Peer(threading.Thread):
    """A unix socket that is not supervisord (the node's Docker socket, say), counting connections."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.accepted = 0

    def run(self) -> None:
        while True:
            connection, _ = self.server.accept()
            self.accepted += 1
            connection.close()


PLANTS = ["bot log linked to a host file", "user_data linked to a host directory", "supervisor socket linked to another socket",
          "etc linked to a host directory"]


@pytest.mark.parametrize("plant", PLANTS)
def test_what_a_task_planted_is_never_followed(node: Node, tmp_path: Path, plant: str) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host only\n")
    bot = {"config": node.put(b"{}"), "secrets": node.put(b'{"key": "k"}'), "strategy": ["S.py", node.put(b"x")], "uid": None}
    node.run("put_bot", unit=UNIT, bot="alpha", **bot)
    data = node.data() / "bots" / "alpha"
    if plant == PLANTS[0]:
        (data / "bot.log").symlink_to(host / "secret")
        assert node.run("bot_log", unit=UNIT, bot="alpha") == {"text": ""}
        assert node.run("bot_log_mark", unit=UNIT, bot="alpha") == {"mark": [0, 0]}
    elif plant == PLANTS[1]:
        os.rename(data / "user_data", tmp_path / "aside")
        (data / "user_data").symlink_to(host)
        node.run("put_bot", unit=UNIT, bot="alpha", **bot)
        assert (data / "user_data").is_dir() and not (data / "user_data").is_symlink()
        assert any("moved aside" in line for line in node.reported)
    elif plant == PLANTS[2]:
        peer = _Peer(host / "docker.sock")
        peer.start()
        (node.data() / "supervisor.sock").symlink_to(host / "docker.sock")
        answer = node.ops.execute("processes", {"units": [UNIT]})
        assert answer["ok"] and "is not a socket" in answer["value"]["units"][UNIT]["error"]
        assert peer.accepted == 0
    else:
        os.rename(node.files.unit_dir(UNIT) / "etc", tmp_path / "etc-aside")
        (node.files.unit_dir(UNIT) / "etc").symlink_to(host)
        node.run("put_bot", unit=UNIT, bot="alpha", **bot)
        assert sorted(p.name for p in host.iterdir()) == ["secret"]
    assert (host / "secret").read_text() == "host only\n"


BAD = [
    ("no_such_op", {}, "bad", "there is no command 'no_such_op'"),
    ("processes", [], "bad", "the arguments of processes are not an object"),
    ("start_bot", {"unit": "../etc", "bot": "a"}, "bad", "argument 'unit' is missing or not a valid name"),
    ("put_bot", {"unit": UNIT, "bot": "a", "config": "abc", "secrets": "0" * 64, "strategy": ["S.py", "0" * 64]}, "bad", "a blob name is not a sha256"),
    ("put_bot", {"unit": UNIT, "bot": "a", "strategy": ["../x.py", "0" * 64]}, "bad", "argument 'f' is missing or not a valid name"),
    ("put_unit", {"unit": UNIT, "conf": "f" * 64}, "internal", "KeyError"),  # a blob the controller does not have
    ("http", {"service": "s", "port": 1, "method": "GET", "path": "/x", "headers": {"A": "b\r\nInjected: 1"}}, "bad", "headers"),
    ("http", {"service": "s", "port": 70000, "method": "GET", "path": "/x"}, "bad", "port is not a TCP port"),
    ("bot_log", {"unit": UNIT, "bot": "a", "after": "x"}, "bad", "a log mark is not [inode, size]"),
    ("put_unit", {"unit": UNIT, "bots": {"a": -1}, "conf": "0" * 64}, "bad", "a uid is not a non-negative integer"),
    ("reconcile", {"unit": UNIT}, "supervisor", "did not answer within"),
]


@pytest.mark.parametrize("op, args, kind, message", BAD, ids=[f"{b[0]}-{b[3][:30]}" for b in BAD])
def test_a_bad_command_gets_an_error_answer(node: Node, op: str, args: Any, kind: str, message: str) -> None:
    node.ops._timeout = 0.3  # reconcile: no supervisord answers in this node
    answer = node.ops.execute(op, args)
    assert answer["ok"] is False and answer["kind"] == kind and message in answer["message"], answer
    assert "\n" not in answer["message"]


class _Bot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        size = int(self.path.rsplit("/", 1)[1])
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(self.headers.get("Authorization", "").encode().ljust(size, b"x")[:size])

    def log_message(self, *args: object) -> None:
        pass


def test_the_http_relay_answers_at_most_a_mebibyte(node: Node) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        asked = {"service": "testfleet-pool-1", "port": port, "method": "GET", "headers": {"Authorization": "Basic abc"}}
        small = node.run("http", path="/api/v1/20", **asked)
        assert small["status"] == 200 and small["error"] == "" and base64.b64decode(str(small["body_b64"])) == b"Basic abc" + b"x" * 11
        assert node.run("http", path=f"/api/v1/{RELAY_LIMIT}", **asked)["error"] == ""
        assert node.run("http", path=f"/api/v1/{RELAY_LIMIT + 1}", **asked) == {"status": 200, "body_b64": "", "error": "answer over 1 MiB"}
    finally:
        server.shutdown()
        server.server_close()
    assert node.run("http", path="/api/v1/1", **asked) == {"status": None, "body_b64": "", "error": "ConnectionRefusedError"}


def test_memory_is_read_from_the_nodes_cgroups(node: Node) -> None:
    scope = node.root / "cgroup" / "system.slice" / f"docker-{'ab' * 32}.scope"
    scope.mkdir(parents=True)
    (scope / "memory.current").write_text("1000000\n")
    (scope / "memory.stat").write_text("anon 1\ninactive_file 250000\n")
    assert node.run("memory", units={UNIT: "ab" * 32, "testfleet-pool-2": "cd" * 32, "testfleet-pool-3": "not an id"}) == \
        {"memory": {UNIT: 750000, "testfleet-pool-2": None, "testfleet-pool-3": None}}
