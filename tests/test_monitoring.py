"""The shipped alert rules and dashboards: promtool checks and unit-tests every alert, and the
dashboards' JSON is what scripts/dashboards.py generates (grafanalib). That every metric they name
is in a real exposition is tests/watch/test_bot_metrics.py::test_every_metric_the_dashboards_and_alerts_use_is_exposed."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

MONITORING = ROOT / "monitoring"


@pytest.fixture(scope="module")
def promtool() -> str:
    subprocess.run([str(ROOT / "scripts" / "setup-prometheus")], check=True)
    return "promtool"


def dashboards_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleetops_dashboards", ROOT / "scripts" / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alert_names() -> list[str]:
    rules = YAML(typ="safe", pure=True).load(MONITORING / "alerts.yml")
    return [r["alert"] for g in rules["groups"] for r in g["rules"]]


def test_promtool_checks_the_rules_and_their_unit_tests_pass(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 9 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=MONITORING / "tests", capture_output=True, text=True)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_every_alert_the_issue_asks_for_has_a_firing_unit_test() -> None:
    """Bot down, loop stalled, strategy errors, drawdown, wallet over-allocated, out of sync, commit
    quarantined, flapping, apply failed: each is a rule, and a promtool case expects it to fire."""
    names = alert_names()
    assert names == ["FleetopsBotDown", "FleetopsBotLoopStalled", "FleetopsStrategyErrors", "FleetopsBotDrawdown", "FleetopsBotFlapping",
                     "FleetopsWalletOverAllocated", "FleetopsOutOfSync", "FleetopsCommitQuarantined", "FleetopsApplyFailed"]
    cases = YAML(typ="safe", pure=True).load(MONITORING / "tests" / "alerts_test.yml")["tests"]
    fired = {check["alertname"] for case in cases for check in case["alert_rule_test"] if check.get("exp_alerts")}
    assert fired == set(names)


def test_a_broken_rule_fails_promtool(promtool: str, tmp_path: Path) -> None:
    """The check can fail: the shipped rules with one metric name misspelt in an expectation do not pass their tests."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "alerts.yml").write_text((MONITORING / "alerts.yml").read_text().replace("fleetops_bot_loop_age_seconds > 300",
                                                                                         "fleetops_bot_loop_age_second > 300"))
    (tmp_path / "tests" / "alerts_test.yml").write_text((MONITORING / "tests" / "alerts_test.yml").read_text())
    tested = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path / "tests", capture_output=True, text=True)
    assert tested.returncode != 0 and "FleetopsBotLoopStalled" in tested.stdout + tested.stderr


def test_the_shipped_dashboards_are_what_the_script_generates() -> None:
    built = dashboards_script().build()
    assert sorted(built) == sorted(p.name for p in (MONITORING / "dashboards").glob("*.json"))
    for name, text in built.items():
        assert (MONITORING / "dashboards" / name).read_text() == text, f"{name} is stale: run .venv/bin/python scripts/dashboards.py"
    titles = {json.loads(text)["title"] for text in built.values()}
    assert titles == {"fleetops: fleet overview", "fleetops: one bot", "fleetops: pools and containers", "fleetops: GitOps"}


def test_every_dashboard_panel_has_a_query_on_the_chosen_data_source() -> None:
    script = dashboards_script()
    for text in script.build().values():
        document = json.loads(text)
        for panel in document["panels"]:
            assert panel["targets"] and all(t["expr"] and t["datasource"] == "${datasource}" for t in panel["targets"]), panel["title"]
        assert all(re.search(script.METRIC, e) for e in script.expressions(document))
