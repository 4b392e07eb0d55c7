"""The judges of the FreqTrade check: an image's own FreqTrade, or a local one; with their cache.

Called by ``engine.check.freqtrade``. A judge takes bot requests (``engine.check.request``) and
answers, per bot, FreqTrade's findings — ``{"check", "message", "path"}`` as
``engine/container/ftcheck.py`` prints them — or says why it cannot judge (``Unavailable``).
Every judge runs the same script, in one process for all its bots, with a deadline; answers are
cached per bot by (judge identity, request digest) when a state dir exists. The same run loads the
strategies asked for (the load check, ``engine.check.loads``), each answer cached by its load digest.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

from engine.check.loads import LoadRequest
from engine.check.request import BotRequest
from engine.errors import FleetopsError
from engine.hashing import short_hash
from engine.images import missing_image_hint

__all__ = ["CACHE_DIR", "ImageJudge", "Judgement", "LocalJudge", "Unavailable", "cache_dir", "checker_script", "clean_env", "loader_script", "local_python",
           "no_network"]

Finding = dict[str, Any]
CACHE_DIR = Path("cache") / "freqtrade-check"
"""Under the state dir."""


def cache_dir(state_dir: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Where answers are kept (see ``_Cache``); None: nowhere."""
    if environ.get("FLEETOPS_CACHE_DIR"):
        return Path(environ["FLEETOPS_CACHE_DIR"]) / "freqtrade-check"
    return state_dir / CACHE_DIR if state_dir is not None and state_dir.is_dir() else None
CACHE_LIMIT = 20_000
"""Bot answers kept per judge: a few full fleets' worth; the oldest go first."""


class Unavailable(Exception):
    """This judge cannot judge; the message says why in a sentence part."""


class DockerDown(Unavailable):
    """No Docker engine answered: no image of this run can be judged through it."""


@dataclass(frozen=True)
class Judgement:
    version: str
    judge: str
    """How the warning and the errors name the judge: "image fleetops/freqtrade:2026.9", "local"."""
    findings: dict[str, list[Finding]]
    loads: dict[str, list[Finding]] = field(default_factory=dict)
    """Load digest → what FreqTrade said loading that strategy (empty: it loads)."""


def checker_script() -> str:
    return resources.files("engine.container").joinpath("ftcheck.py").read_text(encoding="utf-8")


def loader_script() -> str:
    return resources.files("engine.container").joinpath("ftload.py").read_text(encoding="utf-8")


def _deadline(bots: int, loads: int = 0, load_seconds: float = 0.0) -> float:
    """The whole run's: the config check's, plus each strategy's own deadline and its fork."""
    return 60.0 + 0.05 * bots + loads * (load_seconds + 2.0)


class _Digested(Protocol):
    @property
    def digest(self) -> str: ...


_R = TypeVar("_R", BotRequest, LoadRequest)
_TRANSIENT = frozenset({"timeout", "crashed"})
"""Load answers never cached: a busy machine may time out what loads on the next run."""


class _Cache:
    """``<cache>/<judge>.json``: request digest → [version, findings]. ``<cache>`` is
    ``FLEETOPS_CACHE_DIR``/freqtrade-check when set (CI can keep it between runs), else
    ``<state>/cache/freqtrade-check`` when the state dir exists, else there is no cache."""

    def __init__(self, cache_dir: Path | None, identity: str) -> None:
        self.path = cache_dir / f"{short_hash([identity, checker_script(), loader_script()])}.json" if cache_dir is not None else None
        self.entries: dict[str, Any] = {}
        if self.path is not None:
            try:
                loaded = json.loads(self.path.read_text())
                self.entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.entries = {}

    def split(self, requests: Mapping[str, _R]) -> tuple[dict[str, list[Finding]], dict[str, _R], str | None]:
        known: dict[str, list[Finding]] = {}
        missing: dict[str, _R] = {}
        version = None
        for bot, request in requests.items():
            entry = self.entries.get(request.digest)
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list):
                known[bot], version = entry[1], str(entry[0])
            else:
                missing[bot] = request
        return known, missing, version

    def store(self, version: str, requests: Mapping[str, _Digested], findings: Mapping[str, list[Finding]]) -> None:
        if self.path is None or not requests:
            return
        for bot, request in requests.items():
            self.entries.pop(request.digest, None)
            if any(finding.get("kind") in _TRANSIENT for finding in findings.get(bot, [])):
                continue
            self.entries[request.digest] = [version, findings.get(bot, [])]
        while len(self.entries) > CACHE_LIMIT:
            self.entries.pop(next(iter(self.entries)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.entries))
            temporary.replace(self.path)
        except OSError:
            pass  # a cache that cannot be written costs time, never correctness


Requests = Callable[[], Mapping[str, BotRequest]]
"""Built only once a judge is known to be able to judge: nothing is rendered for a check that is skipped."""
Loads = Callable[[], Mapping[str, LoadRequest]]
"""The strategies to load, by load digest; built like ``Requests``."""


def _judge(identity: str, name: str, cache: Path | None, make_requests: Requests, make_loads: Loads, load_seconds: float,
           run: Any) -> Judgement:
    stored = _Cache(cache, identity)
    known, missing, version = stored.split(make_requests())
    known_loads, missing_loads, load_version = stored.split(make_loads())
    version = version or load_version
    if missing or missing_loads:
        payload: dict[str, Any] = {"bots": {bot: r.payload for bot, r in missing.items()}}
        if missing_loads:
            payload.update(strategies={key: r.payload for key, r in missing_loads.items()}, loader=loader_script(), load_seconds=load_seconds)
        answer = run(payload, _deadline(len(missing), len(missing_loads), load_seconds))
        if "unavailable" in answer:
            raise Unavailable(f"{name} has no FreqTrade its Python can import ({answer['unavailable']})")
        version = str(answer.get("freqtrade", "unknown"))
        found = {bot: list(answer.get("bots", {}).get(bot, [])) for bot in missing}
        stored.store(version, missing, found)
        known.update(found)
        loaded = {key: list(answer.get("strategies", {}).get(key, [])) for key in missing_loads}
        stored.store(version, missing_loads, loaded)
        known_loads.update(loaded)
    return Judgement(version or "unknown", name, known, known_loads)


def _parse(stdout: bytes, what: str) -> dict[str, Any]:
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise Unavailable(f"{what} printed no answer") from None
    if not isinstance(answer, dict):
        raise Unavailable(f"{what} printed no answer")
    return answer


class ImageJudge:
    """The FreqTrade inside each image, through one throwaway container per image."""

    def __init__(self, docker_host: str | None) -> None:
        from engine.backend.docker.oneshot import OneShot  # the Docker SDK only when a check asks for it

        self.docker = OneShot(docker_host)

    def judge(self, image: str, requests: Requests, cache: Path | None, loads: Loads, load_seconds: float) -> Judgement:
        try:
            image_id = self.docker.image_id(image)
        except FleetopsError as exc:
            raise DockerDown(str(exc)) from None
        if image_id is None:
            raise Unavailable(f"the Docker engine does not have image {image} (fleetops never pulls): {missing_image_hint(image)}")

        def run(payload: dict[str, Any], deadline: float) -> dict[str, Any]:
            try:
                result = self.docker.run(image, ["python3", "-c", checker_script()], json.dumps(payload).encode(), deadline=deadline)
            except FleetopsError as exc:
                raise Unavailable(str(exc)) from None
            if result.exit_code == 127:
                raise Unavailable(f"image {image} has no python3")
            if result.exit_code != 0:
                raise Unavailable(f"the check in image {image} failed (exit {result.exit_code}): {_tail(result.stderr)}")
            return _parse(result.stdout, f"the check in image {image}")

        return _judge(f"image {image_id}", f"image {image}", cache, requests, loads, load_seconds, run)


class LocalJudge:
    """A FreqTrade installed beside fleetops: a subprocess of its interpreter."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.python = local_python(environ)

    def judge(self, requests: Requests, cache: Path | None, loads: Loads, load_seconds: float) -> Judgement:
        if self.python is None:
            raise Unavailable("no local FreqTrade was found")
        python = self.python
        try:
            version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('freqtrade'))"],
                                     capture_output=True, text=True, timeout=30, env=clean_env()).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise Unavailable(f"{python} does not run ({type(exc).__name__})") from None
        if not version:
            raise Unavailable(f"{python} cannot import freqtrade")

        def run(payload: dict[str, Any], deadline: float) -> dict[str, Any]:
            prefix = no_network() if "strategies" in payload else []
            try:
                proc = subprocess.run([*prefix, python, "-c", checker_script()], input=json.dumps(payload).encode(), capture_output=True,
                                      timeout=deadline, env=clean_env())
            except subprocess.TimeoutExpired:
                raise Unavailable(f"the check with {python} did not finish within {deadline:.0f} s") from None
            except OSError as exc:
                raise Unavailable(f"{python} does not run ({type(exc).__name__})") from None
            if proc.returncode != 0:
                raise Unavailable(f"the check with {python} failed (exit {proc.returncode}): {_tail(proc.stderr)}")
            return _parse(proc.stdout, f"the check with {python}")

        return _judge(f"local {os.path.realpath(python)} {version}", f"local {python}", cache, requests, loads, load_seconds, run)


def local_python(environ: Mapping[str, str]) -> str | None:
    named = environ.get("FLEETOPS_FREQTRADE_PYTHON")
    if named:
        return named
    if importlib.util.find_spec("freqtrade") is not None:
        return sys.executable
    command = shutil.which("freqtrade", path=environ.get("PATH"))
    if command is not None:
        try:
            first = Path(command).read_bytes()[:512].split(b"\n", 1)[0]
        except OSError:
            return None
        interpreter = first[2:].strip().decode(errors="replace") if first.startswith(b"#!") else ""
        if interpreter and " " not in interpreter and Path(interpreter).name.startswith("python"):
            return interpreter  # pip's console script names the Python it was installed into
    return None


_UNSHARE: list[list[str]] = []


def no_network() -> list[str]:
    """``unshare --user --map-root-user --net`` when this machine lets an unprivileged user make a
    network namespace (probed once): a local judge loading strategies then has no network either.
    Empty when it cannot; the load then runs with the user's network, and only the child's limits."""
    if not _UNSHARE:
        command = ["unshare", "--user", "--map-root-user", "--net"]
        try:
            usable = shutil.which("unshare") is not None and subprocess.run([*command, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            usable = False
        _UNSHARE.append(command if usable else [])
    return _UNSHARE[0]


def clean_env() -> dict[str, str]:
    """Nothing of fleetops' environment (its settings, the user's secrets) reaches the judge."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}


def _tail(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
