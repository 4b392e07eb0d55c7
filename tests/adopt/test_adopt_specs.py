"""``fleetops adopt``'s reading and writing, without Docker: the case table (tests/cases/adopt.yaml),
secrets that never reach a written file or git, strategy versions tagged, and the CLI's one-line error.

The takeover half runs against a real engine in tests/integration/test_adopt.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.adopt.setup import read_setup, write_fleet
from engine.errors import SourceError, SpecError
from engine.spec.load import load_fleet
from tests.adopt.setups import STRATEGY, write_setup
from tests.conftest import ROOT

CASES: list[dict[str, Any]] = YAML(typ="safe").load((ROOT / "tests/cases/adopt.yaml").read_text())
WHEN = "2026-01-01T00:00:00+00:00"


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, key = dotted.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    if value is None:
        config.pop(key, None)
    else:
        config[key] = value


def setup_for(case: dict[str, Any], root: Path) -> Path:
    def edit(bot: str, config: dict[str, Any]) -> None:
        if bot == "bot1":
            for dotted, value in (case.get("config") or {}).items():
                _set(config, dotted, value)

    strategy = STRATEGY.replace("    HOLD = 15\n", "    HOLD = 15\n" + case.get("strategy_extra", ""))
    compose = write_setup(root, ["bot1", "bot2"], edit=edit, strategy=strategy)
    if "config_text" in case:
        (root / "bot1/user_data/config.json").write_text(case["config_text"])
    if "compose" in case:
        old, new = case["compose"]
        text = compose.read_text()
        assert old in text, f"{case['name']}: {old!r} is not in the compose file"
        compose.write_text(text.replace(old, new, 1))
    return compose


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_adopt_case(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose = setup_for(case, tmp_path / "ft")
    monkeypatch.chdir(tmp_path / "ft")
    into = tmp_path / "fleet"
    if "expect" in case:
        with pytest.raises(SpecError) as raised:
            read_setup(compose, "docker-compose.yml", "adopted-fleet")
        assert str(raised.value).splitlines() == case["expect"]
        assert not into.exists()
        return
    adoption = read_setup(compose, "docker-compose.yml", "adopted-fleet")
    warnings = [str(note) for note in adoption.notes]
    for expected in case.get("warnings", []):
        assert expected in warnings, "\n".join(warnings)
    write_fleet(adoption, into, when=WHEN)
    bots = (into / "fleet/bots.yaml").read_text()
    bot1 = bots.split("---")[0]
    for expected in case.get("bot1", []):
        assert expected in bot1, bot1
    loaded = load_fleet(into, "HEAD")
    assert sorted(loaded.spec.bots) == ["bot1", "bot2"]


SECRETS = {"exchange.key": "AKIA-key-value-1234", "exchange.secret": "s3cr3t-exchange-value", "telegram.enabled": True,
           "telegram.token": "123456:telegram-token-value", "telegram.chat_id": "987654321",
           "api_server.password": "api-password-value", "api_server.jwt_secret_key": "jwt-secret-value-0123456789abcdef0123",
           "api_server.ws_token": "ws-token-value"}


def test_secrets_become_references_and_never_reach_a_written_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(bot: str, config: dict[str, Any]) -> None:
        for dotted, value in SECRETS.items():
            _set(config, dotted, value)
        config["dry_run"] = bot != "bot2"
        if bot == "bot2":  # trades live on the exchange itself, its key from the variable the compose setup used
            config["exchange"]["key"] = "${BINANCE_KEY}"
            del config["exchange"]["ccxt_config"]["urls"]

    compose = write_setup(tmp_path / "ft", ["bot1", "bot2"], edit=edit)
    monkeypatch.chdir(tmp_path / "ft")
    adoption = read_setup(compose, "docker-compose.yml", None)
    into = tmp_path / "fleet"
    write_fleet(adoption, into, when=WHEN)

    bots = {doc["name"]: doc for doc in YAML(typ="safe").load_all((into / "fleet/bots.yaml").read_text())}
    assert bots["bot1"]["secrets"] == {"exchange_key": "env:BOT1_EXCHANGE_KEY", "exchange_secret": "env:BOT1_EXCHANGE_SECRET",
                                       "telegram_token": "env:BOT1_TELEGRAM_TOKEN", "telegram_chat_id": "env:BOT1_TELEGRAM_CHAT_ID"}
    assert bots["bot2"]["secrets"]["exchange_key"] == "env:BINANCE_KEY"  # the variable the compose setup already used
    assert bots["bot2"]["dry_run"] is False
    assert bots["bot1"]["freqtrade"]["telegram"] == {"enabled": True}
    needs = {(n.bot, n.secret): (n.reference, n.was) for n in adoption.secrets}
    assert needs[("bot1", "exchange_secret")] == ("env:BOT1_EXCHANGE_SECRET", "exchange.secret at bot1/user_data/config.json:37:15")
    assert adoption.fleet == "ft"  # the compose project's name: the setup's directory

    everything = b"".join(p.read_bytes() for p in into.rglob("*") if p.is_file() and ".git" not in p.parts)
    history = subprocess.run(["git", "log", "-p", "--all", "--format=%B"], cwd=into, capture_output=True, check=True).stdout
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=into, capture_output=True, check=True).stdout
    for value in SECRETS.values():
        if isinstance(value, str):
            for blob in (everything, history, objects):
                assert value.encode() not in blob, f"{value} was written"
    assert load_fleet(into, "HEAD").spec.bots["bot2"].dry_run is False


def test_each_strategy_version_is_tagged_and_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose = write_setup(tmp_path / "ft", ["bot1", "bot2", "bot3"])
    (tmp_path / "ft/bot2/user_data/strategies/Scalp.py").write_text(STRATEGY.replace("HOLD = 15", "HOLD = 30"))
    monkeypatch.chdir(tmp_path / "ft")
    into = tmp_path / "fleet"
    files = write_fleet(read_setup(compose, "docker-compose.yml", "two-versions"), into, when=WHEN)
    assert files == [".gitignore", "fleet/bots.yaml", "fleet/fleet.yaml", "fleet/pools.yaml", "fleet/wallets.yaml", "strategies/Scalp.py"]
    loaded = load_fleet(into, "HEAD")
    assert {name: bot.strategy for name, bot in loaded.spec.bots.items()} == {
        "bot1": "Scalp@adopted-v1", "bot2": "Scalp@adopted-v2", "bot3": "Scalp@adopted-v1"}
    shown = subprocess.run(["git", "show", "adopted-v2:strategies/Scalp.py"], cwd=into, capture_output=True, text=True, check=True).stdout
    assert "HOLD = 30" in shown
    wallet = next(iter(YAML(typ="safe").load_all((into / "fleet/wallets.yaml").read_text())))
    assert (wallet["currency"], wallet["balance"], wallet["reserve"]) == ("USDT", 3000.0, 0)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=into, capture_output=True, text=True, check=True).stdout == ""


def test_a_target_in_the_way_is_refused_and_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose = write_setup(tmp_path / "ft", ["bot1"])
    monkeypatch.chdir(tmp_path / "ft")
    into = tmp_path / "fleet"
    into.mkdir()
    (into / "keep.txt").write_text("mine")
    with pytest.raises(SourceError, match="exists and is not empty"):
        write_fleet(read_setup(compose, "docker-compose.yml", "x"), into)
    assert [p.name for p in into.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fleet")] == []


def test_cli_bad_input_is_one_located_line_and_writes_nothing(tmp_path: Path) -> None:
    compose = write_setup(tmp_path / "ft", ["bot1"])
    (tmp_path / "ft/bot1/user_data/config.json").write_text(json.dumps({"dry_run": True}, indent=2)[:-2])
    run = subprocess.run([sys.executable, "-m", "engine", "--state-dir", str(tmp_path / "state"), "adopt", "docker-compose.yml",
                          "--into", str(tmp_path / "fleet"), "--no-takeover"], cwd=compose.parent, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1
    assert run.stderr == "bot1/user_data/config.json:2:18: error: expected ',' or '}' (FreqTrade could not read this config either)\n"
    assert not (tmp_path / "fleet").exists() and not (tmp_path / "state").exists()
