"""What fleetops renders is what each consumer reads: every file parsed back by its consumer's own code.

- supervisord.conf through supervisord's own config parser (``ServerOptions``: its
  ``UnhosedConfigParser`` cuts inline comments at whitespace + ``;``/``#`` and expands ``%``),
  each program's argv, directory, user and environment compared with what fleetops meant;
- each bot's config.json + secrets.json through FreqTrade's own loader (``load_from_files``,
  python-rapidjson with comments allowed) in ``.venv-freqtrade``;
- the pinned strategy through FreqTrade's own resolver (it greps the UTF-8 text for
  ``class Name(``, then Python's import reads the bytes: BOM, coding cookie).

Property-based (hypothesis) over bot commands and config values: whatever validates renders
faithfully, and whatever cannot be rendered faithfully is refused at validation.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import git
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.compile.desired import compile_fleet
from engine.compile.render import render_supervisord
from engine.compile.templates import environment
from engine.spec.fleetspec import FleetSpec
from engine.spec.load import load_fleet
from engine.spec.models import Fleet

# Characters that have a meaning to one of the parsers between the spec and the bot's argv:
# YAML, shlex (quotes, backslash), configparser (; and # after whitespace, also Unicode
# whitespace), supervisord's % expansion, placeholders ({ }), compose ($), env pairs (= ,).
TRICKY = " ;#%'\"\\{}$=,:-\t\u00a0\u2003\u0085\u2028é€😀"
words = st.text(alphabet=st.sampled_from(list(TRICKY) + list("ab/.")), max_size=12)

SLOW_OK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def base_spec(tmp_path_factory: pytest.TempPathFactory) -> FleetSpec:
    from tests.support.repos import make_base_repo

    repo: git.Repo = make_base_repo(tmp_path_factory.mktemp("consumers") / "repo")
    return load_fleet(repo.working_dir).spec


def with_bot_command(spec: FleetSpec, command: str) -> FleetSpec:
    """The spec with its fleet's bot_command replaced, validated as the spec's own model does."""
    data = spec.fleet.model_dump()
    data["defaults"]["bot_command"] = command
    return dataclasses.replace(spec, fleet=Fleet.model_validate(data))


def supervisord_programs(conf_text: str, root: Path, data_dirs: list[str]) -> dict[str, Any]:
    """Parse ``conf_text`` with supervisord's own ``ServerOptions``: program name → ProcessConfig.

    supervisord insists that its log directories exist: paths under /fleet/ are moved to
    ``root`` on every line but the commands (which must reach the parser untouched)."""
    from supervisor.options import ServerOptions

    for rel in data_dirs:
        (root / rel.lstrip("/")).mkdir(parents=True, exist_ok=True)
    lines = [line if line.startswith("command=") else line.replace("/fleet/", f"{root}/fleet/") for line in conf_text.splitlines(True)]
    conf = root / "supervisord.conf"
    conf.write_bytes("".join(lines).encode())
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    return {g.name: g.process_configs[0] for g in options.process_group_configs}


@SLOW_OK
@given(extra=st.lists(words, min_size=1, max_size=4), preload=st.booleans())
@example(extra=["a ;b"], preload=False)  # the reported case: supervisord read it as a comment
@example(extra=["x #y", "%(ENV_HOME)s", "100%"], preload=True)
@example(extra=["\u00a0;", "\u2003#", "'\" ;"], preload=False)
def test_bot_commands_reach_supervisord_exactly_or_are_refused(
        extra: list[str], preload: bool, base_spec: FleetSpec, tmp_path_factory: pytest.TempPathFactory) -> None:
    template = ["standin-bot", "trade", "--config", "{config}", "--config", "{secrets}"]
    literal = [w.replace("{", "{{").replace("}", "}}") for w in extra]
    command = shlex.join(template[:2]) + " --config {config} --config {secrets} " + shlex.join(literal)
    try:
        spec = with_bot_command(base_spec, command)
    except ValidationError as exc:
        # Refused at validation: only for a reason the spec can state (control characters).
        assert any(ord(c) < 32 or c == "\x7f" for c in command), exc
        return
    if preload:
        spec = dataclasses.replace(spec, pools={n: p.model_copy(update={"preload": True}) for n, p in spec.pools.items()})
    desired = compile_fleet(spec)
    container = desired.containers["testfleet-standard-1"]
    conf = render_supervisord(container, desired)
    root = tmp_path_factory.mktemp("supervisord")
    programs = supervisord_programs(conf, root, [f"/fleet/data/bots/{b}" for b in container.bots] + ["/fleet/data/preload"])
    assert sorted(p for p in programs if p != "_preload") == sorted(container.bots)
    for name in container.bots:
        program, meant = programs[name], desired.bots[name].essence
        assert tuple(shlex.split(program.command)) == meant.command  # supervisord's own split (process.get_execv_args)
        assert meant.command[-len(extra):] == tuple(extra)
        assert program.directory == f"{root}/fleet/data/bots/{name}"
        assert program.uid == meant.run_as
        assert program.environment == {"HOME": f"{root}/fleet/data/bots/{name}"}


env_values = st.text(alphabet=st.sampled_from(list(TRICKY) + list("ab/.")), max_size=10)


@SLOW_OK
@given(variables=st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True), env_values, min_size=1, max_size=3))
@example(variables={"A": "x=1,y=2", "B": "with space, and comma"})
def test_environment_values_reach_supervisord_exactly_or_are_refused(variables: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> None:
    assume(not any(ord(c) < 32 for v in variables.values() for c in v))
    try:
        line = environment().filters["supervisor_environment"](variables)
    except ValueError as exc:
        assert any(q in v for v in variables.values() for q in "'\"") or "comment" in str(exc), exc
        return
    root = tmp_path_factory.mktemp("env")
    conf = f"[supervisord]\nlogfile={root}/s.log\n[program:p]\ncommand=true\nenvironment={line}\n"
    programs = supervisord_programs(conf, root, [])
    assert programs["p"].environment == variables


def test_supervisord_values_that_a_comment_would_cut_are_refused() -> None:
    with pytest.raises(ValueError, match="inline comment"):
        environment().filters["supervisor"]("/fleet/data/x ;y")


# -- FreqTrade reads config.json + secrets.json, and the pinned strategy ----------------------------

@pytest.fixture(scope="module")
def freqtrade() -> Any:
    """FreqTrade's own readers in .venv-freqtrade (tests/support/freqtrade_oracle.py), asked line by line."""
    import json
    import subprocess

    from tests.conftest import ROOT
    from tests.test_render import FREQTRADE_PYTHON

    assert FREQTRADE_PYTHON.exists(), f"FreqTrade is needed for this test: run the README's test command (missing {FREQTRADE_PYTHON})"
    proc = subprocess.Popen([str(FREQTRADE_PYTHON), str(ROOT / "tests/support/freqtrade_oracle.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")

    def ask(**request: Any) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        answer: dict[str, Any] = json.loads(proc.stdout.readline())
        return answer

    yield ask
    proc.terminate()
    proc.wait(10)


json_leaves = (st.none() | st.booleans() | st.integers(min_value=-10**15, max_value=10**15)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(alphabet=st.sampled_from(list(TRICKY) + list("ab/*")), max_size=8))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(alphabet="abcxyz_é", min_size=1, max_size=5), inner, max_size=3), max_leaves=8)


@pytest.mark.freqtrade
@SLOW_OK
@given(extras=st.dictionaries(st.text(alphabet="abcdefgxyz_é€", min_size=1, max_size=6), json_values, max_size=4))
@example(extras={"bot_note": "a ;b /* not a comment */ // nor this", "ratio": 0.1 + 0.2, "tiny": 5e-324, "big": 10**15})
@example(extras={"unicode": "😀\u2028\u0085"})
def test_bot_configs_reach_freqtrade_exactly_or_are_refused(extras: dict[str, Any], base_spec: FleetSpec, freqtrade: Any,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    """config.json and secrets.json as FreqTrade's ``load_from_files`` merges them (``--config A
    --config B``) equal the config fleetops meant: the freqtrade: block's values under the managed
    keys, the secrets over both."""
    import json

    from engine.compile.ftconfig import freqtrade_config
    from engine.compile.render import render_bot_config
    from engine.live.secrets import secrets_document
    from engine.spec.freqtrade_extras import check_freqtrade_extras

    if check_freqtrade_extras(extras):
        return  # refused at validation, each problem at its key (tests/cases/bad_specs.yaml has the messages)
    bot = base_spec.bots["euro-1"].model_copy(update={"freqtrade": extras})
    desired = compile_fleet(dataclasses.replace(base_spec, bots={**base_spec.bots, "euro-1": bot}))
    meant = desired.bots["euro-1"]
    root = tmp_path_factory.mktemp("ftconfig")
    config, secrets = root / "config.json", root / "secrets.json"
    config.write_bytes(render_bot_config(meant).encode())
    document = secrets_document(b"k" * 32, desired.name, "euro-1", {}, {})
    secrets.write_bytes(json.dumps(document).encode())
    answer = freqtrade(op="load_config", files=[str(config), str(secrets)])
    assert answer["ok"], answer
    loaded = answer["config"]
    assert loaded.pop("config_files") == [str(secrets), str(config)]
    expected = freqtrade_config("euro-1", meant.essence)
    expected["api_server"] = {**expected["api_server"], **document["api_server"]}
    assert loaded == json.loads(json.dumps(expected))  # JSON data both sides: tuples are lists
    for key, value in extras.items():
        assert loaded[key] == value


STRATEGY_BODY = ('from freqtrade.strategy import IStrategy\n\n\n{header}\n{indent}    INTERFACE_VERSION = 3\n{indent}    timeframe = "5m"\n'
                 '{indent}    minimal_roi = {{"0": 0.04}}\n{indent}    stoploss = -0.10\n\n'
                 '{indent}    def populate_indicators(self, dataframe, metadata):\n{indent}        return dataframe\n\n'
                 '{indent}    def populate_entry_trend(self, dataframe, metadata):\n{indent}        return dataframe\n\n'
                 '{indent}    def populate_exit_trend(self, dataframe, metadata):\n{indent}        return dataframe\n')


class _Blob:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)


class _Commit:
    hexsha = "0" * 40


class _OneFileSource:
    """A FleetSource that holds one strategy file at one commit: what ``resolve_pin`` asks for."""

    repo = object()

    def __init__(self, data: bytes) -> None:
        self.data = data

    def find_pinned(self, ref: str) -> _Commit:
        return _Commit()

    def file_at(self, commit: _Commit, path: str) -> _Blob:
        return _Blob(self.data)

    def tag_names(self) -> list[str]:
        return []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bom=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]),
       cookie=st.sampled_from(["", "# -*- coding: utf-8 -*-\n", "# coding: latin-1\n", "# vim: set fileencoding=utf-8 :\n", "# coding: klingon\n"]),
       comment=st.sampled_from(["", "# prix: 5 €, café\n", "# see class Alpha( below\n"]),
       header=st.sampled_from(["class Alpha(IStrategy):", "class Alpha (IStrategy):", "if True:\n    class Alpha(IStrategy):",
                               "try:\n    class Alpha(IStrategy):", "class Beta(IStrategy):", "if False:\n    class Alpha(IStrategy):",
                               "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    class Alpha(IStrategy):"]))
@pytest.mark.freqtrade
@example(bom=True, newline="\n", cookie="", comment="", header="class Alpha(IStrategy):")  # the reported case
@example(bom=True, newline="\r\n", cookie="# coding: latin-1\n", comment="", header="class Alpha(IStrategy):")
@example(bom=False, newline="\n", cookie="", comment="", header="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    class Alpha(IStrategy):")
def test_pinned_strategies_are_accepted_exactly_when_freqtrade_loads_them(
        bom: bool, newline: str, cookie: str, comment: str, header: str, freqtrade: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    from engine.spec.pins import PinError, resolve_pin

    indent = "    " if header.splitlines()[-1].startswith("    ") else ""
    body = STRATEGY_BODY.format(header=header, indent=indent) + ("except Exception:\n    pass\n" if header.startswith("try") else "")
    text = cookie + comment + body
    data = (b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", newline).encode()
    try:
        pinned = resolve_pin(_OneFileSource(data), "Alpha", "v1")  # type: ignore[arg-type]
    except PinError as exc:
        accepted, why = False, str(exc)
    else:
        accepted, why = True, ""
        assert pinned.text.encode() == data  # what the bot's strategy dir receives: the blob, byte for byte
    directory = tmp_path_factory.mktemp("strategies")
    (directory / "Alpha.py").write_bytes(data)
    loaded = freqtrade(op="load_strategy", dir=str(directory), name="Alpha")
    assert accepted == loaded["ok"], (why, loaded)


@pytest.mark.freqtrade
def test_a_strategy_saved_with_a_bom_validates_renders_byte_for_byte_and_freqtrade_loads_it(
        base_repo: git.Repo, freqtrade: Any, tmp_path: Path) -> None:
    from engine.compile.render import render_fleet
    from engine.offline import compile_at
    from tests.support.repos import commit

    root = Path(base_repo.working_dir)
    data = b"\xef\xbb\xbf" + (root / "strategies/Alpha.py").read_bytes().replace(b"\n", b"\r\n")
    (root / "strategies/Alpha.py").write_bytes(data)
    commit(base_repo, "Alpha saved by an editor that writes a BOM and CRLF", tag="v2")
    (root / "fleet/bots.yaml").write_text((root / "fleet/bots.yaml").read_text().replace("strategy: Alpha@v1", "strategy: Alpha@v2"))
    _, desired = compile_at(base_repo.working_dir, None)
    render_fleet(desired).write(str(tmp_path / "out"))
    written = tmp_path / "out/containers/testfleet-bot-solo/etc/bots/solo/strategies/Alpha.py"
    assert written.read_bytes() == data
    loaded = freqtrade(op="load_strategy", dir=str(written.parent), name="Alpha")
    assert loaded["ok"], loaded
