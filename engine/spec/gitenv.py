"""The environment fleetops runs git in: the repository named by ``--repo`` (or the watcher's own
clone), never one that git's environment variables point at.

Git reads where a repository is from its environment before it looks at its working
directory: ``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_INDEX_FILE``, ``GIT_OBJECT_DIRECTORY`` … (the list
``git rev-parse --local-env-vars`` prints, and ``GIT_NAMESPACE``). Git exports them to its hooks:
a server's ``post-receive`` hook runs with ``GIT_DIR=.``, a ``pre-commit`` hook with
``GIT_INDEX_FILE`` of the commit being made. A ``fleetops plan --repo /srv/fleet`` started from
such a hook ran every git command on another repository (or on none: "not a git repository:
'.'"), so the working tree and a ref read other files. Every git process fleetops starts gets
``git_environment()``; ``forget_repository_variables()`` removes them from this process for
GitPython, which copies ``os.environ`` into its own git processes and reads
``GIT_OBJECT_DIRECTORY`` itself. Configuration passed through the environment
(``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``, ``GIT_CONFIG_GLOBAL``: CI marks directories safe
that way) is kept. Stdlib only (the no-op proof runs git before importing anything else).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["REPOSITORY_VARIABLES", "forget_repository_variables", "git_environment"]

REPOSITORY_VARIABLES = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_GRAFT_FILE", "GIT_SHALLOW_FILE", "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX", "GIT_NAMESPACE",
)
"""Variables that choose which repository, index, objects or refs git reads (git 2.39's
``git rev-parse --local-env-vars``, less the configuration ones, plus ``GIT_NAMESPACE``)."""


def git_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without REPOSITORY_VARIABLES, with ``extra`` over it."""
    env = {key: value for key, value in os.environ.items() if key not in REPOSITORY_VARIABLES}
    env.update(extra or {})
    return env


def forget_repository_variables() -> None:
    """Remove REPOSITORY_VARIABLES from this process's environment (for GitPython's git processes)."""
    for key in REPOSITORY_VARIABLES:
        os.environ.pop(key, None)
