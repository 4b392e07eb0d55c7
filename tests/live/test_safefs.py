"""Runtime directories are written and read without trusting what a container put there."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from engine.backend.docker.safefs import SafeDir, UnsafePath
from engine.backend.docker.supervisor import Supervisor
from engine.errors import SupervisorError


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary"
    path.write_text("host only\n")
    return path


@pytest.fixture
def root(tmp_path: Path) -> SafeDir:
    return SafeDir.open(tmp_path / "runtime", create=True)


def test_a_write_replaces_a_planted_link_instead_of_following_it(root: SafeDir, canary: Path) -> None:
    (root.path / "secrets.json").symlink_to(canary)
    root.write("secrets.json", b"{}", mode=0o600)
    assert canary.read_text() == "host only\n" and oct(canary.stat().st_mode & 0o777) == "0o644"
    assert not (root.path / "secrets.json").is_symlink() and (root.path / "secrets.json").read_text() == "{}"


@pytest.mark.parametrize("plant", ["symlink", "fifo", "directory"])
def test_reads_refuse_anything_but_a_regular_file(root: SafeDir, canary: Path, plant: str) -> None:
    target = root.path / "record.json"
    if plant == "symlink":
        target.symlink_to(canary)
    elif plant == "fifo":
        os.mkfifo(target)  # opening it blocking would hang the host forever
    else:
        target.mkdir()
    with pytest.raises(UnsafePath):
        root.read("record.json", 1024)


def test_reads_are_bounded(root: SafeDir) -> None:
    root.write("big", b"x" * 2048)
    with pytest.raises(UnsafePath, match="larger than 1024 bytes"):
        root.read("big", 1024)


def test_a_planted_link_where_a_directory_belongs_is_set_aside_not_followed(root: SafeDir, canary: Path) -> None:
    seen: list[str] = []
    root.on_set_aside = seen.append
    (root.path / "bots").symlink_to(canary.parent)
    with root.walk("bots", "alpha", create=True) as alpha:
        alpha.write("config.json", b"{}")
    assert (root.path / "bots").is_dir() and not (root.path / "bots").is_symlink()
    assert (root.path / ".bots.unsafe-1").is_symlink() and not (canary.parent / "alpha").exists()
    assert len(seen) == 1 and "moved aside" in seen[0]
    with pytest.raises(UnsafePath):
        root.sub(".bots.unsafe-1")  # without create, a link is refused outright


def test_copies_take_regular_files_and_directories_only(root: SafeDir, canary: Path, tmp_path: Path) -> None:
    with root.walk("old", "user_data", create=True) as user_data:
        user_data.write("backtest.json", b"[]")
    (root.path / "old/user_data/leak").symlink_to(canary)
    skipped: list[str] = []
    with root.walk("old") as old, root.walk("new", create=True) as new:
        old.copy_tree("user_data", new, skipped=skipped)
    assert (root.path / "new/user_data/backtest.json").read_bytes() == b"[]"
    assert not (root.path / "new/user_data/leak").exists() and skipped == [str(root.path / "old/user_data/leak")]


def serve_unix(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)  # a connection would wait in the backlog: nothing needs to accept it
    return server


def test_supervisor_socket_replaced_by_a_link_to_a_host_socket_is_refused(tmp_path: Path) -> None:
    host_socket = serve_unix(tmp_path / "docker.sock")  # stands for /var/run/docker.sock
    data = tmp_path / "data"
    data.mkdir()
    (data / "supervisor.sock").symlink_to(tmp_path / "docker.sock")
    with pytest.raises(SupervisorError, match="is not a socket"):
        Supervisor("pool-1", data, timeout=2).states()
    host_socket.close()


def test_a_socket_bound_elsewhere_and_linked_in_is_refused_by_its_name(tmp_path: Path) -> None:
    host_socket = serve_unix(tmp_path / "docker.sock")
    data = tmp_path / "data"
    data.mkdir()
    os.link(tmp_path / "docker.sock", data / "supervisor.sock")  # a hard link passes the file-type check
    with pytest.raises(SupervisorError, match="bound at"):
        Supervisor("pool-1", data, timeout=2).states()
    host_socket.close()
