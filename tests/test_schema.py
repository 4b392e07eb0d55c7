"""``fleetops schema``: the JSON Schema of the spec documents, the copy the package ships, and init's editor hints.

An editor (yaml-language-server) checks what the schema says: every valid document of the example
fleet and of the test fleet must validate against it (or editors would underline good specs), and
what the models refuse on one document — an unknown key, a wrong kind, a value out of its set —
must fail it. Validated with the ``jsonschema`` library, as editors' validators do (draft 2020-12).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine.demo_repo import build_demo_repo
from engine.spec.schema import HINT_PREFIX, PACKAGED, SCHEMA_FILE, schema_hint, schema_text, spec_schema
from tests.conftest import ROOT, Run
from tests.support.repos import CASES

VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def documents(root: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((root / "fleet").rglob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if doc is not None:
                found.append((f"{path.relative_to(root)}:{doc.get('name')}", doc))
    return found


def test_the_packaged_copy_is_current_and_the_command_prints_it(fleetops_in_process: Callable[..., Run], tmp_path: Path) -> None:
    assert PACKAGED.read_text() == schema_text(), "engine/spec/fleet.schema.json is stale: run `fleetops schema --out engine/spec/fleet.schema.json`"
    printed = fleetops_in_process("schema")
    assert printed.code == 0 and printed.out == schema_text()
    jsonschema.Draft202012Validator.check_schema(json.loads(printed.out))
    written = fleetops_in_process("schema", "--out", str(tmp_path / "s.json"))
    assert written.code == 0 and (tmp_path / "s.json").read_text() == schema_text()
    assert written.out == f"wrote {tmp_path / 's.json'}; point each spec file at it with a first line such as: {HINT_PREFIX}../s.json\n"
    assert set(spec_schema()["discriminator"]["mapping"]) == {"Fleet", "Wallet", "Pool", "Bot"}


@pytest.mark.parametrize("root", [ROOT, CASES / "base"], ids=["example-fleet", "test-fleet"])
def test_every_valid_spec_document_validates(root: Path) -> None:
    docs = documents(root)
    assert {d["kind"] for _, d in docs} == {"Fleet", "Wallet", "Pool", "Bot"}
    for where, doc in docs:
        errors = [e.message for e in VALIDATOR.iter_errors(doc)]
        assert errors == [], (where, errors)


BOT = {"kind": "Bot", "name": "b", "wallet": "main", "allocation": 100, "strategy": "Alpha@v1", "pairs": ["BTC/USDT"],
       "stake_amount": "unlimited", "stoploss": -0.1, "minimal_roi": {"0": 0.04, "30": 0.02}, "freqtrade": {"anything": 1}}


@pytest.mark.parametrize("doc, valid", [
    (BOT, True),  # stake "unlimited", ROI minutes as text, and any key in the freqtrade block (validate warns; FreqTrade ignores it)
    ({**BOT, "stoplos": -0.1}, False),  # a typo beside the real key: unknown keys are errors, as in validate
    ({**BOT, "stoploss": -1.5}, False),
    ({**BOT, "on_change": "later"}, False),
    ({**BOT, "kind": "Robot"}, False),
    ({"kind": "Pool", "name": "p", "capacity": 0}, False),
    ({"kind": "Fleet", "name": "f", "health": {"rollback": "maybe"}}, False),
    ({"kind": "Wallet", "name": "w", "currency": "USDT", "balance": 10}, True),
    ({"kind": "Wallet", "name": "Main", "currency": "USDT", "balance": 10}, False),  # the names' pattern shows in the schema
    ({**BOT, "pairs": ["BTC-USDT"]}, False),
    ({**BOT, "timeframe": "7m"}, False),
])
def test_what_one_document_gets_wrong_fails_it(doc: dict[str, Any], valid: bool) -> None:
    assert VALIDATOR.is_valid(doc) is valid, [e.message for e in VALIDATOR.iter_errors(doc)]


def test_init_writes_the_schema_and_each_spec_file_points_at_it(tmp_path: Path) -> None:
    repo = build_demo_repo(tmp_path / "fleet")
    assert (repo / SCHEMA_FILE).read_text() == schema_text()
    specs = sorted((repo / "fleet").rglob("*.yaml"))
    assert len(specs) >= 5 and any(s.parent != repo / "fleet" for s in specs)  # files at two depths
    for spec in specs:
        first = spec.read_text().splitlines()[0]
        assert first == schema_hint(spec.relative_to(repo).as_posix()), spec
        assert (spec.parent / first.removeprefix(HINT_PREFIX)).resolve() == repo / SCHEMA_FILE  # as the editor resolves it
        assert first.count(HINT_PREFIX) == 1 and spec.read_text().count(HINT_PREFIX) == 1  # the example's own hint is not doubled
    import git

    assert SCHEMA_FILE in git.Repo(repo).git.ls_files().split()  # committed: clones get it too


def test_the_example_fleet_in_this_checkout_carries_the_hint_and_resolves_it() -> None:
    for spec in sorted((ROOT / "fleet").rglob("*.yaml")):
        first = spec.read_text().splitlines()[0]
        assert first == schema_hint(spec.relative_to(ROOT).as_posix()), spec
        assert (spec.parent / first.removeprefix(HINT_PREFIX)).resolve() == PACKAGED  # the checkout's fleet.schema.json links to it
