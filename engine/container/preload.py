"""A pool container's preloader and each bot's launcher: one FreqTrade import, shared by every bot.

This file runs inside pool containers with ``preload: true``, under the image's own Python,
standard library only; fleetops never imports it, it writes it to ``/fleet/etc/preload/``.

``serve``: one supervisord program per container. It imports the modules named in a list (for
FreqTrade: what ``freqtrade trade`` imports, less the strategy), freezes the heap so the garbage
collector leaves the shared pages alone, then forks one child per launcher request. Each child
becomes its bot exactly as the command would: ``sys.argv`` is the command, the script found on
``PATH`` for its first word runs as ``__main__`` (FreqTrade's own ``freqtrade`` entry point), so
FreqTrade parses the arguments, reads the config and loads the strategy file fresh.

``launch``: each bot's supervisord program. It hands its stdio to the preloader, receives the
child's pid, relays every signal supervisord sends to the child's process group, and exits with
the child's status (or dies of the same signal), so stop, restart and exit codes mean what they
meant without preload. When no preloader answers within ``--wait`` seconds, or it reports that
forking is unsafe, the launcher execs the command itself: the bot runs, unshared.

Fork safety (what FreqTrade 2026.9's imports would break after fork, and what is done here):
- OpenBLAS (numpy) starts a thread pool at import, and pyarrow's jemalloc a background thread;
  threads do not survive fork, and a lock one of them held stays locked in the child. The
  preloader sets ``OPENBLAS_NUM_THREADS=1`` (and OMP/MKL/NUMEXPR) and
  ``JE_ARROW_MALLOC_CONF=background_thread:false`` before importing, and refuses to fork while
  ``/proc/self/task`` lists more than its own thread (the launcher then runs the bot unshared).
- No event loop, database engine, HTTP session or logging handler exists at import time in
  FreqTrade (all are made in ``main``), so none is inherited; the child builds its own.
- ``random`` and numpy's global generator would repeat the parent's sequence in every child:
  both are re-seeded from the OS in each child. OpenSSL re-seeds itself on fork.
- File descriptors: only the child's own stdio (received from its launcher) and its launcher
  connection stay open in the child; the listening socket and everything else are closed.
- The child leaves the preloader's process group for its own, so a signal meant for one bot
  never reaches the preloader or a neighbour; its process title names its bot.
- A child whose launcher dies (supervisord killed it) kills itself, so no bot outlives its
  program; a preloader that dies leaves its children running (the container's init adopts
  them) and their launchers still get each child's exit code from the child itself.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (1 MB more): mypy reads any name so spelled as True
if TYPE_CHECKING:
    import signal
    import socket
else:  # the C modules: ``signal`` and ``socket`` import ``enum`` (0.6 MB more in every launcher)
    import _signal as signal

# The launcher is one more process per bot, so it imports next to nothing (and runs with
# ``python3 -I -S``); the preloader imports what it needs inside ``serve``, its children have it.

SINGLE_THREADED = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}
RELAYED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
MAX_REQUEST = 1 << 20
"""Bytes of one framed message at most."""


def say(message: str) -> None:
    print(f"fleetops-preload[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def frame(message: dict[str, object]) -> bytes:
    """One message on the wire: its length (4 bytes, big-endian), then ``marshal`` of a dict of
    str, int and lists or dicts of str (both ends are this file, same Python, behind a 0600 socket)."""
    body = marshal.dumps(message)
    return len(body).to_bytes(4, "big") + body


def read_frame(conn: _socket.socket, first: bytes = b"") -> dict[str, object] | None:
    """The next message, or None at end of file. Raises ValueError for one over ``MAX_REQUEST``."""
    data = first
    while len(data) < 4:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    size = int.from_bytes(data[:4], "big")
    if size > MAX_REQUEST:
        raise ValueError("message too large")
    while len(data) < 4 + size:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    message = marshal.loads(data[4:4 + size])
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message


def send(conn: _socket.socket, message: dict[str, object]) -> None:
    try:
        conn.sendall(frame(message))
    except OSError:
        pass  # the other side is gone; it learns nothing more from us


def set_title(title: str) -> None:
    """The process title ``ps`` shows (setproctitle when the image has it), else the 15-byte comm."""
    try:
        import setproctitle  # type: ignore[import-not-found]

        setproctitle.setproctitle(title)
    except ImportError:
        try:
            with open("/proc/self/comm", "w") as comm:
                comm.write(title[:15])
        except OSError:
            pass


# -- the preloader -----------------------------------------------------------------------------


def warm(module_list: str) -> tuple[int, int]:
    """Import every module named in the list; (imported, failed)."""
    import importlib

    names = []
    with open(module_list) as listing:
        for line in listing:
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line)
    failed = 0
    for name in names:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - an optional module; the bot imports what it needs
            failed += 1
    return len(names) - failed, failed


def threads_alive() -> int:
    return len(os.listdir("/proc/self/task"))


def serve(socket_path: str, module_list: str | None) -> None:
    global socket  # the full module from here on (recv_fds, accept's socket objects): the launcher never loads it
    import atexit  # noqa: F401 - the children run the bot's exit handlers
    import gc
    import runpy  # noqa: F401 - imported once here, so no child pays for it
    import selectors
    import shutil  # noqa: F401
    import socket
    import threading  # noqa: F401
    import traceback  # noqa: F401

    for variable, value in SINGLE_THREADED.items():
        os.environ.setdefault(variable, value)
    started = time.monotonic()
    imported, failed = warm(module_list) if module_list else (0, 0)
    gc.collect()
    gc.freeze()
    say(f"imported {imported} modules ({failed} unavailable) in {time.monotonic() - started:.1f} s; "
        f"{len(sys.modules)} loaded, heap frozen")
    set_title(f"fleetops-preload {socket_path}")
    if os.path.lexists(socket_path):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)
    listener.bind(socket_path)
    os.umask(old_umask)
    listener.listen(64)
    children: dict[int, socket.socket] = {}
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "signal")
    while True:
        for key, _ in selector.select():
            if key.data == "signal":
                os.read(wake_read, 4096)
                reap(children)
            else:
                conn, _ = listener.accept()
                try:
                    handle(conn, listener, children, (selector, wake_read, wake_write))
                except Exception as exc:  # noqa: BLE001 - one bad request never stops the preloader
                    send(conn, {"error": f"{type(exc).__name__}: {exc}"})
                    conn.close()
        reap(children)


def reap(children: dict[int, socket.socket]) -> None:
    """Tell each finished child's launcher how it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            if os.WIFSIGNALED(status):
                send(conn, {"signal": os.WTERMSIG(status)})
            else:
                send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def handle(conn: socket.socket, listener: socket.socket, children: dict[int, socket.socket], private: tuple[object, int, int]) -> None:
    conn.settimeout(10)
    data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
    request = read_frame(conn, data) or {}
    if len(fds) != 3:
        raise ValueError(f"expected 3 file descriptors (stdin, stdout, stderr), got {len(fds)}")
    threads = threads_alive()
    if threads != 1:
        for fd in fds:
            os.close(fd)
        send(conn, {"error": f"{threads} threads are alive in the preloader; forking would be unsafe"})
        conn.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        become_bot(conn, listener, fds, request, private)
    for fd in fds:
        os.close(fd)
    conn.settimeout(None)
    children[pid] = conn
    send(conn, {"pid": pid})


def become_bot(conn: socket.socket, listener: socket.socket, fds: list[int], request: dict[str, object], private: tuple[object, int, int]) -> None:
    """The child: its own stdio, process group, seeds and title, then the command as ``__main__``."""
    import atexit
    import runpy
    import shutil
    import threading
    import traceback

    code: int = 1
    try:
        selector, wake_read, wake_write = private
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        selector.close()  # type: ignore[attr-defined]
        listener.close()
        os.close(wake_read)
        os.close(wake_write)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        keep = conn.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 65536)
        os.setpgid(0, 0)
        argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
        os.chdir(str(request.get("cwd") or "/"))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request.get("env", {}).items()})  # type: ignore[attr-defined]
        conn.settimeout(None)  # the preloader's read timeout, inherited: the watch below must block for good
        reseed()
        set_title(f"{request.get('name') or argv[0]}: {' '.join(argv)}")
        threading.Thread(target=die_with_launcher, args=(conn,), daemon=True, name="launcher-watch").start()
        sys.argv = argv
        path = shutil.which(argv[0]) or argv[0]
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_code(exit_.code)
        except KeyboardInterrupt:
            code = 130
        except BaseException:  # noqa: BLE001 - the bot's crash is reported like an uncaught exception
            traceback.print_exc()
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001
            pass
    except BaseException:  # noqa: BLE001 - a failure to become the bot must still end this child
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        send(conn, {"exit": code})
        os._exit(code)


def exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def reseed() -> None:
    import random

    random.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def die_with_launcher(conn: socket.socket) -> None:
    """The launcher never writes after its request: end of file means it died, and so must we."""
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)


# -- the launcher ------------------------------------------------------------------------------


def launch(socket_path: str, name: str, argv: list[str], wait: float) -> None:
    conn = connect(socket_path, wait)
    if conn is None:
        say(f"{name}: no preloader answered on {socket_path} within {wait:.0f} s; starting without it")
        os.execvp(argv[0], argv)
    request: dict[str, object] = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "name": name}
    stdio = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))  # socket.send_fds, without the module
    conn.sendmsg([frame(request)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, stdio)])
    first = read_frame(conn) or {}
    if "pid" not in first:
        say(f"{name}: the preloader refused ({first.get('error', 'it closed the connection')}); starting without it")
        os.execvp(argv[0], argv)
    pid = int(first["pid"])  # type: ignore[call-overload]

    def relay(number: int, _frame: object) -> None:
        try:
            os.killpg(pid, number)
        except ProcessLookupError:
            pass

    for number in RELAYED:
        signal.signal(number, relay)
    while True:
        try:
            message = read_frame(conn)
        except InterruptedError:
            continue
        if message is None:
            say(f"{name}: lost the preloader and the bot (pid {pid}) without an exit status")
            sys.exit(1)
        if "signal" in message:
            signum = int(message["signal"])  # type: ignore[call-overload]
            if signum not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught, nor reset
                signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            sys.exit(128 + signum)
        if "exit" in message:
            sys.exit(int(message["exit"]))  # type: ignore[call-overload]


def connect(socket_path: str, wait: float) -> _socket.socket | None:
    deadline = time.monotonic() + wait
    while True:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            conn.connect(socket_path)
            return conn
        except OSError:
            conn.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


def launch_options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """``--socket S --name N [--wait SECONDS] -- COMMAND...`` → (options, command), by hand: argparse
    would be most of the launcher's memory. Raises ValueError naming what is wrong."""
    options: dict[str, str] = {}
    rest = list(words)
    while rest and rest[0] != "--":
        flag = rest.pop(0)
        if flag not in ("--socket", "--name", "--wait"):
            raise ValueError(f"unexpected {flag!r}")
        if not rest:
            raise ValueError(f"{flag} needs a value")
        options[flag[2:]] = rest.pop(0)
    missing = [flag for flag in ("socket", "name") if flag not in options]
    if missing:
        raise ValueError("launch needs " + " and ".join(f"--{flag}" for flag in missing))
    if not rest[1:]:
        raise ValueError("launch needs a command after --")
    return options, rest[1:]


def main() -> None:
    if sys.argv[1:2] == ["launch"]:
        try:
            options, command = launch_options(sys.argv[2:])
            wait = float(options.get("wait", "120"))
        except ValueError as exc:
            sys.exit(f"preload.py launch: {exc}")
        launch(options["socket"], options["name"], command, wait)
        return
    import argparse

    parser = argparse.ArgumentParser(prog="preload.py", usage="preload.py serve --socket PATH [--modules LIST] | "
                                     "launch --socket PATH --name BOT [--wait SECONDS] -- COMMAND...")
    commands = parser.add_subparsers(dest="what", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--socket", required=True)
    serving.add_argument("--modules")
    args = parser.parse_args()
    serve(args.socket, args.modules)


if __name__ == "__main__":
    main()
