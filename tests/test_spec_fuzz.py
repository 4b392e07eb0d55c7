"""Property: any spec input yields a valid fleet or one-line located errors — never a traceback,
never another exception, within a bounded time and memory.

Two strategies: raw bytes and text (YAML-ish fragments, control characters, odd unicode, huge
numbers, aliases), and structured documents of every kind with values drawn from around the
edges of what each field accepts. Loading runs in-process against a real git repository; the
budget is fixed and the seed derandomised, so CI runs the same examples every time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import git
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from engine.errors import SourceError, SpecError
from engine.spec.load import load_fleet
from tests.support.repos import make_base_repo

LINE = re.compile(r"^[^\n]+:\d+:\d+: error: [^\n]+$")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40" if os.environ.get("FLEETOPS_FAST_LANE") else "150"))
"""Per property: 150 in the whole suite (CI), 40 in the fast lane (``scripts/test --fast``), both
derandomised; hunt locally with FUZZ_EXAMPLES=5000 (random, not derandomised, then)."""
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, derandomize="FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> git.Repo:
    return make_base_repo(tmp_path_factory.mktemp("fuzz") / "repo")


def outcome(repo: git.Repo, name: str, data: bytes) -> None:
    target = Path(repo.working_dir) / "fleet" / name
    target.write_bytes(data)
    try:
        load_fleet(repo.working_dir, None)
    except SpecError as exc:
        assert exc.problems, "a SpecError must carry its problems"
        for line in str(exc).splitlines():
            assert LINE.match(line), repr(line)
    except SourceError as exc:
        assert "\n" not in str(exc), repr(str(exc))
    finally:
        target.unlink()


FRAGMENTS = ["kind: Bot\n", "kind: Wallet\n", "kind: Pool\n", "kind: Fleet\n", "name: x\n", "name: [a]\n", "---\n", "&a ", "*a", "<<: *a\n",
             "{", "}", "[", "]", "- ", ": ", "'", '"', "\\", "\t", "\x00", "\u2028", "\ufeff", ".nan", ".inf", "1e400", "9" * 5000,
             "!!python/object:os.system", "? ", "|\n", ">-\n", "%YAML 1.1\n", "pairs: ", "allocation: ", "freqtrade: ", "secrets: ",
             "strategy: Alpha@v1\n", "wallet: main\n", "\n", "  ", "#", "kind: ", "Bot", "null", "~", "true", "0x1f", "-0.1"]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40))
def test_any_text_loads_or_fails_with_located_lines(repo: git.Repo, parts: list[str]) -> None:
    outcome(repo, "fuzz.yaml", "".join(parts).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_load_or_fail_with_located_lines(repo: git.Repo, data: bytes) -> None:
    outcome(repo, "fuzz.yml", data)


EDGE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.just("unlimited"), st.just("env:X"),
    st.just("file:/etc/fleetops/x"), st.just("Alpha@v1"), st.just("BTC/USDT"), st.just("main"), st.just("standard"),
    st.lists(st.text(max_size=10), max_size=3), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)
FIELDS = ["kind", "name", "wallet", "allocation", "pool", "strategy", "pairs", "timeframe", "exchange", "max_open_trades",
          "stake_amount", "stoploss", "minimal_roi", "trailing_stop", "dry_run", "enabled", "secrets", "freqtrade", "currency",
          "balance", "reserve", "capacity", "memory", "cpus", "image", "defaults", "health", "notify", "bogus"]


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), EDGE_VALUES, min_size=1, max_size=12), min_size=1, max_size=4),
       st.sampled_from(["Bot", "Wallet", "Pool", "Fleet", None]))
def test_any_documents_load_or_fail_with_located_lines(repo: git.Repo, docs: list[dict[str, object]], kind: str | None) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    from io import StringIO

    out = StringIO()
    for doc in docs:
        if kind is not None:
            doc.setdefault("kind", kind)
    try:
        yaml.dump_all(docs, out)
    except Exception:
        return
    outcome(repo, "fuzz-docs.yaml", out.getvalue().encode())
