"""``fleetops adopt COMPOSE_FILE --into DIR``: what the command does and says, around ``engine.adopt.setup``.

Called by the CLI. In order, so that an error changes nothing: read the setup (every problem at
once), find each bot's compose container on the Docker engine (unless ``--no-takeover``), write
the repository (``write_fleet``: all or nothing), and only then record the takeovers for the
first apply (``engine.live.takeover``). Secrets are never written: the user is told which
environment variable each one is read from, and where its value is today.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.adopt.setup import DEFAULT_IMAGE, read_setup, takeovers_for, write_fleet
from engine.backend.port import Takeovers
from engine.context import Context
from engine.errors import DockerError, Problem
from engine.live.takeover import Takeover, record_takeovers

__all__ = ["adopt"]


def adopt(ctx: Context, compose_file: str, into: str, *, name: str | None, image: str = DEFAULT_IMAGE, takeover: bool = True,
          echo: Callable[[str], None], warn: Callable[[Problem], None]) -> None:
    """Adopt the setup of ``compose_file`` into the new fleet repository ``into``. Raises SpecError for
    what cannot be read or carried, SourceError for a target in the way, DockerError for the engine."""
    adoption = read_setup(Path(compose_file), compose_file, name)
    for note in adoption.notes:
        warn(note)
    takeovers: list[Takeover] = []
    missing: list[str] = []
    if takeover:
        site = ctx.site(adoption.fleet)
        if not isinstance(site, Takeovers):
            raise DockerError("this backend cannot find compose containers; adopt with --no-takeover, or on the Docker engine they run on")
        takeovers, missing = takeovers_for(adoption, site.compose_container)
    target = Path(into)
    files = write_fleet(adoption, target, image=image)
    if takeovers:
        record_takeovers(ctx.state_dir, adoption.fleet, takeovers)
    echo(f"adopted {len(adoption.bots)} bot(s) from {compose_file} into {target} as fleet '{adoption.fleet}': "
         + ", ".join(f"{b.name} ({adoption.pins[b.name]})" for b in adoption.bots))
    echo(f"wrote {', '.join(files)}; strategies committed and tagged")
    for t in takeovers:
        carried = f", carrying {t.database}" if t.database else ""
        echo(f"takeover on the first apply: {t.bot} <- container {t.container_name} (stopped first, then kept stopped{carried})")
    if takeovers:
        echo("after the takeover, do not run `docker compose up` for this setup again (it would start second copies of the bots); "
             "to roll back by hand, stop the fleet's bots, then `docker start` the old containers")
    for line in missing:
        echo(f"no takeover: {line}")
    if adoption.secrets:
        echo("before applying, provide these secrets (never written by adopt):")
        for need in adoption.secrets:
            echo(f"  {need.reference.removeprefix('env:')}  for {need.bot} {need.secret} (today: {need.was})")
    echo(f"next: cd {target} && fleetops validate && fleetops plan && fleetops apply")
