"""Shared helpers for the benchmarks that run a real fleet beside Docker Compose (reconcile.py, scale.py).

Why a module: both benchmarks build the same stand-in fleet, drive fleetops' CLI and Compose v2
(the PyPI ``docker-compose`` in the venv, on fleetops' own rendered compose file), wait for every
bot's ping, count restarted bot processes and tear the fleet down; one copy keeps them measuring
the same thing. What: the fleet and repo generators, the CLI/Compose runners, teardown, the ping
wait, the process census, render helpers (ports, secrets) and a memory probe.
Usage: ``import fleetbench as fb`` from a script in benchmarks/ (its directory is on sys.path).
Every helper reads ``FLEET`` when called, so a script may set ``fb.FLEET`` to run beside another
benchmark's fleet without either tearing down the other's containers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import git
import httpx

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
from plan_offline import tagged_strategy_repo  # noqa: E402

from engine.demo_repo import commit_all  # noqa: E402

FLEET = "bench"
API = docker.APIClient(version="1.41")
COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or "docker-compose"
STRATEGY = 'from freqtrade.strategy import IStrategy\n\n\nclass Bench(IStrategy):\n    INTERFACE_VERSION = 3\n    minimal_roi = {"0": %s}\n'
STANDIN_IMAGE = "fleetops/standin-bot:1"
STANDIN_COMMAND = "standin-bot trade --config {config} --config {secrets} --userdir {userdir}"  # trade mode: the loop health check needs it


def write_fleet(root: Path, bots: int, per_pool: int, dedicated: bool, image: str, command: str, pin_of: dict[int, str]) -> None:
    (root / "fleet").mkdir(exist_ok=True)
    (root / "fleet" / "fleet.yaml").write_text(
        f"kind: Fleet\nname: {FLEET}\ndefaults:\n  image: {image}\n  bot_command: {command}\nhealth:\n  timeout_seconds: 300\n"
        f"---\nkind: Wallet\nname: main\ncurrency: USDT\nbalance: {bots * 100 + 1000}\nreserve: 0\n"
        f"---\nkind: Pool\nname: p\ncapacity: {per_pool}\n"
    )
    docs = []
    for i in range(bots):
        pool = "" if dedicated else "pool: p\n"
        docs.append(f"kind: Bot\nname: b{i:03d}\nwallet: main\nallocation: 100\n{pool}strategy: {pin_of.get(i, 'Bench@v1')}\n"
                    "pairs: [BTC/USDT]\nstake_amount: 10\nstoploss: -0.1\n")
    (root / "fleet" / "bots.yaml").write_text("---\n".join(docs))


def make_repo(root: Path, **fleet: object) -> git.Repo:
    """A git repo with strategy tags v1 and v2 and the fleet (``write_fleet``'s arguments, every bot on v1) committed."""
    repo = tagged_strategy_repo(root, STRATEGY)
    write_fleet(root, pin_of={}, **fleet)  # type: ignore[arg-type]
    commit_all(repo, "fleet")
    return repo


CLI = [sys.executable, "-m", "engine"]
"""How ``fleetops`` runs: the checkout by default; ``use_installed_wheel`` makes it the wheel a user installs."""


def use_installed_wheel(where: Path) -> Path:
    """Build fleetops' wheel and install it in a venv under ``where``, with its bytecode compiled as ``pip install``
    does, and run ``fleetops`` from there from now on: what a user runs (the checkout's editable install loads a
    path finder at every start, ~14 ms, and here PYTHONDONTWRITEBYTECODE=1 makes it compile the engine every run).
    Its dependencies are the checkout venv's (a ``.pth`` line), so nothing is downloaded. Returns the script."""
    dist, venv = where / "dist", where / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    wheel = next(dist.glob("fleetops-*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--disable-pip-version-check", str(wheel)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    site = next((venv / "lib").glob("python3*/site-packages"))
    checkout_site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir() and str(Path(p)).startswith(str(ROOT)))
    (site / "fleetops-benchmark-deps.pth").write_text(checkout_site + "\n")
    script = venv / "bin" / "fleetops"
    CLI[:] = [str(script)]
    return script


def fleetops(state: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of ``fleetops ARGS`` (a whole process, ``CLI``) and its result; exits the benchmark if it fails."""
    full_env = {**os.environ, **(env or {}), "FLEETOPS_STATE_DIR": str(state)}
    start = time.perf_counter()
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        sys.exit(f"fleetops {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc


def compose(project_dir: Path, *args: str) -> float:
    """Wall time of ``docker-compose ARGS`` in ``project_dir``."""
    start = time.perf_counter()
    subprocess.run([COMPOSE, *args], cwd=project_dir, check=True, capture_output=True)
    return time.perf_counter() - start


def teardown() -> None:
    """Remove every container labelled with the benchmark's fleet, and its network."""
    for c in API.containers(all=True, filters={"label": f"io.fleetops.fleet={FLEET}"}):
        API.remove_container(c["Id"], force=True)
    for n in API.networks(names=[f"fleetops-{FLEET}"]):
        API.remove_network(n["Id"])


def containers() -> int:
    """How many containers of the benchmark's fleet run."""
    return len(API.containers(filters={"label": f"io.fleetops.fleet={FLEET}"}))


def bot_endpoints() -> dict[str, tuple[str, str, int]]:
    """bot → (container, ip, port), from the runtime records fleetops or compose mounted."""
    endpoints = {}
    for c in API.containers(filters={"label": f"io.fleetops.fleet={FLEET}"}):
        name = c["Names"][0].lstrip("/")
        ip = next(iter(c["NetworkSettings"]["Networks"].values()))["IPAddress"]
        for bot in (c["Labels"].get("io.fleetops.bots") or "").split(","):
            if bot:
                endpoints[bot] = (name, ip, 0)
    return endpoints


def wait_all_pings(ports: dict[str, int], timeout: float = 300) -> float:
    """Seconds until every bot in ``ports`` (bot → API port) answers ``/api/v1/ping``; exits if some never do."""
    start = time.perf_counter()
    pending = dict(ports)
    endpoints = bot_endpoints()
    with httpx.Client(timeout=1) as client:
        while pending and time.perf_counter() - start < timeout:
            for bot in list(pending):
                try:
                    if client.get(f"http://{endpoints[bot][1]}:{pending[bot]}/api/v1/ping").status_code == 200:
                        del pending[bot]
                except (httpx.HTTPError, KeyError):
                    pass
            if pending:
                time.sleep(0.1)
                endpoints = bot_endpoints()
    if pending:
        sys.exit(f"bots never answered: {sorted(pending)[:5]} ...")
    return time.perf_counter() - start


def pids(container: str) -> dict[str, int]:
    """program → pid, from the container's supervisord."""
    out = API.exec_start(API.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "pid", "all"])).decode()
    status = API.exec_start(API.exec_create(container, ["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status"])).decode()
    names = [line.split()[0] for line in status.splitlines() if line.strip()]
    return dict(zip(names, (int(p) for p in out.split()), strict=False))


def all_pids() -> dict[str, tuple[str, int]]:
    """bot → (container id, pid): a recreated container or a restarted program both change it."""
    result = {}
    for c in API.containers(filters={"label": f"io.fleetops.fleet={FLEET}"}):
        for bot, pid in pids(c["Id"]).items():
            result[bot] = (c["Id"], pid)
    return result


def restarted(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> int:
    """How many bots of ``before`` run as another process (or not at all) in ``after``."""
    return sum(1 for b in before if before[b] != after.get(b))


def ports_of(render_dir: Path) -> dict[str, int]:
    manifest = json.loads((render_dir / "manifest.json").read_text())
    return {bot: info["port"] for bot, info in manifest["bots"].items()}


def materialise_secrets(render_dir: Path, key: bytes, fleet: str = FLEET) -> None:
    """Write what fleetops' runtime would add to a render of ``fleet``: each bot's secrets.json and its owned data directory."""
    from engine.live.secrets import secrets_document

    for config in render_dir.glob("containers/*/etc/bots/*/config.json"):
        bot = config.parent.name
        (config.parent / "secrets.json").write_text(json.dumps(secrets_document(key, fleet, bot, {}, {})))
        data = config.parents[3] / "data" / "bots" / bot  # what fleetops' runtime creates: the bot's own directory
        (data / "user_data").mkdir(parents=True, exist_ok=True)
        for path in (data.parent.parent, data.parent, data, data / "user_data"):
            os.chown(path, 1000 if path.name in (bot, "user_data") else 0, 1000 if path.name in (bot, "user_data") else 0)


def available_mb() -> float:
    """MemAvailable from /proc/meminfo, in MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)
