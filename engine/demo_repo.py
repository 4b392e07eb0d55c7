"""Build a fleet repository the way a user's GitOps repo looks: specs, strategies, tagged versions.

Used by ``fleetops init``, the README's demo and the tests. Git tags do not travel with this
project's own history, so the example fleet is shipped as plain files (``fleet/``,
``strategies/`` and ``examples/strategy-history/<tag>/``) and the history is made here:
one commit + tag per strategy version, then a commit adding the fleet specs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from engine.errors import SourceError
from engine.resources import data_root
from engine.spec.gitenv import forget_repository_variables

__all__ = ["EXAMPLE_ROOT", "GITIGNORE", "build_demo_repo", "commit_all"]

EXAMPLE_ROOT = data_root()

_CACHES = shutil.ignore_patterns("__pycache__", "*.py[co]")
"""Never copied into the user's repository: an installed package's strategies may have been compiled."""
GITIGNORE = "__pycache__/\n*.py[co]\n"
"""What ``init`` tells git to leave out: Python's caches, written beside strategies by whoever imports them."""

_IDENTITY = {"GIT_AUTHOR_NAME": "fleetops", "GIT_AUTHOR_EMAIL": "fleetops@localhost",
             "GIT_COMMITTER_NAME": "fleetops", "GIT_COMMITTER_EMAIL": "fleetops@localhost"}


def commit_all(repo: git.Repo, message: str, *, when: str | None = None, tag: str | None = None) -> str:
    """Stage everything and commit (at a fixed ``when`` for reproducible SHAs); returns the SHA."""
    env = dict(_IDENTITY)
    if when is not None:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    with repo.git.custom_environment(**env):
        repo.git.add("-A")
        repo.git.commit("-q", "--allow-empty", "-m", message)
        if tag is not None:
            repo.git.tag("-a", tag, "-m", f"strategies {tag}")
    return repo.head.commit.hexsha


def build_demo_repo(target: Path, *, source: Path = EXAMPLE_ROOT, when: str | None = None) -> Path:
    """Create ``target`` as a git repo holding the example fleet; refuses a non-empty directory."""
    if target.exists() and any(target.iterdir()):
        raise SourceError(f"{target} exists and is not empty; choose a new directory")
    versions = sorted(p for p in (source / "examples" / "strategy-history").iterdir() if p.is_dir()) if (source / "examples" / "strategy-history").is_dir() else []
    target.mkdir(parents=True, exist_ok=True)
    forget_repository_variables()  # a git hook's GIT_DIR would make `git init` and every commit act on another repository
    repo = git.Repo.init(target, initial_branch="main")
    strategies = target / "strategies"
    for version in versions:
        shutil.rmtree(strategies, ignore_errors=True)
        shutil.copytree(version, strategies, ignore=_CACHES)
        commit_all(repo, f"Strategies {version.name}", when=when, tag=version.name)
    shutil.rmtree(strategies, ignore_errors=True)
    shutil.copytree(source / "strategies", strategies, ignore=_CACHES)
    commit_all(repo, "Strategies v1.1.0", when=when, tag="v1.1.0")
    shutil.copytree(source / "fleet", target / "fleet", ignore=_CACHES)
    _schema_for_editors(target)
    (target / ".gitignore").write_text(GITIGNORE)
    (target / "README.md").write_text(
        "# Fleet repository\n\nSpecs under `fleet/`, strategies under `strategies/`; change the fleet by pull request.\n"
        "`fleetops plan --against origin/main` shows what a change does.\n"
    )
    commit_all(repo, "Fleet specs", when=when)
    return target.resolve()


def _schema_for_editors(target: Path) -> None:
    """The spec schema beside ``fleet/`` (``fleet.schema.json``), and each spec file's first line pointing at it
    relative to the file (yaml-language-server's hint): completion and checks in editors, offline."""
    from engine.spec.schema import SCHEMA_FILE, schema_hint, schema_text, with_hint

    (target / SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
    for spec in sorted(p for p in (target / "fleet").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        spec.write_text(with_hint(spec.read_text(encoding="utf-8"), schema_hint(spec.relative_to(target).as_posix())), encoding="utf-8")
