"""A real Prometheus (Debian's) scrapes ``fleetops serve`` over a live fleet and fires the shipped
"loop stalled" alert when a bot's trading loop stalls, and only for that bot.

The stand-in bot stalls its loop on SIGUSR1 (its API goes on answering). The rule is the shipped
one with a shorter threshold and ``for`` (30 s and 5 s instead of 300 s and 1 min), so the test
takes a minute: the cached figures make a healthy bot's loop age up to ~15 s (ttl 10 s + a 5 s tick).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT
from tests.integration.conftest import FLEET, LiveFleetHelper

STANDARD = f"{FLEET}-standard-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(predicate: Callable[[], object], what: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def serve(live: LiveFleetHelper, tmp_path: Path) -> Iterator[str]:
    applied = live.apply()
    assert applied.code == 0, applied.err
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--listen", f"127.0.0.1:{port}"], cwd=ROOT,
                            env={**os.environ, "FLEETOPS_STATE_DIR": str(live.state), "NO_COLOR": "1"}, stdout=log, stderr=log, text=True)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    print((tmp_path / "serve.log").read_text()[-3000:])


@pytest.fixture
def prometheus(serve: str, tmp_path: Path) -> Iterator[str]:
    subprocess.run([str(ROOT / "scripts" / "setup-prometheus")], check=True)
    yaml = YAML(typ="safe", pure=True)
    rules = yaml.load(ROOT / "monitoring" / "alerts.yml")
    stalled = next(r for g in rules["groups"] for r in g["rules"] if r["alert"] == "FleetopsBotLoopStalled")
    assert stalled["expr"] == "fleetops_bot_loop_age_seconds > 300"  # the shipped rule, with shorter times
    stalled.update(expr="fleetops_bot_loop_age_seconds > 30", **{"for": "5s"})
    yaml.dump(rules, tmp_path / "alerts.yml")
    yaml.dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "alerts.yml")],
        "scrape_configs": [{"job_name": "fleetops", "static_configs": [{"targets": [serve]}]}],
    }, tmp_path / "prometheus.yml")
    port = free_port()
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    print((tmp_path / "prometheus.log").read_text()[-3000:])


def query(prometheus: str, promql: str) -> list[dict]:  # type: ignore[type-arg]
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    if response.status_code == 503:  # still starting (its TSDB replay)
        return []
    answer = response.json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]  # type: ignore[no-any-return]


def firing(prometheus: str, alert: str) -> list[dict[str, str]]:
    response = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5)
    alerts = response.json()["data"]["alerts"] if response.status_code == 200 else []
    return [a["labels"] for a in alerts if a["labels"]["alertname"] == alert and a["state"] == "firing"]


def test_prometheus_fires_loop_stalled_for_the_bot_whose_loop_stalls(live: LiveFleetHelper, prometheus: str) -> None:
    until(lambda: len(query(prometheus, 'freqtrade_bot_up{fleet="testfleet"} == 1')) == 5, "five bots up in Prometheus")
    until(lambda: query(prometheus, 'up{job="fleetops"} == 1'), "the scrape target up")
    time.sleep(40)  # long enough for a false alarm on the healthy fleet
    assert firing(prometheus, "FleetopsBotLoopStalled") == []
    assert len(query(prometheus, "fleetops_bot_loop_age_seconds < 30")) == 5
    pid = live.programs(STANDARD)["alpha-1"][1]
    assert pid is not None
    live.api.exec_start(live.api.exec_create(STANDARD, ["python3", "-c", f"import os, signal; os.kill({pid}, signal.SIGUSR1)"]))  # the stand-in's loop stalls; its API answers
    alerts = until(lambda: firing(prometheus, "FleetopsBotLoopStalled"), "the loop-stalled alert", timeout=90)
    assert [(a["bot"], a["pool"], a["fleet"], a["severity"]) for a in alerts] == [("alpha-1", "standard", FLEET, "critical")]  # type: ignore[union-attr]
    assert query(prometheus, 'freqtrade_bot_up{bot="alpha-1"} == 1')  # it is not down: its loop is
    assert query(prometheus, '{__name__=~".+_created", job="fleetops"}') == []  # as Prometheus stored the scrapes
    assert query(prometheus, 'count({__name__=~"freqtrade_bot_.+|fleetops_.+", job="fleetops"})')  # and it stored the rest
