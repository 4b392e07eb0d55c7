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
- each managed container as Docker's list call showed it (id, state, every label), the digest
  of its settings as Docker's inspect showed them (limits, restart policy, image, mounts,
  networks: what ``docker update`` or a person can change without a new id), and the stamp of
  its host-side records directory (every record is written by rename into it).

The next ``plan``/``apply`` of the same repository checks exactly those — one Docker list call,
``git`` (three calls, then the working tree's listing with three more, each round side by side),
every container's inspect sent at once (~0.08 ms each), a file walk and some stats — plus the
one thing hashes cannot prove: that the enabled bots of each running pool container are
running, asked of its supervisord. The spec files come from
``engine.spec.worktree.list_worktree``, the loader's own listing. Any difference or doubt (a
pin that is not a plain tag, branch or full SHA, a Docker host that is not a local socket, a
proof that does not parse, supervisord not answering, a listing with anything refused or
warned about) falls back to the full plan, which is always right (and says what is wrong) and
writes a fresh proof when it finds nothing to do.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import SourceError, SupervisorError
from engine.live.container_inspect import ContainerSettings, parse_inspect
from engine.live.docker_socket import UnixHTTPConnection as _DockerSocket
from engine.live.docker_socket import inspect_documents
from engine.live.ports import RUNNING_STATES, SUPERVISOR_TIMEOUT
from engine.live.secret_values import UNRESOLVED, load_key, reference_digests
from engine.live.supervisor_ctl import states_of_many
from engine.naming import BOTS, HOST_DATA, HOST_RECORDS, Labels, runtime_root
from engine.resources import template_dir
from engine.spec.gitenv import git_environment
from engine.spec.worktree import SPEC_DIR, STRATEGY_DIR, list_worktree

__all__ = ["NO_CHANGES", "ContainerSeen", "ProofHeader", "SpecInputs", "no_changes_text", "proven_unchanged", "settings_digest",
           "write_proof"]

PROOF_FORMAT = 2
MAX_LIST_BYTES = 64 << 20
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
class ContainerSeen:
    """A managed container as the no-changes plan saw it."""

    id: str
    state: str
    labels: Mapping[str, str]
    enabled_bots: tuple[str, ...]
    """The enabled bots of a pool container: supervisord must show each running."""
    settings: str = ""
    """The digest of its settings as inspected (``ContainerSettings.plain()``, see ``settings_digest``)."""


@dataclass(frozen=True)
class ProofHeader:
    """What the "No changes" text names: the fleet, the commit read, the revision running."""

    fleet: str
    commit: str
    dirty: bool
    revision: int


# -- writing (after a full plan found nothing to do) ------------------------------------------

def write_proof(state_dir: Path, repo_dir: Path, docker_host: str | None, inputs: SpecInputs, fleet: str, revision: int,
                containers: Mapping[str, ContainerSeen]) -> None:
    """Record why the fleet at ``repo_dir``'s working tree needs no change (atomically)."""
    proof = {
        "format": PROOF_FORMAT, "repo": str(repo_dir), "docker": _docker_url(docker_host), "fleet": fleet, "revision": revision,
        "inputs": _inputs_digest(inputs.files, inputs.pins, inputs.secrets), "pins": dict(inputs.pins),
        "secret_refs": sorted(inputs.secrets),
        "containers": {name: {"id": c.id, "state": c.state, "labels": _digest(sorted(c.labels.items())),
                              "records": _records_stamp(state_dir, fleet, name), "enabled_bots": list(c.enabled_bots),
                              "settings": c.settings}
                       for name, c in sorted(containers.items())},
    }
    path = _proof_path(state_dir, repo_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(proof, sort_keys=True))
    os.replace(partial, path)


# -- checking (the fast path) ---------------------------------------------------------------

def proven_unchanged(state_dir: Path, repo: str | Path, docker_host: str | None) -> ProofHeader | None:
    """The header of a "No changes" plan when the stored proof still holds; None: run the full plan."""
    repo_dir = Path(repo).resolve()
    try:
        proof = json.loads(_proof_path(state_dir, repo_dir).read_text())
        if proof.get("format") != PROOF_FORMAT or proof.get("repo") != str(repo_dir) or proof.get("docker") != _docker_url(docker_host):
            return None
        git = _git_facts(repo_dir, proof["pins"])
        if git is None:
            return None
        commit, dirty, pins = git
        listing = list_worktree(repo_dir)  # exactly what the loader lists; anything it refuses or warns about takes the full plan
        if listing.problems or listing.warnings:
            return None
        files = tuple((f.path, f.blob_sha) for f in listing.spec_files)
        secrets = _secret_digests(state_dir, proof["secret_refs"])
        if secrets is None or _inputs_digest(files, pins, secrets) != proof["inputs"] or _latest_revision(state_dir) != (proof["revision"], "applied"):
            return None
        if not _containers_hold(state_dir, proof, docker_host):
            return None
        return ProofHeader(proof["fleet"], commit, dirty, proof["revision"])
    except (OSError, ValueError, KeyError, TypeError, SourceError, SupervisorError, sqlite3.Error, http.client.HTTPException):
        return None


def no_changes_text(header: ProofHeader) -> str:
    """The text a full plan prints when nothing changes (``engine.plan.text``), byte for byte."""
    dirty = ", uncommitted changes" if header.dirty else ""
    return (f"fleetops plan for fleet '{header.fleet}': HEAD ({header.commit[:7]}{dirty}) against live Docker "
            f"(revision {header.revision})\n\n{NO_CHANGES}\n")


def _containers_hold(state_dir: Path, proof: dict[str, Any], docker_host: str | None) -> bool:
    rows = _list_fleet(docker_host, proof["fleet"])
    if rows is None:
        return False
    seen = {row["Names"][0].lstrip("/"): row for row in rows}
    expected: dict[str, Any] = proof["containers"]
    if seen.keys() != expected.keys():
        return False
    for name, row in seen.items():
        want = expected[name]
        if (row["Id"], row["State"], _digest(sorted((row.get("Labels") or {}).items()))) != (want["id"], want["state"], want["labels"]):
            return False
        if _records_stamp(state_dir, proof["fleet"], name) != want["records"]:
            return False
    inspected = _inspect_all(docker_host, {name: row["Id"] for name, row in seen.items()})
    if any(settings_digest(inspected.get(name)) != want["settings"] for name, want in expected.items()):
        return False
    pools = {name: runtime_root(state_dir, proof["fleet"]) / name / HOST_DATA  # what no hash proves: the pool bots run
             for name, want in sorted(expected.items()) if want["state"] == "running" and want["enabled_bots"]}
    for name, states in states_of_many(pools, SUPERVISOR_TIMEOUT).items():
        if isinstance(states, SupervisorError):
            return False
        if any(bot not in states or states[bot].state not in RUNNING_STATES for bot in expected[name]["enabled_bots"]):
            return False
    return True


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


def _latest_revision(state_dir: Path) -> tuple[int, str] | None:
    path = state_dir / "revisions.sqlite"
    if not path.is_file():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("select number, status from revisions order by number desc limit 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _records_stamp(state_dir: Path, fleet: str, container: str) -> str:
    """Every record of a container by (name, inode, size, mtime, ctime): a stat each, no read.

    Only fleetops writes there (host-only, by rename); an edit in place changes mtime and ctime too.
    """
    records = runtime_root(state_dir, fleet) / container / HOST_RECORDS
    entries: list[Any] = []
    for directory in (records, records / BOTS):
        try:
            with os.scandir(directory) as found:
                for entry in found:
                    stat = entry.stat(follow_symlinks=False)
                    entries.append([directory.name, entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns])
        except FileNotFoundError:
            entries.append([directory.name, None])
    return _digest(sorted(entries, key=json.dumps))


# -- Docker's list call, without the SDK ------------------------------------------------------------

def _docker_url(docker_host: str | None) -> str:
    return docker_host or "unix:///var/run/docker.sock"


def _list_fleet(docker_host: str | None, fleet: str) -> list[dict[str, Any]] | None:
    """The same labelled list call the Docker adapter makes, over the local socket with the stdlib.

    Importing the Docker SDK (and requests under it) costs more than the whole check; the SDK
    stays the adapter for everything else. A remote engine (tcp://, ssh://) takes the full plan.
    """
    url = _docker_url(docker_host)
    if not url.startswith("unix://"):
        return None
    connection = _DockerSocket(url.removeprefix("unix://"))
    try:
        filters = quote(json.dumps({"label": [f"{Labels.FLEET}={fleet}"]}))
        connection.request("GET", f"/v1.41/containers/json?all=1&filters={filters}")
        response = connection.getresponse()
        body = response.read(MAX_LIST_BYTES + 1)
    finally:
        connection.close()
    if response.status != 200 or len(body) > MAX_LIST_BYTES:
        return None
    rows: list[dict[str, Any]] = json.loads(body)
    return rows


def _inspect_all(docker_host: str | None, ids: Mapping[str, str]) -> dict[str, ContainerSettings]:
    """Every container's settings, all inspects sent before any answer is read (``docker_socket``)."""
    documents = inspect_documents(_docker_url(docker_host).removeprefix("unix://"), ids)
    return {name: parse_inspect(document).settings for name, document in documents.items()}


def settings_digest(settings: ContainerSettings | None) -> str:
    """What a proof keeps of a container's inspected settings ("" when it could not be inspected)."""
    return _digest(settings.plain()) if settings is not None else ""


def _proof_path(state_dir: Path, repo_dir: Path) -> Path:
    return state_dir / "proofs" / (hashlib.sha256(str(repo_dir).encode()).hexdigest()[:24] + ".json")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
