"""Secret references resolve only inside the host's secrets directory, to bounded UTF-8 regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import ApplyError
from engine.live.secrets import resolve_secret


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    (directory / "binance.key").write_text("k3y\n")
    return directory


def resolve(reference: str, secrets_dir: Path, **environ: str) -> str:
    return resolve_secret(reference, {"FLEETOPS_SECRETS_DIR": str(secrets_dir), **environ})


def test_a_file_inside_the_secrets_directory_resolves(secrets_dir: Path) -> None:
    assert resolve(f"file:{secrets_dir}/binance.key", secrets_dir) == "k3y"
    assert resolve("env:BINANCE_KEY", secrets_dir, BINANCE_KEY="from-env") == "from-env"


@pytest.mark.parametrize("where, message", [
    ("/proc/self/environ", "outside the secrets directory"),
    ("/dev/zero", "outside the secrets directory"),
    ("{state}/api.key", "outside the secrets directory"),
    ("{dir}/missing", "does not exist"),
    ("{dir}/link-out", "outside the secrets directory"),
    ("{dir}/fifo", "not a regular file"),
    ("{dir}/big", "larger than 64 KiB"),
    ("{dir}/latin1", "not UTF-8 text"),
])
def test_a_file_reference_cannot_reach_anything_else(where: str, message: str, secrets_dir: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "api.key").write_bytes(os.urandom(32))
    (secrets_dir / "link-out").symlink_to(state / "api.key")
    os.mkfifo(secrets_dir / "fifo")  # opening it blocking would hang the apply
    (secrets_dir / "big").write_bytes(b"x" * (65 << 10))
    (secrets_dir / "latin1").write_bytes(b"caf\xe9")
    reference = "file:" + where.format(dir=secrets_dir, state=state)
    with pytest.raises(ApplyError, match=message) as raised:
        resolve(reference, secrets_dir)
    assert reference in str(raised.value) and "k3y" not in str(raised.value)


def test_an_env_reference_cannot_read_fleetops_settings(secrets_dir: Path) -> None:
    with pytest.raises(ApplyError, match="fleetops' own settings"):
        resolve("env:FLEETOPS_UI_TOKEN", secrets_dir, FLEETOPS_UI_TOKEN="ui")
