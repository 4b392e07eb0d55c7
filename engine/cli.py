"""The ``fleetops`` command: the single boundary where errors become one-line messages and exit codes.

Every command calls into the engine and lets ``FleetopsError`` propagate; ``main`` prints it
without a traceback. Anything else is a bug: a short line, and the traceback only with
``FLEETOPS_DEBUG=1``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from engine.errors import FleetopsError, SpecError

__all__ = ["cli", "main"]

_FORMATS = click.Choice(["text", "json", "markdown"])
repo_option = click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), help="Fleet repository.")
ref_option = click.option("--ref", default=None, help="Git ref to read (default: the working tree).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", envvar="FLEETOPS_STATE_DIR", default=None, type=click.Path(file_okay=False), help="Revision store and runtime files.")
@click.option("--docker-host", envvar="DOCKER_HOST", default=None, help="Docker engine URL.")
@click.version_option(package_name="fleetops")
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None, docker_host: str | None) -> None:
    """fleetops: plan and apply a fleet of FreqTrade bots from a Git repository of specs."""
    ctx.obj = {"state_dir": state_dir, "docker_host": docker_host}


@cli.command()
@repo_option
@ref_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(repo: str, ref: str | None, fmt: str) -> None:
    """Check the specs and strategy pins; every problem in one run."""
    from engine.load import load_fleet

    try:
        loaded = load_fleet(repo, ref)
    except SpecError as exc:
        if fmt == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.as_json() for p in exc.problems]}, indent=2))
            sys.exit(1)
        raise
    spec = loaded.spec
    counts = {"wallets": len(spec.wallets), "pools": len(spec.pools), "bots": len(spec.bots), "strategy_pins": len(spec.pins)}
    if fmt == "json":
        click.echo(json.dumps({"valid": True, "fleet": spec.fleet.name, "commit": loaded.source.commit, "counts": counts, "problems": []}, indent=2))
    else:
        click.echo(f"fleet '{spec.fleet.name}' is valid: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()))


@cli.command()
@repo_option
@ref_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
def render(repo: str, ref: str | None, out: str) -> None:
    """Write the compose file, supervisord confs and bot configs (no secrets)."""
    from engine.pipeline import compile_at
    from engine.render import render_fleet

    _, desired = compile_at(repo, ref)
    written = render_fleet(desired).write(out)
    click.echo(f"rendered {len(desired.containers)} containers and {len(desired.bots)} bots: {len(written)} files in {out}")


@cli.command()
@repo_option
@ref_option
@click.option("--against", default=None, help="Compare with the fleet at this git ref instead of live Docker.")
@click.option("--format", "fmt", type=_FORMATS, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option("--rebalance", is_flag=True, help="Compact pools to the fewest containers (moves bots).")
def plan(repo: str, ref: str | None, against: str | None, fmt: str, detailed_exitcode: bool, rebalance: bool) -> None:
    """Show what would change."""
    from engine.pipeline import offline_plan

    if against is None:
        raise click.UsageError("planning against live Docker is not available yet; use --against REF")
    from engine.timing import stage

    result = offline_plan(repo, ref, against, rebalance=rebalance)
    with stage(f"format {fmt}"):
        text = _format_plan(result, fmt)
    click.echo(text, nl=False)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a fleet repository from the example fleet, with tagged strategy versions."""
    from engine.demo_repo import build_demo_repo

    path = build_demo_repo(Path(directory))
    click.echo(f"created fleet repository {path} (tags v1.0.0, v1.1.0); try: fleetops validate --repo {path}")


def _format_plan(result: Any, fmt: str) -> str:
    if fmt == "json":
        from engine.plan.jsonfmt import plan_to_json

        return plan_to_json(result)
    if fmt == "markdown":
        from engine.plan.markdown import plan_to_markdown

        return plan_to_markdown(result)
    from engine.plan.text import plan_to_text

    return plan_to_text(result)


def main() -> None:
    """Console entry point: run the CLI, turning engine errors into messages and exit codes."""
    from engine.timing import report

    # A CLI run builds many small objects and frees them all at exit: collecting them along the
    # way cost ~10 % of a large plan. Long-running commands (watch) restore the default.
    gc.set_threshold(200_000, 50, 50)
    try:
        _run()
    finally:
        report()


def _run() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except FleetopsError as exc:
        click.echo(str(exc) if isinstance(exc, SpecError) else f"fleetops: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not a user mistake
        if os.environ.get("FLEETOPS_DEBUG"):
            traceback.print_exc()
        click.echo(f"fleetops: internal error: {type(exc).__name__}: {exc} (set FLEETOPS_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
