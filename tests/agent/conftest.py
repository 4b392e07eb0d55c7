"""A node (a root directory, real supervisords) for the agent's tests; every supervisord is stopped after."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent_node import Node


@pytest.fixture
def node() -> Iterator[Node]:
    """Under a short /tmp path: supervisord binds its socket by path, and a unix socket's path has at
    most 107 bytes (pytest's tmp_path plus the unit's directories pass that; a task binds /fleet/data/…)."""
    base = Path(tempfile.mkdtemp(prefix="agent-", dir="/tmp"))
    (base / "scripts").mkdir()
    node = Node(base / "root", base / "scripts")
    try:
        yield node
    finally:
        node.stop_all()
        shutil.rmtree(base, ignore_errors=True)
