"""Each node's agent service, created when a node has none: what a swarm fleet's first apply needs first.

Called by the swarm site before it places units (``engine.backend.swarm.site.SwarmSite.prepare``):
bots' files are written by the agent of their unit's node, so every ready node that could take a
unit gets its agent service (``engine.backend.swarm.agent_spec``: code as a config, credential as
a secret, pinned to the node) when it has none, and the site waits until every such agent has
connected to the controller's channel. An agent service with this fleetops' code is left as it is;
one with other code (an upgraded fleetops) is updated to it, which replaces the agent's task only.
What it leaves behind is retired in the same call (``retire_agents``): the agent service of a node
that has left the swarm (``docker node rm``: a service pinned to it would stay pending for ever) and
that node's credential, and — after any agent service changed — every agent config and secret of the
fleet no agent service names any more (an older fleetops' code, a retired node's credential).
Nothing is listed for that on a run that changed nothing, so a no-op apply makes no extra call.

What a node needs beforehand: the directory ``/var/lib/fleetops`` (the agent binds it, and Swarm
refuses a bind whose source is missing). That is a setup step of the node, done once, as joining
the swarm is (README: ``mkdir -p /var/lib/fleetops`` on each node); the error says so when it is
missing, naming the node.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from engine.backend.swarm.agent_spec import AgentService, agent_service
from engine.backend.swarm.api import SwarmManager
from engine.backend.swarm.channel import AgentChannel
from engine.backend.swarm.placement import Node
from engine.errors import DockerError
from engine.naming import Labels

__all__ = ["AGENT_WAIT", "CODE_LABEL", "ensure_agents", "retire_agents", "service_spec_of"]

CODE_LABEL = Labels.PREFIX + "agent-code"
"""The agent service's label naming its code's digest (``agent_spec``): a service with other code is updated."""
AGENT_WAIT = 120.0
"""Seconds an apply waits for a new agent to connect (its image is pulled on the node first)."""


def service_spec_of(agent: AgentService, config_id: str, secret_id: str) -> dict[str, Any]:
    """The Engine API ``ServiceSpec`` of ``agent`` (``create_arguments`` are the SDK's high-level words)."""
    mounts = []
    for mount in agent.mounts:
        source, target, mode = mount.split(":")
        mounts.append({"Type": "bind", "Source": source, "Target": target, "ReadOnly": mode == "ro"})
    arguments = agent.create_arguments()
    return {
        "Name": agent.name,
        "Labels": dict(agent.labels),
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": agent.image,
                "Command": list(agent.command),
                "User": "0:0",  # root whatever the fleet image's USER (FreqTrade's is ftuser): it gives bots' files to their users
                "Mounts": mounts,
                "Configs": [{"File": {"Name": agent.config_target, "UID": "0", "GID": "0", "Mode": 0o444},
                             "ConfigID": config_id, "ConfigName": agent.config_name}],
                "Secrets": [{"File": {"Name": agent.secret_target, "UID": "0", "GID": "0", "Mode": 0o400},
                             "SecretID": secret_id, "SecretName": agent.secret_name}],
            },
            "RestartPolicy": arguments["restart_policy"],
            "Placement": {"Constraints": list(agent.constraints)},
            "Networks": [{"Target": network} for network in agent.networks],
        },
        "Mode": arguments["mode"],
        "EndpointSpec": arguments["endpoint_spec"],
    }


def ensure_agents(api: SwarmManager, channel: AgentChannel, nodes: Sequence[Node], *, image: str, controller: str,
                  wait: float = AGENT_WAIT, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic, members: Collection[str] | None = None) -> list[str]:
    """Create the agent service of every ready, active node of ``nodes`` that has none, running ``image``'s
    python3 and connecting to ``controller``, and update one whose code is another fleetops'; wait until each
    of those nodes' agents is heard on ``channel``. With ``members`` (the host names of every node of the
    swarm), retire what is left behind (``retire_agents``). The services created or updated (names).
    DockerError naming the nodes whose agent did not connect."""
    fleet = channel.fleet
    wanted = [node for node in nodes if node.state == "ready" and node.availability == "active"]
    existing = {str(s["Spec"]["Name"]): s for s in api.services({Labels.PREFIX + "agent": fleet})}
    created = []
    for node in wanted:
        agent = agent_service(fleet, node.hostname, node.id, image=image, controller=controller,
                              credential=channel.credentials.issue(node.hostname))
        found = existing.get(agent.name)
        if found is not None and (found["Spec"].get("Labels") or {}).get(CODE_LABEL) == agent.labels[CODE_LABEL]:
            continue  # its code is this fleetops' (a new image or controller URL alone does not replace a running agent)
        labels = {Labels.PREFIX + "agent": fleet}
        configs = {str(c["Spec"]["Name"]): str(c["ID"]) for c in api.configs(labels)}
        config_id = configs.get(agent.config_name) or api.create_config(agent.config_name, agent.config_data, labels)
        secrets = {str(s["Spec"]["Name"]): str(s["ID"]) for s in api.secrets(labels)}
        secret_id = secrets.get(agent.secret_name) or api.create_secret(agent.secret_name, agent.secret_data, labels)
        if found is None:
            api.create_service(service_spec_of(agent, config_id, secret_id))
        else:  # another fleetops' agent code: one update replaces the agent's task only, never a bot's
            api.update_service(str(found["ID"]), int(found["Version"]["Index"]), service_spec_of(agent, config_id, secret_id))
        created.append(agent.name)
    if members is not None:
        retire_agents(api, channel, members, changed=bool(created), existing=list(existing.values()))
    deadline = clock() + wait
    while True:
        heard = set(channel.nodes())
        missing = sorted(node.hostname for node in wanted if node.hostname not in heard)
        if not missing:
            return created
        if clock() > deadline:
            raise DockerError(f"the fleetops agent of node(s) {', '.join(missing)} did not connect to {controller} within {wait:.0f} s: "
                              f"does /var/lib/fleetops exist on those nodes (mkdir -p /var/lib/fleetops, once per node), and can "
                              f"they reach {controller}? `docker service ps {fleet}-agent-{missing[0]}` shows why")
        sleep(0.5)


def retire_agents(api: SwarmManager, channel: AgentChannel, members: Collection[str], *, changed: bool,
                  existing: list[dict[str, Any]] | None = None) -> list[str]:
    """Remove the agent services of ``channel``'s fleet whose node is not among ``members`` (host names:
    the node left the swarm) and forget those nodes' credentials; when that removed any or ``changed``
    (an agent service was created or updated), remove the fleet's agent configs and secrets that no
    remaining agent service names. ``existing``: the agent services already listed. What was removed
    (service, config and secret names). A config or secret Docker still refuses to remove (its old
    task not gone yet) is left for the next apply: DockerError is not raised for it."""
    label = {Labels.PREFIX + "agent": channel.fleet}
    services = existing if existing is not None else api.services(label)
    removed, kept = [], []
    for service in services:
        node = str((service["Spec"].get("Labels") or {}).get(Labels.PREFIX + "node", ""))
        if node and node not in members:
            api.remove_service(str(service["ID"]))
            channel.credentials.forget(node)
            removed.append(str(service["Spec"]["Name"]))
        else:
            kept.append(service)
    if not (removed or changed):
        return removed
    named: set[str] = set()
    for service in api.services(label) if changed else kept:
        container = (service["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {}
        named.update(str(ref.get("ConfigID")) for ref in container.get("Configs") or [])
        named.update(str(ref.get("SecretID")) for ref in container.get("Secrets") or [])
    for objects, remove in ((api.configs(label), api.remove_config), (api.secrets(label), api.remove_secret)):
        for found in objects:
            if str(found["ID"]) not in named:
                try:
                    remove(str(found["ID"]))
                except DockerError:
                    continue
                removed.append(str(found["Spec"]["Name"]))
    return removed
