"""The commands that set a machine or a repository up rather than run a fleet: ``paper-exchange``,
``image``, ``init``, ``schema`` and ``adopt``.

Registered on the ``fleetops`` group by ``engine.cli``. None needs the checkout: the paper
exchange, the image recipes, the example fleet and the schema ship in the package, so
``pip install fleetops`` is enough.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.support import command_context, warn
from engine.errors import FleetopsError

__all__ = ["adopt", "image", "init", "paper_exchange", "schema"]


def _say(message: str) -> None:
    click.echo(f"fleetops image: {message}", err=True)


@click.command("paper-exchange")
@click.option("--host", default="0.0.0.0", show_default=True,
              help="Address to bind; bots in containers reach the host at the Docker bridge's gateway (172.17.0.1 by default).")
@click.option("--port", default=9100, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port, printed).")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of every price path (same seed, same prices).")
@click.option("--pairs", default=None, help="Pairs listed, comma-separated BASE/QUOTE (default: the tests' and the example fleet's).")
@click.option("--start", default=None, type=float, help="Anchor of the price paths, epoch seconds (default: now, floored to the minute).")
@click.option("--volatility", default=0.002, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Standard deviation of the one-minute price change (0.002 = 0.2 %).")
@click.option("--key", default="fleetops-paper-key", show_default=True, help="API key of the paper account (a live-mode bot's exchange.key).")
@click.option("--secret", default="fleetops-paper-secret", show_default=True, help="Its API secret (exchange.secret); requests are signed with it.")
@click.option("--balances", default="USDT=10000", show_default=True, help="The account's starting balances, ASSET=AMOUNT comma-separated.")
@click.option("--detach", is_flag=True, help="Run it as a Docker container instead (host network, restarted with Docker).")
@click.option("--image", default=None, help="Image for --detach (default: the pool image, which has what it needs).")
@click.option("--stop", is_flag=True, help="Remove the container --detach started.")
def paper_exchange(host: str, port: int, seed: int, pairs: str | None, start: float | None, volatility: float, key: str, secret: str,
                   balances: str, detach: bool, image: str | None, stop: bool) -> None:
    """Serve a paper exchange: Binance spot's REST API over seeded prices, for offline dry-run bots.

    In the foreground, or as a container with --detach. Point bots at it with
    `exchange_url: http://172.17.0.1:9100` (a bot's or the fleet's default); status and a down
    switch are under /_market/. A live-mode bot (dry_run: false) trades on the paper account
    with --key/--secret as its exchange key and secret.
    """
    from engine.paper import PAPER_PAIRS
    from engine.paper.accounts import parse_balances

    listed = [p.strip() for p in pairs.split(",") if p.strip()] if pairs is not None else list(PAPER_PAIRS)
    try:
        parse_balances(balances)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--balances") from None
    if stop or detach:
        from engine.paper.container import CONTAINER, start_container, stop_container

        if stop:
            click.echo(f"removed {CONTAINER}" if stop_container() else f"no {CONTAINER} container")
            return
        from engine.images import POOL_IMAGE

        options = ["--host", host, "--port", str(port), "--seed", str(seed), "--pairs", ",".join(listed), "--volatility", str(volatility),
                   "--key", key, "--secret", secret, "--balances", balances]
        ident = start_container(image or POOL_IMAGE, options + (["--start", str(start)] if start is not None else []))
        click.echo(f"started {CONTAINER} ({ident[:12]}) on the host's port {port}; bots in containers: exchange_url: "
                   f"http://172.17.0.1:{port}; `docker logs {CONTAINER}`, `fleetops paper-exchange --stop`")
        return
    from engine.paper.serve import serve

    def ready(line: str) -> None:
        click.echo(line)
        click.echo(f"bots in Docker containers: exchange_url: http://172.17.0.1:{line.rsplit(':', 1)[1]} (the docker0 gateway); "
                   "stop with Ctrl-C", err=True)
        sys.stdout.flush()

    try:
        serve(host, port, seed=seed, pairs=listed, start=start, volatility=volatility, ready=ready, key=key, secret=secret, balances=balances)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pairs") from None
    except OSError as exc:
        raise FleetopsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; is another paper exchange running there?") from None


@click.group()
def image() -> None:
    """The pool image (FreqTrade + supervisord) the example fleet runs: build it, or print its Dockerfile."""


@image.command("build")
@click.option("--from", "source", type=click.Choice(["debian", "official"]), default="debian", show_default=True,
              help="debian: offline from Debian packages and PyPI (needs root, apt, Docker); "
                   "official: docker build FROM freqtradeorg/freqtrade (needs Docker Hub).")
@click.option("--force", is_flag=True, help="Rebuild even when the cached image matches its inputs' hash.")
def image_build(source: str, force: bool) -> None:
    """Build fleetops/freqtrade:<version> on this Docker engine (cached by content hash)."""
    from engine.images import POOL_IMAGE

    if source == "official":
        from engine.images.official import build_official

        build_official(say=_say)
    else:
        from engine.images.debian import pool_image

        pool_image(force=force, say=_say)
    click.echo(f"{POOL_IMAGE} is on the Docker engine; next: fleetops validate, fleetops plan, fleetops apply")


@image.command("dockerfile")
def image_dockerfile() -> None:
    """Print the Dockerfile that builds the pool image from FreqTrade's official image."""
    from engine.images.official import dockerfile

    click.echo(dockerfile(), nl=False)


@click.command()
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Write it to this file instead of stdout.")
def schema(out: str | None) -> None:
    """Print the JSON Schema of the spec documents (every kind), for editors (yaml-language-server)."""
    from engine.spec.schema import HINT_PREFIX, schema_text

    if out is None:
        click.echo(schema_text(), nl=False)
        return
    Path(out).write_text(schema_text(), encoding="utf-8")
    click.echo(f"wrote {out}; point each spec file at it with a first line such as: {HINT_PREFIX}../{Path(out).name}")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a fleet repository from the example fleet, with tagged strategy versions."""
    from engine.demo_repo import build_demo_repo

    path = build_demo_repo(Path(directory))
    click.echo(f"created fleet repository {path} (tags v1.0.0, v1.1.0); next steps:\n"
               "  fleetops image build              # once per Docker engine: the pool image its specs name (FreqTrade + supervisord)\n"
               "  fleetops paper-exchange --detach  # the example's bots trade on it, offline (fleet/fleet.yaml: exchange_url)\n"
               f"  cd {path}\n"
               "  fleetops validate                 # specs, pins and FreqTrade's own checks\n"
               "  fleetops plan                     # what apply would do\n"
               "  fleetops apply --yes              # converge Docker, check every bot's trading loop, roll back if broken\n"
               "  fleetops status; fleetops wallets; fleetops watch --repo . --listen 127.0.0.1:9400")


@click.command()
@click.argument("compose_file", type=click.Path(dir_okay=False))
@click.option("--into", required=True, type=click.Path(file_okay=False), help="The new fleet repository to write.")
@click.option("--name", default=None, help="Fleet name (default: the compose project's name).")
@click.option("--image", default=None, help="Image of the fleet's pool container (default: fleetops/freqtrade:2026.9).")
@click.option("--no-takeover", is_flag=True, help="Write the specs only; the first apply leaves the compose containers alone.")
def adopt(compose_file: str, into: str, name: str | None, image: str | None, no_takeover: bool) -> None:
    """Write fleet specs from an existing FreqTrade compose setup; the first apply takes its bots over with their trades."""
    from engine.adopt.command import adopt as adopt_setup
    from engine.adopt.setup import DEFAULT_IMAGE

    adopt_setup(command_context(), compose_file, into, name=name, image=image or DEFAULT_IMAGE, takeover=not no_takeover,
                echo=click.echo, warn=warn)
