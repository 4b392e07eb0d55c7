"""Real git repositories for tests, built the way a user's fleet repo looks.

Commits use a fixed date and identity so their SHAs, and so the plans that quote them, are the
same on every run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from engine.demo_repo import commit_all

CASES = Path(__file__).resolve().parent.parent / "cases"
FIXED_DATE = "2026-01-01T00:00:00+00:00"


def make_base_repo(path: Path) -> git.Repo:
    """The small test fleet: strategies Alpha and Beta tagged v1, then the specs on main."""
    path.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(path, initial_branch="main")
    shutil.copytree(CASES / "base" / "strategies", path / "strategies")
    commit_all(repo, "strategies v1", when=FIXED_DATE, tag="v1")
    shutil.copytree(CASES / "base" / "fleet", path / "fleet")
    commit_all(repo, "fleet specs", when=FIXED_DATE)
    return repo


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a file, failing loudly when the text is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def commit(repo: git.Repo, message: str, tag: str | None = None) -> str:
    return commit_all(repo, message, when=FIXED_DATE, tag=tag)


def move_into_submodule(repo: git.Repo, rel: str, moved: list[str]) -> None:
    """Move files of ``repo`` into a new repository beside it, added back as a submodule at ``rel``
    (what a user does to share specs between fleet repositories)."""
    root = Path(repo.working_dir)
    origin = root.parent / f"submodule-{rel.replace('/', '-')}"
    sub = git.Repo.init(origin, initial_branch="main")
    for path in moved:
        (origin / Path(path).name).write_bytes((root / path).read_bytes())
        (root / path).unlink()
    commit(sub, "moved here")
    repo.git.rm("-rq", "--cached", "--ignore-unmatch", rel)
    if (root / rel).is_dir() and not any((root / rel).iterdir()):
        (root / rel).rmdir()
    repo.git.execute(["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(origin), rel])
