"""Pinned strategies loaded the way FreqTrade loads them, each in a child process: the load check's worker.

Sent as text in the FreqTrade check's request and executed by its worker
(``engine/container/ftcheck.py``), so it runs where that runs — inside the fleet's image in the
throwaway container (``--network none``, read-only root, a 16 MiB ``/tmp`` tmpfs, 1 GiB, a
deadline) — once FreqTrade is imported: FreqTrade's imports are paid once per container, each
strategy costs a fork. Never imported by the engine. Stdlib and FreqTrade only.

A strategy comes with a pull request: it is untrusted code. Each one is written to its own
directory under the temporary directory, exactly as a bot receives it (``strategies/<Class>.py``
alone: fleetops ships no sibling modules), and loaded in a forked child that has its own process
group, no stdin/stdout/stderr of ours, a CPU-time and an address-space limit, no file growth
(``RLIMIT_FSIZE`` 0), and a wall-clock deadline after which its whole group is killed. The child
answers through a pipe; nothing it prints reaches the answer.

Loading is ``StrategyResolver.load_strategy`` of the FreqTrade there (2026.9: search by the text
``class <Name>(``, import, ``IStrategy`` subclass check, instantiation with the config, the
config's settings over the strategy's, ``_strategy_sanity_validations`` and ``validate_strategy``).
FreqTrade only logs a failed import (``IResolver._get_valid_object``) and then says the class does
not exist; the logged line is the message kept. After a failure the child runs the file once more
on its own to find the line and the kind (which module is missing; whether the class is an
``IStrategy``).

in:  {KEY: {"class": NAME, "text": SOURCE, "settings": {CONFIG KEY: VALUE}, "siblings": [MODULE]}}
out: {KEY: [] when FreqTrade loads it, else [{"check": "load", "kind": KIND, "message": TEXT,
      "line": N or null, "module": NAME or null}]}; KIND is one of import, sibling, syntax,
      not-a-strategy, raised, refused, timeout, crashed.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

MEMORY = 768 << 20
"""Address space a load may add to what the worker already maps (bytes)."""


def load_strategies(strategies: dict[str, dict[str, Any]], seconds: float) -> dict[str, list[dict[str, Any]]]:
    """Every strategy of ``strategies`` loaded in its own child, one after the other, each within ``seconds``."""
    from freqtrade.resolvers.strategy_resolver import StrategyResolver  # type: ignore[import-not-found]  # noqa: F401 - paid once, before the forks

    for module in ("talib.abstract", "technical.indicators"):  # what strategies commonly import; inherited by every child
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - not in this image: a strategy importing it is told so
            continue
    root = Path(tempfile.mkdtemp(prefix="fleetops-load-"))
    return {key: _load_in_child(strategies[key], root / f"s{n}", seconds) for n, key in enumerate(sorted(strategies))}


def _load_in_child(request: dict[str, Any], directory: Path, seconds: float) -> list[dict[str, Any]]:
    folder = directory / "strategies"
    folder.mkdir(parents=True)
    path = folder / f"{request['class']}.py"
    path.write_text(request["text"], encoding="utf-8")
    reader, writer = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        try:
            _contain(seconds, directory)
            result = _load(request, directory, path)
        except BaseException as exc:  # noqa: BLE001 - whatever happens, the parent gets an answer
            result = [_finding("crashed", f"{type(exc).__name__}: {exc}")]
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(writer, data):]
        os._exit(0)
    os.close(writer)
    chunks: list[bytes] = []
    end = time.monotonic() + seconds
    timed_out = False
    while True:
        remaining = end - time.monotonic()
        ready, _, _ = select.select([reader], [], [], max(0.0, remaining))
        if not ready:
            timed_out = True
            break
        chunk = os.read(reader, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    if timed_out:
        for target in (-pid, pid):  # its process group (anything it started), then itself
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return [_finding("timeout", f"loading did not finish within {seconds:g} s; it was stopped")]
    try:
        answer = json.loads(b"".join(chunks))
        if isinstance(answer, list):
            return answer
    except ValueError:
        pass
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    return [_finding("crashed", f"the process loading it died ({how}) before FreqTrade finished, e.g. past its memory limit")]


def _contain(seconds: float, directory: Path) -> None:
    """The child's bounds: own process group, no standard streams, CPU and memory limits, no file growth."""
    import resource

    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write that would grow a file fails (EFBIG) instead of killing
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    try:
        mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY, mapped + MEMORY))
    except (OSError, ValueError):
        pass
    os.chdir(directory)
    for key in list(os.environ):
        if key not in ("PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE"):
            del os.environ[key]


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _load(request: dict[str, Any], directory: Path, path: Path) -> list[dict[str, Any]]:
    from freqtrade.enums import RunMode  # type: ignore[import-not-found]
    from freqtrade.resolvers.strategy_resolver import StrategyResolver  # type: ignore[import-not-found,unused-ignore]

    logging.disable(logging.NOTSET)
    caught = _Warnings()
    logging.getLogger("freqtrade.resolvers").addHandler(caught)
    logging.getLogger("freqtrade.resolvers").setLevel(logging.WARNING)
    config = dict(request.get("settings") or {})
    config.update(strategy=request["class"], strategy_path=str(path.parent), user_data_dir=directory / "user_data")
    config["runmode"] = RunMode.DRY_RUN if config.get("dry_run", True) else RunMode.LIVE
    shown = f"strategies/{path.name}"
    try:
        StrategyResolver.load_strategy(config)
        return []
    except BaseException as exc:  # noqa: BLE001 - a strategy may raise anything, SystemExit included
        error = exc
    said = " ".join(dict.fromkeys(line.replace(str(path), shown) for line in caught.lines if str(path) in line))
    message = _one_line(error).replace(str(path), shown)
    own = _line_in(error.__traceback__, str(path))
    if said:  # FreqTrade swallowed an import failure and logged it; run the file alone to say which line and why
        kind, line, module = _diagnose(request, path)
        return [_finding(kind, f"{said}. {message}", line, module)]
    if "does not exist or contains Python code errors" in message:
        kind, line, module = _diagnose(request, path)
        return [_finding(kind if kind != "raised" else "not-a-strategy", message, line, module)]
    if own is not None:
        return [_finding("raised", f"{type(error).__name__}: {message}", own)]
    return [_finding("refused", message)]


def _diagnose(request: dict[str, Any], path: Path) -> tuple[str, int | None, str | None]:
    """Run the file on its own (already in the sandboxed child): the kind of failure, its line, the missing module."""
    text = path.read_text(encoding="utf-8")
    try:
        code = compile(text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return "syntax", exc.lineno, None
    namespace: dict[str, Any] = {"__name__": path.stem, "__file__": str(path)}
    sys.path.insert(0, str(path.parent))
    try:
        exec(code, namespace)  # the same code FreqTrade just ran, in the same sandbox
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0] or None
        kind = "sibling" if module in (request.get("siblings") or []) else "import"
        return kind, _line_in(exc.__traceback__, str(path)), module
    except BaseException as exc:  # noqa: BLE001
        return "raised", _line_in(exc.__traceback__, str(path)), None
    from freqtrade.strategy.interface import IStrategy  # type: ignore[import-not-found]

    found = namespace.get(request["class"])
    if not (isinstance(found, type) and issubclass(found, IStrategy)):
        return "not-a-strategy", None, None
    return "not-found", None, None


def _line_in(tb: Any, filename: str) -> int | None:
    """The innermost line of ``filename`` on a traceback, or None."""
    line = None
    for frame, number in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = number
    return line


def _finding(kind: str, message: str, line: int | None = None, module: str | None = None) -> dict[str, Any]:
    return {"check": "load", "kind": kind, "message": message, "line": line, "module": module}


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__
    return text[:500]
