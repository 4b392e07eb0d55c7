"""Remove every container and the network of a fleet (benchmarks clean up after themselves)."""

from __future__ import annotations

import sys

import docker

from engine.naming import Labels, network_name


def remove_fleet(fleet: str) -> None:
    api = docker.APIClient(version="1.41")
    for container in api.containers(all=True, filters={"label": f"{Labels.FLEET}={fleet}"}):
        api.remove_container(container["Id"], force=True)
    for network in api.networks(names=[network_name(fleet)]):
        api.remove_network(network["Id"])


if __name__ == "__main__":
    remove_fleet(sys.argv[1])
