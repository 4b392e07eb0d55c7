"""The agent's service as data, and its code as one zip: the same bytes for the same sources, stdlib only."""

from __future__ import annotations

import ast
import io
import sys
import zipfile
from pathlib import Path

import pytest

from engine.backend.swarm.agent_spec import SHIPPED, agent_service, agent_zip
from engine.errors import DockerError
from engine.naming import Labels

ROOT = Path(__file__).resolve().parents[2]


def test_the_agents_code_is_the_same_zip_for_the_same_sources() -> None:
    first, second = agent_zip(), agent_zip()
    assert first == second
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert sorted(names) == sorted(["__main__.py", "engine/__init__.py", "engine/backend/__init__.py", "engine/backend/docker/__init__.py", *SHIPPED])


def test_every_shipped_module_imports_the_standard_library_or_another_shipped_module() -> None:
    """What the fleet image's python3 has (tests/agent run the zip under python3 -I -S as well)."""
    shipped = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in SHIPPED}
    every = set(sys.stdlib_module_names) | {"__future__"}
    for name in SHIPPED:
        tree = ast.parse((ROOT / name).read_text())
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for module in modules:
                assert module in shipped or module.split(".")[0] in every, f"{name} imports {module}, which a node does not have"
    engine_modules = {str(p.relative_to(ROOT)) for p in (ROOT / "engine" / "agent").glob("*.py")} - {"engine/agent/__main__.py"}
    assert engine_modules <= set(SHIPPED), "a module of engine/agent is not shipped in agent.pyz"


def test_the_agent_service_is_pinned_to_its_node_and_keeps_its_credential_out_of_sight() -> None:
    service = agent_service("crypto", "worker-2", "k3x9node", image="registry:5000/fleetops/base@sha256:ab", controller="http://10.0.0.5:9400",
                            credential="s3cr3t-credential")
    assert service.name == "crypto-agent-worker-2"
    assert service.constraints == ("node.id == k3x9node",)
    assert service.networks == ("fleetops-crypto",)
    assert service.mounts == ("/var/lib/fleetops:/var/lib/fleetops:rw", "/sys/fs/cgroup:/host/sys/fs/cgroup:ro")
    assert Labels.FLEET not in service.labels and service.labels[Labels.PREFIX + "agent"] == "crypto"  # an agent is no unit of the fleet
    assert service.command[:2] == ("python3", "/fleetops/agent.pyz") and "--credential-file" in service.command
    assert service.config_data == agent_zip() and service.config_name.startswith("fleetops-crypto-agent-code-")
    assert service.secret_data == b"s3cr3t-credential" and service.secret_target == "fleetops-crypto-agent-worker-2"
    shown = repr(service) + repr(service.create_arguments()) + service.secret_name + service.config_name
    assert "s3cr3t" not in shown
    assert service.create_arguments()["endpoint_spec"] == {"Mode": "dnsrr"}  # no IPVS on these kernels (SWARM.md)
    rotated = agent_service("crypto", "worker-2", "k3x9node", image="i", controller="http://10.0.0.5:9400", credential="another")
    assert rotated.secret_name != service.secret_name and rotated.secret_target == service.secret_target  # secrets are immutable: a new name
    assert rotated.config_name == service.config_name


def test_an_agent_service_name_over_swarms_limit_is_refused() -> None:
    with pytest.raises(DockerError, match="longer than Swarm's 63 characters; give the node a shorter host name"):
        agent_service("f" * 40, "n" * 20, "id", image="i", controller="http://h:1", credential="c")


def test_the_socket_path_supervisord_binds_is_the_one_the_adapters_check() -> None:
    """The pool containers' supervisord.conf binds engine.naming's path; both adapters accept only that peer."""
    from engine.backend.docker.supervisor_socket import TASK_SOCKET
    from engine.naming import SUPERVISOR_SOCKET

    assert TASK_SOCKET == SUPERVISOR_SOCKET
