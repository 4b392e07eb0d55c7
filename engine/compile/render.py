"""The render stage: a ``DesiredFleet`` → the files that make it real, byte for byte deterministic.

Called by ``fleetops render`` and by apply (which writes the same files into each container's
runtime directory). Output paths mirror the runtime layout: ``containers/<container>/etc/`` is
what gets mounted read-only at ``/fleet/etc`` in that container. Secrets are never rendered
here; they are materialised at apply time only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compile.container import container_definition
from engine.compile.desired import DesiredBot, DesiredContainer, DesiredFleet
from engine.compile.ftconfig import freqtrade_config
from engine.compile.preload import MODULE_LIST, SCRIPT, preload_files, preload_hash
from engine.compile.templates import environment, template_version
from engine.errors import FleetopsError
from engine.hashing import pretty_json
from engine.naming import (
    BOTS,
    DATA_MOUNT,
    HOST_ETC,
    PRELOAD,
    PRELOAD_DATA,
    PRELOAD_ETC,
    PRELOAD_PROGRAM,
    PRELOAD_SOCKET,
    SUPERVISOR_SOCKET,
    bot_data_dir,
    compose_project,
    network_name,
)

__all__ = ["RenderedFleet", "render_bot_config", "render_fleet", "render_supervisord"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RenderedFleet:
    """Relative path → file text; ``manifest.json`` lists the hashes and the files themselves."""

    files: dict[str, str]

    def write(self, out_dir: str) -> list[str]:
        """Write every file under ``out_dir``, first removing the files of a previous render there.

        A directory that holds anything but an earlier render is refused: rendering must never
        delete or mix with files it did not write (compose run from a render dir keeps the bots'
        data under ``containers/*/data``, which is not ours to remove).
        """
        root = Path(out_dir)
        _remove_previous_render(root)
        for rel, text in self.files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode())  # UTF-8 whatever the locale: the bytes the bots read at apply
        return list(self.files)


def _remove_previous_render(root: Path) -> None:
    if not root.exists() or not any(root.iterdir()):
        return
    try:
        previous = json.loads((root / MANIFEST).read_text())
        files = previous["files"]
        assert isinstance(files, list) and all(isinstance(f, str) for f in files)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise FleetopsError(f"{root} is not empty and holds no earlier fleetops render; choose an empty directory") from None
    for rel in files:
        path = (root / rel).resolve()
        if path.is_relative_to(root.resolve()) and path.is_file():
            path.unlink()
            for parent in path.parents:
                if parent == root.resolve() or any(parent.iterdir()):
                    break
                parent.rmdir()


def render_bot_config(bot: DesiredBot) -> str:
    return pretty_json(freqtrade_config(bot.name, bot.essence), ascii_only=True)


def render_supervisord(container: DesiredContainer, fleet: DesiredFleet) -> str:
    bots = [_BotView(fleet.bots[name]) for name in container.bots]
    return environment().get_template("supervisord/supervisord.conf.j2").render(
        container=container, bots=bots, socket=SUPERVISOR_SOCKET, data=DATA_MOUNT,
        preload=_PreloadView(container.essence.run_as) if container.essence.preload else None)


def render_compose(fleet: DesiredFleet) -> str:
    definitions = [container_definition(fleet, c) for c in fleet.containers.values()]
    return environment().get_template("compose/docker-compose.yml.j2").render(
        fleet=fleet.name, project=compose_project(fleet.name), network=network_name(fleet.name), containers=definitions)


def render_fleet(fleet: DesiredFleet) -> RenderedFleet:
    """Every file of the fleet, keyed by its path relative to the output directory."""
    files: dict[str, str] = {"docker-compose.yml": render_compose(fleet)}
    for container in fleet.containers.values():
        etc = f"containers/{container.name}/{HOST_ETC}"
        if not container.dedicated:
            files[f"{etc}/supervisord.conf"] = render_supervisord(container, fleet)
        if container.essence.preload:
            for name, content in preload_files().items():
                files[f"{etc}/{PRELOAD}/{name}"] = content.decode()
        for name in container.bots:
            bot = fleet.bots[name]
            files[f"{etc}/{BOTS}/{name}/config.json"] = render_bot_config(bot)
            files[f"{etc}/{BOTS}/{name}/strategies/{bot.essence.strategy_class}.py"] = bot.strategy_text
    files[MANIFEST] = pretty_json(manifest(fleet, sorted([*files, MANIFEST])))
    return RenderedFleet(dict(sorted(files.items())))


def manifest(fleet: DesiredFleet, files: list[str]) -> dict[str, Any]:
    """What the rendered files were made from (hashes a later run compares against), and their list."""
    return {
        "fleet": fleet.name,
        "templates": template_version(),
        "containers": {n: {"hash": c.hash, "pool": c.pool, "bots": list(c.bots)} for n, c in fleet.containers.items()},
        "bots": {n: {"hash": b.hash, "container": b.container, "port": b.placement.port} for n, b in fleet.bots.items()},
        "files": files,
    }


class _PreloadView:
    """What the supervisord template needs of a pool's preloader."""

    program = PRELOAD_PROGRAM
    data = PRELOAD_DATA
    command = ("python3", f"{PRELOAD_ETC}/{SCRIPT}", "serve", "--socket", PRELOAD_SOCKET, "--modules", f"{PRELOAD_ETC}/{MODULE_LIST}")

    def __init__(self, run_as: int | str) -> None:
        self.user = str(run_as)

    @property
    def hash(self) -> str:
        return preload_hash()


class _BotView:
    """What the supervisord template needs of a bot."""

    def __init__(self, bot: DesiredBot) -> None:
        self.name = bot.name
        self.data_dir = bot_data_dir(bot.name)
        self.enabled = bot.essence.enabled
        self.user = str(bot.essence.run_as) if bot.essence.run_as else None
        self.command = bot.essence.command
