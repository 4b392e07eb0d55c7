"""The render stage: a ``DesiredFleet`` → the files that make it real, byte for byte deterministic.

Called by ``fleetops render`` and by apply (which writes the same files into each container's
runtime directory). Output paths mirror the runtime layout: ``containers/<container>/`` is what
gets mounted at ``/fleet`` in that container. Secrets are never rendered here; they are
materialised at apply time only.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.naming import container_labels
from engine.compile.templates import environment, template_version

__all__ = ["RenderedFleet", "network_name", "render_bot_config", "render_fleet"]


@dataclass(frozen=True)
class RenderedFleet:
    """Relative path → file text, plus the manifest of hashes the files were made from."""

    files: dict[str, str]

    def write(self, out_dir: str) -> list[str]:
        """Write every file under ``out_dir``; returns the relative paths written."""
        root = Path(out_dir)
        for rel, text in self.files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        return list(self.files)


def network_name(fleet: str) -> str:
    return f"fleetops-{fleet}"


def render_bot_config(bot: DesiredBot) -> str:
    """The bot's FreqTrade config.json: the template's output with the ``freqtrade:`` block merged last."""
    text = environment().get_template("freqtrade/config.json.j2").render(bot=bot, e=bot.essence)
    config = _deep_merge(json.loads(text), bot.essence["freqtrade"])
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_supervisord(container: DesiredContainer, fleet: DesiredFleet) -> str:
    bots = [_BotView(fleet.bots[name]) for name in container.bots]
    return environment().get_template("supervisord/supervisord.conf.j2").render(container=container, bots=bots)


def render_compose(fleet: DesiredFleet) -> str:
    views = [_ContainerView(c, fleet) for c in fleet.containers.values()]
    return environment().get_template("compose/docker-compose.yml.j2").render(
        fleet=fleet.name, network=network_name(fleet.name), containers=views
    )


def render_fleet(fleet: DesiredFleet) -> RenderedFleet:
    """Every file of the fleet, keyed by its path relative to the output directory."""
    files: dict[str, str] = {"docker-compose.yml": render_compose(fleet)}
    for container in fleet.containers.values():
        base = f"containers/{container.name}"
        if not container.dedicated:
            files[f"{base}/supervisord.conf"] = render_supervisord(container, fleet)
        for name in container.bots:
            bot = fleet.bots[name]
            files[f"{base}/bots/{name}/config.json"] = render_bot_config(bot)
            files[f"{base}/bots/{name}/strategies/{bot.essence['strategy_class']}.py"] = bot.strategy_text
    files["manifest.json"] = json.dumps(manifest(fleet), indent=2, sort_keys=True) + "\n"
    return RenderedFleet(dict(sorted(files.items())))


def manifest(fleet: DesiredFleet) -> dict[str, Any]:
    """What the rendered files were made from: hashes a later run compares against."""
    return {
        "fleet": fleet.name,
        "templates": template_version(),
        "containers": {n: {"hash": c.hash, "pool": c.pool, "bots": list(c.bots)} for n, c in fleet.containers.items()},
        "bots": {n: {"hash": b.hash, "container": b.container, "port": b.placement.port} for n, b in fleet.bots.items()},
    }


class _BotView:
    """What the supervisord template needs of a bot."""

    def __init__(self, bot: DesiredBot) -> None:
        self.name = bot.name
        self.directory = bot.directory
        self.essence = bot.essence
        self.command_line = shlex.join(bot.essence["command"])


class _ContainerView:
    """What the compose template needs of a container."""

    def __init__(self, container: DesiredContainer, fleet: DesiredFleet) -> None:
        self.name = container.name
        self.essence = container.essence
        self.labels = container_labels(fleet.name, container.pool, container.index, container.hash, container.bots)
        self.running = not container.dedicated or fleet.bots[container.bots[0]].essence["enabled"]


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
