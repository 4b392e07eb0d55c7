"""An existing FreqTrade setup's compose file: the services that run ``freqtrade trade``, each with
its command-line settings and the host directories its paths live in.

Read by ``engine.adopt.bots``. The setup is the one FreqTrade's documentation gives (its
``docker-compose.yml``): image ``freqtradeorg/freqtrade`` (ENTRYPOINT ``freqtrade``, WORKDIR
``/freqtrade``) or a local build of it, ``command: trade --config /freqtrade/user_data/config.json
--strategy X …``, volume ``./user_data:/freqtrade/user_data``; its advice for several bots is one
service per bot. Only what decides how a bot trades is read (command, entrypoint, working_dir,
bind mounts, FREQTRADE__ environment variables); compose features that would make the files read
here differ from what the containers see (interpolated ``${VARS}`` in those values, named volumes)
are located errors, so adopt never guesses. The project name follows Compose v2: the top-level
``name:``, else the file's directory name lower-cased without characters Compose drops.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from engine.errors import Problem

__all__ = ["FREQTRADE_WORKDIR", "VARIABLE", "ComposeFile", "Mount", "Service", "TradeCommand", "read_compose"]

FREQTRADE_WORKDIR = "/freqtrade"
"""The official image's WORKDIR: where relative paths of a FreqTrade command point."""
MAX_BYTES = 1 << 20

_VALUE_OPTIONS = {
    "-c": "config", "--config": "config", "-s": "strategy", "--strategy": "strategy", "--strategy-path": "strategy_path",
    "--db-url": "db_url", "--userdir": "user_data_dir", "--user-data-dir": "user_data_dir", "-d": "datadir", "--datadir": "datadir",
    "--data-dir": "datadir", "--dry-run-wallet": "dry_run_wallet", "--starting-balance": "dry_run_wallet", "--logfile": "logfile",
    "--log-file": "logfile",
}
_FLAG_OPTIONS = {"--dry-run": "dry_run", "-v": "", "-vv": "", "-vvv": "", "--verbose": "", "--sd-notify": "", "--no-color": ""}


@dataclass(frozen=True)
class Mount:
    """A bind mount: ``source`` on the host (absolute), ``target`` in the container."""

    source: Path
    target: str


@dataclass(frozen=True)
class TradeCommand:
    """What ``freqtrade trade`` was told on its command line: each option's values, in order."""

    options: dict[str, list[str]]
    flags: frozenset[str]


@dataclass
class Service:
    name: str
    position: tuple[int, int]
    image: str
    container_name: str | None
    working_dir: str
    command: TradeCommand | None
    """None: the service does not run ``freqtrade trade`` (a FreqUI, a database): not a bot."""
    command_position: tuple[int, int]
    mounts: list[Mount]
    environment: dict[str, tuple[str, tuple[int, int]]] = field(default_factory=dict)
    """``FREQTRADE__…`` variables set in the service (they override its config files)."""
    notes: list[str] = field(default_factory=list)
    """What the service sets that adopt does not carry, each a sentence (reported, never dropped silently)."""

    def host_path(self, path: str) -> Path | None:
        """The host file behind ``path`` as the container sees it (relative: to its working dir),
        through the bind mount with the longest target that holds it; None when no mount does."""
        absolute = posixpath.normpath(posixpath.join(self.working_dir, path))
        best: Mount | None = None
        for mount in self.mounts:
            target = posixpath.normpath(mount.target)
            if (absolute == target or absolute.startswith(target.rstrip("/") + "/")) and (best is None or len(target) > len(best.target)):
                best = mount
        if best is None:
            return None
        rest = PurePosixPath(absolute).relative_to(posixpath.normpath(best.target))
        return best.source.joinpath(*rest.parts)

    def container_path(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.working_dir, path))


@dataclass
class ComposeFile:
    path: str
    """As shown in messages (as the user wrote it)."""
    directory: Path
    project: str
    services: list[Service]


class _Located(Exception):
    def __init__(self, position: tuple[int, int], message: str) -> None:
        super().__init__(message)
        self.position, self.message = position, message


def read_compose(path: Path, shown: str) -> tuple[ComposeFile | None, list[Problem]]:
    """The compose file at ``path`` (``shown`` in messages), or None and every problem found."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(shown, 1, 1, f"cannot read the compose file: {exc.strerror or exc}")]
    if len(data) > MAX_BYTES:
        return None, [Problem(shown, 1, 1, f"is larger than {MAX_BYTES} bytes; is it a compose file?")]
    try:
        root = YAML(typ="rt", pure=True).load(data.decode("utf-8-sig"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return None, [Problem(shown, line, col, f"is not valid YAML: {exc.problem or exc.context}")]
    except (YAMLError, UnicodeDecodeError) as exc:
        return None, [Problem(shown, 1, 1, f"is not valid YAML: {exc}")]
    if not isinstance(root, CommentedMap) or not isinstance(root.get("services"), CommentedMap):
        return None, [Problem(shown, 1, 1, "has no 'services:' mapping; give the docker-compose.yml that runs your bots")]
    directory = path.resolve().parent
    problems: list[Problem] = []
    services = []
    for name, body in root["services"].items():
        try:
            services.append(_service(str(name), body, _key_pos(root["services"], name), directory))
        except _Located as exc:
            problems.append(Problem(shown, *exc.position, exc.message))
    project = root.get("name")
    if not isinstance(project, str) or not project:
        project = re.sub(r"[^a-z0-9_-]", "", directory.name.lower()).lstrip("_-")
    return (ComposeFile(shown, directory, project, services) if not problems else None), problems


def _pos(node: Any, key: Any) -> tuple[int, int]:
    try:
        line, col = node.lc.value(key) if isinstance(node, CommentedMap) else node.lc.item(key)
        return line + 1, col + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return _key_pos(node, key)


def _key_pos(node: Any, key: Any) -> tuple[int, int]:
    try:
        line, col = node.lc.key(key)
        return line + 1, col + 1
    except (AttributeError, KeyError, TypeError):
        return (1, 1)


def _text(node: Any, key: Any, what: str) -> str:
    value = node[key]
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise _Located(_pos(node, key), f"{what} must be text")
    text = str(value)
    if "$" in text.replace("$$", ""):
        raise _Located(_pos(node, key), f"{what} uses ${{…}} interpolation, which adopt does not resolve; "
                       "write the value out in the compose file (or in the bot's config.json)")
    return text.replace("$$", "$")


def _words(node: Any, key: Any, what: str) -> list[str]:
    value = node[key]
    if isinstance(value, CommentedSeq):
        return [_text(value, i, what) for i in range(len(value))]
    text = _text(node, key, what)
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise _Located(_pos(node, key), f"{what} cannot be split into words: {exc}") from None


def _service(name: str, body: Any, position: tuple[int, int], directory: Path) -> Service:
    if not isinstance(body, CommentedMap):
        raise _Located(position, f"service '{name}' must be a mapping")
    image = _text(body, "image", "image") if "image" in body else ("(built from " + str(body.get("build")) + ")" if "build" in body else "")
    working_dir = _text(body, "working_dir", "working_dir") if "working_dir" in body else FREQTRADE_WORKDIR
    entry = _words(body, "entrypoint", "entrypoint") if "entrypoint" in body else None
    words = _words(body, "command", "command") if "command" in body else None
    command_position = _pos(body, "command") if "command" in body else position
    freqtrade_image = "freqtrade" in image.lower() or "build" in body
    if entry is None:
        entry = ["freqtrade"] if freqtrade_image else []
        if words is None and freqtrade_image:
            words = ["trade"]  # the official image's CMD
    full = [*entry, *(words or [])]
    if full and PurePosixPath(full[0]).name == "freqtrade":
        full = full[1:]
    elif full[:3] in (["python", "-m", "freqtrade"], ["python3", "-m", "freqtrade"]):
        full = full[3:]
    else:
        full = []
    service = Service(name, position, image, _text(body, "container_name", "container_name") if "container_name" in body else None,
                      working_dir, None, command_position, _mounts(body, directory))
    if not full or full[0] != "trade":
        return service
    service.command = _trade(full[1:], command_position)
    service.environment = _environment(body)
    if "env_file" in body:
        service.notes.append(f"service '{name}': env_file is not read by adopt; if it sets FREQTRADE__ variables, "
                             "put those settings into the bot's spec")
    return service


def _trade(words: list[str], position: tuple[int, int]) -> TradeCommand:
    options: dict[str, list[str]] = {}
    flags: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        option, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if option in _VALUE_OPTIONS:
            if inline:
                value = inline
            elif i + 1 < len(words):
                i += 1
                value = words[i]
            else:
                raise _Located(position, f"command option {option} has no value")
            options.setdefault(_VALUE_OPTIONS[option], []).append(value)
        elif word in _FLAG_OPTIONS:
            if _FLAG_OPTIONS[word]:
                flags.add(_FLAG_OPTIONS[word])
        else:
            raise _Located(position, f"command word {word!r} of 'freqtrade trade' is not one adopt knows how to carry "
                           f"(known: {', '.join(sorted({*_VALUE_OPTIONS, *_FLAG_OPTIONS}))}); move that setting into the bot's config.json")
        i += 1
    return TradeCommand(options, frozenset(flags))


def _mounts(body: CommentedMap, directory: Path) -> list[Mount]:
    volumes = body.get("volumes")
    if volumes is None:
        return []
    if not isinstance(volumes, CommentedSeq):
        raise _Located(_pos(body, "volumes"), "volumes must be a list")
    mounts = []
    for i, entry in enumerate(volumes):
        if isinstance(entry, CommentedMap):
            kind = entry.get("type", "volume")
            if "source" not in entry or "target" not in entry:
                raise _Located(_pos(volumes, i), "a long-syntax volume needs source and target")
            source, target = _text(entry, "source", "volume source"), _text(entry, "target", "volume target")
        else:
            text = _text(volumes, i, "volume")
            parts = text.split(":")
            if len(parts) < 2:
                continue  # an anonymous volume: nothing on the host to read
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind != "bind":
            raise _Located(_pos(volumes, i), f"volume {source!r} is a named volume; adopt reads a bot's files from bind mounts "
                           "(./user_data:/freqtrade/user_data, as FreqTrade's compose file has it)")
        host = Path(source).expanduser()
        mounts.append(Mount(host if host.is_absolute() else (directory / host).resolve(), target))
    return mounts


VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
"""A value that is one environment variable of the host (``${BINANCE_KEY}``): kept as written, so a
secret read this way becomes the same ``env:`` reference in the spec."""


def _env_text(node: Any, key: Any, name: str, value: str) -> str:
    if VARIABLE.fullmatch(value):
        return value
    if "$" in value.replace("$$", ""):
        raise _Located(_pos(node, key), f"environment variable {name} uses ${{…}} interpolation, which adopt does not resolve; "
                       "write the value out in the compose file (or in the bot's config.json)")
    return value.replace("$$", "$")


def _environment(body: CommentedMap) -> dict[str, tuple[str, tuple[int, int]]]:
    env = body.get("environment")
    found: dict[str, tuple[str, tuple[int, int]]] = {}
    if isinstance(env, CommentedMap):
        for key in env:
            if str(key).startswith("FREQTRADE__") and env[key] is not None:
                found[str(key)] = (_env_text(env, key, str(key), str(env[key])), _pos(env, key))
    elif isinstance(env, CommentedSeq):
        for i in range(len(env)):
            key, sep, _value = str(env[i]).partition("=")
            if key.startswith("FREQTRADE__") and sep:
                found[key] = (_env_text(env, i, key, _value), _pos(env, i))
    elif env is not None:
        raise _Located(_pos(body, "environment"), "environment must be a mapping or a list")
    return found
