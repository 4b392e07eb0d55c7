"""The FreqTrade check (engine.check) with the real FreqTrade of .venv-freqtrade as its local judge.

What FreqTrade refuses, located, is in tests/cases/bad_specs.yaml; here: market orders are
configurable and FreqTrade accepts what fleetops renders for them, the managed-key table and the
renderer agree, secrets never reach the judge, the judge's modes and warnings, and the cache.
The image's own FreqTrade (Docker) is tests/integration/test_freqtrade_check.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import git
import pytest

from engine.check import CheckSettings, check_fleet
from engine.check.request import PLACEHOLDER, bot_request
from engine.compile.ftconfig import freqtrade_config
from engine.errors import CheckError
from engine.live.secrets import secrets_document
from engine.offline import compile_at
from engine.spec.managed import MANAGED_EXCHANGE_KEYS, MANAGED_KEYS, SET_BY_SPEC
from engine.spec.models import SECRET_TARGETS, Bot
from tests.conftest import FREQTRADE_CHECK, Run
from tests.support.repos import commit, edit

pytestmark = pytest.mark.freqtrade  # runs the real FreqTrade

LOCAL = {"FLEETOPS_FREQTRADE_CHECK": "local", "FLEETOPS_FREQTRADE_PYTHON": FREQTRADE_CHECK["FLEETOPS_FREQTRADE_PYTHON"]}
BOTS = "fleet/bots.yaml"


def validate_json(fleetops: Callable[..., Run], repo: git.Repo, **env: str) -> tuple[Run, dict]:  # type: ignore[type-arg]
    result = fleetops("validate", "--repo", repo.working_dir, "--format", "json", env=env)
    return result, json.loads(result.out)


def test_market_orders_are_configurable_and_freqtrade_accepts_what_is_rendered(base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    root = Path(base_repo.working_dir)
    edit(root / BOTS, "stoploss: -0.15", "stoploss: -0.15\norder_types: {entry: market, exit: market, stoploss: market}\n"
         "entry_pricing: {use_order_book: true, order_book_top: 2}")
    _, desired = compile_at(root, None)
    config = freqtrade_config("solo", desired.bots["solo"].essence)
    assert config["order_types"] == {"entry": "market", "exit": "market", "stoploss": "market", "stoploss_on_exchange": False}
    assert config["entry_pricing"] == {"price_side": "other", "use_order_book": True, "order_book_top": 2}  # FreqTrade's rule for market entries
    assert config["exit_pricing"] == {"price_side": "other"}
    assert desired.bots["alpha-1"].essence.entry_pricing == {"price_side": "same"}  # limit orders keep what was always rendered
    result, report = validate_json(fleetops, base_repo, **LOCAL)
    assert result.code == 0 and report["valid"], result.out + result.err
    assert report["freqtrade_check"] == [{"image": "fleetops/standin-bot:1", "bots": 5, "judge": f"local {LOCAL['FLEETOPS_FREQTRADE_PYTHON']}",
                                          "freqtrade": "2026.9"}]


MARKET_ENTRIES = '    order_types = {"entry": "market", "exit": "limit", "stoploss": "limit", "stoploss_on_exchange": False}\n'
LIMIT_ENTRIES = MARKET_ENTRIES.replace('"entry": "market"', '"entry": "limit"')
STRATEGY_SHAPES = {
    "declared": lambda text: text.replace("    stoploss = -0.10\n", "    stoploss = -0.10\n" + MARKET_ENTRIES),
    # FreqTrade reads the attribute through the class's bases; before, only the class body was read
    "inherited": lambda text: text.replace("class Alpha(IStrategy):", "class Entries(IStrategy):\n" + MARKET_ENTRIES + "\n\nclass Alpha(Entries):"),
    # the import binds the last definition; before, the first was read
    "defined-twice": lambda text: text.replace("class Alpha(IStrategy):", "class Alpha(IStrategy):\n" + LIMIT_ENTRIES + "\n\nclass Alpha(IStrategy):\n"
                                               + MARKET_ENTRIES),
}


@pytest.mark.parametrize("shape", sorted(STRATEGY_SHAPES))
def test_a_strategy_that_places_market_entries_gets_the_price_side_freqtrade_requires(
        shape: str, base_repo: git.Repo, fleetops: Callable[..., Run]) -> None:
    root = Path(base_repo.working_dir)
    strategy = root / "strategies/Alpha.py"
    strategy.write_text(STRATEGY_SHAPES[shape](strategy.read_text()))
    commit(base_repo, "Alpha enters at market", tag="v2")
    edit(root / BOTS, "strategy: Alpha@v1\npairs: [ETH/USDT]", "strategy: Alpha@v2\npairs: [ETH/USDT]")
    _, desired = compile_at(root, None)
    solo = desired.bots["solo"].essence
    assert (solo.order_types, solo.entry_pricing, solo.exit_pricing) == (None, {"price_side": "other"}, {"price_side": "same"})
    result, report = validate_json(fleetops, base_repo, **LOCAL)
    assert result.code == 0 and report["valid"], result.out + result.err


def test_every_key_fleetops_renders_is_managed_and_names_a_real_spec_key(base_repo: git.Repo) -> None:
    root = Path(base_repo.working_dir)
    edit(root / BOTS, "stoploss: -0.15", "stoploss: -0.15\norder_types: {entry: market}\nexchange_url: http://localhost:9100\n"
         "secrets: {exchange_key: 'env:K', exchange_secret: 'env:S'}")
    _, desired = compile_at(root, None)
    for name, bot in desired.bots.items():
        config = freqtrade_config(name, bot.essence.model_copy(update={"freqtrade": {}}))
        assert set(config) - {"exchange"} <= MANAGED_KEYS, set(config) - MANAGED_KEYS
        rendered_by_exchange_url = {"ccxt_config", "ccxt_async_config", "enable_ws"}
        assert set(config["exchange"]) <= MANAGED_EXCHANGE_KEYS | rendered_by_exchange_url
    for spec_key in SET_BY_SPEC.values():
        assert spec_key[0] in Bot.model_fields or spec_key == ("name",), spec_key
        if spec_key[0] == "secrets":
            assert spec_key[1] in SECRET_TARGETS


def test_secret_values_never_reach_the_judge_but_their_shape_does(base_repo: git.Repo) -> None:
    root = Path(base_repo.working_dir)
    references = {name: f"env:S_{i}" for i, name in enumerate(SECRET_TARGETS)}
    edit(root / BOTS, "stoploss: -0.15", "stoploss: -0.15\nsecrets: " + json.dumps(references))
    _, desired = compile_at(root, None)
    request = bot_request(desired, desired.bots["solo"])
    real = secrets_document(b"k" * 32, desired.name, "solo", references, {f"S_{i}": f"value-{i}" for i in range(len(SECRET_TARGETS))})
    for section, keys in real.items():
        assert set(keys) <= set(request.config[section])
        if section != "api_server":
            assert all(request.config[section][k] == PLACEHOLDER for k in keys)
    assert "value-" not in json.dumps(request.payload)


def _settings(env: dict[str, str], warnings: list[str]) -> CheckSettings:
    """No Docker engine at this address: unit tests never reach the real one."""
    return CheckSettings(None, "unix:///nonexistent/docker.sock", env, warn=warnings.append)


def test_the_judge_is_chosen_by_setting_and_never_skipped_silently(base_repo: git.Repo, tmp_path: Path) -> None:
    loaded, desired = compile_at(base_repo.working_dir, None)
    warnings: list[str] = []
    report = check_fleet(loaded.spec, desired, _settings({"FLEETOPS_FREQTRADE_CHECK": "off"}, warnings))
    assert report.problems == [] and len(warnings) == 1 and "FLEETOPS_FREQTRADE_CHECK=off" in warnings[0]
    nowhere = {"FLEETOPS_FREQTRADE_PYTHON": str(tmp_path / "no-python"), "PATH": str(tmp_path)}
    with pytest.raises(CheckError, match="could not run: .*no-python does not run"):
        check_fleet(loaded.spec, desired, _settings({**nowhere, "FLEETOPS_FREQTRADE_CHECK": "local"}, []))
    with pytest.raises(CheckError, match="must be one of auto, image, local, off"):
        check_fleet(loaded.spec, desired, _settings({"FLEETOPS_FREQTRADE_CHECK": "sometimes"}, []))
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "freqtrade").write_text(f"#!{LOCAL['FLEETOPS_FREQTRADE_PYTHON']}\nimport sys\nfrom freqtrade.main import main\nsys.exit(main())\n")
    (on_path / "freqtrade").chmod(0o755)
    report = check_fleet(loaded.spec, desired, _settings({"PATH": str(on_path)}, []))  # the freqtrade command's own Python
    assert report.judges[0]["judge"] == f"local {LOCAL['FLEETOPS_FREQTRADE_PYTHON']}"
    warnings.clear()
    report = check_fleet(loaded.spec, desired, _settings(nowhere, warnings))
    assert report.problems == [] and report.judges[0]["skipped"]
    assert warnings == ["the FreqTrade check of 5 bot(s) on image fleetops/standin-bot:1 could not run: no Docker engine answers at "
                        "unix:///nonexistent/docker.sock (FileNotFoundError), and "
                        f"{tmp_path}/no-python does not run (FileNotFoundError); it was skipped. To run it, make the image available to Docker "
                        "or set FLEETOPS_FREQTRADE_PYTHON to a Python that has freqtrade"]


def test_answers_are_cached_per_bot_by_what_was_judged(base_repo: git.Repo, tmp_path: Path) -> None:
    """A judge that counts its runs: the second check asks nothing, a one-bot change asks for one bot."""
    runs = tmp_path / "runs"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho x >> {runs}\nexec {LOCAL["FLEETOPS_FREQTRADE_PYTHON"]} "$@"\n')
    wrapper.chmod(0o755)
    env = {"FLEETOPS_FREQTRADE_CHECK": "local", "FLEETOPS_FREQTRADE_PYTHON": str(wrapper), "FLEETOPS_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": os.environ["PATH"]}

    def check() -> int:
        loaded, desired = compile_at(base_repo.working_dir, None)
        report = check_fleet(loaded.spec, desired, _settings(env, []))
        assert report.problems == [] and report.judges[0]["judge"] == f"local {wrapper}"
        return len(runs.read_text().splitlines())

    first = check()  # the version question, then the check itself
    assert first == 2
    assert check() == first + 1  # the version question only: every bot's answer was cached
    edit(Path(base_repo.working_dir) / BOTS, "stoploss: -0.15", "stoploss: -0.14")
    assert check() == first + 3
    cached = json.loads(next((tmp_path / "cache/freqtrade-check").glob("*.json")).read_text())
    # five bots and solo's new config; and four strategy loads: Alpha for alpha-1 and solo (their configs set the same
    # keys), Alpha with alpha-2's trailing details, Beta for beta-1 and for euro-1 (its freqtrade: block sets one more);
    # solo's new stop-loss is no new load
    assert len(cached) == 10


def test_the_ci_plan_loads_the_pins_it_moves_and_a_slow_strategy_is_stopped_at_its_deadline(
        base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path: Path) -> None:
    """The load check against the base ref loads only what the pull request changes: a strategy that
    already fails to load on main is validate's finding, not the CI plan's of an unrelated change; a
    strategy that never finishes loading is stopped at FLEETOPS_STRATEGY_LOAD_SECONDS and named."""
    root = Path(base_repo.working_dir)
    alpha = root / "strategies/Alpha.py"
    alpha.write_text(alpha.read_text().replace("from pandas import DataFrame", "from pandas import DataFrame\nimport talib_next"))
    (root / "strategies/Beta.py").write_text("from freqtrade.strategy import IStrategy\n\nwhile True:\n    pass\n\n\n"
                                             "class Beta(IStrategy):\n    INTERFACE_VERSION = 3\n")
    commit(base_repo, "strategies v2", tag="v2")
    edit(root / BOTS, "strategy: Alpha@v1\npairs: [ETH/USDT]", "strategy: Alpha@v2\npairs: [ETH/USDT]")
    commit(base_repo, "solo on Alpha v2")  # main now pins a strategy FreqTrade cannot load
    env = {**LOCAL, "FLEETOPS_CACHE_DIR": str(tmp_path / "cache"), "FLEETOPS_STRATEGY_LOAD_SECONDS": "2"}
    solo = ("fleet/bots.yaml:50:11: error: bot 'solo': FreqTrade 2026.9 cannot load strategy Alpha@v2 (strategies/Alpha.py, line 3): "
            "Could not import strategies/Alpha.py due to 'No module named 'talib_next''. Impossible to load Strategy 'Alpha'. This class does "
            "not exist or contains Python code errors; module 'talib_next' is not in the local FreqTrade's Python: add it to the bot's image "
            "or remove the import")
    edit(root / BOTS, "stoploss: -0.05", "stoploss: -0.04")  # a pull request that moves no pin
    unrelated = fleetops("plan", "--repo", str(root), "--against", "HEAD", env=env)
    assert unrelated.code == 0 and unrelated.err == "", unrelated.err
    validated = fleetops("validate", "--repo", str(root), env=env)
    assert (validated.code, validated.err.splitlines()) == (1, [solo])
    edit(root / BOTS, "strategy: Beta@v1\npairs: [BTC/USDT]", "strategy: Beta@v2\npairs: [BTC/USDT]")
    moved = fleetops("plan", "--repo", str(root), "--against", "HEAD", env=env)
    assert (moved.code, moved.err.splitlines()) == (1, [
        "fleet/bots.yaml:28:11: error: bot 'beta-1': FreqTrade 2026.9 cannot load strategy Beta@v2: loading did not finish within 2 s; "
        "it was stopped; a strategy must load in seconds: do no work at import"])
    again = fleetops("plan", "--repo", str(root), "--against", "HEAD", env=env)  # a timeout is never cached: it is tried again
    assert again.err == moved.err


def test_a_local_judge_loads_a_strategy_without_network_where_the_machine_allows_it(
        base_repo: git.Repo, fleetops: Callable[..., Run], tmp_path: Path) -> None:
    """Where an unprivileged user may make a network namespace (this machine), the local judge loads
    strategies inside one: a strategy reaching for the network finds none, and no file grows."""
    from engine.check.runners import no_network

    assert no_network(), "this machine allows user namespaces: the local judge must use one"
    root = Path(base_repo.working_dir)
    (root / "strategies/Alpha.py").write_text(
        "import socket\n\nfrom freqtrade.strategy import IStrategy\n\ntried = []\ntry:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3).close()\n    tried.append('network: reached')\n"
        "except OSError as exc:\n    tried.append(f'network: {exc.strerror or exc}')\ntry:\n    with open('owned', 'w') as out:\n"
        "        out.write('x' * 100)\n    tried.append('written')\nexcept OSError as exc:\n    tried.append(f'owned: {exc.strerror}')\n"
        "raise RuntimeError('; '.join(tried))\n\n\nclass Alpha(IStrategy):\n    INTERFACE_VERSION = 3\n")
    commit(base_repo, "a strategy that reaches out", tag="v2")
    edit(root / BOTS, "strategy: Alpha@v1\npairs: [ETH/USDT]", "strategy: Alpha@v2\npairs: [ETH/USDT]")
    result = fleetops("plan", "--repo", str(root), "--against", "HEAD", env={**LOCAL, "FLEETOPS_CACHE_DIR": str(tmp_path / "cache")})
    assert (result.code, result.err.splitlines()) == (1, [
        "fleet/bots.yaml:50:11: error: bot 'solo': FreqTrade 2026.9 cannot load strategy Alpha@v2 (strategies/Alpha.py, line 17): "
        "RuntimeError: network: Network is unreachable; owned: File too large; the strategy raised while FreqTrade imported or "
        "created it: fix the code at that line"])
