"""One compose service's FreqTrade config as FreqTrade would hold it, and who set each value.

Used by ``engine.adopt.bots``. The service's ``--config`` files are merged as FreqTrade merges
repeated ``--config`` (later files win, mappings merged key by key), then its ``FREQTRADE__SECTION__KEY``
variables and its command-line options are laid over them (``freqtrade.configuration.Configuration``,
2026.9). Every value keeps where it was written, so a problem with it is reported at that
file:line:col (a config file, the compose file's variable or command).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.adopt.compose import VARIABLE, Service
from engine.adopt.jsonc import JsonDocument, JsonSyntaxError, parse_jsonc
from engine.errors import Problem

__all__ = ["MAX_CONFIG_BYTES", "ConfigSources", "env_value", "load_configs", "shown_path"]

MAX_CONFIG_BYTES = 4 << 20


class ConfigSources:
    """The merged config and, for every location, who set it last (a config file, a variable, the command)."""

    def __init__(self, service: Service, compose_path: str) -> None:
        self.service, self.compose_path = service, compose_path
        self.documents: list[JsonDocument] = []
        self.data: dict[str, Any] = {}
        self.overrides: dict[tuple[str | int, ...], tuple[int, int]] = {}

    def problem(self, loc: tuple[str | int, ...], message: str, severity: str = "error") -> Problem:
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in self.overrides:
                line, col = self.overrides[loc[:cut]]
                return Problem(self.compose_path, line, col, message, "warning" if severity == "warning" else "error")
        for document in reversed(self.documents):
            if loc[:1] in document.positions:
                return document.problem(loc, message, severity)
        if self.documents:  # a key no file sets: where it would be written
            return self.documents[-1].problem((), message, severity)
        line, col = self.service.command_position
        return Problem(self.compose_path, line, col, message, "warning" if severity == "warning" else "error")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def env_value(text: str) -> Any:
    """A FREQTRADE__ variable's value as FreqTrade reads it (``environment_vars._get_var_typed``: booleans, numbers, text)."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load_configs(service: Service, compose_path: str, shown_root: Path) -> tuple[ConfigSources, list[Problem]]:
    sources = ConfigSources(service, compose_path)
    assert service.command is not None
    problems: list[Problem] = []
    for config in service.command.options.get("config", ["config.json"]):
        host = service.host_path(config)
        line, col = service.command_position
        if host is None:
            problems.append(Problem(compose_path, line, col, f"service '{service.name}' reads its config {config} from outside every bind "
                                    "mount, so adopt cannot read it; mount its directory (./user_data:/freqtrade/user_data)"))
            continue
        shown = shown_path(host, shown_root)
        try:
            data = host.read_bytes()[:MAX_CONFIG_BYTES + 1]
        except OSError as exc:
            problems.append(Problem(compose_path, line, col, f"service '{service.name}': cannot read its config {shown}: {exc.strerror or exc}"))
            continue
        if len(data) > MAX_CONFIG_BYTES:
            problems.append(Problem(shown, 1, 1, f"is larger than {MAX_CONFIG_BYTES} bytes; is it a FreqTrade config?"))
            continue
        try:
            document = parse_jsonc(shown, data)
        except JsonSyntaxError as exc:
            problems.append(exc.problem)
            continue
        if not isinstance(document.data, dict):
            problems.append(document.problem((), "a FreqTrade config must be a JSON object"))
            continue
        sources.documents.append(document)
        sources.data = _merge(sources.data, document.data)
    for variable, (text, position) in sorted(service.environment.items()):
        path = tuple(part.lower() for part in variable.split("__")[1:])
        if not path or not all(path):
            continue
        target: dict[str, Any] = sources.data
        for part in path[:-1]:
            target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
        target[path[-1]] = text if VARIABLE.fullmatch(text) else env_value(text)
        sources.overrides[path] = position
    options, position = service.command.options, service.command_position
    for option in ("strategy", "db_url", "user_data_dir", "strategy_path", "datadir", "logfile", "dry_run_wallet"):
        if option in options:
            sources.data[option] = env_value(options[option][-1]) if option == "dry_run_wallet" else options[option][-1]
            sources.overrides[(option,)] = position
    if "dry_run" in service.command.flags:
        sources.data["dry_run"] = True
        sources.overrides[("dry_run",)] = position
    return sources, problems


def shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
