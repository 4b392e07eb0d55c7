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

import click

from engine.cli.support import (
    LOCK_WAIT,
    allowed,
    backtest_settings,
    check_settings,
    chosen_state_dir,
    command_context,
    execute,
    finish_interrupted,
    format_plan,
    note_pending,
    repo_root,
    waiting_for,
    warn,
)
from engine.entry import proof_checked
from engine.errors import FleetopsError, Problem, SpecError
from engine.textsafe import one_line

__all__ = ["cli", "main"]

_FORMATS = click.Choice(["text", "json", "markdown"])
repo_option = click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), callback=repo_root,
                           help="Fleet repository (default: the one this directory is in).")
ref_option = click.option("--ref", default=None, help="Git ref to read (default: the working tree).")
allow_mass_delete_option = click.option("--allow-mass-delete", is_flag=True,
                                        help="Apply even if the plan deletes more than half of the fleet's bots (or all).")


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
    """Check the specs, strategy pins and, with FreqTrade's own checks, every bot's config; every problem in one run."""
    from engine.check import require_accepted
    from engine.compile.desired import compile_fleet
    from engine.spec.load import load_fleet

    warnings: list[Problem] = []
    try:
        loaded = load_fleet(repo, ref, warn=warnings.append if fmt == "json" else warn)
        report = require_accepted(loaded.spec, compile_fleet(loaded.spec), check_settings())
    except SpecError as exc:
        if fmt == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.as_json() for p in exc.problems],
                                   "warnings": [w.as_json() for w in warnings]}, indent=2))
            sys.exit(1)
        raise
    spec = loaded.spec
    counts = {"wallets": len(spec.wallets), "pools": len(spec.pools), "bots": len(spec.bots), "strategy_pins": len(spec.pins)}
    if fmt == "json":
        click.echo(json.dumps({"valid": True, "fleet": spec.fleet.name, "commit": loaded.source.commit, "counts": counts,
                               "freqtrade_check": report.judges, "problems": [], "warnings": [w.as_json() for w in warnings]}, indent=2))
    else:
        accepted = f"; {report.summary()}" if report.summary() else ""
        click.echo(f"fleet '{spec.fleet.name}' is valid: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()) + accepted)


@cli.command()
@repo_option
@ref_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
def render(repo: str, ref: str | None, out: str) -> None:
    """Write the compose file, supervisord confs and bot configs (no secrets)."""
    from engine.check import require_accepted
    from engine.compile.render import render_fleet
    from engine.offline import compile_at

    loaded, desired = compile_at(repo, ref, warn=warn)
    require_accepted(loaded.spec, desired, check_settings())
    written = render_fleet(desired).write(out)
    click.echo(f"rendered {len(desired.containers)} containers and {len(desired.bots)} bots: {len(written)} files in {out}")


@cli.command()
@repo_option
@ref_option
@click.option("--against", default=None, help="Compare with the fleet at this git ref instead of live Docker.")
@click.option("--format", "fmt", type=_FORMATS, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option("--rebalance", is_flag=True, help="Compact pools to the fewest containers (moves bots).")
@click.option("--backtest", is_flag=True, help="Backtest each moved strategy pin, old (or running) and new version side by side.")
@click.option("--backtest-days", type=int, default=None, help="Days of synthetic candles to backtest (default 30).")
@click.option("--datadir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Backtest on your own FreqTrade candle files instead of synthetic ones.")
def plan(repo: str, ref: str | None, against: str | None, fmt: str, detailed_exitcode: bool, rebalance: bool, backtest: bool,
         backtest_days: int | None, datadir: str | None) -> None:
    """Show what would change."""
    from engine.timing import stage

    backtesting = backtest_settings(backtest, backtest_days, datadir)

    if against is None:
        from engine.flow import plan_commit
        from engine.live.noop_proof import ProofHeader, no_changes_text

        ctx = command_context()
        planned = plan_commit(ctx, repo, ref, rebalance=rebalance, warn=warn, proof=fmt == "text" and not proof_checked(ctx.state_dir),
                              backtest=backtesting)
        if isinstance(planned, ProofHeader):
            click.echo(no_changes_text(planned), nl=False)
            return
        result = planned.plan
        note_pending(ctx)
    else:
        from engine.offline import offline_plan

        result = offline_plan(repo, ref, against, rebalance=rebalance, warn=warn, check=check_settings(), backtest=backtesting)
    with stage(f"format {fmt}"):
        text = format_plan(result, fmt)
    click.echo(text, nl=False)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@cli.command()
@repo_option
@ref_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-rollback", is_flag=True, help="Leave a failed revision in place instead of rolling back.")
@click.option("--rebalance", is_flag=True, help="Compact pools to the fewest containers (moves bots).")
@allow_mass_delete_option
@click.option("--allow-rename", is_flag=True, help="Apply even if the specs rename the fleet this repository was applied as "
              "(its bots move to the new name's containers: stopped first, trade databases carried over).")
def apply(repo: str, ref: str | None, yes: bool, no_rollback: bool, rebalance: bool, allow_mass_delete: bool, allow_rename: bool) -> None:
    """Converge Docker to the specs: plan, confirm, execute, check health, roll back if broken."""
    from engine.live.store import apply_lock

    with apply_lock(chosen_state_dir(), wait=LOCK_WAIT, waiting=waiting_for):
        from engine.flow import plan_commit
        from engine.live.noop_proof import ProofHeader, no_changes_text

        ctx = command_context()
        finish_interrupted(ctx, rollback=not no_rollback)
        planned = plan_commit(ctx, repo, ref, rebalance=rebalance, warn=warn, proof=not proof_checked(ctx.state_dir))
        if isinstance(planned, ProofHeader):
            click.echo(no_changes_text(planned), nl=False)
            return
        execute(ctx, planned, yes=yes, rollback=not no_rollback, allow=allowed(allow_mass_delete, allow_rename))


@cli.command()
@click.option("--to", "to", type=int, default=None, help="Revision to return to (default: the last healthy one before the latest).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@allow_mass_delete_option
def rollback(to: int | None, yes: bool, allow_mass_delete: bool) -> None:
    """Re-apply a stored revision's artifacts (no git needed)."""
    from engine.errors import StateError
    from engine.flow import plan_revision
    from engine.live import policy
    from engine.live.store import apply_lock

    ctx = command_context()
    with apply_lock(ctx.state_dir, wait=LOCK_WAIT, waiting=waiting_for):
        finish_interrupted(ctx, rollback=True, stop=False)
        store = ctx.store()
        if to is None:
            latest = store.latest()
            if latest is None:
                raise StateError(f"no revisions in {ctx.state_dir}; nothing to roll back to")
            target = policy.rollback_target(store, latest.fleet, before=latest.number)
            if target is None:
                raise StateError("no earlier healthy revision to roll back to (see `fleetops history`)")
            to = target.number
        live_plan = plan_revision(ctx, store.get(to))
        execute(ctx, live_plan, yes=yes, rollback=False, message=f"rollback to revision {to}", event="rollback",
                 allow=allowed(allow_mass_delete, False))


@cli.command()
@repo_option
@click.option("--fleet", default=None, help="Destroy this fleet of the state dir by name (default: the fleet the specs in --repo name).")
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force-open-trades", is_flag=True, help="Remove bots holding open trades without draining them first.")
def destroy(repo: str, fleet: str | None, yes: bool, force_open_trades: bool) -> None:
    """Remove everything the fleet owns (containers, network); runtime files and trade databases are archived. Recorded in history."""
    from engine.cli.destroy import run_destroy

    run_destroy(repo, fleet, yes=yes, force_open_trades=force_open_trades)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history(fmt: str) -> None:
    """List recorded revisions (duration, commit subject), each with the self-heal repairs that restored it."""
    from engine.live.store import RevisionStore
    from engine.watch.journal import Journal, with_quarantines

    store = RevisionStore.open_readonly(chosen_state_dir())
    journal = Journal.open_readonly(chosen_state_dir())
    repairs = journal.repairs(limit=10_000) if journal is not None else []
    rows = [r.summary() for r in store.all()] if store is not None else []
    for row in rows:
        row["repairs"] = [{"at": r.at, "actions": r.actions, "result": r.result} for r in reversed(repairs) if r.revision == row["revision"]]
    rows = with_quarantines(rows, journal)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from engine.cli.history import history_lines

    click.echo("\n".join(history_lines(rows)))


@cli.command()
@click.option("--fleet", default=None, help="Fleet name (default: the fleet of the latest revision).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(fleet: str | None, fmt: str) -> None:
    """Show the live fleet: containers, bots, process states."""
    from engine.status import fleet_report, status_to_text

    ctx = command_context()
    report = fleet_report(ctx, fleet)
    click.echo(json.dumps(report.to_json(), indent=2) if fmt == "json" else status_to_text(report), nl=fmt == "json")


@cli.command()
@click.argument("bot")
@click.option("--follow", "-f", "following", is_flag=True, help="Keep printing new lines until interrupted (Ctrl-C).")
@click.option("--since", default=None, help="Only lines written since: 10m, 2h, 1d ago, or a time (UTC) such as 2026-12-01T02:00.")
@click.option("--tail", "lines", default=100, show_default=True, type=click.IntRange(1, 10_000), help="Lines to show from the end.")
@click.option("--fleet", default=None, help="Fleet name (default: the fleet of the latest revision).")
def logs(bot: str, following: bool, since: str | None, lines: int, fleet: str | None) -> None:
    """Show a bot's log, secrets masked (a pool bot's program log or a dedicated bot's container output)."""
    from engine.cli.logs import show_logs

    show_logs(command_context(), bot, fleet=fleet, lines=lines, since=since, following=following, echo=click.echo)


@cli.command()
@click.option("--repo", "remote", required=True, help="The fleet repository to follow: a directory or a git URL.")
@click.option("--branch", default="main", show_default=True)
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(min=0.2), help="Seconds between fetches.")
@click.option("--resync", default=30.0, show_default=True, type=click.FloatRange(min=0.2), help="Seconds between drift repairs.")
@click.option("--listen", default=None, help="HOST:PORT for webhooks, /healthz, /metrics and /api/status.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--flap-limit", default=3, show_default=True, type=click.IntRange(min=1), help="Restarts of a bot ...")
@click.option("--flap-window", default=300.0, show_default=True, type=click.FloatRange(min=1), help="... within these seconds mark it failing.")
def watch(remote: str, branch: str, interval: float, resync: float, listen: str | None, log_format: str,
          flap_limit: int, flap_window: float) -> None:
    """Follow a branch: apply each new commit, repair drift between commits (foreground)."""
    from engine.watch.daemon import WatchOptions
    from engine.watch.runner import run_watcher

    gc.set_threshold(700, 10, 10)  # a long-running process: the default collector, not the CLI's tuning
    options = WatchOptions(remote, branch, interval, resync, flap_limit, flap_window)
    sys.exit(run_watcher(command_context(), options, listen=listen, log_format=log_format))


@cli.command()
@click.option("--repo", default=None, type=click.Path(file_okay=False), help="Read wallets from these specs (default: the running revision).")
@ref_option
@click.option("--history", is_flag=True, help="Also show how allocations moved, revision by revision.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def wallets(repo: str | None, ref: str | None, history: bool, fmt: str) -> None:
    """Wallets: capital, allocations, and each bot's equity, open trades and realised P/L (live)."""
    from engine.compile.desired import compile_fleet
    from engine.compile.payload import fleet_from_payload
    from engine.errors import StateError
    from engine.live import policy
    from engine.spec.load import load_fleet
    from engine.wallets import ledger, wallet_report, wallets_to_text

    ctx = command_context()
    store = ctx.read_store()
    if repo is not None:
        desired = compile_fleet(load_fleet(repo, ref, warn=warn).spec)
    else:
        latest = store.latest() if store is not None else None
        current = policy.current_revision(store, latest.fleet) if latest else None
        if current is None:
            raise StateError("no fleet has been applied from this state dir yet; pass --repo to read the specs")
        desired = fleet_from_payload(current.payload)
    report = wallet_report(ctx, desired)
    entries = ledger(store, desired.name) if history else None
    if fmt == "json":
        click.echo(json.dumps({**report, **({"ledger": entries} if entries is not None else {})}, indent=2))
    else:
        click.echo(wallets_to_text(report, entries), nl=False)


@cli.command()
@click.option("--listen", default="127.0.0.1:9400", show_default=True, help="HOST:PORT to serve the status page on.")
@click.option("--repo-url", default=None, help="The fleet repository's web URL (GitHub/GitLab), to link commits.")
def serve(listen: str, repo_url: str | None) -> None:
    """Serve the read-only status page of this state dir's fleet (for hosts without a watcher)."""
    from engine.watch.runner import run_server

    gc.set_threshold(700, 10, 10)
    sys.exit(run_server(command_context(), listen=listen, repo_url=repo_url))


def _register_tools() -> None:
    from engine.cli.tools import adopt, image, init, paper_exchange, schema

    for command in (schema, init, paper_exchange, image, adopt):
        cli.add_command(command)


_register_tools()


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
    except click.ClickException as exc:  # bad options: exit 1 like every other error (contract §3)
        exc.show()
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except FleetopsError as exc:
        click.echo(str(exc) if isinstance(exc, SpecError) else f"fleetops: error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug, not a user mistake: one line, the traceback on request
        if os.environ.get("FLEETOPS_DEBUG"):
            traceback.print_exc()
        click.echo(f"fleetops: internal error: {type(exc).__name__}: {one_line(str(exc))} (set FLEETOPS_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
