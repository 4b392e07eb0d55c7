"""Who runs the backtests: the FreqTrade inside the bots' image, or a local one; each answering from the cache first.

Called by ``engine.backtest.gate``. Both run ``engine/container/ftbacktest.py`` (text, on
``python3 -c``) once per plan with every run not in the cache, on every candle set they need, so
FreqTrade's imports are paid once, and each run in its own bounded child (see the worker).

- ``ImageRunner``: one throwaway container of the image the bots run (``engine.backend.docker.oneshot``:
  no network, read-only root, every capability dropped, memory and process caps, a deadline),
  the candles sent on stdin and written to its ``/tmp`` (sized to them). The FreqTrade version is
  the image's, the one the bot will run. Its identity for the cache is the image's ID.
- ``LocalRunner``: the interpreter of a local FreqTrade (``FLEETOPS_FREQTRADE_PYTHON``, else one
  found beside fleetops, as the FreqTrade check finds it), in a network namespace of its own when
  this machine lets an unprivileged user make one; the candles are a temporary directory (or the
  user's ``--datadir``, read in place). Its identity is the interpreter's path and FreqTrade version.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.backtest.candles import CandleSet
from engine.backtest.runs import RUN_SECONDS, ResultCache, RunRequest, markets, worker_script
from engine.check.runners import clean_env, local_python, no_network
from engine.errors import FleetopsError
from engine.images import missing_image_hint

__all__ = ["ImageRunner", "LocalRunner", "Runner", "RunnerUnavailable"]

MEMORY = "2g"
"""The throwaway container's memory (90 days of 5m candles of 5 pairs backtest in well under 1 GiB)."""


class RunnerUnavailable(FleetopsError):
    """This runner cannot backtest at all (no FreqTrade its Python can import, no Python): another may."""


class Runner:
    """What both runners share: the cache, the grouping by candle set, the count of runs made."""

    name = ""
    """How the plan names it: "image fleetops/freqtrade:2026.9", "local /path/to/python"."""
    identity = ""
    version = "unknown"

    def __init__(self, cache: Path | None) -> None:
        self.cache = ResultCache(cache)
        self.ran = 0
        """Backtests run (not answered from the cache): for the benchmark and the tests."""
        self.seconds: dict[str, float] = {}
        """Wall-clock seconds each run took in the worker, by the caller's name for it (runs made, not cached)."""

    def run(self, requests: Mapping[str, RunRequest]) -> dict[str, dict[str, Any]]:
        """Each request's result (``ftbacktest.py``'s RESULT), by the caller's name for it; from the cache where it can."""
        keys = {name: request.key(self.identity) for name, request in requests.items()}
        results: dict[str, dict[str, Any]] = {}
        missing: dict[str, RunRequest] = {}
        for name, request in requests.items():
            found = self.cache.get(keys[name])
            if found is not None:
                self.version = str(found.pop("freqtrade", self.version))
                results[name] = found
            else:
                missing[name] = request
        if not missing:
            return results
        candle_sets = {r.candles.sha256: r.candles for r in missing.values()}
        payload = {"seconds": RUN_SECONDS,
                   "datasets": {sha: {"dataformat": c.dataformat, "timerange": c.timerange, "markets": markets(c.pairs)}
                                for sha, c in candle_sets.items()},
                   "runs": {name: {"class": r.strategy_class, "text": r.strategy_text, "config": r.config, "data": r.candles.sha256,
                                   "analysis": r.analysis} for name, r in missing.items()}}
        answer = self._execute(payload, candle_sets, 60.0 + len(missing) * (RUN_SECONDS + 5))
        if "unavailable" in answer:
            raise RunnerUnavailable(f"{self.name} has no FreqTrade its Python can import ({answer['unavailable']})")
        self.version = str(answer.get("freqtrade", "unknown"))
        self.ran += len(missing)
        runs = answer.get("runs", {})
        for name in missing:
            result = runs.get(name) if isinstance(runs.get(name), dict) else {"error": "crashed", "message": "no answer for this run"}
            took = result.pop("seconds", None)
            if isinstance(took, int | float):
                self.seconds[name] = float(took)
            results[name] = result
            self.cache.put(keys[name], {**result, "freqtrade": self.version})
        return results

    def _execute(self, payload: dict[str, Any], candle_sets: Mapping[str, CandleSet], deadline: float) -> dict[str, Any]:
        """Run the worker on ``payload`` with the candles of ``candle_sets`` (by sha256) where it can read them."""
        raise NotImplementedError


class LocalRunner(Runner):
    """A local FreqTrade; FleetopsError when there is none."""

    def __init__(self, environ: Mapping[str, str], cache: Path | None) -> None:
        super().__init__(cache)
        python = local_python(environ)
        if python is None:
            raise FleetopsError("plan --backtest needs a FreqTrade to run: none was found beside fleetops; set FLEETOPS_FREQTRADE_PYTHON "
                                "to a Python that has freqtrade")
        self.python = python
        try:
            self.version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('freqtrade'))"],
                                          capture_output=True, text=True, timeout=30, env=clean_env()).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise FleetopsError(f"plan --backtest cannot run {python} ({type(exc).__name__}): set FLEETOPS_FREQTRADE_PYTHON to a Python "
                                "that has freqtrade") from None
        if not self.version:
            raise FleetopsError(f"plan --backtest: {python} cannot import freqtrade; set FLEETOPS_FREQTRADE_PYTHON to a Python that has it")
        self.identity = f"local {os.path.realpath(python)} {self.version}"
        self.name = f"local {python}"

    def _execute(self, payload: dict[str, Any], candle_sets: Mapping[str, CandleSet], deadline: float) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="fleetops-backtest-data-") as temporary:
            request = {**payload, "datasets": {sha: {**dataset, "datadir": str(candle_sets[sha].write(Path(temporary) / f"d{n}"))}
                                               for n, (sha, dataset) in enumerate(payload["datasets"].items())}}
            try:
                proc = subprocess.run([*no_network(), self.python, "-c", worker_script()], input=json.dumps(request).encode(),
                                      capture_output=True, timeout=deadline, env=clean_env(), cwd=temporary)
            except subprocess.TimeoutExpired:
                raise FleetopsError(f"the backtests with {self.python} did not finish within {deadline:.0f} s") from None
            except OSError as exc:
                raise FleetopsError(f"plan --backtest cannot run {self.python} ({type(exc).__name__})") from None
        return _answer(proc.returncode, proc.stdout, proc.stderr, f"the backtests with {self.python}")


class ImageRunner(Runner):
    """The FreqTrade of ``image``, in throwaway containers of the Docker engine at ``docker_host``.
    Raises FleetopsError when that engine does not answer or has no such image (fleetops never pulls)."""

    def __init__(self, image: str, docker_host: str | None, cache: Path | None) -> None:
        from engine.backend.docker.oneshot import OneShot  # the Docker SDK only when a backtest asks for it

        super().__init__(cache)
        self.docker = OneShot(docker_host)
        self.image = image
        image_id = self.docker.image_id(image)
        if image_id is None:
            raise FleetopsError(f"the Docker engine does not have image {image} (fleetops never pulls): {missing_image_hint(image)}")
        self.identity = f"image {image_id}"
        self.name = f"image {image}"

    def _execute(self, payload: dict[str, Any], candle_sets: Mapping[str, CandleSet], deadline: float) -> dict[str, Any]:
        for candles in candle_sets.values():
            if candles.dataformat != "json":
                raise FleetopsError(f"the image's FreqTrade is sent candles as json only, and {candles.name} is {candles.dataformat}: "
                                    "set FLEETOPS_FREQTRADE_CHECK=local to backtest them with a local FreqTrade")
        request = {**payload, "datasets": {sha: {**dataset, "datadir": None,
                                                 "files": {name: data.decode() for name, data in candle_sets[sha].files.items()}}
                                           for sha, dataset in payload["datasets"].items()}}
        size = sum(len(data) for candles in candle_sets.values() for data in candles.files.values())
        scratch = f"{64 + 2 * size // (1 << 20)}m"
        result = self.docker.run(self.image, ["python3", "-c", worker_script()], json.dumps(request).encode(), deadline=deadline,
                                 memory=MEMORY, scratch=scratch)
        if result.exit_code == 127:
            raise RunnerUnavailable(f"image {self.image} has no python3")
        return _answer(result.exit_code, result.stdout, result.stderr, f"the backtests in image {self.image}")


def _answer(code: int, stdout: bytes, stderr: bytes, what: str) -> dict[str, Any]:
    if code != 0:
        tail = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
        raise FleetopsError(f"{what} failed (exit {code}): {tail[-1][:300] if tail else 'no output'}")
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise FleetopsError(f"{what} printed no answer") from None
    if not isinstance(answer, dict):
        raise FleetopsError(f"{what} printed no answer")
    return answer
