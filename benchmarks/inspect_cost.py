"""What inspecting every managed container costs: the part of a no-op that reads settings set by hand.

Docker's list call carries labels, image and networks but not memory, CPUs or the restart
policy, so observe and the no-op proof inspect each container (``engine.backend.docker.inspect``).
This starts N idle containers (fleetops/base:1 sleeping, labelled for a throwaway fleet) and
times, median of --repeat runs: the one list call; the inspects one after another over the
stdlib socket; all inspects sent before any answer is read (what the no-op proof and the
adapter's ``inspect_many`` do on a local socket); and the SDK from 8 threads (what the adapter
does for a remote engine). Prints ms in all and ms per container.
Usage: inspect_cost.py [--sizes 10 40 100] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from engine.backend.docker.api import DockerEngine  # noqa: E402
from engine.backend.docker.inspect import parse_inspect  # noqa: E402
from engine.backend.docker.unix_http import UnixHTTPConnection, inspect_documents  # noqa: E402

FLEET = "inspectbench"
LABEL = "io.fleetops.fleet"
SOCKET = "/var/run/docker.sock"


def _inspect_all(_host: None, ids: dict[str, str]) -> dict[str, object]:
    """Every container's settings, all inspects sent before any answer is read (what the no-op proof does)."""
    return {name: parse_inspect(document).settings for name, document in inspect_documents(SOCKET, ids).items()}


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def list_call() -> list[dict[str, object]]:
    connection = UnixHTTPConnection(SOCKET)
    try:
        filters = quote(json.dumps({"label": [f"{LABEL}={FLEET}"]}))
        connection.request("GET", f"/v1.41/containers/json?all=1&filters={filters}")
        rows: list[dict[str, object]] = json.loads(connection.getresponse().read())
        return rows
    finally:
        connection.close()


def serial(ids: dict[str, str]) -> None:
    for container_id in ids.values():
        connection = UnixHTTPConnection(SOCKET)
        connection.request("GET", f"/v1.41/containers/{container_id}/json")
        connection.getresponse().read()
        connection.close()


def figures(engine: DockerEngine, ids: dict[str, str], repeat: int) -> list[float]:
    """ms: list, serial, sent at once, the adapter (local socket), the SDK from 8 threads."""
    def sdk() -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(engine._inspect_one, sorted(ids)))

    return [median_ms(list_call, repeat), median_ms(lambda: serial(ids), repeat), median_ms(lambda: _inspect_all(None, ids), repeat),
            median_ms(lambda: engine.inspect_many(sorted(ids)), repeat), median_ms(sdk, repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 100])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    api = docker.APIClient(version="1.41")
    engine = DockerEngine()
    print("containers | list ms | serial ms (per c.) | sent at once (per c.) | adapter inspect_many (per c.) | SDK, 8 threads (per c.)")
    made: list[str] = []
    try:
        for size in args.sizes:
            while len(made) < size:
                name = f"{FLEET}-c-{len(made)}"
                api.create_container("fleetops/base:1", command=["sleep", "3600"], name=name, labels={LABEL: FLEET},
                                     host_config=api.create_host_config(mem_limit="64m", restart_policy={"Name": "unless-stopped"}))
                api.start(name)
                made.append(name)
            ids = {str(row["Names"][0]).lstrip("/"): str(row["Id"]) for row in list_call()}  # type: ignore[index]
            assert len(ids) == size and len(_inspect_all(None, ids)) == size
            shown = " | ".join(f"{ms:.1f}" + (f" ({ms / size:.2f})" if i else "") for i, ms in enumerate(figures(engine, ids, args.repeat)))
            print(f"{size} | {shown}")
    finally:
        for name in made:
            api.remove_container(name, force=True)


if __name__ == "__main__":
    main()
