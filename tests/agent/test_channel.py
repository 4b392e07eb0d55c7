"""The controller's channel and a real agent process, over real HTTP on 127.0.0.1 (no Docker).

The agent runs as the fleet image runs it: ``agent.pyz`` (built by ``agent_spec``) under Debian's
python3 with ``-I -S`` — the standard library and nothing else — against a real supervisord. The
engine's side is the Swarm backend's ``SwarmBots`` and the relays of the bots' APIs.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.agent.files import NodeFiles
from engine.agent.link import Link
from engine.agent.main import Agent
from engine.agent.ops import Ops
from engine.backend.port import BotFiles, ListedUnit, UnitFiles
from engine.backend.swarm.backend import SwarmBackend
from engine.backend.swarm.bots import SwarmBots
from engine.backend.swarm.channel import AgentChannel
from engine.backend.swarm.credentials import Credentials, credentials_dir
from engine.backend.swarm.forward import PeerChannel, peer_token
from engine.backend.swarm.routes import AgentServer
from engine.errors import DockerError, SupervisorError
from engine.ftapi import BotEndpoint, FreqtradeApi
from engine.live.relay import RelayBotApi, RelayProbe
from engine.live.secret_values import load_or_create_key
from engine.live.secrets import api_credentials
from tests.support.agent_node import FLEET, PLAIN_PYTHON, UNIT, Node, supervisord_conf, wait_for, write_agent_zip

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "standin" / "standin_bot.py"


@dataclass
class Controller:
    channel: AgentChannel
    server: AgentServer
    state: Path
    agents: list[subprocess.Popen[str]]
    token: str = ""

    def peer(self) -> PeerChannel:
        """The channel as a second fleetops process of the same state dir reaches it (through the server)."""
        return PeerChannel(FLEET, Credentials(credentials_dir(self.state, FLEET)), self.url, self.token)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start_agent(self, node: Node, name: str = "node1", credential: str | None = None) -> subprocess.Popen[str]:
        """The agent as its service runs it (``agent_spec``), stdlib only, with this node's root."""
        secret = node.root.parent / f"{name}.credential"
        secret.write_text(credential if credential is not None else self.channel.credentials.issue(name))
        process = subprocess.Popen([PLAIN_PYTHON, "-I", "-S", str(write_agent_zip(node.root.parent)), "--controller", self.url,
                                    "--fleet", FLEET, "--node", name, "--credential-file", str(secret), "--root", str(node.root),
                                    "--relay-host", "127.0.0.1", "--heartbeat", "0.2", "--poll-wait", "5"],
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.agents.append(process)
        return process

    def bots(self, node: str = "node1") -> SwarmBots:
        return SwarmBots(self.channel, lambda unit: node, dedicated=None)  # type: ignore[arg-type]


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    state = tmp_path / "state"
    channel = AgentChannel(FLEET, Credentials(credentials_dir(state, FLEET)), silence=1.5)
    token = peer_token(state, create=True)
    assert token is not None
    server = AgentServer({FLEET: channel}, "127.0.0.1", 0, peer_token=token)
    server.start()
    made = Controller(channel, server, state, [], token)
    try:
        yield made
    finally:
        for agent in made.agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGCONT)
                agent.terminate()
                agent.wait(10)
        server.stop()


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connected(controller: Controller, node: str = "node1") -> Callable[[], bool]:
    return lambda: node in controller.channel.nodes() and controller.channel.heartbeat(node) is not None


@pytest.mark.parametrize("through", ["channel", "peer"])
def test_the_engine_drives_a_real_agent_and_its_supervisord(controller: Controller, node: Node, through: str) -> None:
    """Every command of the port, from the process serving the agents or (``peer``) from a second process
    on the same controller address, whose commands go through the first (``fleetops status`` while the
    watcher runs)."""
    controller.start_agent(node)
    wait_for("the agent to connect", connected(controller))
    engine_side = controller.channel if through == "channel" else controller.peer()
    assert engine_side.nodes() == ["node1"]
    bots = SwarmBots(engine_side, lambda unit: "node1", dedicated=None)  # type: ignore[arg-type]
    sleeper = node.sleeper()
    bots.put_unit(UNIT, UnitFiles(supervisord_conf(node.data(), {"alpha": sleeper, "beta": sleeper}), {"alpha": None, "beta": None}))
    node.start_supervisord()  # the unit's task starts its supervisord on the conf the agent wrote
    wait_for("both running", lambda: all(p.state == "RUNNING" for p in bots.processes([UNIT])[UNIT].values()))  # type: ignore[union-attr]
    before = bots.processes([UNIT])[UNIT]
    assert set(before) == {"alpha", "beta"}  # type: ignore[arg-type]

    bots.restart_bot(UNIT, "alpha", dedicated=False)
    after = bots.processes([UNIT])[UNIT]
    assert after["alpha"].pid != before["alpha"].pid and after["beta"] == before["beta"]  # type: ignore[index]
    bots.stop_bot(UNIT, "alpha", dedicated=False)
    assert bots.processes([UNIT])[UNIT]["alpha"].state == "STOPPED"  # type: ignore[index]
    bots.start_bot(UNIT, "beta", dedicated=False)  # already running: no error, nothing restarted
    assert bots.processes([UNIT])[UNIT]["beta"] == before["beta"]  # type: ignore[index]

    bots.put_bot(UNIT, "alpha", BotFiles(b'{"bot_name": "alpha"}', b'{"key": "k"}', ("Strat.py", b"class Strat: pass\n"), None))
    etc = node.files.unit_dir(UNIT) / "etc" / "bots" / "alpha"
    assert (etc / "config.json").read_bytes() == b'{"bot_name": "alpha"}' and (etc / "strategies" / "Strat.py").exists()
    assert oct((etc / "secrets.json").stat().st_mode & 0o777) == "0o600"

    files = UnitFiles(supervisord_conf(node.data(), {"alpha": sleeper, "beta": sleeper, "gamma": sleeper}), dict.fromkeys(["alpha", "beta", "gamma"]))
    assert bots.reconcile(UNIT, files) == (["gamma"], [], [])
    assert bots.processes([UNIT])[UNIT]["beta"] == before["beta"]  # type: ignore[index]

    mark = bots.unit_log_mark(UNIT)
    bots.restart_bot(UNIT, "gamma", dedicated=False)
    assert "spawned: 'gamma'" in bots.unit_log(UNIT, after=mark) and "'alpha'" not in bots.unit_log(UNIT, after=mark)

    (node.data() / "bots" / "beta" / "tradesv3.sqlite").write_bytes(b"beta's trades")
    assert bots.carry_bot_data("beta", UNIT, "testfleet-pool-2", None) == []
    assert (node.data("testfleet-pool-2") / "bots" / "beta" / "tradesv3.sqlite").read_bytes() == b"beta's trades"
    assert controller.channel.blobs.get(controller.channel.put_blob(b"x")) == b"x"

    with pytest.raises(SupervisorError, match="node node1: "):
        bots.restart_bot("testfleet-none-1", "alpha", dedicated=False)  # the agent's error, raised as the serving side raised it

    def beats_gamma() -> bool:  # the heartbeat's tables come every 0.2 s here
        heartbeat = engine_side.heartbeat("node1")
        return heartbeat is not None and set(heartbeat.units.get(UNIT, {}).get("programs", {})) == {"alpha", "beta", "gamma"}
    wait_for("a heartbeat naming gamma", beats_gamma)


def test_a_wrong_credential_is_refused(controller: Controller, node: Node) -> None:
    controller.channel.credentials.issue("node1")
    agent = controller.start_agent(node, credential="not-the-credential")
    time.sleep(1.0)
    agent.terminate()
    _, stderr = agent.communicate(timeout=10)
    assert "refused this node's credential (HTTP 401)" in stderr and "not-the-credential" not in stderr
    assert controller.channel.nodes() == []

    right = controller.channel.credentials.issue("node1")
    base = f"{controller.url}/agent/v1/{FLEET}"
    asked = [(f"{base}/node1/commands?wait=0", "Bearer wrong"), (f"{base}/node1/commands?wait=0", ""),
             (f"{base}/node2/commands?wait=0", f"Bearer {right}"), (f"{controller.url}/agent/v1/otherfleet/node1/commands?wait=0", f"Bearer {right}")]
    for url, auth in asked:
        answer = httpx.get(url, headers={"Authorization": auth} if auth else {})
        assert (answer.status_code, answer.json()) == (401, {"error": "this node's credential is not accepted"}), url
    assert httpx.get(f"{base}/node1/commands?wait=0", headers={"Authorization": f"Bearer {right}"}).json() == {"commands": []}
    assert oct(credentials_dir(controller.state, FLEET).stat().st_mode & 0o777) == "0o700"
    assert oct((credentials_dir(controller.state, FLEET) / "node1.key").stat().st_mode & 0o777) == "0o600"


def test_a_silent_node_is_unreachable_and_a_late_command_never_runs(controller: Controller, node: Node) -> None:
    agent = controller.start_agent(node)
    wait_for("the agent to connect", connected(controller))
    bots = controller.bots()
    bots.put_unit(UNIT, UnitFiles(supervisord_conf(node.data(), {"alpha": node.sleeper()}), {"alpha": None}))
    node.start_supervisord()
    wait_for("alpha running", lambda: bots.processes([UNIT])[UNIT]["alpha"].state == "RUNNING")  # type: ignore[index]
    running = bots.processes([UNIT])[UNIT]["alpha"]  # type: ignore[index]

    claims: list[tuple[str, bool]] = []
    claim = controller.channel.claim
    controller.channel.claim = lambda node, ident: claims.append((ident, claim(node, ident))) or claims[-1][1]  # type: ignore[method-assign]
    time.sleep(0.3)  # the agent's next long poll is open on the server
    os.killpg(agent.pid, signal.SIGSTOP)  # the node goes silent
    with pytest.raises(DockerError, match="did not answer stop_bot within 0.5 s; it will not run"):
        controller.channel.call("node1", "stop_bot", {"unit": UNIT, "bot": "alpha"}, timeout=0.5)
    wait_for("the node to be unreachable", lambda: controller.channel.unreachable(["node1"]) == {"node1"})
    with pytest.raises(DockerError, match=r"node node1 is unreachable: its agent last answered \d+ s ago"):
        bots.stop_bot(UNIT, "alpha", dedicated=False)
    table = bots.processes([UNIT])[UNIT]
    assert isinstance(table, SupervisorError) and "node node1 is unreachable" in str(table)
    assert RelayProbe({FLEET: controller.channel}).ping(f"{FLEET}/node1/{UNIT}", 8080).detail.startswith("node node1 is unreachable")

    os.killpg(agent.pid, signal.SIGCONT)  # the partition heals: the answer that sat in its socket arrives
    wait_for("the node to answer again", lambda: not controller.channel.unreachable(["node1"]))
    time.sleep(0.5)
    assert bots.processes([UNIT])[UNIT]["alpha"] == running  # the stop its caller gave up on never ran  # type: ignore[index]
    assert [allowed for _, allowed in claims] == [False]  # it did reach the agent, which asked, and was told no


def test_the_bots_api_is_relayed_through_the_agent(controller: Controller, node: Node, free_port: int) -> None:
    controller.start_agent(node)
    wait_for("the agent to connect", connected(controller))
    key = load_or_create_key(controller.state)
    creds = api_credentials(key, FLEET, "alpha")
    config = {"bot_name": "alpha", "strategy": "Strat", "strategy_path": str(node.files.unit_dir(UNIT) / "etc/bots/alpha/strategies"),
              "dry_run": True, "api_server": {"enabled": True, "listen_ip_address": "127.0.0.1", "listen_port": free_port}}
    bots = controller.bots()
    bots.put_bot(UNIT, "alpha", BotFiles(json_bytes(config), json_bytes({"api_server": {"username": creds["username"], "password": creds["password"]}}),
                                        ("Strat.py", b"from freqtrade.strategy import IStrategy\nclass Strat(IStrategy):\n    pass\n"), None))
    etc = node.files.unit_dir(UNIT) / "etc" / "bots" / "alpha"
    command = f"{PLAIN_PYTHON} -u {STANDIN} webserver -c {etc}/config.json -c {etc}/secrets.json --userdir {node.data()}/bots/alpha/user_data"
    bots.put_unit(UNIT, UnitFiles(supervisord_conf(node.data(), {"alpha": command}), {"alpha": None}))
    node.start_supervisord()

    probe = RelayProbe({FLEET: controller.channel})
    address = f"{FLEET}/node1/{UNIT}"
    wait_for("the bot to answer its ping", lambda: probe.ping(address, free_port).ok)
    api = FreqtradeApi(RelayBotApi({FLEET: controller.channel}, controller.state))
    state = api.show_config(BotEndpoint(FLEET, "alpha", address, free_port))
    assert state.answered and state.state == "running"
    stranger = FreqtradeApi(RelayBotApi({FLEET: controller.channel}, controller.state)).show_config(BotEndpoint(FLEET, "beta", address, free_port))
    assert stranger.why == "HTTP 401"  # another bot's credentials are not alpha's
    assert probe.ping(f"node1/{UNIT}", free_port).detail == "not an address a node agent relays (expected fleet/node/service)"
    assert probe.ping(f"otherfleet/node1/{UNIT}", free_port).detail == "no channel to the agents of fleet otherfleet here"
    assert probe.ping(address, 1).detail == "ConnectionRefusedError"
    listed = ListedUnit("id", UNIT, {}, "running", None)
    assert bots.address_of(listed, free_port) == (address, free_port)
    assert bots.address_of(ListedUnit("id", UNIT, {}, "exited", None), free_port) is None


def json_bytes(value: object) -> bytes:
    import json

    return json.dumps(value).encode()


def test_an_answer_lost_on_the_way_is_sent_again_and_a_claim_is_refused_once_withdrawn(tmp_path: Path) -> None:
    """The channel's delivery, driven by hand: no acknowledgement, the same commands again; acknowledged, gone."""
    clock = [0.0]
    channel = AgentChannel(FLEET, Credentials(tmp_path), silence=10.0, clock=lambda: clock[0])

    async def poll(got: list[str]) -> list[str]:
        return [c["id"] for c in await channel.commands("node1", got, 0.05)]

    first = channel.send("node1", "ping", {})
    second = channel.send("node1", "stop_bot", {"unit": UNIT, "bot": "a"})
    assert asyncio.run(poll([])) == [first.id, second.id]
    assert asyncio.run(poll([])) == [first.id, second.id]  # the answer was lost: sent again
    assert asyncio.run(poll([first.id, second.id])) == []
    channel.answer("node1", {"id": first.id, "ok": True, "value": {"node": "node1"}})
    assert channel.wait(first, 1.0) == {"node": "node1"}

    with pytest.raises(DockerError, match="did not answer stop_bot within 0 s; it will not run"):
        channel.wait(second, 0.0)
    assert channel.claim("node1", second.id) is False  # withdrawn: the agent will not run it
    third = channel.send("node1", "stop_bot", {"unit": UNIT, "bot": "a"})
    assert channel.claim("node1", third.id) is True
    with pytest.raises(DockerError, match="it had started, so its outcome is unknown"):
        channel.wait(third, 0.0)

    clock[0] = 11.0
    assert channel.unreachable(["node1", "node2"]) == {"node1", "node2"}
    with pytest.raises(DockerError, match="node node2 is unreachable: its agent has not connected to this controller in 11 s"):
        channel.send("node2", "ping", {})
    channel.beat("node1", {"units": {}})
    assert channel.unreachable(["node1", "node2"]) == {"node2"}


def test_the_blob_store_is_bounded_and_keeps_what_open_commands_need() -> None:
    from engine.backend.swarm.blobs import BlobStore

    store = BlobStore(cap=10)
    a = store.put(b"aaaa")
    store.pin((a,))
    b = store.put(b"bbbb")
    c = store.put(b"cccc")  # over the cap: b (least recently used, not pinned) goes, a stays
    assert (store.get(a), store.get(b), store.get(c), store.size) == (b"aaaa", None, b"cccc", 8)
    with pytest.raises(DockerError, match="larger than the agents' blob store"):
        store.put(b"x" * 11)
    store.pin((c,))
    with pytest.raises(DockerError, match="blob store is full"):
        store.put(b"dddd")
    assert store.accept(a, b"not a") is False and store.accept("0" * 64, b"") is False


def test_an_agent_finds_a_controller_that_starts_later_and_one_that_restarts(tmp_path: Path, node: Node, free_port: int) -> None:
    """How agents get their desired state when no watcher runs: an apply starts the channel's server
    on the controller's address for its length; the agents, retrying every 0.5 s while nothing listens, find it."""
    credentials = Credentials(credentials_dir(tmp_path / "state", FLEET))
    secret = node.root.parent / "node1.credential"
    secret.write_text(credentials.issue("node1"))
    agent = subprocess.Popen([PLAIN_PYTHON, "-I", "-S", str(write_agent_zip(node.root.parent)), "--controller", f"http://127.0.0.1:{free_port}",
                              "--fleet", FLEET, "--node", "node1", "--credential-file", str(secret), "--root", str(node.root), "--poll-wait", "5"],
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(1.0)  # no controller yet: the agent backs off (0.5, 1, 2 s…)
        for round_ in (1, 2):  # an apply, then the next apply with a new server and channel
            channel = AgentChannel(FLEET, credentials)
            with AgentServer({FLEET: channel}, "127.0.0.1", free_port):
                # a new channel waits SILENCE (10 s) for a node it has not heard from: the agent must find it by then
                assert channel.call("node1", "ping", {}, timeout=15)["node"] == "node1", round_
                with pytest.raises(DockerError, match="could not no_such_op: there is no command 'no_such_op' in this agent"):
                    channel.call("node1", "no_such_op", {})
                assert channel.call("node1", "ping", {})["node"] == "node1"  # a bad command does not hurt the agent
            time.sleep(0.5)
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=10)
    lines = stderr.splitlines()
    assert sum("connected to the controller" in line for line in lines) == 2, stderr
    assert sum("did not answer" in line for line in lines) <= 3, stderr  # logged when the state changes, not at every try


def test_a_node_gets_only_the_blobs_its_own_commands_name_and_uploads_only_for_an_export(controller: Controller) -> None:
    channel = controller.channel
    credentials = {node: channel.credentials.issue(node) for node in ("node1", "node2")}
    secrets = channel.put_blob(b'{"exchange": {"secret": "node2 only"}}')
    channel.send("node2", "put_bot", {"secrets": secrets}, blobs=(secrets,))
    base = f"{controller.url}/agent/v1/{FLEET}"

    def get(node: str, sha: str) -> httpx.Response:
        return httpx.get(f"{base}/{node}/blobs/{sha}", headers={"Authorization": f"Bearer {credentials[node]}"})

    assert get("node2", secrets).content == b'{"exchange": {"secret": "node2 only"}}'
    assert get("node1", secrets).status_code == 404  # another node's command: not this node's to read
    data = b"a bot's trades"
    sha = hashlib.sha256(data).hexdigest()

    def put(node: str, body: bytes) -> int:
        return httpx.put(f"{base}/{node}/blobs/{sha}", content=body, headers={"Authorization": f"Bearer {credentials[node]}"}).status_code

    assert put("node1", data) == 409 and channel.blobs.get(sha) is None  # no export open: nothing may fill the store
    channel.send("node1", "export_bot_data", {"unit": UNIT, "bot": "a"})
    assert (put("node1", b"other bytes"), put("node1", data)) == (400, 204)  # the body must hash to its name
    assert channel.blobs.get(sha) == data


def test_an_agent_whose_poll_the_controller_no_longer_sees_is_told_to_poll_again(tmp_path: Path) -> None:
    """After a partition heals, a poll can hang on a connection whose answer was lost; the heartbeat's
    answer tells the agent so (seen on the lab: commands waited out the poll's socket timeout)."""
    clock = [100.0]
    channel = AgentChannel(FLEET, Credentials(tmp_path), clock=lambda: clock[0])
    assert channel.beat("node1", {"units": {}}) == {"repoll": True}  # beating, never polled
    asyncio.run(channel.commands("node1", [], 0.01))
    assert channel.beat("node1", {"units": {}}) == {"repoll": False}  # between two polls: it polls again within ms
    clock[0] += 3.5
    assert channel.beat("node1", {"units": {}}) == {"repoll": True}

    async def beat_during_a_poll() -> dict[str, object]:
        poll = asyncio.create_task(channel.commands("node1", [], 0.3))
        await asyncio.sleep(0.05)
        clock[0] += 60.0
        answer = channel.beat("node1", {"units": {}})
        await poll
        return answer
    assert asyncio.run(beat_during_a_poll()) == {"repoll": False}  # a poll open on the server: all is well


class _TimedLink(Link):
    """A real link whose polls are timed (when each was made)."""

    def __init__(self, controller: str, stop: threading.Event, polls: int) -> None:
        super().__init__(controller, FLEET, "node1", "x" * 32)
        self.at: list[float] = []
        self._stop, self._polls = stop, polls

    def poll(self, got: list[str], wait: float) -> list[dict[str, Any]]:
        self.at.append(time.monotonic())
        if len(self.at) >= self._polls:
            self._stop.set()
        return super().poll(got, wait)


def _close_each(server: socket.socket) -> None:
    """Take each connection and close it unanswered, until the test closes ``server``."""
    try:
        while True:
            server.accept()[0].close()
    except OSError:
        pass


@pytest.mark.parametrize(("listening", "polls"), [(False, 6), (True, 4)])
def test_an_agent_retries_at_once_while_nothing_listens_and_backs_off_from_a_failing_controller(
        tmp_path: Path, free_port: int, listening: bool, polls: int) -> None:
    """Nothing on the controller's address (refused): every ~0.5 s, so the server a command starts is
    heard within a moment. A controller that takes the connection and fails: 0.5, 1, 2 s… (±20 %)."""
    stop = threading.Event()
    link = _TimedLink(f"http://127.0.0.1:{free_port}", stop, polls)
    ops = Ops("node1", NodeFiles(tmp_path / "root", FLEET), link.fetch, link.upload)
    with socket.socket() as server:
        if listening:  # accepts, then closes without an answer
            server.bind(("127.0.0.1", free_port))
            server.listen(16)
            threading.Thread(target=_close_each, args=(server,), daemon=True).start()
        Agent(link, ops, heartbeat=60.0).run(stop)
    gaps = [b - a for a, b in zip(link.at, link.at[1:], strict=False)]
    if listening:
        assert gaps[-1] >= 1.5, gaps  # the third wait: 2 s ± 20 %
    else:
        assert max(gaps) <= 0.75, gaps


class _Manager:
    """The one thing a swarm backend asks of its manager before a fleet's channel opens: its URL."""

    base_url = "unix:///nowhere.sock"


def test_a_second_command_on_the_controller_address_goes_through_the_first(tmp_path: Path, node: Node, free_port: int) -> None:
    """Two fleetops processes of one state dir (the watcher and ``fleetops status``, or two commands): the
    first listens on ``backend.controller``; the second's channel is a ``PeerChannel`` through it. A
    process of another state dir is told why it cannot, not given the agents."""
    url = f"http://127.0.0.1:{free_port}"
    first = SwarmBackend(tmp_path / "state", _Manager(), "r:5000", None, controller=url)  # type: ignore[arg-type]
    served = first.channel(FLEET)
    try:
        assert not isinstance(served, PeerChannel)
        secret = node.root.parent / "node1.credential"
        secret.write_text(served.credentials.issue("node1"))
        subprocess_agent = subprocess.Popen([PLAIN_PYTHON, "-I", "-S", str(write_agent_zip(node.root.parent)), "--controller", url,
                                             "--fleet", FLEET, "--node", "node1", "--credential-file", str(secret), "--root",
                                             str(node.root), "--heartbeat", "0.2", "--poll-wait", "5"],
                                            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            wait_for("the agent to connect", lambda: served.nodes() == ["node1"])
            second = SwarmBackend(tmp_path / "state", _Manager(), "r:5000", None, controller=url)  # type: ignore[arg-type]
            forwarded = second.channel(FLEET)
            assert isinstance(forwarded, PeerChannel) and forwarded.reachable("node1")
            assert forwarded.call("node1", "ping", {})["node"] == "node1"
            stranger = SwarmBackend(tmp_path / "elsewhere", _Manager(), "r:5000", None, controller=url)  # type: ignore[arg-type]
            with pytest.raises(DockerError, match=r"^cannot serve the node agents on 127\.0\.0\.1:\d+ \(is the address in use"):
                stranger.channel(FLEET)
            assert (tmp_path / "elsewhere" / "swarm" / "peer.key").read_text() != peer_token(tmp_path / "state", create=False)
            with pytest.raises(DockerError, match=r"^cannot serve the node agents"):
                SwarmBackend(tmp_path / "elsewhere", _Manager(), "r:5000", None, controller=url).channel(FLEET)  # type: ignore[arg-type]
            with pytest.raises(DockerError, match="refused this state dir's peer token"):
                PeerChannel(FLEET, served.credentials, url, "not the token").call("node1", "ping", {})
        finally:
            subprocess_agent.terminate()
            subprocess_agent.communicate(timeout=10)
    finally:
        first.close()
    with pytest.raises(DockerError, match="stopped answering"):
        forwarded.call("node1", "ping", {})
