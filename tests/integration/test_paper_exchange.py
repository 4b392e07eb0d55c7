"""``fleetops paper-exchange --detach``: the paper exchange as a container, reached where bots reach the host.

It runs the pool image with the package mounted, on the host's network, restarted by Docker, with
no fleet label (no fleet's apply or destroy touches it); a bot's container on another bridge
network reaches it at the Docker bridge's gateway, as the example fleet's ``exchange_url`` says.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import time

import docker
import httpx
import pytest

from engine.images import POOL_IMAGE
from engine.naming import Labels
from engine.paper.container import CONTAINER, LABEL
from tests.conftest import ROOT

pytestmark = pytest.mark.freqtrade  # the pool image (FreqTrade's Starlette and uvicorn) runs it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def fleetops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_detached_paper_exchange_serves_bots_in_containers(docker_api: docker.APIClient) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/build-images"), "--only", "freqtrade"], check=True)
    assert not docker_api.containers(all=True, filters={"name": f"^{CONTAINER}$"}), f"{CONTAINER} runs already (scripts/demo?)"
    port = free_port()
    started = fleetops("paper-exchange", "--detach", "--port", str(port), "--pairs", "BTC/USDT,BTC/EUR")
    try:
        assert started.returncode == 0 and f"exchange_url: http://172.17.0.1:{port}" in started.stdout, started.stderr
        deadline = time.monotonic() + 30
        while True:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/_market/stats", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, docker_api.logs(CONTAINER).decode()[-2000:]
                time.sleep(0.3)
        assert stats["pairs"] == ["BTC/USDT", "BTC/EUR"]
        info = docker_api.inspect_container(CONTAINER)
        assert info["Config"]["Labels"].get(LABEL) == "1" and Labels.FLEET not in info["Config"]["Labels"]
        assert info["HostConfig"]["NetworkMode"] == "host" and info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert info["Config"]["Image"] == POOL_IMAGE and info["HostConfig"]["ReadonlyRootfs"] and info["Config"]["User"] == "65534:65534"

        again = fleetops("paper-exchange", "--detach", "--port", str(port))
        assert again.returncode == 1 and again.stderr.startswith(f"fleetops: error: a container named {CONTAINER} exists already"), again.stderr

        # From a container on a bridge network of its own, as a fleet's bot is: the bridge gateway.
        network = docker_api.create_network("fleetops-paper-probe", driver="bridge")
        try:
            probe = docker_api.create_container(POOL_IMAGE, entrypoint=["python3", "-c",
                                                "import json, urllib.request; print(json.load(urllib.request.urlopen("
                                                f"'http://172.17.0.1:{port}/api/v3/exchangeInfo?symbol=BTCEUR', timeout=10))['symbols'][0]['symbol'])"],
                                                host_config=docker_api.create_host_config(network_mode="fleetops-paper-probe"))
            docker_api.start(probe)
            assert docker_api.wait(probe, timeout=60)["StatusCode"] == 0, docker_api.logs(probe).decode()
            assert docker_api.logs(probe).decode().strip() == "BTCEUR"
            subnet = ipaddress.ip_network(docker_api.inspect_network(network["Id"])["IPAM"]["Config"][0]["Subnet"])
            docker_api.remove_container(probe, force=True)
        finally:
            docker_api.remove_network(network["Id"])
        after = httpx.get(f"http://127.0.0.1:{port}/_market/stats", timeout=2).json()
        # from the probe's own network (the engine picks its subnet: 172.x, or 192.168.x once those are taken)
        assert after["by_endpoint"]["GET /api/v3/exchangeInfo"] == 1, after["by_endpoint"]
        assert any(ipaddress.ip_address(client) in subnet for client in after["by_client"]), (subnet, after["by_client"])
    finally:
        stopped = fleetops("paper-exchange", "--stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == f"removed {CONTAINER}"
    assert not docker_api.containers(all=True, filters={"name": f"^{CONTAINER}$"})
