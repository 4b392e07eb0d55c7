"""The commands that set a machine up rather than a fleet: ``paper-exchange`` and ``image``.

Registered on the ``fleetops`` group by ``engine.cli``. Both need nothing from the checkout: the
paper exchange and the image recipes ship in the package, so ``pip install fleetops`` is enough.
"""

from __future__ import annotations

import sys

import click

from engine.errors import FleetopsError

__all__ = ["image", "paper_exchange"]


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
