"""The ``fleetops`` console entry point: an unchanged fleet's ``plan`` and ``apply`` answered before the CLI loads.

Run as ``fleetops`` and ``python -m engine``. The most frequent call to a converged fleet (a cron's or
a person's ``apply``, CI's ``plan``) finds nothing to do, and the no-op proof (``engine.live.noop_proof``)
answers it in ~30 ms of work; importing the CLI around it (click and the command modules) cost as much
again (~35 ms of the ~0.14 s whole process at 50 bots, ``benchmarks/scale.py``). So a command line
of exactly one of these shapes is answered here, with the proof, before ``engine.cli`` is imported::

    fleetops [--state-dir DIR] [--docker-host URL] plan  [--repo DIR] [--format text] [--detailed-exitcode]
    fleetops [--state-dir DIR] [--docker-host URL] apply [--repo DIR] [--yes] [--no-rollback]
                                                         [--allow-mass-delete] [--allow-rename]

(``--opt=value`` too, and the variables the CLI reads: ``FLEETOPS_STATE_DIR``, ``DOCKER_HOST``).
``apply`` holds the apply lock while the proof is checked, as the CLI's does. Anything else — another
shape, an option given twice, a proof that does not hold, a lock another apply holds, a malformed
Docker address — runs the CLI, which is always right and says what is wrong: the answer printed here
is the proof's, byte for byte what the CLI prints for it (``tests/integration/test_noop_proof.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["main", "no_op_answer", "proof_checked"]

_GLOBAL = {"--state-dir", "--docker-host"}
_VALUES = {"plan": {"--repo", "--format"}, "apply": {"--repo"}}
_FLAGS = {"plan": {"--detailed-exitcode"}, "apply": {"--yes", "--no-rollback", "--allow-mass-delete", "--allow-rename"}}
_checked: list[Path] = []
"""State dirs whose proof this process checked and found not to hold: the CLI need not check it again."""


def proof_checked(state_dir: Path) -> bool:
    """Whether this process already found the no-op proof in ``state_dir`` not to hold (the CLI then plans in full)."""
    return state_dir in _checked


def main() -> None:
    """Answer a no-op ``plan``/``apply`` from the proof, or run the CLI (``engine.cli.main``)."""
    answer = no_op_answer(sys.argv[1:], os.environ, Path.cwd())
    if answer is not None:
        from engine.timing import report

        sys.stdout.write(answer)
        sys.stdout.flush()
        report()
        return
    from engine.cli import main as cli_main

    cli_main()


def no_op_answer(argv: Sequence[str], environ: Mapping[str, str], cwd: Path) -> str | None:
    """The CLI's "No changes" text for ``argv`` (the arguments after the program name) when it is a shape
    the module's docstring lists and the no-op proof holds; None: the CLI must run. Never raises for a
    user's mistake (the CLI reports those); touches nothing unless ``argv`` has a supported shape."""
    parsed = _parsed(argv)
    if parsed is None or environ.get("FLEETOPS_FULL_PLAN"):
        return None
    command, options = parsed
    if options.get("--format", "text") != "text":
        return None
    from engine.backend.docker.address import docker_address
    from engine.backend.registry import BackendOptions, reference
    from engine.errors import FleetopsError
    from engine.live.noop_proof import no_changes_text, proven_unchanged
    from engine.live.store import apply_lock, default_state_dir
    from engine.spec.worktree import fleet_repository_above
    from engine.timing import stage

    state = options.get("--state-dir") or environ.get("FLEETOPS_STATE_DIR") or None
    state_dir = Path(state) if state else default_state_dir()
    repo = options.get("--repo") or str(fleet_repository_above(cwd) or ".")
    try:
        address = docker_address(options.get("--docker-host") or environ.get("DOCKER_HOST") or None,
                                 "--docker-host" if "--docker-host" in options else "DOCKER_HOST")
        backend = BackendOptions(state_dir, address)
        if command == "apply":
            with apply_lock(state_dir), stage("no-op proof"):
                header = proven_unchanged(state_dir, repo, lambda choice: reference(choice, backend))
        else:
            with stage("no-op proof"):
                header = proven_unchanged(state_dir, repo, lambda choice: reference(choice, backend))
    except (FleetopsError, OSError):
        return None  # the CLI says what is wrong (or waits for the lock, as it does)
    if header is None:
        _checked.append(state_dir)
        return None
    return no_changes_text(header)


def _parsed(argv: Sequence[str]) -> tuple[str, dict[str, str]] | None:
    """(command, option → value, flags → "") for a supported shape; None for anything else."""
    words = list(argv)
    options: dict[str, str] = {}
    command: str | None = None
    while words:
        word = words.pop(0)
        if command is None and word in _VALUES:
            command = word
            continue
        name, has_value, value = word.partition("=")
        allowed_values = _VALUES[command] if command is not None else _GLOBAL
        allowed_flags = _FLAGS[command] if command is not None else set()
        if name in options:
            return None  # given twice: the CLI's rule applies
        if name in allowed_flags and not has_value:
            options[name] = ""
        elif name in allowed_values:
            if not has_value:
                if not words:
                    return None
                value = words.pop(0)
            if not value:
                return None
            options[name] = value
        else:
            return None
    return (command, options) if command is not None else None
