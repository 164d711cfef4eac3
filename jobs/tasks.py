"""The jobs: plain functions of ids, each making its own context and raising
on failure so the runner retries it (STYLE.md, rq)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from b24.client import AuthDead
from b24.models import PortalAuth, SyncState
from ledger import clock
from ledger.contracts import close_due
from ledger.models import Portal
from reports.act import make_missing as make_missing_acts

from .context import context
from .sync import Sync, SyncReport

log = logging.getLogger("hourbook.jobs")


def _record_failure(portal_id: int, err: Exception) -> None:
    ctx = context()
    with ctx.sessions() as s, s.begin():
        state = s.get(SyncState, portal_id)
        if state is not None:
            state.failures += 1
            state.last_error = f"{type(err).__name__}: {err}"[:500]


def sync_portal(portal_id: int, reconcile: bool = False, full: bool = False) -> dict:
    """One sync run of a portal (see jobs/sync.py)."""
    ctx = context()
    try:
        report = Sync(ctx.sessions, ctx.rest(portal_id), portal_id).run(reconcile=reconcile, full=full)
    except AuthDead as err:
        # The portal refused us: marked dead (visible to the manager), and
        # retried by the schedule rather than silently skipped.
        _record_failure(portal_id, err)
        log.warning("portal %s: credentials refused: %s", portal_id, err)
        raise
    except Exception as err:
        _record_failure(portal_id, err)
        raise
    return report.__dict__


def sync_task(portal_id: int, task_id: int) -> dict:
    """Re-read one task's records and metadata (kept for jobs queued before
    `sync_hinted_tasks`, and for scripts)."""
    ctx = context()
    report: SyncReport = Sync(ctx.sessions, ctx.rest(portal_id), portal_id).sync_task(task_id)
    return report.__dict__


HINT_ROUNDS = 100


def sync_hinted_tasks(portal_id: int) -> dict:
    """Task events' hints (jobs/hints.py): re-read every task they named
    since the last run, together, and again for what they named meanwhile,
    until none waits: an event that found this run (and the one queued
    after it) already started queues nothing, and is read here. What a
    round took is given back to the next run unless the round finishes."""
    ctx = context()
    sync = Sync(ctx.sessions, ctx.rest(portal_id), portal_id)
    read = 0
    for _ in range(HINT_ROUNDS):  # bounded: a portal's endless stream must not hold a worker forever
        task_ids = ctx.hints.take(portal_id)
        if not task_ids:
            break
        sync.sync_tasks(task_ids)
        ctx.hints.done(portal_id, task_ids)
        read += len(task_ids)
    return {"tasks": read, **sync.report.__dict__}


def close_periods(now: datetime | None = None) -> dict:
    """Close every period whose end has passed in its portal's time zone,
    then make the act of each month closed (and of months closed before
    acts existed, a batch a run). The acts come in a transaction of their
    own: an act that cannot be made never holds a month open; the job
    fails (and is retried) with the months closed, and any run makes what
    is missing."""
    ctx = context()
    with ctx.sessions() as s, s.begin():
        run = close_due(s, now or clock.now())
        closed = {"closed": [p.label for p in run.closed], "reapplied": run.reapplied}
    with ctx.sessions() as s, s.begin():
        made = make_missing_acts(s)
        return {**closed, "acts": [a.period for a in made]}


def active_portals() -> list[int]:
    """Portals to sync: installed, or connected by webhook; dead ones too
    (they are retried, at the schedule's pace)."""
    ctx = context()
    with ctx.sessions() as s:
        return list(s.execute(
            select(Portal.id).join(PortalAuth, PortalAuth.portal_id == Portal.id)
            .where(Portal.active.is_(True)).order_by(Portal.id)).scalars())


def rebind(portal_id: int) -> dict:
    """After an update (which drops an app's bindings): bind what is missing."""
    from b24.install import bind_all

    ctx = context()
    report = bind_all(ctx.rest(portal_id), ctx.config["PUBLIC_URL"])
    return report.__dict__


def drain_offline(portal_id: int) -> dict:
    """ONOFFLINEEVENT: take the queued task events and re-read those tasks."""
    ctx = context()
    rest = ctx.rest(portal_id)
    answer = rest.call("event.offline.get", {"clear": 1, "limit": 1000}).get("result") or {}
    task_ids = set()
    for item in answer.get("events") or []:
        data = item.get("EVENT_DATA") if isinstance(item, dict) else None
        if isinstance(data, dict):
            for side in ("FIELDS_AFTER", "FIELDS_BEFORE"):
                fields = data.get(side)
                if isinstance(fields, dict) and str(fields.get("ID", "")).isdecimal():
                    task_ids.add(int(fields["ID"]))
    if task_ids:
        Sync(ctx.sessions, rest, portal_id).sync_tasks(sorted(task_ids))
    return {"tasks": sorted(task_ids)}
