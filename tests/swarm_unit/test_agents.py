"""Agent services made for the nodes that have none (``engine.backend.swarm.agents``), against a manager
stub at the adapter's seam (``SwarmManager``'s method names) and a real channel whose agents "connect"
as the routes would mark them (``touch``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.backend.swarm.agent_spec import AGENT_ROOT, agent_service
from engine.backend.swarm.agents import CODE_LABEL, ensure_agents
from engine.backend.swarm.channel import AgentChannel
from engine.backend.swarm.credentials import Credentials
from engine.backend.swarm.placement import Node
from engine.errors import DockerError
from engine.naming import Labels
from tests.swarm_unit.conftest import Clock

NODES = [Node("id-mgr", "mgr", role="manager"), Node("id-w1", "w1"), Node("id-w2", "w2", state="down"), Node("id-w3", "w3", availability="drain")]


class Manager:
    """What ensure_agents asks of the manager: services by label, configs, secrets, and creating them."""

    def __init__(self, existing: dict[str, str] | None = None) -> None:
        self.created: list[dict[str, Any]] = []
        self.updated: list[tuple[str, int, dict[str, Any]]] = []
        self.objects: dict[str, list[tuple[str, bytes]]] = {"config": [], "secret": []}
        self.existing = existing or {}
        """Agent service name → its code label."""

    def services(self, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        assert labels == {Labels.PREFIX + "agent": "crypto"}
        return [{"ID": f"id-{name}", "Version": {"Index": 7}, "Spec": {"Name": name, "Labels": {CODE_LABEL: code}}}
                for name, code in self.existing.items()]

    def update_service(self, service_id: str, version: int, spec: dict[str, Any]) -> list[str]:
        self.updated.append((service_id, version, spec))
        return []

    def configs(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [{"ID": f"c{i}", "Spec": {"Name": name}} for i, (name, _) in enumerate(self.objects["config"])]

    def secrets(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [{"ID": f"s{i}", "Spec": {"Name": name}} for i, (name, _) in enumerate(self.objects["secret"])]

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.objects["config"].append((name, data))
        return f"c{len(self.objects['config']) - 1}"

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.objects["secret"].append((name, data))
        return f"s{len(self.objects['secret']) - 1}"

    def create_service(self, spec: dict[str, Any]) -> str:
        self.created.append(spec)
        return f"svc{len(self.created)}"


def test_ready_active_nodes_without_one_get_an_agent_service_and_the_apply_waits_for_them(tmp_path: Path) -> None:
    clock = Clock()
    channel = AgentChannel("crypto", Credentials(tmp_path / "agents"), clock=clock)
    code = agent_service("crypto", "mgr", "id-mgr", image="i", controller="http://c:1", credential="x").labels[CODE_LABEL]
    manager = Manager(existing={"crypto-agent-mgr": code, "crypto-agent-w3": "0ld"})

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 3:
            channel.touch("w1")  # the new agent connects after its image is pulled
        if clock.now >= 1:
            channel.touch("mgr")
    created = ensure_agents(manager, channel, NODES, image="r:5000/bot@sha256:" + "a" * 64,  # type: ignore[arg-type]
                            controller="http://10.0.0.1:9400", sleep=sleep, clock=clock)
    assert created == ["crypto-agent-w1"] and clock.now >= 3
    spec = manager.created[0]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.id == id-w1"]
    assert {(m["Source"], m["ReadOnly"]) for m in container["Mounts"]} == {(AGENT_ROOT, False), ("/sys/fs/cgroup", True)}
    assert container["Secrets"][0]["File"]["Mode"] == 0o400 and container["Secrets"][0]["SecretID"] == "s0"
    assert container["Configs"][0]["ConfigID"] == "c0" and spec["EndpointSpec"] == {"Mode": "dnsrr"}
    assert manager.objects["secret"][0][1] == channel.credentials.issue("w1").encode()
    assert channel.credentials.issue("w1") not in repr(spec) and "http://10.0.0.1:9400" in container["Command"]
    assert manager.updated == []  # mgr's agent runs this code; w3 is drained (no unit goes there)


def test_an_agent_service_with_another_fleetops_code_is_updated_not_recreated(tmp_path: Path) -> None:
    clock = Clock()
    channel = AgentChannel("crypto", Credentials(tmp_path / "agents"), clock=clock)
    channel.touch("w1")
    manager = Manager(existing={"crypto-agent-w1": "0ld"})
    assert ensure_agents(manager, channel, [NODES[1]], image="img", controller="http://c:1",  # type: ignore[arg-type]
                         sleep=clock.sleep, clock=clock) == ["crypto-agent-w1"]
    assert manager.created == [] and [(i, v) for i, v, _ in manager.updated] == [("id-crypto-agent-w1", 7)]
    assert manager.updated[0][2]["Labels"][CODE_LABEL] != "0ld"


def test_an_agent_that_never_connects_is_named_with_the_node_setup_it_needs(tmp_path: Path) -> None:
    clock = Clock()
    channel = AgentChannel("crypto", Credentials(tmp_path / "agents"), clock=clock)
    with pytest.raises(DockerError, match=r"^the fleetops agent of node\(s\) mgr, w1 did not connect to http://10.0.0.1:9400 within 120 s: "
                                          r"does /var/lib/fleetops exist on those nodes \(mkdir -p /var/lib/fleetops, once per node\)"):
        ensure_agents(Manager(), channel, NODES, image="img", controller="http://10.0.0.1:9400",  # type: ignore[arg-type]
                      sleep=clock.sleep, clock=clock)


class Swarm(Manager):
    """A manager whose agent services name their node and their config and secret, and that removes things."""

    def __init__(self, services: dict[str, tuple[str, str, str, str]], configs: list[str], secrets: list[str]) -> None:
        super().__init__()
        self.agents = services
        """Service name → (node, code label, config ID, secret ID)."""
        self.stored = {"config": list(configs), "secret": list(secrets)}
        self.removed: list[str] = []
        self.listed: list[str] = []

    def services(self, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        assert labels == {Labels.PREFIX + "agent": "crypto"}
        return [{"ID": f"id-{name}", "Version": {"Index": 7},
                 "Spec": {"Name": name, "Labels": {CODE_LABEL: code, Labels.PREFIX + "node": node},
                          "TaskTemplate": {"ContainerSpec": {"Configs": [{"ConfigID": config}], "Secrets": [{"SecretID": secret}]}}}}
                for name, (node, code, config, secret) in self.agents.items()]

    def update_service(self, service_id: str, version: int, spec: dict[str, Any]) -> list[str]:
        name = service_id.removeprefix("id-")
        container = spec["TaskTemplate"]["ContainerSpec"]
        self.agents[name] = (self.agents[name][0], spec["Labels"][CODE_LABEL], container["Configs"][0]["ConfigID"],
                             container["Secrets"][0]["SecretID"])
        return []

    def configs(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        self.listed.append("configs")
        return [{"ID": i, "Spec": {"Name": f"name-{i}"}} for i in self.stored["config"]]

    def secrets(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        self.listed.append("secrets")
        return [{"ID": i, "Spec": {"Name": f"name-{i}"}} for i in self.stored["secret"]]

    def create_config(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.stored["config"].append(f"c-{name[-12:]}")
        return f"c-{name[-12:]}"

    def create_secret(self, name: str, data: bytes, labels: dict[str, str]) -> str:
        self.stored["secret"].append(f"s-{name[-8:]}")
        return f"s-{name[-8:]}"

    def remove_service(self, name: str) -> bool:
        self.agents.pop(name.removeprefix("id-"))
        self.removed.append(name)
        return True

    def remove_config(self, config_id: str) -> None:
        if config_id == "c-busy":
            raise DockerError("the swarm manager refused to remove config c-busy: it is in use")
        self.stored["config"].remove(config_id)
        self.removed.append(config_id)

    def remove_secret(self, secret_id: str) -> None:
        self.stored["secret"].remove(secret_id)
        self.removed.append(secret_id)


def test_a_node_that_left_loses_its_agent_credential_and_secret_and_old_code_configs_go_after_an_upgrade(tmp_path: Path) -> None:
    clock = Clock()
    channel = AgentChannel("crypto", Credentials(tmp_path / "agents"), clock=clock)
    for node in ("mgr", "gone"):
        channel.credentials.issue(node)
        channel.touch(node)
    code = agent_service("crypto", "mgr", "id-mgr", image="i", controller="http://c:1", credential="x").labels[CODE_LABEL]
    swarm = Swarm({"crypto-agent-mgr": ("mgr", code, "c-now", "s-mgr"), "crypto-agent-gone": ("gone", code, "c-now", "s-gone")},
                  configs=["c-now", "c-0ld", "c-busy"], secrets=["s-mgr", "s-gone"])
    nodes = [NODES[0]]
    ensure_agents(swarm, channel, nodes, image="i", controller="http://c:1", sleep=clock.sleep, clock=clock,  # type: ignore[arg-type]
                  members={"mgr", "w1"})
    assert swarm.removed == ["id-crypto-agent-gone", "c-0ld", "s-gone"]  # c-busy: refused now, tried again next time
    assert not (tmp_path / "agents" / "gone.key").exists() and not channel.credentials.check("gone", channel.credentials.issue("mgr"))
    assert (tmp_path / "agents" / "mgr.key").exists()
    swarm.removed, swarm.listed = [], []
    ensure_agents(swarm, channel, nodes, image="i", controller="http://c:1", sleep=clock.sleep, clock=clock,  # type: ignore[arg-type]
                  members={"mgr", "w1"})
    assert (swarm.removed, swarm.listed) == ([], [])  # nothing changed: nothing listed, nothing removed (a no-op apply)
    swarm.agents["crypto-agent-mgr"] = ("mgr", "0ld", "c-0lder", "s-mgr")
    swarm.stored["config"].append("c-0lder")
    ensure_agents(swarm, channel, nodes, image="i", controller="http://c:1", sleep=clock.sleep, clock=clock,  # type: ignore[arg-type]
                  members={"mgr"})
    assert swarm.agents["crypto-agent-mgr"][1] == code and set(swarm.removed) == {"c-now", "c-0lder", "s-mgr"}, swarm.removed
    assert set(swarm.stored["config"]) == {"c-busy", swarm.agents["crypto-agent-mgr"][2]}
