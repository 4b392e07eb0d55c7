"""The status page's routes: ``/`` (the fleet), ``/bots/<name>``, ``/revisions``, ``/events`` (SSE), ``/api/fleet``, ``/login``.

Mounted by ``engine.watch.server`` for ``fleetops watch --listen`` and ``fleetops serve``. Every
route reads the refresher's snapshot; HTML is rendered by jinja2 with autoescaping, so every
value from the specs, git or a bot's API is text, never markup; the security headers (a strict
Content-Security-Policy: scripts and styles from this server only) are set in ``server``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.plan.jsonfmt import plan_from_dict
from engine.plan.text import plan_to_text
from engine.resources import template_dir
from engine.web.botpage import bot_memory, bot_settings, loop_text, pin_changelog, sparkline, trade_rows
from engine.web.causes import failure_cause, resolved_quarantine, resolved_revision
from engine.web.refresher import PageSnapshot, Refresher
from engine.web.view import SORT_KEYS, bot_rows, commit_link, container_rows, fleet_header

if TYPE_CHECKING:
    import jinja2

__all__ = ["web_routes"]

HEARTBEAT = 15.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir()), autoescape=True, undefined=jinja2.ChainableUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


def _when(stamp: str | None) -> str:
    """``2026-11-25 05:18:53 UTC`` from a stored ISO time."""
    return (stamp or "").replace("T", " ").replace("+00:00", " UTC")


def _render(name: str, **context: Any) -> str:
    return _environment().get_template(f"web/{name}").render(**context)


def web_routes(refresher: Refresher, *, repo_url: str | None, check_token: Any) -> list[Route | Mount]:
    """``check_token(value) -> bool`` validates the login form; the gate itself is the server's."""

    def link(sha: str | None) -> str | None:
        return commit_link(repo_url, sha)

    def summary_context(snapshot: PageSnapshot) -> dict[str, Any]:
        quarantine = [{**q, "resolved": resolved_quarantine(str(q.get("commit")), snapshot.sync, snapshot.revisions, snapshot.revision)}
                      for q in (snapshot.watch or {}).get("quarantine") or []]
        return {"s": snapshot, "commit_link": link, "head": fleet_header(snapshot), "quarantine": quarantine}

    def fragments(snapshot: PageSnapshot, version: int, q: str = "", sort: str = "attention") -> dict[str, Any]:
        rows = bot_rows(snapshot, q, sort)
        return {"version": version, "rows": rows, "containers": container_rows(snapshot),
                "summary": _render("summary.html.j2", **summary_context(snapshot))}

    async def fleet(request: Request) -> Response:
        q = request.query_params.get("q", "")[:200]
        sort = request.query_params.get("sort", "attention")
        snapshot, version = refresher.snapshot, refresher.version
        rows = bot_rows(snapshot, q, sort)
        html = _render("fleet.html.j2", page="fleet", version=version, bots=rows, q=q, sort=sort,
                       sort_keys=SORT_KEYS, containers=container_rows(snapshot), **summary_context(snapshot))
        return HTMLResponse(html)

    async def bot(request: Request) -> Response:
        name = request.path_params["name"]
        snapshot = refresher.snapshot
        view = next((b for b in snapshot.bots if b.name == name), None)
        live, site = refresher.live, refresher.site
        if view is None or live is None or site is None:
            return HTMLResponse(_render("missing.html.j2", page="bot", bot_name=name, **summary_context(snapshot)), status_code=404)
        detail = await asyncio.to_thread(refresher.detail.get, live, site, name, view.state == "running")
        record = live.bots[name].record if name in live.bots else None
        essence = record.essence if record is not None else None
        base = essence.allocation if essence is not None else 0.0
        html = _render("bot.html.j2", page="bot", b=view, detail=detail, settings=bot_settings(essence) if essence else [],
                       unreadable=live.bots[name].unreadable if name in live.bots else None,
                       changelog=pin_changelog(snapshot.revisions, name), spark=sparkline(refresher.figures.history(name), base),
                       currency=essence.currency if essence else "", open_trades=trade_rows(detail.open_trades),
                       recent=trade_rows(detail.recent), memory=bot_memory(snapshot, view), loop=loop_text(view),
                       **summary_context(snapshot))
        return HTMLResponse(html)

    async def revisions(request: Request) -> Response:
        snapshot = refresher.snapshot
        shown = []
        for r in snapshot.revisions:
            try:
                text = _ANSI.sub("", plan_to_text(plan_from_dict(r.get("plan") or {})))  # the terminal's emphasis, not for a page
            except (KeyError, ValueError, TypeError):
                text = "(the stored plan could not be read)"
            causes = {bot: failure_cause(str(f.get("detail") or ""), f.get("log") or []) for bot, f in (r.get("failures") or {}).items()
                      if isinstance(f, dict)}
            shown.append({**r, "plan_text": text, "link": link(r.get("commit")), "duration": _duration(r), "causes": causes,
                          "resolved": resolved_revision(r, snapshot.revision)})
        return HTMLResponse(_render("revisions.html.j2", page="revisions", revisions=shown, **summary_context(snapshot)))

    async def api_fleet(request: Request) -> Response:
        snapshot = {k: v for k, v in refresher.snapshot.to_json().items() if k != "revisions"}
        return JSONResponse({"version": refresher.version, **snapshot})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            version = -1
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                if refresher.version != version:
                    version = refresher.version
                    data = fragments(refresher.snapshot, version)
                    payload = {"version": version, "summary": data["summary"],
                               "bots": _render("bots.html.j2", bots=data["rows"]),
                               "containers": _render("containers.html.j2", containers=data["containers"])}
                    yield f"event: fleet\ndata: {json.dumps(payload)}\n\n"
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > HEARTBEAT:
                    yield ": still here\n\n"
                    quiet_since = time.monotonic()
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_render("login.html.j2", page="login", failed=False))
        form = await request.form()
        token = str(form.get("token") or "")
        if not check_token(token):
            return HTMLResponse(_render("login.html.j2", page="login", failed=True), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie("fleetops_token", token, httponly=True, samesite="strict", max_age=7 * 24 * 3600)
        return response

    return [
        Route("/", fleet),
        Route("/bots/{name}", bot),
        Route("/revisions", revisions),
        Route("/events", events),
        Route("/api/fleet", api_fleet),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=template_dir() / "web" / "static"), name="static"),
    ]


def _duration(revision: Mapping[str, Any]) -> str:
    import datetime as dt

    try:
        start = dt.datetime.fromisoformat(revision["started_at"])
        end = dt.datetime.fromisoformat(revision["finished_at"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{(end - start).total_seconds():.0f} s"
