"""A bare 'origin' repository with a working clone to push from, and a watcher following it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from engine.backend.fake import FakeBackend
from engine.context import Context
from engine.live.fake_bots import FakeBots
from engine.watch.daemon import Watcher, WatchOptions
from engine.watch.logs import WatchLog
from tests.support.repos import commit, edit

IMAGE = "fleetops/standin-bot:1"


@dataclass
class Origin:
    bare: Path
    work: git.Repo

    @property
    def root(self) -> Path:
        return Path(self.work.working_dir)

    def push(self, message: str, change: Callable[[Path], None] | None = None, tag: str | None = None) -> str:
        if change is not None:
            change(self.root)
        sha = commit(self.work, message, tag=tag)
        self.work.git.push("-q", "origin", "main", "--tags")
        return sha

    def edit(self, rel: str, old: str, new: str) -> Callable[[Path], None]:
        return lambda root: edit(root / rel, old, new)


@pytest.fixture
def origin(base_repo: git.Repo, tmp_path: Path) -> Origin:
    bare = tmp_path / "origin.git"
    git.Repo.clone_from(base_repo.working_dir, bare, bare=True)
    work = git.Repo.clone_from(bare, tmp_path / "work")
    shutil.rmtree(base_repo.working_dir)
    return Origin(bare, work)


class RunningWatcher:
    def __init__(self, watcher: Watcher, bots: FakeBots, lines: list[str]) -> None:
        self.watcher = watcher
        self.bots = bots
        self.backend = bots.backend
        self.lines = lines
        self.thread = threading.Thread(target=watcher.run, daemon=True)

    def until(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}; log:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def applied(self) -> str | None:
        return self.watcher.queue.view().applied


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.extend(t for t in text.splitlines() if t)

    def flush(self) -> None:
        pass


@pytest.fixture
def watching(origin: Origin, tmp_path: Path) -> Iterator[Callable[..., RunningWatcher]]:
    started: list[RunningWatcher] = []

    def start(bots: FakeBots | None = None, **options: float) -> RunningWatcher:
        bots = bots or FakeBots(FakeBackend(images=(IMAGE,)))
        lines: list[str] = []
        ctx = Context(tmp_path / "state", bots.ports(), lambda _l: None, {})
        opts = WatchOptions(str(origin.bare), "main", options.get("interval", 0.2), options.get("resync", 0.3),
                            int(options.get("flap_limit", 3)), options.get("flap_window", 300.0))
        watcher = Watcher(ctx, opts, WatchLog("text", _Lines(lines)))  # type: ignore[arg-type]
        running = RunningWatcher(watcher, bots, lines)
        running.thread.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.watcher.request_stop()
        running.backend.close_events()
        running.thread.join(timeout=30)
