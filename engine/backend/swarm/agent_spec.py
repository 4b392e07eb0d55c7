"""The node agent's service, as data: its code (a Swarm config), its credential (a Swarm secret), its mounts.

Called by the Swarm backend's services half (``engine.backend.swarm.api`` creates what this
describes). One service per node of a fleet, ``<fleet>-agent-<node>``, one replica pinned to that
node, because each node's credential is a secret of its own (a global service cannot carry a
per-node secret). It runs the fleet image's own ``python3`` (the agent is standard library only:
no new image, nothing to install on nodes) on ``agent.pyz``, a zip application of ``engine.agent``
and the few stdlib-only engine modules it imports (``SHIPPED``), built byte-for-byte the same from
the same sources so that its config's name (``fleetops-<fleet>-agent-code-<sha12>``) changes only
when the code does. Configs and secrets are immutable in Swarm: a new name is a new object, and
only this service — no bot's — is updated for it.

Mounts: the node's ``/var/lib/fleetops`` (units' files, which the units' tasks bind too; it must
exist on the node: Swarm refuses a bind whose source is missing) and its cgroup tree read-only at
``/host/sys/fs/cgroup`` (each unit's memory use). Network: the fleet's overlay, so that ``tasks.<service>``
reaches a bot's API. Endpoint mode ``dnsrr`` (no IPVS on these kernels, SWARM.md). Labels name the
agent's fleet and node but not ``io.fleetops.fleet``: an agent is no unit of the fleet.
The credential is in ``secret_data`` only (left out of ``repr``); the secret's name carries a digest
of it, so a new credential is a new secret.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DockerError
from engine.naming import Labels, network_name

__all__ = ["AGENT_ROOT", "SHIPPED", "AgentService", "agent_service", "agent_zip"]

AGENT_ROOT = "/var/lib/fleetops"
"""Where units' files live on every node (``<root>/<fleet>/<unit>/{etc,data}``)."""
CODE_PATH = "/fleetops/agent.pyz"
CGROUP_MOUNT = "/host/sys/fs/cgroup"
SHIPPED = ("engine/agent/__init__.py", "engine/agent/files.py", "engine/agent/link.py", "engine/agent/main.py",
           "engine/agent/ops.py", "engine/agent/supervisord.py", "engine/backend/docker/safefs.py", "engine/backend/docker/cgroup.py",
           "engine/backend/docker/supervisor_socket.py")
"""The sources in ``agent.pyz``: the agent and the engine modules it imports, all standard library only
(tests/agent run the zip under an interpreter that has nothing else)."""
_PACKAGES = ("engine/__init__.py", "engine/backend/__init__.py", "engine/backend/docker/__init__.py")
_MAIN = b"from engine.agent.main import main\n\nraise SystemExit(main())\n"
_STAMP = (1980, 1, 1, 0, 0, 0)


def agent_zip() -> bytes:
    """``agent.pyz``: the same bytes for the same sources (fixed stamps and order)."""
    source = Path(__file__).resolve().parents[3]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, _STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)

        add("__main__.py", _MAIN)
        for package in _PACKAGES:  # the packages' own __init__ would import what the agent does not ship
            add(package, b'"""Only what the node agent needs of this package is shipped with it."""\n')
        for name in SHIPPED:
            add(name, (source / name).read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class AgentService:
    """What ``services.create`` needs for one node's agent; configs and secrets to create first."""

    name: str
    image: str
    command: tuple[str, ...]
    labels: dict[str, str]
    constraints: tuple[str, ...]
    mounts: tuple[str, ...]
    """``source:target:mode`` bind mounts, as the SDK's ``services.create(mounts=…)`` takes them."""
    networks: tuple[str, ...]
    config_name: str
    config_data: bytes = field(repr=False)
    config_target: str
    secret_name: str
    secret_data: bytes = field(repr=False)
    secret_target: str
    """File name under ``/run/secrets`` in the task."""

    def create_arguments(self) -> dict[str, Any]:
        """``services.create`` keyword arguments but ``configs`` and ``secrets``, which name objects the
        caller creates first (``config_name``/``config_data``, ``secret_name``/``secret_data``) and
        references as ``config_target`` (mode 0444) and ``secret_target`` (mode 0400)."""
        return {"name": self.name, "image": self.image, "command": list(self.command), "labels": dict(self.labels),
                "constraints": list(self.constraints), "mounts": list(self.mounts), "networks": list(self.networks),
                "endpoint_spec": {"Mode": "dnsrr"}, "restart_policy": {"Condition": "any", "Delay": 1_000_000_000, "MaxAttempts": 0},
                "mode": {"Replicated": {"Replicas": 1}}}


def agent_service(fleet: str, node: str, node_id: str, *, image: str, controller: str, credential: str) -> AgentService:
    """The agent service of ``node`` (its host name, as the channel calls it; ``node_id`` pins it) for
    ``fleet``, running ``image``'s python3 and connecting to ``controller`` with ``credential``
    (``engine.backend.swarm.credentials``). DockerError when the name would pass Swarm's 63 characters."""
    name = f"{fleet}-agent-{node}"
    if len(name) > 63:
        raise DockerError(f"the agent service of node {node} would be named {name!r}, longer than Swarm's 63 characters; "
                          "give the node a shorter host name")
    code = agent_zip()
    code_sha = hashlib.sha256(code).hexdigest()[:12]
    secret_target = f"fleetops-{fleet}-agent-{node}"
    secret = hashlib.sha256(b"fleetops agent secret name\0" + credential.encode()).hexdigest()[:8]
    return AgentService(
        name=name,
        image=image,
        command=("python3", CODE_PATH, "--controller", controller, "--fleet", fleet, "--node", node,
                 "--credential-file", f"/run/secrets/{secret_target}", "--root", AGENT_ROOT, "--cgroup-root", CGROUP_MOUNT),
        labels={Labels.PREFIX + "agent": fleet, Labels.PREFIX + "node": node, Labels.PREFIX + "agent-code": code_sha},
        constraints=(f"node.id == {node_id}",),
        mounts=(f"{AGENT_ROOT}:{AGENT_ROOT}:rw", f"/sys/fs/cgroup:{CGROUP_MOUNT}:ro"),
        networks=(network_name(fleet),),
        config_name=f"fleetops-{fleet}-agent-code-{code_sha}",
        config_data=code,
        config_target=CODE_PATH,
        secret_name=f"{secret_target}-{secret}",
        secret_data=credential.encode(),
        secret_target=secret_target,
    )
