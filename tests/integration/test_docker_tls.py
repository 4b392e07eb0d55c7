"""A Docker engine reached over verified TLS, as the Docker CLI reaches it (issue 17, item 9, a variant).

``DOCKER_HOST=tcp://…:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=…`` is how a remote engine is
usually set up; the SDK's APIClient reads none of it, and fleetops spoke plain HTTP to such an
engine (refused, or worse: unverified). The real engine behind a TLS front that requires the
client certificate (tests/support/docker_tls.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import git

from tests.conftest import Run
from tests.support.docker_tls import TLSFront, make_certificates


def test_an_engine_behind_verified_tls_is_reached_with_the_docker_cli_settings(
        base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    front = TLSFront(certs)
    try:
        env = {"DOCKER_HOST": f"tcp://127.0.0.1:{front.port}", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
        result = fleetops("plan", "--repo", base_repo.working_dir, env=env)
        assert result.code == 0 and "to create" in result.out, result.out + result.err
        assert front.plain_requests == 0
        result = fleetops("plan", "--repo", base_repo.working_dir, env={"DOCKER_HOST": env["DOCKER_HOST"]})  # no TLS asked for
        assert result.code == 1 and len(result.err.splitlines()) == 1 and "internal error" not in result.err, result.err
        assert front.plain_requests >= 1
    finally:
        front.close()
