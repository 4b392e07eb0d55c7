"""What the ``fleetops`` commands share: the command's context, the check's settings, how a plan is shown and applied.

Called only by the commands (``engine.cli``); every engine import is inside the function that needs
it, so a command that does not reach a stage never pays for its imports (the no-op proof's path).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.errors import FleetopsError, Problem
from engine.textsafe import one_line

if TYPE_CHECKING:
    from engine.backtest import BacktestSettings
    from engine.check import CheckSettings
    from engine.context import Context
    from engine.live.liveplan import LivePlan
    from engine.plan.model import Plan

__all__ = [
    "LOCK_WAIT",
    "allowed",
    "backtest_settings",
    "check_settings",
    "chosen_docker_host",
    "chosen_state_dir",
    "command_context",
    "execute",
    "finish_interrupted",
    "format_plan",
    "note_pending",
    "waiting_for",
    "warn",
]

LOCK_WAIT = 60.0
"""How long apply and rollback wait for another apply (a watcher's, say) before giving up."""


def waiting_for(holder: str) -> None:
    click.echo(f"  waiting up to {LOCK_WAIT:.0f} s for the apply lock (held by {holder})", err=True)


def warn(problem: Problem) -> None:
    """A warning about the specs (a file that looks like one but is not read): stderr, never a failure."""
    click.echo(str(problem), err=True)


def finish_interrupted(ctx: Context, *, rollback: bool, stop: bool = True) -> None:
    """A revision a killed apply left pending is finished first (``engine.resume``); nothing to
    import or check when the store has none (the no-op proof's path)."""
    store = ctx.read_store()
    if store is None or not store.pending():
        return
    from engine.resume import finish_before_apply

    finish_before_apply(ctx, rollback=rollback, stop=stop)


def note_pending(ctx: Context) -> None:
    """``plan`` changes nothing: it says what the next apply will do about an unfinished revision."""
    from engine.resume import pending_note

    note = pending_note(ctx)
    if note is not None:
        click.echo(f"  note: {one_line(note)}", err=True)


def chosen_docker_host() -> str:
    """The Docker address to use, checked (``engine.backend.docker.address``): a malformed one is a
    one-line error naming where it came from, before anything reads it."""
    from engine.backend.docker.address import docker_address  # the one backend with a command-line option

    root = click.get_current_context().find_root()
    from_env = root.get_parameter_source("docker_host") is click.core.ParameterSource.ENVIRONMENT
    return docker_address(root.obj["docker_host"], "DOCKER_HOST" if from_env else "--docker-host")


def chosen_state_dir() -> Path:
    from engine.live.store import default_state_dir

    configured = click.get_current_context().find_root().obj["state_dir"]
    return Path(configured) if configured else default_state_dir()


def command_context() -> Context:
    """The command's context: nothing connects, and nothing heavy is imported, until a stage asks —
    then to the backend the fleet names. FLEETOPS_FULL_PLAN=1 turns the no-op proof off."""
    from engine.backend.registry import BackendOptions
    from engine.context import Context
    from engine.live.adapters import RealConnector

    state_dir = chosen_state_dir()
    return Context(state_dir, RealConnector(BackendOptions(state_dir, chosen_docker_host())),
                   progress=lambda line: click.echo(f"  {one_line(line)}", err=True), freqtrade_check=check_settings,
                   proofs=not os.environ.get("FLEETOPS_FULL_PLAN"))


def check_settings() -> CheckSettings:
    """Where the FreqTrade check may look (engine.check): the state dir for its cache, the Docker engine, warnings to stderr."""
    from engine.check import CheckSettings

    try:
        docker_host, problem = chosen_docker_host(), None
    except FleetopsError as exc:  # validate and plan --against need no Docker: the image's FreqTrade is then out of reach
        docker_host, problem = None, str(exc)
    return CheckSettings(chosen_state_dir(), docker_host, dict(os.environ), docker_problem=problem,
                         warn=lambda line: click.echo(f"fleetops: warning: {one_line(line)}", err=True))


def backtest_settings(backtest: bool, days: int | None, datadir: str | None) -> BacktestSettings | None:
    """``plan --backtest``'s settings (engine.backtest), or None without the flag; FleetopsError for
    --backtest-days or --datadir without it, or both at once."""
    if not backtest:
        if days is not None or datadir is not None:
            raise FleetopsError("--backtest-days and --datadir go with --backtest; add it")
        return None
    if days is not None and datadir is not None:
        raise FleetopsError("--backtest-days is for synthetic candles and --datadir brings your own: give one of them")
    from engine.backtest import DEFAULT_DAYS, BacktestSettings, require_days

    try:
        docker_host: str | None = chosen_docker_host()
    except FleetopsError:  # a malformed DOCKER_HOST: no image to run them in; a local FreqTrade may still
        docker_host = None
    return BacktestSettings(require_days(days) if days is not None else DEFAULT_DAYS, Path(datadir) if datadir else None,
                            chosen_state_dir(), dict(os.environ), docker_host)


def allowed(mass_delete: bool, rename: bool) -> frozenset[str]:
    """The plan-wide risks the user allowed by flag (``engine.plan.model.PlanRisk`` kinds)."""
    return frozenset(kind for kind, given in (("mass-delete", mass_delete), ("rename", rename)) if given)


def execute(ctx: Context, live_plan: LivePlan, *, yes: bool, rollback: bool, message: str = "", event: str = "apply",
             allow: frozenset[str] = frozenset()) -> None:
    """Show the plan, refuse it or ask, apply it: the shared tail of apply and rollback. A plan with
    nothing to do is settled (``flow.settled``: the source remembered, the no-op proof written)."""
    from engine.errors import ApplyError, HealthError
    from engine.flow import apply_plan, settled
    from engine.live.store import RevisionStatus
    from engine.plan.text import plan_to_text

    click.echo(plan_to_text(live_plan.plan), nl=False)
    if not live_plan.plan.has_changes:
        settled(ctx, live_plan)
        return
    refused = live_plan.refusal(allow, ctx.backend_ref())
    if refused is not None:  # before the question: nothing to confirm
        raise ApplyError(refused)
    if not yes:
        if not sys.stdin.isatty():
            raise FleetopsError("refusing to apply without confirmation: stdin is not a terminal (pass --yes)")
        click.confirm("Apply these changes?", abort=True)
    outcome = apply_plan(ctx, live_plan, rollback=rollback, message=message, event=event, allow=allow)
    if outcome.status is RevisionStatus.ROLLED_BACK:
        raise HealthError(outcome.message)
    if outcome.status is not RevisionStatus.APPLIED:
        raise ApplyError(outcome.message)
    healthy = sum(1 for h in outcome.health.values() if h.passed)
    click.echo(f"{outcome.message}; {healthy} bot(s) answered their ping")


def format_plan(result: Plan, fmt: str) -> str:
    if fmt == "json":
        from engine.plan.jsonfmt import plan_to_json

        return plan_to_json(result)
    if fmt == "markdown":
        from engine.plan.markdown import plan_to_markdown

        return plan_to_markdown(result)
    from engine.plan.text import plan_to_text

    return plan_to_text(result)


def repo_root(context: click.Context, parameter: click.Parameter, value: str) -> str:
    """``--repo`` left out in a subdirectory of the fleet repository (``fleet/``, ``strategies/bands``):
    the repository's top, the nearest directory above with ``.git``, when it has the fleet's specs
    — as git itself finds its repository from anywhere inside it. Given explicitly, ``--repo`` is
    used as it is; outside a repository the command says there is no ``fleet/`` here."""
    from engine.spec.worktree import fleet_repository_above

    if parameter.name is None or context.get_parameter_source(parameter.name) is not click.core.ParameterSource.DEFAULT:
        return value
    top = fleet_repository_above(Path.cwd())
    return str(top) if top is not None else value

