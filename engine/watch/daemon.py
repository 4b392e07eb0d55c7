"""The watcher's loop: fetch → queue → apply one commit at a time; between commits, heal.

Called by ``fleetops watch``. Threads, and what each may do:
  poller    fetches every interval (or at once when woken by a webhook), offers the head to the
            queue; failures back off (capped at the interval) and are counted, never fatal;
  events    follows Docker's container events and wakes the loop on a ``die``/``stop``;
  server    (optional) serves webhooks, health, metrics and status; it only wakes the poller;
  main      the loop: takes the next commit and runs it through ``engine.flow`` exactly as
            ``fleetops apply`` would, or heals; it alone touches Docker and the revision store.
A stop request lets the apply in progress (and its rollback) finish; the loop then returns.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from engine.context import Context
from engine.errors import FleetopsError, SourceError, SpecError, StateError
from engine.fleetview import FleetView, fleet_view
from engine.flow import apply_plan, plan_commit, settled
from engine.health.table import DEFAULT_KIND
from engine.live import policy
from engine.live.health import look_at
from engine.live.identity import origin_of_remote
from engine.live.store import Revision, RevisionStatus, apply_lock, latest_status
from engine.plan.model import PlanRisk
from engine.resume import Finished, finish_interrupted
from engine.status import other_fleets
from engine.watch.guard import FlapGuard
from engine.watch.heal import DriftConfirmer, heal
from engine.watch.journal import Journal
from engine.watch.logs import WatchLog
from engine.watch.metrics import WatchMetrics
from engine.watch.mirror import GitMirror
from engine.watch.queue import CommitQueue
from engine.watch.sync import SyncInfo, head_unchanged_at, sync_info
from engine.watch.wakeups import Wakeups

__all__ = ["WatchOptions", "Watcher"]

_UNSEEN = object()


@dataclass(frozen=True)
class WatchOptions:
    remote: str
    branch: str = "main"
    interval: float = 30.0
    resync: float = 30.0
    flap_limit: int = 3
    flap_window: float = 300.0


class Watcher:
    def __init__(self, ctx: Context, options: WatchOptions, log: WatchLog | None = None) -> None:
        self.ctx = ctx
        self.options = options
        self.log = log or WatchLog()
        self.mirror = GitMirror(options.remote, ctx.state_dir, options.branch)
        self.origin = origin_of_remote(self.mirror.shown, options.branch)
        """This remote and branch, as fleet identities know it (``engine.live.identity``)."""
        self.journal = Journal(ctx.state_dir)
        self.metrics = WatchMetrics()
        self.guard = FlapGuard(options.flap_limit, options.flap_window)
        self.confirmer = DriftConfirmer(min(2.0, options.resync))
        self.stopping = threading.Event()
        self._fetch_now = threading.Event()
        self._touched: frozenset[str] | None = None
        """What the last heal pass repaired (``Repair.touched``); None: nothing."""
        self._newest: object = _UNSEEN
        self.fetches = 0
        """Fetch attempts so far (tests and benchmarks count them)."""
        self.last_fetch: float | None = None
        self.fetch_error: str | None = None
        self.head: str | None = None
        """The branch head as last fetched (the sync status compares the live revision with it)."""
        self.last_apply: dict[str, Any] | None = None
        self.view: FleetView | None = None
        """The fleet as the last self-heal pass saw it, each enabled bot's health looked at from its
        process and container (no bot is asked: the repairs' own gate does that)."""
        self.others: list[FleetView] = []
        latest = ctx.read_store()
        newest = latest.latest() if latest is not None else None
        self.fleet: str | None = newest.fleet if newest else None
        self.live: Revision | None = policy.current_revision(latest, self.fleet) if self.fleet else None
        """The fleet's live revision as the loop last read it (after each apply and heal pass)."""
        self.queue = CommitQueue(applied=self._applied_commit(), quarantined=self.journal.quarantined())
        self.wakeups = Wakeups(self.queue.wake)
        self.metrics.quarantined.set(len(self.queue.quarantined))

    def _applied_commit(self) -> str | None:
        for record in self.journal.commits(limit=50):
            if record.status in ("applied", "unchanged"):
                return record.sha
        current = policy.current_revision(self.ctx.read_store(), self.fleet) if self.fleet else None
        return current.commit if current else None

    # -- the threads -------------------------------------------------------------------------

    def wake_fetch(self) -> None:
        """A webhook arrived: fetch now (the commit applied is whatever the fetch finds)."""
        self._fetch_now.set()

    def request_stop(self) -> None:
        self.stopping.set()
        self._fetch_now.set()
        self.queue.wake()

    def healthy(self) -> tuple[bool, str]:
        """The loop runs and the poller fetched successfully within 3 intervals."""
        if self.last_fetch is None:
            return (False, f"no successful fetch yet ({self.fetch_error})") if self.fetch_error else (True, "starting")
        age = time.time() - self.last_fetch
        if age > 3 * self.options.interval:
            return False, f"last successful fetch {age:.0f} s ago ({self.fetch_error or 'no error reported'})"
        return True, "ok"

    def poll_once(self) -> bool:
        """One fetch; the head goes to the queue. False when the fetch failed (counted, logged)."""
        self.fetches += 1
        try:
            head = self.mirror.fetch()
        except SourceError as exc:
            self.metrics.fetch_errors.inc()
            self.fetch_error = str(exc)
            self.log(str(exc), event="fetch", level="warn")
            return False
        self.fetch_error = None
        self.last_fetch = time.time()
        self.head = head
        self.metrics.last_fetch.set(self.last_fetch)
        self.queue.offer(head)
        return True

    def _poll(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            if self.poll_once():
                backoff, wait = 1.0, self.options.interval
            else:  # back off, capped at the interval, so a remote that comes back is seen soon
                wait, backoff = backoff, min(backoff * 2, self.options.interval)
            self._fetch_now.wait(wait)
            self._fetch_now.clear()

    def _follow_events(self) -> None:
        self.wakeups.follow(lambda: self.fleet, lambda fleet: self.ctx.site(fleet).events(), self.stopping,
                            lambda message: self.log(message, event="events", level="warn"))

    def run(self) -> int:
        """The main loop; returns once a stop was requested and the apply in progress ended."""
        threading.Thread(target=self._poll, name="fleetops-poller", daemon=True).start()
        threading.Thread(target=self._follow_events, name="fleetops-events", daemon=True).start()
        self.log(f"watching {self.mirror.shown} branch {self.options.branch} every {self.options.interval:g} s", event="start")
        next_heal = time.monotonic() + self.options.resync
        while not self.stopping.is_set():
            sha = self.queue.take()
            if sha is not None:
                self._guarded(self._apply, sha)
                continue
            if time.monotonic() >= next_heal or self.wakeups.heal_due() or self._store_changed():
                self._guarded(self._heal, busy=False)
                next_heal = time.monotonic() + self.options.resync
                due = self.confirmer.due()
                if due is not None:  # drift within its grace: look again the moment it is confirmed, not at the resync
                    self.wakeups.heal_soon(max(0.0, due - time.monotonic()) + 0.05)
                continue
            wake = self.wakeups.next_look(next_heal)
            self.queue.wait(max(0.05, min(1.0, wake - time.monotonic())))
        self.log("stopped", event="stop")
        return 0

    def _store_changed(self) -> bool:
        """A revision was recorded or finished since the last look (an apply outside the watcher): cheap, read-only."""
        try:
            newest = latest_status(self.ctx.state_dir)
        except StateError:
            return False
        changed = newest != self._newest and self._newest is not _UNSEEN
        self._newest = newest
        return changed and newest is not None and newest[1] != RevisionStatus.PENDING.value

    def _guarded(self, step: Any, *args: Any, busy: bool = True) -> None:
        """Nothing a step raises stops the loop: it is logged and the loop goes on. ``busy``: the step
        changes the fleet (an apply), so the deaths and exits seen meanwhile are its own; a heal pass
        marks itself busy only when it repaired something."""
        began = time.monotonic()
        try:
            step(*args)
        except FleetopsError as exc:
            self.log(str(exc), event="error", level="error")
        except Exception as exc:  # noqa: BLE001 - a daemon must outlive its bugs; the traceback goes to the log
            self.log(f"internal error: {type(exc).__name__}: {exc}", event="error", level="error", traceback=traceback.format_exc())
        finally:
            if busy or self._touched:
                self.wakeups.busy(began, time.monotonic(), None if busy else self._touched)
            self._touched = None

    # -- one commit ----------------------------------------------------------------------------

    def _apply(self, sha: str) -> None:
        started = time.monotonic()
        seen = self.queue.seen_at(sha) or started
        subject = self.mirror.subject(sha)
        self.log(f"applying {sha[:12]} ({subject})", event="apply", commit=sha)
        try:
            with apply_lock(self.ctx.state_dir):
                result, revision, reason, why = self._run_pipeline(sha, subject)
        except StateError as exc:  # someone else applies right now: try again shortly
            self.log(f"{exc}; retrying", event="apply", level="warn")
            self.queue.finish(sha, retry_in=min(5.0, self.options.interval))
            return
        except FleetopsError as exc:
            result, revision, reason, why = "error", None, str(exc), ""
        except Exception as exc:  # noqa: BLE001 - see _guarded
            result, revision, reason, why = "error", None, f"internal error: {type(exc).__name__}: {exc}", ""
            self.log(reason, event="error", level="error", traceback=traceback.format_exc())
        duration = time.monotonic() - started
        self.metrics.applies.labels(result).inc()
        self.metrics.apply_duration.observe(duration)
        self._read_live()
        self._store_changed()  # our own revision: no pass is needed for it
        if result in ("applied", "unchanged"):
            self.queue.finish(sha, applied=True)
            found_equal = self.live.number if result == "unchanged" and self.live is not None else None
            # an unchanged commit is recorded with the live revision it was found equal to: the sync status reads it as that revision's
            self.journal.record(sha, self.fleet or "", self.options.branch, result, "", found_equal or revision)
            self.guard.reset()
            if result == "applied":
                self.metrics.commit_to_healthy.observe(time.monotonic() - seen)
        elif result == "error":
            self.queue.finish(sha, retry_in=min(30.0, self.options.interval))
            self.journal.record(sha, self.fleet or "", self.options.branch, "failed", reason, revision)
        else:
            self.metrics.quarantines.labels(why or result).inc()
            self.journal.record(sha, self.fleet or "", self.options.branch, "quarantined", reason, revision)
            self.queue.finish(sha, quarantine=reason)
            self.metrics.quarantined.set(len(self.queue.view().quarantined))
        if revision is not None:
            self.metrics.revision.set(revision)
        self.last_apply = {"commit": sha, "subject": subject, "result": result, "revision": revision, "reason": reason,
                           "finished_at": time.time(), "seconds": round(duration, 3)}
        self.log(f"{sha[:12]}: {result}" + (f" ({reason})" if reason else ""), event="applied", commit=sha, result=result,
                 revision=revision, seconds=round(duration, 3))

    def _run_pipeline(self, sha: str, subject: str) -> tuple[str, int | None, str, str]:
        """(result, revision, reason, why it is quarantined): the same pipeline as ``fleetops apply``, for one commit."""
        finished = self._finish_interrupted()
        if finished is not None and finished.failed and finished.revision.commit == sha:  # this commit's killed apply
            result = "rolled_back" if finished.status is RevisionStatus.ROLLED_BACK else "failed"
            return result, finished.revision.number, finished.message, result
        try:  # the same plan as `fleetops apply`'s: a config FreqTrade would refuse quarantines the commit like a bad spec
            live_plan = plan_commit(self.ctx, self.mirror.path, sha, branch=self.options.branch, origin=self.origin, proof=False,
                                    warn=lambda w: self.log(str(w), event="warning", level="warn", commit=sha))
        except (SpecError, SourceError) as exc:
            first = str(exc).splitlines()[0] + (f" (+{len(exc.problems) - 1} more)" if isinstance(exc, SpecError) and len(exc.problems) > 1 else "")
            return "invalid", None, first, "invalid"
        fleet = live_plan.target.name
        for old in self.mirror.between(self.queue.applied, sha):
            if self.journal.get(old) is None:
                self.journal.record(old, fleet, self.options.branch, "superseded", f"{sha[:12]} was applied in its place")
        allowed = self.mirror.allowances(sha)
        refused = [r for r in live_plan.plan.plan_risks if r.kind not in allowed]
        if refused:
            return "refused", None, _refused(refused), refused[0].kind.replace("-", "_")
        self.fleet = fleet  # only now: a refused rename leaves the watcher healing the fleet that runs
        if not live_plan.plan.changes:
            settled(self.ctx, live_plan)
            return "unchanged", None, "", ""
        outcome = apply_plan(self.ctx, live_plan, rollback=True, message=f"watch: {subject}"[:200], allow=allowed)
        self.guard.forget_pids()
        if outcome.status is RevisionStatus.APPLIED:
            return "applied", outcome.revision, "", ""
        result = "rolled_back" if outcome.status is RevisionStatus.ROLLED_BACK else "failed"
        return result, outcome.revision, outcome.message, result

    # -- between commits -------------------------------------------------------------------------

    def heal_once(self) -> None:
        """One self-heal pass (what the loop does every resync)."""
        self._guarded(self._heal, busy=False)

    def _heal(self) -> None:
        if self.fleet is None:
            return
        deaths, exits = self.wakeups.foreign_deaths(self.fleet), self.wakeups.foreign_exits()
        try:
            with apply_lock(self.ctx.state_dir):
                self._finish_interrupted()
                repair, live = heal(self.ctx, self.fleet, self.guard, self.journal, deaths, lambda m: self.log(m, event="repair"),
                                    self.confirmer, exits)
        except StateError:
            self.wakeups.heal_soon(2.0)  # an apply elsewhere holds the lock (by hand?): look again once it may be done
            return
        finally:
            self._read_live()
        if repair is not None:
            self._touched = frozenset(repair.touched) if repair.changed else None
            for bot, cause in repair.restarts:
                self.metrics.restarts.labels(bot, cause).inc()
            for action in repair.actions:
                self.metrics.repairs.labels(action.rsplit(" ", 1)[-1]).inc()
            for _bot in repair.newly_failing:
                self.metrics.repairs.labels("failing").inc()
        if live is not None:
            current = policy.current_revision(self.ctx.read_store(), self.fleet)
            settings = self.ctx.stored_fleet(current).settings if current is not None else None
            looks = look_at(live, settings.health.check if settings is not None else DEFAULT_KIND)
            self.view = fleet_view(live, current, self.guard.failing).with_looks({name: look.verdict for name, look in looks.items()})
            self.others = other_fleets(self.ctx, self.fleet)
            self.metrics.set_bots(self.view.bot_states)
            self.metrics.set_health(self.view.health_counts)
            self.metrics.set_pools(self.view.pool_bots, self.view.pool_capacity)
            self.metrics.set_nodes(self.view.node_bots)
            self.metrics.set_other_fleets({o.fleet: o.bot_states for o in self.others})
            self._bring_back()

    def _read_live(self) -> None:
        if self.fleet is not None:
            self.live = policy.current_revision(self.ctx.read_store(), self.fleet)

    def sync(self) -> SyncInfo:
        """The fleet's sync status against the branch it follows (``engine.watch.sync``), from the
        live revision as the loop last read it, the head as last fetched and the drift the last
        self-heal pass saw. Cheap (one journal row); safe from any thread."""
        head = self.head
        return sync_info(self.live, head, branch=self.options.branch, head_unchanged_at=head_unchanged_at(self.journal, head),
                         drift=self.confirmer.drifting)

    def _finish_interrupted(self) -> Finished | None:
        """A revision a killed apply (this watcher's, before a restart) left pending: its health gate
        and rollback run now (``engine.resume``). Called with the apply lock held."""
        finished = finish_interrupted(self.ctx)
        if finished is not None:
            self.log(f"revision {finished.revision.number} was unfinished: {finished.message}", event="resume",
                     revision=finished.revision.number, result=finished.status.value)
        return finished

    def _bring_back(self) -> None:
        """The live revision is not the branch head's although the head was applied (an apply made
        outside the watcher, by hand or from an unpushed commit): say so, and apply the head again."""
        info = self.sync()
        head = info.branch_head
        if not info.out_of_band or head is None or self.queue.applied != head:
            return
        self.log(f"the fleet is OutOfSync: {info.reason} (an apply outside the watcher); applying {head[:12]} again "
                 f"to bring it back to the head of {self.options.branch}", event="out_of_sync", level="warn",
                 revision=info.revision, commit=info.commit, branch_head=head)
        self.queue.redo(head)

    def exposition(self) -> bytes:
        return self.metrics.exposition()

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` serves."""
        view = self.queue.view()
        healthy, why = self.healthy()
        return {
            "fleet": self.fleet, "branch": self.options.branch, "remote": self.mirror.shown,
            "healthy": healthy, "health_detail": why, "last_fetch": self.last_fetch, "fetch_error": self.fetch_error,
            "queue": {"applied": view.applied, "running": view.running, "waiting": view.waiting},
            "quarantine": [{"commit": sha, "reason": reason} for sha, reason in sorted(view.quarantined.items())],
            "last_apply": self.last_apply, "failing": dict(self.guard.failing),
            "restarts": self.guard.restarts(), "sync": self.sync().to_json(), **self._view_json(),
        }

    def _view_json(self) -> dict[str, Any]:
        """The fleet view's keys (``engine.fleetview``) and the other fleet names, once a pass has seen the fleet."""
        if self.view is None:
            return {}
        return {**self.view.to_json(), "other_fleets": [{"fleet": o.fleet, **o.to_json()} for o in self.others]}


def _refused(risks: list[PlanRisk]) -> str:
    """The quarantine reason of a commit whose plan has plan-wide risks its trailers do not allow."""
    trailers = ", ".join(f"'{r.trailer}'" for r in risks)
    return (f"refused: the plan {' and '.join(r.reason for r in risks)}; if that is intended, push a newer commit "
            f"whose message carries the trailer {trailers}")
