"""The no-op proof: how ``plan`` and ``apply`` say "No changes" without compiling anything.

Compose answers a no-op ``up -d`` in ~0.1 s because it compares config hashes on labels; a full
fleetops plan imports the parser, the validators, the Docker SDK and git, parses every spec and
reads every bot's record (~0.4 s at 200 bots). So when an ``apply`` runs the full plan and finds
nothing to do, it writes down what that conclusion rested on:

- a digest of every input the compile read: the spec files' blob SHAs, the commit each strategy
  pin resolved to, fleetops' own code and templates, the ``FLEETOPS_*`` settings, and the keyed
  digest of every secret value the bots are given (``engine.live.secret_values``: a rotated
  value behind an unchanged reference is a change too);
- the revision the fleet runs (the newest in the store, applied);
- the backend the plan ran against (kind and target) and what its units looked like, as the
  backend fingerprints them (``Site.noop_facts``; for Docker: each container as listed and
  inspected, its records' stamp, and the enabled bots of each pool, ``engine.backend.docker.noop``).

The next ``plan``/``apply`` of the same repository checks exactly those — ``git`` (three calls,
then the working tree's listing with three more, each round side by side), a file walk and some
stats, and the backend's own check of its facts (``holds``, found through
``engine.backend.registry`` without importing the backend itself): for Docker one list call,
every container's inspect sent at once, and the one thing hashes cannot prove, that the enabled
bots of each running pool run, asked of each supervisord. The spec files come from
``engine.spec.worktree.list_worktree``, the loader's own listing. Any difference or doubt (a
pin that is not a plain tag, branch or full SHA, another backend or target, a Docker host that
is not a local socket, a proof that does not parse, supervisord not answering, a listing with
anything refused or warned about) falls back to the full plan, which is always right (and says
what is wrong) and writes a fresh proof when it finds nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.backend.registry import NoopCheck, noop_check
from engine.backend.values import BackendChoice
from engine.errors import FleetopsError
from engine.live.secret_values import UNRESOLVED, load_key, reference_digests
from engine.live.store import latest_status
from engine.naming import BackendRef
from engine.resources import template_dir
from engine.spec.gitenv import git_environment
from engine.spec.worktree import SPEC_DIR, STRATEGY_DIR, list_worktree

__all__ = ["NO_CHANGES", "ProofHeader", "SpecInputs", "no_changes_text", "proven_unchanged", "write_proof"]

PROOF_FORMAT = 3
NO_CHANGES = "No changes. The fleet matches the target."
_PIN_NAMESPACES = ("refs/tags/", "refs/heads/", "refs/remotes/origin/")
_IGNORED_SETTINGS = frozenset({"FLEETOPS_DEBUG", "FLEETOPS_TIMINGS", "FLEETOPS_STATE_DIR", "FLEETOPS_FULL_PLAN"})


@dataclass(frozen=True)
class SpecInputs:
    """What a working-tree compile read: spec files as (path, blob SHA) and pin ref → commit."""

    files: tuple[tuple[str, str], ...]
    pins: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret reference → the keyed digest of its value, as the plan stamped it."""


@dataclass(frozen=True)
class ProofHeader:
    """What the "No changes" text names: the fleet, the commit read, the revision running."""

    fleet: str
    commit: str
    dirty: bool
    revision: int
    backend: BackendRef


# -- writing (after a full plan found nothing to do) ------------------------------------------

def write_proof(state_dir: Path, repo_dir: Path, backend: BackendRef, choice: BackendChoice, inputs: SpecInputs, fleet: str,
                revision: int, units: Mapping[str, Any]) -> None:
    """Record why the fleet at ``repo_dir``'s working tree needs no change (atomically): ``backend`` is
    where the plan ran, ``choice`` what the Fleet asked for, ``units`` the backend's own facts about
    them (``Site.noop_facts``)."""
    proof = {
        "format": PROOF_FORMAT, "repo": str(repo_dir), "backend": backend.plain(), "choice": choice.plain(), "fleet": fleet,
        "revision": revision,
        "inputs": _inputs_digest(inputs.files, inputs.pins, inputs.secrets), "pins": dict(inputs.pins),
        "secret_refs": sorted(inputs.secrets), "units": dict(units),
    }
    path = _proof_path(state_dir, repo_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(proof, sort_keys=True))
    os.replace(partial, path)


# -- checking (the fast path) ---------------------------------------------------------------

def proven_unchanged(state_dir: Path, repo: str | Path, reference: Callable[[BackendChoice], BackendRef]) -> ProofHeader | None:
    """The header of a "No changes" plan when the stored proof still holds; None: run the full plan.

    ``reference`` says which backend and target a kind means now (``Context.backend_ref``): a proof
    written against another target (DOCKER_HOST changed) does not hold."""
    repo_dir = Path(repo).resolve()
    try:
        proof = json.loads(_proof_path(state_dir, repo_dir).read_text())
        if proof.get("format") != PROOF_FORMAT or proof.get("repo") != str(repo_dir):
            return None
        backend = reference(BackendChoice.of(proof["choice"]))
        holds = noop_check(backend.kind)
        if holds is None or proof["backend"] != backend.plain():
            return None
        # The backend's check waits on sockets, the rest on git processes and stats: side by side (~20 ms saved at 50 bots).
        backend_holds: list[bool] = []
        checking = threading.Thread(target=lambda: backend_holds.append(_holds(holds, state_dir, backend.target, proof)), daemon=True)
        checking.start()
        try:
            header = _inputs_hold(state_dir, repo_dir, proof, backend)
        finally:
            checking.join()
        return header if header is not None and backend_holds == [True] else None
    except (OSError, ValueError, KeyError, TypeError, FleetopsError):
        return None


def _holds(holds: NoopCheck, state_dir: Path, target: str, proof: Mapping[str, Any]) -> bool:
    """The backend's check of its facts; False for anything it raises (the full plan then says what is wrong)."""
    try:
        return holds(state_dir, target, proof["fleet"], proof["units"])
    except Exception:  # noqa: BLE001 - in a thread: whatever it raises means "cannot tell"
        return False


def _inputs_hold(state_dir: Path, repo_dir: Path, proof: Mapping[str, Any], backend: BackendRef) -> ProofHeader | None:
    """The proof's header when every input the compile read is as the proof recorded, and the fleet still runs its revision."""
    git = _git_facts(repo_dir, proof["pins"])
    if git is None:
        return None
    commit, dirty, pins = git
    listing = list_worktree(repo_dir)  # exactly what the loader lists; anything it refuses or warns about takes the full plan
    if listing.problems or listing.warnings:
        return None
    files = tuple((f.path, f.blob_sha) for f in listing.spec_files)
    secrets = _secret_digests(state_dir, proof["secret_refs"])
    if secrets is None or _inputs_digest(files, pins, secrets) != proof["inputs"] or latest_status(state_dir) != (proof["revision"], "applied"):
        return None
    return ProofHeader(proof["fleet"], commit, dirty, proof["revision"], backend)


def no_changes_text(header: ProofHeader) -> str:
    """The text a full plan prints when nothing changes (``engine.plan.text``), byte for byte."""
    dirty = ", uncommitted changes" if header.dirty else ""
    where = header.backend.live(header.revision)  # as the full plan's header says it (``plan.text.describe_snapshot``)
    return f"fleetops plan for fleet '{header.fleet}': HEAD ({header.commit[:7]}{dirty}) against {where}\n\n{NO_CHANGES}\n"


# -- the inputs ----------------------------------------------------------------------------------

def _inputs_digest(files: Iterable[tuple[str, str]], pins: Mapping[str, str], secrets: Mapping[str, str]) -> str:
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("FLEETOPS_") and k not in _IGNORED_SETTINGS)
    return _digest({"engine": _engine_fingerprint(), "files": sorted(files), "pins": sorted(pins.items()), "settings": settings,
                    "secrets": sorted(secrets.items())})


def _secret_digests(state_dir: Path, references: list[str]) -> dict[str, str] | None:
    """Each reference's value digest now: a few env lookups or small file reads and an HMAC each."""
    if not references:
        return {}
    key = load_key(state_dir)
    if key is None:
        return None
    digests = reference_digests(key, references, os.environ)
    return None if UNRESOLVED in digests.values() else digests


def _engine_fingerprint() -> list[Any]:
    """fleetops' own code and templates, by (path, size, mtime): an upgrade changes what renders."""
    roots = [Path(__file__).resolve().parent.parent, template_dir()]
    entries: list[Any] = [sys.version]
    for root in roots:
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(names):
                stat = os.stat(os.path.join(directory, name))
                entries.append([os.path.relpath(os.path.join(directory, name), root), stat.st_size, stat.st_mtime_ns])
    return entries


def _git_facts(repo_dir: Path, stored_pins: Mapping[str, str]) -> tuple[str, bool, dict[str, str]] | None:
    """HEAD's commit, the dirty flag, and each pin as git resolves it now (None: cannot tell cheaply)."""
    def run(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["git", *args], cwd=repo_dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=git_environment())

    head = run("rev-parse", "--verify", "-q", "HEAD^{commit}")
    status = run("status", "--porcelain", "--", SPEC_DIR, STRATEGY_DIR)
    refs = run("for-each-ref", "--format=%(refname) %(objecttype) %(objectname) %(*objecttype) %(*objectname)", *_PIN_NAMESPACES)
    outputs = [process.communicate(timeout=30) for process in (head, status, refs)]
    if any(process.returncode != 0 for process in (head, status, refs)):
        return None
    commits: dict[str, str] = {}
    for line in outputs[2][0].splitlines():
        name, kind, sha, *peeled = line.split(" ")
        if kind == "commit":
            commits[name] = sha
        elif kind == "tag" and peeled[:1] == ["commit"]:
            commits[name] = peeled[1]
    pins: dict[str, str] = {}
    for ref in stored_pins:
        if re.fullmatch(r"[0-9a-f]{40}", ref):
            pins[ref] = ref  # a full SHA names one commit forever
            continue
        if re.fullmatch(r"[0-9a-f]{7,39}", ref):
            return None  # an abbreviated SHA could resolve otherwise (or become ambiguous) as objects arrive
        found = next((commits[ns + ref] for ns in _PIN_NAMESPACES if ns + ref in commits), None)
        if found is None:
            return None
        pins[ref] = found
    return outputs[0][0].strip(), bool(outputs[1][0].strip()), pins


def _proof_path(state_dir: Path, repo_dir: Path) -> Path:
    return state_dir / "proofs" / (hashlib.sha256(str(repo_dir).encode()).hexdigest()[:24] + ".json")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
