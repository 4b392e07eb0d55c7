"""The paper exchange as a container: ``fleetops paper-exchange --detach`` and ``--stop``.

Called by the CLI. Why a container: bots keep trading only while their exchange answers, so it
should outlive the shell that started it and come back after a reboot, as the bots do (restart
policy ``unless-stopped``). It runs the pool image (FreqTrade brings Starlette and uvicorn) with
this package's ``engine`` directory mounted read-only and runs ``python3 -m engine.paper``; on
the host's network, so bots in any container reach it where they reach a host process — the
Docker bridge's gateway (``DOCKER_HOST_URL``). It carries ``io.fleetops.paper-exchange`` and no
fleet label: no fleet's apply or destroy ever touches it. The Docker CLI drives it (the engine of
``DOCKER_HOST``), like ``fleetops image build``; a remote engine cannot mount this host's package.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engine.errors import DockerError

__all__ = ["CONTAINER", "LABEL", "start_container", "stop_container"]

CONTAINER = "fleetops-paper-exchange"
LABEL = "io.fleetops.paper-exchange"
_PACKAGE = Path(__file__).resolve().parent.parent  # the ``engine`` directory, mounted into the container


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        raise DockerError("`fleetops paper-exchange --detach` needs the Docker CLI (docker); run it in the foreground instead")
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def start_container(image: str, options: list[str]) -> str:
    """Start the paper exchange container from ``image`` with ``options`` for ``python3 -m engine.paper``;
    returns its ID. Raises DockerError when one runs already, or Docker refuses."""
    running = _docker("ps", "-aq", "--filter", f"name=^{CONTAINER}$")
    if running.stdout.strip():
        raise DockerError(f"a container named {CONTAINER} exists already; `fleetops paper-exchange --stop` removes it")
    proc = _docker("run", "-d", "--name", CONTAINER, "--label", f"{LABEL}=1", "--network", "host", "--restart", "unless-stopped",
                   "--read-only", "--user", "65534:65534", "--init", "-e", "PYTHONPATH=/opt/fleetops", "-e", "PYTHONDONTWRITEBYTECODE=1",
                   "-v", f"{_PACKAGE}:/opt/fleetops/engine:ro", "--entrypoint", "python3", image, "-m", "engine.paper", *options)
    if proc.returncode != 0:
        raise DockerError(f"Docker refused to start {CONTAINER}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:] or '?'}")
    return proc.stdout.strip()


def stop_container() -> bool:
    """Remove the paper exchange container; False when there was none."""
    proc = _docker("rm", "-f", CONTAINER)
    return proc.returncode == 0
