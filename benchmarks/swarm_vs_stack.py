"""Benchmark: fleetops on a 3-node Docker Swarm vs ``docker stack deploy`` of the same rendered stack.

Why: swarm-cd, doco-cd, Portainer and Komodo all deploy a fleet on Swarm with ``docker stack deploy``
(issue 19). This runs both paths on the same lab (tests/support/swarm_lab.py: 3 Docker-in-Docker
nodes, a registry), the same 50 stand-in bots in pools of 10 (5 pool units), the same image by the
same registry digest, each unit on the same node, and prints them side by side.

**The same rendered stack.** ``fleetops render`` of the commit gives each unit's supervisord.conf and
each bot's config.json and strategy; ``stack_file`` turns that into a compose v3 stack file the way
the peers deliver files to a stack that has no agent: each file a Swarm **config** (the bots'
secrets.json a Swarm **secret**), named by its content hash (swarm-cd's scheme: configs are
immutable, so new content needs a new name) and mounted at the path fleetops' layout has
(/fleet/etc/...), so supervisord and the bots run exactly as fleetops runs them. What the stack adds,
since nothing writes the unit's data directory for it: /fleet/data is a local named volume per unit,
and the entrypoint makes each bot's data directory (owned by the bots' uid) before exec'ing
supervisord. Services as fleetops makes them: 1 replica, ``node.hostname ==`` the node fleetops
placed the unit on, ``endpoint_mode: dnsrr`` (no IPVS here), ``update_config`` stop-first with
rollback. A one-bot change is a new config name for that bot's config.json: the pool's service
spec changes, and Swarm replaces its task — every bot of the pool restarts. That is the peers' path.

**Measured** (wall time from the host; "answers" = seen by a prober container on each path's
overlay network, on the manager node, asking every bot's API across the overlay, again at once after
an answer that did not come within 0.25 s — an answer takes ~2 ms there — so figures resolve to ~0.3 s):
  cold     fleetops: ``apply --yes`` on an empty swarm (creates the agents, pushes the image to the
           registry, creates the services, returns once every bot passed its health check) and the
           moment the prober saw every bot answer (the network exists only once the apply made it,
           so the prober joins as soon as it appears); stack: ``docker stack deploy`` until every
           bot answers its ping
  no-op    fleetops ``apply --yes`` unchanged (CLI, whole process; the first after a change runs
           the full plan, the rest use the no-op proof) vs ``docker stack deploy`` unchanged; tasks
           replaced and service spec versions changed, read from the manager after a settle time
  one bot  ``--changes`` rounds, each a new stoploss for one bot (a different pool each round):
           time until that bot answers ``/api/v1/show_config`` with the new stoploss, bot processes
           restarted (every supervisord's process table, on every node, before and after),
           tasks replaced. fleetops twice: by ``apply --yes`` from the CLI (its agents reconnect
           to the CLI's short-lived server first: every 0.5 s while nothing listened)
           and by ``fleetops watch`` on a signed webhook (agents stay connected to the watcher; the first
           change after it started, which waits for the agents to come back from their backoff, is shown apart)
Usage: python benchmarks/swarm_vs_stack.py [--changes 10] [--lab PREFIX]
       run it under the shared Docker lock: ``flock /tmp/fleetops-docker-tests.lock .venv/bin/python benchmarks/swarm_vs_stack.py``
       (~6 min; a lab of its own is stood up and torn down, or ``--lab`` names one kept by scripts/swarm-lab)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
import fleetbench as fb  # noqa: E402

from engine.backend.swarm.api import PLAIN_TCP_VARIABLE  # noqa: E402
from engine.live.secrets import api_credentials  # noqa: E402
from tests.support import running_lab, swarm_lab  # noqa: E402

FLEET = "bench"
STACK = "peer"
STACK_NETWORK = "peer-net"
BOTS, PER_POOL = 50, 10
PROBER_PORT = 8999
STACK_KEY = b"k" * 32
"""The key the stack's secrets.json files are made from (fleetops' own key stays in its state dir)."""
WEBHOOK_SECRET = "bench-secret"
SETTLE = 5.0
"""Seconds after a no-op before tasks are compared: a task Swarm replaces is gone from ``running`` by then."""
PROBER = r'''
import base64, json, socket, urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
socket.setdefaulttimeout(0.25)
pool = ThreadPoolExecutor(64)
def ask(target):
    host, port, user, password = target
    path = "/api/v1/show_config" if user else "/api/v1/ping"
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()} if user else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}{path}", headers=headers), timeout=0.25) as answer:
            return json.loads(answer.read())
    except Exception:
        return None
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        targets = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(list(pool.map(ask, targets))).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
ThreadingHTTPServer(("0.0.0.0", 8999), Handler).serve_forever()
'''


# ---------------------------------------------------------------- the fleet and its repository

def backend_block(lab: swarm_lab.SwarmLab, controller: str) -> str:
    return f"backend:\n  kind: swarm\n  manager: {lab.manager_url}\n  registry: {lab.registry}\n  controller: {controller}\n"


def write_fleet(root: Path, backend: str, stoploss: dict[int, float]) -> None:
    """fleetbench's stand-in fleet (50 bots, pools of 10) with the swarm backend; ``stoploss``: bot index → value."""
    fb.write_fleet(root, bots=BOTS, per_pool=PER_POOL, dedicated=False, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND, pin_of={})
    fleet = root / "fleet" / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace("health:\n  timeout_seconds: 300\n", "health:\n  timeout_seconds: 300\n" + backend, 1))
    bots = root / "fleet" / "bots.yaml"
    docs = bots.read_text().split("---\n")
    for index, value in stoploss.items():
        docs[index] = docs[index].replace("stoploss: -0.1\n", f"stoploss: {value}\n")
    bots.write_text("---\n".join(docs))


def bot_name(index: int) -> str:
    return f"b{index:03d}"


def change_of(round_: int) -> tuple[int, float]:
    """Round n's change: a bot of another pool each round (11 apart), a stoploss no earlier round used."""
    return (round_ * 11) % BOTS, round(-0.11 - 0.01 * round_, 2)


# ---------------------------------------------------------------- reading the swarm

def running_tasks(lab: swarm_lab.SwarmLab, prefix: str) -> dict[str, str]:
    """Service name → the ID of its running task, for services whose name starts with ``prefix``."""
    manager = lab.client()
    names = {s["ID"]: s["Spec"]["Name"] for s in manager.api.services()}
    return {names[t["ServiceID"]]: t["ID"] for t in manager.api.tasks(filters={"desired-state": "running"})
            if names.get(t["ServiceID"], "").startswith(prefix) and t["Status"]["State"] == "running"}


def spec_versions(lab: swarm_lab.SwarmLab, prefix: str) -> dict[str, int]:
    return {s["Spec"]["Name"]: s["Version"]["Index"] for s in lab.client().api.services() if s["Spec"]["Name"].startswith(prefix)}


def census(lab: swarm_lab.SwarmLab, prefix: str) -> dict[str, tuple[str, int]]:
    """bot → (container ID, pid) from every unit's supervisord on every node: another container or pid is a restart."""
    found: dict[str, tuple[str, int]] = {}
    lock = threading.Lock()

    def node(name: str) -> None:
        client = lab.client(name)
        for container in client.containers.list(filters={"label": "com.docker.swarm.service.name"}):
            if not container.labels["com.docker.swarm.service.name"].startswith(prefix):
                continue
            out = container.exec_run(["supervisorctl", "-c", "/fleet/etc/supervisord.conf", "status"]).output.decode()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
                    with lock:
                        found[parts[0]] = (container.id, int(parts[3].rstrip(",")))

    running_lab.parallel(node, [n.name for n in lab.nodes])
    return found


def restarted(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> int:
    return sum(1 for bot, seen in before.items() if after.get(bot) != seen)


# ---------------------------------------------------------------- the prober on the overlay

class Prober:
    """A container on the manager node, on the overlay networks named, that asks bots' APIs for the host."""

    def __init__(self, lab: swarm_lab.SwarmLab, name: str) -> None:
        self.lab, self.name = lab, f"{FLEET}-prober-{name}"
        self.container = lab.client().containers.run(fb.STANDIN_IMAGE, ["python3", "-c", PROBER], name=self.name, detach=True,
                                                     ports={f"{PROBER_PORT}/tcp": PROBER_PORT}, labels={"fleetops.bench": "prober"})
        self.url = f"http://{lab.manager.ip}:{PROBER_PORT}/"
        self.client = httpx.Client(timeout=30)
        running_lab.wait_until(lambda: "the prober answers", self._answers, 30)

    def _answers(self) -> bool:
        try:
            return self.client.post(self.url, json=[]).status_code == 200
        except httpx.HTTPError:
            return False

    def join(self, network: str) -> None:
        self.lab.client().networks.get(network).connect(self.container)

    def ask(self, targets: list[tuple[str, int, str, str]]) -> list[dict[str, Any] | None]:
        answers: list[dict[str, Any] | None] = self.client.post(self.url, json=targets).json()
        return answers

    def wait(self, targets: list[tuple[str, int, str, str]], accept: Callable[[dict[str, Any]], bool], start: float,
             timeout: float = 300) -> float:
        """Seconds from ``start`` (perf_counter) until every target's answer passes ``accept``."""
        pending = list(targets)
        while pending:
            if time.perf_counter() - start > timeout:
                sys.exit(f"timed out: {len(pending)} bot(s) never answered as expected, e.g. {pending[0]}")
            answers = self.ask(pending)
            pending = [t for t, a in zip(pending, answers, strict=True) if a is None or not accept(a)]
            if pending:
                time.sleep(0.05)
        return time.perf_counter() - start

    def remove(self) -> None:
        self.client.close()
        self.container.remove(force=True)


# ---------------------------------------------------------------- the stack, rendered

def render(state: Path, repo: Path, out: Path) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    fb.fleetops(state, "render", "--repo", str(repo), "--out", str(out))
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return manifest


def stack_file(render_dir: Path, stack_dir: Path, image: str, nodes: dict[str, str]) -> Path:
    """``render_dir`` (a ``fleetops render``) as a compose v3 stack file in ``stack_dir``: each unit's files as
    Swarm configs (secrets.json as secrets), named by content hash; ``nodes``: unit → node hostname."""
    files = stack_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    configs: dict[str, Any] = {}
    secrets_: dict[str, Any] = {}
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}

    def stored(path: Path, kind: dict[str, Any], prefix: str, target: str) -> str:
        # One config per target path and content: the same config mounted at several paths (every bot's
        # identical strategy file) comes back from the stack CLI in another order on each deploy, and that
        # alone replaces the task (measured: every no-op deploy replaced all 5 tasks).
        digest = hashlib.sha256(target.encode() + b"\0" + path.read_bytes()).hexdigest()[:16]
        key = f"{prefix}{digest}"
        (files / key).write_bytes(path.read_bytes())
        kind[key] = {"file": f"./files/{key}", "name": f"{STACK}-{key}"}
        return key

    for unit_dir in sorted((render_dir / "containers").iterdir()):
        unit, etc = unit_dir.name, unit_dir / "etc"
        bots = sorted(p.name for p in (etc / "bots").iterdir())
        conf = "/fleet/etc/supervisord.conf"
        service_configs = [{"source": stored(etc / "supervisord.conf", configs, "c", conf), "target": conf, "mode": 0o444}]
        service_secrets = []
        for bot in bots:
            for path in sorted((etc / "bots" / bot).rglob("*")):
                if path.is_file():
                    target = f"/fleet/etc/{path.relative_to(etc)}"
                    if path.name == "secrets.json":
                        service_secrets.append({"source": stored(path, secrets_, "s", target), "target": target, "uid": "1000", "mode": 0o400})
                    else:
                        service_configs.append({"source": stored(path, configs, "c", target), "target": target, "mode": 0o444})
        prepare = " ".join(f"/fleet/data/bots/{b}" for b in bots)
        volumes[f"data-{unit}"] = {}
        services[unit] = {
            "image": image,
            "init": True,
            "user": "0:0",
            "entrypoint": ["sh", "-c", f"for d in {prepare}; do mkdir -p $$d/user_data && chown -R 1000:1000 $$d; done; "
                                       "exec supervisord -n -c /fleet/etc/supervisord.conf"],
            "volumes": [f"data-{unit}:/fleet/data"],
            "networks": ["fleet"],
            "configs": service_configs,
            "secrets": service_secrets,
            "stop_grace_period": "20s",
            "deploy": {"replicas": 1, "endpoint_mode": "dnsrr", "placement": {"constraints": [f"node.hostname == {nodes[unit]}"]},
                       "update_config": {"parallelism": 1, "order": "stop-first", "failure_action": "rollback"},
                       "restart_policy": {"condition": "any", "delay": "5s"}},
        }
    document = {"version": "3.8", "services": services, "networks": {"fleet": {"external": True, "name": STACK_NETWORK}},
                "volumes": volumes, "configs": configs, "secrets": secrets_}
    path = stack_dir / "stack.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def stack_deploy(lab: swarm_lab.SwarmLab, path: Path) -> float:
    """Wall time of ``docker stack deploy`` against the lab's manager (detached: returns once Swarm took the specs)."""
    start = time.perf_counter()
    proc = subprocess.run(["docker", "stack", "deploy", "--detach=true", "--resolve-image", "never", "-c", path.name, STACK],
                          cwd=path.parent, env={**os.environ, "DOCKER_HOST": lab.manager_url}, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"docker stack deploy failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


# ---------------------------------------------------------------- both sides

def targets(manifest: dict[str, Any], host_of: Callable[[str], str], key: bytes | None, only: list[str] | None = None) -> list[tuple[str, int, str, str]]:
    """(host, port, user, password) per bot; no credentials (a ping) when ``key`` is None."""
    rows = []
    for bot, info in sorted(manifest["bots"].items()):
        if only is None or bot in only:
            creds = api_credentials(key, FLEET, bot) if key else {"username": "", "password": ""}
            rows.append((host_of(info["container"]), int(info["port"]), creds["username"], creds["password"]))
    return rows


def fleetops_cli(state: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FLEETOPS_STATE_DIR": str(state), "NO_COLOR": "1", PLAIN_TCP_VARIABLE: "1"}
    return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen[str], what: str, expect: str | None = None) -> str:
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0 or (expect is not None and expect not in out):
        sys.exit(f"fleetops {what}: exit {proc.returncode}, expected {expect!r}:\n{out[-3000:]}\n{err[-3000:]}")
    return out


def fleetops_side(lab: swarm_lab.SwarmLab, tmp: Path, changes: int) -> dict[str, Any]:
    from engine.live.botapi import read_key

    state, bare, work_dir = tmp / "state", tmp / "origin.git", tmp / "work"
    controller_port = fb_free_port(lab.gateway)
    backend = backend_block(lab, f"http://{lab.gateway}:{controller_port}")
    src = tmp / "src"
    repo = fb.make_repo(src, bots=BOTS, per_pool=PER_POOL, dedicated=False, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND)
    write_fleet(src, backend, {})
    fb.commit_all(repo, "on the lab's swarm")
    git.Repo.clone_from(src, bare, bare=True)
    work = git.Repo.clone_from(bare, work_dir)
    out: dict[str, Any] = {}
    manifest = render(tmp / "render-state", work_dir, tmp / "render-fleetops")

    # cold: the prober joins the fleet's network as soon as the apply has made it
    prober = Prober(lab, "fleetops")
    try:
        start = time.perf_counter()
        apply = fleetops_cli(state, "apply", "--repo", str(work_dir), "--yes")
        network = f"fleetops-{FLEET}"
        while not lab.client().networks.list(names=[network]):
            if apply.poll() is not None:
                finished(apply, "cold apply")
            time.sleep(0.05)
        prober.join(network)
        out["cold_answer"] = prober.wait(targets(manifest, lambda unit: f"tasks.{unit}", None), lambda a: a.get("status") == "pong", start)
        finished(apply, "cold apply")
        out["cold"] = time.perf_counter() - start
        out["image"] = lab.client().api.inspect_service(f"{FLEET}-p-1")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        out["nodes"] = {unit: node_of(lab, unit) for unit in sorted({i["container"] for i in manifest["bots"].values()})}
        print(f"fleetops cold apply: {out['cold']:.2f} s (every bot answering at {out['cold_answer']:.2f} s); units on {out['nodes']}", flush=True)

        # no-op
        tasks, versions = running_tasks(lab, f"{FLEET}-"), spec_versions(lab, f"{FLEET}-")
        runs = []
        for _ in range(6):
            start = time.perf_counter()
            finished(fleetops_cli(state, "apply", "--repo", str(work_dir), "--yes"), "no-op apply", expect="No changes")
            runs.append(time.perf_counter() - start)
        time.sleep(SETTLE)
        out["noop_first"], out["noop_runs"] = runs[0], runs[1:]
        out["noop"] = statistics.median(runs[1:])
        after = running_tasks(lab, f"{FLEET}-")
        out["noop_tasks_replaced"] = sum(1 for s, t in tasks.items() if after.get(s) != t)
        out["noop_specs_changed"] = sum(1 for s, v in spec_versions(lab, f"{FLEET}-").items() if versions.get(s) != v)
        print(f"fleetops no-op: {out['noop']:.3f} s (median of 5; the first {runs[0]:.3f} s), "
              f"{out['noop_tasks_replaced']} tasks replaced, {out['noop_specs_changed']} specs changed", flush=True)

        # one-bot change by the CLI
        key = read_key(state)
        stoploss: dict[int, float] = {}

        def one_change(round_: int, act: Callable[[str], Callable[[], None]]) -> dict[str, Any]:
            """Commits and pushes round ``round_``'s change; ``act(sha)`` starts applying it and returns what waits for the end."""
            index, value = change_of(round_)
            stoploss[index] = value
            write_fleet(work_dir, backend, stoploss)
            sha = fb.commit_all(work, f"{bot_name(index)}: stoploss {value}")
            work.git.push("-q", "origin", "main")
            before, tasks = census(lab, f"{FLEET}-"), running_tasks(lab, f"{FLEET}-")
            start = time.perf_counter()
            done = act(sha)
            answered = prober.wait(targets(manifest, lambda unit: f"tasks.{unit}", key, [bot_name(index)]),
                                   lambda a: a.get("stoploss") == value, start)
            done()
            total = time.perf_counter() - start
            time.sleep(1.5)  # past supervisord's startsecs, so the census reads settled programs
            after = running_tasks(lab, f"{FLEET}-")
            return {"answered": answered, "returned": total, "restarted": restarted(before, census(lab, f"{FLEET}-")),
                    "tasks_replaced": sum(1 for s, t in tasks.items() if after.get(s) != t)}

        def by_cli(_sha: str) -> Callable[[], None]:
            proc = fleetops_cli(state, "apply", "--repo", str(work_dir), "--yes")
            return lambda: finished(proc, "one-bot apply") and None

        out["cli"] = [one_change(n, by_cli) for n in range(changes)]
        summary("fleetops apply (CLI)", out["cli"])

        # one-bot change through the watcher, on a signed webhook
        token = secrets.token_hex(16)
        watcher_env = {**os.environ, "FLEETOPS_STATE_DIR": str(state), "NO_COLOR": "1", PLAIN_TCP_VARIABLE: "1",
                       "FLEETOPS_WEBHOOK_SECRET": WEBHOOK_SECRET, "FLEETOPS_UI_TOKEN": token}
        log = open(tmp / "watch.log", "w")  # closed below
        watcher = subprocess.Popen([sys.executable, "-m", "engine", "watch", "--repo", str(bare), "--interval", "3600",
                                    "--listen", f"{lab.gateway}:{controller_port}"], cwd=ROOT, env=watcher_env, stdout=log, stderr=log)
        url = f"http://{lab.gateway}:{controller_port}"
        headers = {"Authorization": f"Bearer {token}"}

        def applied() -> str:
            try:
                return str(httpx.get(f"{url}/api/status", headers=headers, timeout=2).json().get("queue", {}).get("applied"))
            except (httpx.HTTPError, ValueError):
                return ""

        try:
            running_lab.wait_until(lambda: "the watcher has applied the branch's head", lambda: applied() == work.head.commit.hexsha, 300)

            def by_webhook(sha: str) -> Callable[[], None]:
                body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
                signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
                httpx.post(f"{url}/hooks/git", content=body, headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature,
                                                                       "X-GitHub-Delivery": sha}).raise_for_status()
                return lambda: running_lab.wait_until(lambda: f"the watcher applied {sha}", lambda: applied() == sha, 120)

            # The agents were last served by the CLI's short-lived server and back off up to 5 s: the first change
            # after the watcher started waits for them. Shown apart; the rounds measure a watcher that runs.
            out["watch_first"] = one_change(2 * changes, by_webhook)
            print(f"fleetops watch (webhook): the first change after the watcher started answered at {out['watch_first']['answered']:.2f} s",
                  flush=True)
            out["watch"] = [one_change(changes + n, by_webhook) for n in range(changes)]
            summary("fleetops watch (webhook)", out["watch"])
        finally:
            watcher.terminate()
            watcher.wait(timeout=60)
            log.close()
    finally:
        prober.remove()
    return out


def stack_side(lab: swarm_lab.SwarmLab, tmp: Path, changes: int, image: str, nodes: dict[str, str]) -> dict[str, Any]:
    state, src = tmp / "stack-render-state", tmp / "stack-src"
    repo = fb.make_repo(src, bots=BOTS, per_pool=PER_POOL, dedicated=False, image=fb.STANDIN_IMAGE, command=fb.STANDIN_COMMAND)
    fb.commit_all(repo, "the same fleet")
    lab.client().networks.create(STACK_NETWORK, driver="overlay", attachable=True)
    prober = Prober(lab, "stack")
    out: dict[str, Any] = {}
    try:
        prober.join(STACK_NETWORK)
        manifest = render(state, src, tmp / "render-stack")
        fb.materialise_secrets(tmp / "render-stack", STACK_KEY)
        path = stack_file(tmp / "render-stack", tmp / "stack", image, nodes)

        def host(unit: str) -> str:
            return f"tasks.{STACK}_{unit}"

        start = time.perf_counter()
        out["cold_returned"] = stack_deploy(lab, path)
        out["cold"] = prober.wait(targets(manifest, host, None), lambda a: a.get("status") == "pong", start)
        print(f"stack cold deploy: every bot answering at {out['cold']:.2f} s (deploy returned at {out['cold_returned']:.2f} s)", flush=True)

        tasks, versions = running_tasks(lab, f"{STACK}_"), spec_versions(lab, f"{STACK}_")
        out["noop_runs"] = [stack_deploy(lab, path) for _ in range(5)]
        out["noop"] = statistics.median(out["noop_runs"])
        time.sleep(SETTLE)
        after = running_tasks(lab, f"{STACK}_")
        out["noop_tasks_replaced"] = sum(1 for s, t in tasks.items() if after.get(s) != t)
        out["noop_specs_changed"] = sum(1 for s, v in spec_versions(lab, f"{STACK}_").items() if versions.get(s) != v)
        print(f"stack no-op: {out['noop']:.3f} s (median of 5), {out['noop_tasks_replaced']} tasks replaced, "
              f"{out['noop_specs_changed']} specs changed", flush=True)

        stoploss: dict[int, float] = {}
        rounds = []
        for n in range(changes):
            index, value = change_of(n)
            stoploss[index] = value
            write_fleet(src, "", stoploss)
            fb.commit_all(repo, f"{bot_name(index)}: stoploss {value}")
            render(state, src, tmp / "render-stack")
            fb.materialise_secrets(tmp / "render-stack", STACK_KEY)
            path = stack_file(tmp / "render-stack", tmp / "stack", image, nodes)
            unit = manifest["bots"][bot_name(index)]["container"]
            before, tasks = census(lab, f"{STACK}_"), running_tasks(lab, f"{STACK}_")
            start = time.perf_counter()
            returned = stack_deploy(lab, path)
            answered = prober.wait(targets(manifest, host, STACK_KEY, [bot_name(index)]), lambda a, v=value: a.get("stoploss") == v, start)
            pool = [bot for bot, info in manifest["bots"].items() if info["container"] == unit]
            prober.wait(targets(manifest, host, None, pool), lambda a: a.get("status") == "pong", start)  # the whole pool back
            time.sleep(1.5)
            after = running_tasks(lab, f"{STACK}_")
            rounds.append({"answered": answered, "returned": returned, "restarted": restarted(before, census(lab, f"{STACK}_")),
                           "tasks_replaced": sum(1 for s, t in tasks.items() if after.get(s) != t)})
        out["change"] = rounds
        summary("docker stack deploy", rounds)
    finally:
        prober.remove()
        subprocess.run(["docker", "stack", "rm", STACK], env={**os.environ, "DOCKER_HOST": lab.manager_url}, capture_output=True)
    return out


# ---------------------------------------------------------------- helpers and the table

def fb_free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def node_of(lab: swarm_lab.SwarmLab, service: str) -> str:
    names = {n.id: n.attrs["Description"]["Hostname"] for n in lab.client().nodes.list()}
    running = [t for t in lab.client().api.tasks(filters={"service": service, "desired-state": "running"})]
    return names[running[0]["NodeID"]]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def summary(name: str, rounds: list[dict[str, Any]]) -> None:
    answered = [r["answered"] for r in rounds]
    print(f"{name}: one-bot change answered p50 {statistics.median(answered):.2f} s, p95 {p95(answered):.2f} s; restarted "
          f"{sorted({r['restarted'] for r in rounds})}, tasks replaced {sorted({r['tasks_replaced'] for r in rounds})}", flush=True)


def table(f: dict[str, Any], s: dict[str, Any], changes: int) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "n/a"

    def counts(rounds: list[dict[str, Any]], key: str) -> str:
        values = sorted({r[key] for r in rounds})
        return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"

    rows = [
        ("cold apply: every bot answering", f"{f['cold_answer']:.2f} s", f"{s['cold']:.2f} s", ratio(f["cold_answer"], s["cold"])),
        ("cold apply: command returned (fleetops: all healthy; stack: detached)", f"{f['cold']:.2f} s", f"{s['cold_returned']:.2f} s",
         ratio(f["cold"], s["cold_returned"])),
        ("no-op: time (median of 5)", f"{f['noop']:.3f} s", f"{s['noop']:.3f} s", ratio(f["noop"], s["noop"])),
        ("no-op: tasks replaced / service specs changed", f"{f['noop_tasks_replaced']} / {f['noop_specs_changed']}",
         f"{s['noop_tasks_replaced']} / {s['noop_specs_changed']}", ""),
    ]
    stack_answer = [r["answered"] for r in s["change"]]
    for name, rounds in (("fleetops watch (webhook)", f.get("watch")), ("fleetops apply (CLI)", f["cli"])):
        if not rounds:
            continue
        mine = [r["answered"] for r in rounds]
        rows += [
            (f"one-bot change, {name} vs stack: answers with new config, p50", f"{statistics.median(mine):.2f} s",
             f"{statistics.median(stack_answer):.2f} s", ratio(statistics.median(mine), statistics.median(stack_answer))),
            (f"one-bot change, {name} vs stack: p95 of {changes}", f"{p95(mine):.2f} s", f"{p95(stack_answer):.2f} s",
             ratio(p95(mine), p95(stack_answer))),
            (f"one-bot change, {name}: bot processes restarted / tasks replaced", f"{counts(rounds, 'restarted')} / {counts(rounds, 'tasks_replaced')}",
             f"{counts(s['change'], 'restarted')} / {counts(s['change'], 'tasks_replaced')}", ""),
        ]
    if "watch_first" in f:
        rows.append(("one-bot change, fleetops watch: the first after the watcher started (agents reconnecting), not in p50/p95",
                     f"{f['watch_first']['answered']:.2f} s", "", ""))
    rows.append(("one-bot change, fleetops apply (CLI): command returned (health gate passed), p50",
                 f"{statistics.median([r['returned'] for r in f['cli']]):.2f} s", "", ""))
    lines = ["| 50 stand-in bots, 5 pools, 3 nodes | fleetops | docker stack deploy | ratio |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=10, help="one-bot changes per path (p50/p95)")
    parser.add_argument("--lab", help="a lab kept by scripts/swarm-lab up (default: stand one up and tear it down)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "swarm_vs_stack.json")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "ensure-docker")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-images"), "--only", "base", "standin"], check=True, capture_output=True)
    swarm_lab.build_images()
    fb.FLEET = FLEET
    host = running_lab.host_client()
    lab = swarm_lab.find(args.lab) if args.lab else swarm_lab.stand_up()
    if lab is None:
        sys.exit(f"no lab {args.lab} runs here: scripts/swarm-lab up --prefix {args.lab}")
    try:
        lab.clear()
        lab.load(fb.STANDIN_IMAGE)  # every node holds the image's layers: neither side pays a cold pull
        for node in lab.nodes:  # a node's one-time setup (README)
            host.containers.get(node.name).exec_run(["mkdir", "-p", "/var/lib/fleetops"])
        with tempfile.TemporaryDirectory(prefix="fleetops-swarm-vs-stack-") as tmp_name:
            tmp = Path(tmp_name)
            f = fleetops_side(lab, tmp, args.changes)
            lab.clear()
            s = stack_side(lab, tmp, args.changes, f["image"], f["nodes"])
        result = table(f, s, args.changes)
        print("\n" + result)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "fleetops": f, "stack": s}, indent=2) + "\n")
    finally:
        if args.lab:
            lab.clear()
        else:
            swarm_lab.tear_down(lab.prefix, host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
