"""The periodic schedule: incremental sync every minute, open-period
reconcile every 10 minutes, the full history check nightly, period
closing, the Monday reports and the alert checks — in one process only.

With Redis, the process that holds a short-lived lock is the scheduler and
every other one stands by (a worker restart or a second worker never
doubles the schedule); without Redis, the app's own thread is the only one.
A run missed while nothing was running is caught up at start, once: the
last run times live in the database (sync_state), not in memory.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from b24.models import SyncState
from ledger import clock

from . import amocrm, tasks
from .context import context

log = logging.getLogger("hourbook.schedule")

INCREMENTAL = timedelta(minutes=1)
RECONCILE = timedelta(minutes=10)
HISTORY = timedelta(hours=24)
ALERTS = timedelta(minutes=10)
LOCK_TTL_S = 90
KEY = "hourbook:scheduler"


def due(state: SyncState | None, now: datetime) -> tuple[bool, bool, bool]:
    """(sync, reconcile, full) due for a portal, from when each last ran."""
    if state is None or state.first_sync_at is None:
        return True, True, True
    sync = state.incremental_at is None or now - state.incremental_at >= INCREMENTAL
    reconcile = state.reconcile_at is None or now - state.reconcile_at >= RECONCILE
    full = state.history_at is None or now - state.history_at >= HISTORY
    return sync or reconcile or full, reconcile, full


def tick(runner: Any, now: datetime | None = None) -> list[str]:
    """Queue what is due now; returns the job ids queued."""
    now = now or clock.now()
    queued = []
    ctx = context()
    for portal_id in tasks.active_portals():
        with ctx.sessions() as s:
            state = s.get(SyncState, portal_id)
            if state is not None:
                s.expunge(state)
        run, reconcile, full = due(state, now)
        if run:
            job_id = f"sync-{portal_id}" + ("-full" if full else "-reconcile" if reconcile else "")
            runner.enqueue(tasks.sync_portal, portal_id, reconcile, full, job_id=job_id)
            queued.append(job_id)
    runner.enqueue(tasks.close_periods, job_id="close-periods")
    queued.append("close-periods")
    runner.enqueue(amocrm.refresh_idle_connections, job_id="amocrm-keep-fresh")
    queued.append("amocrm-keep-fresh")
    queued += _reports_and_alerts(runner, now)
    return queued


_last_alerts: dict[str, datetime] = {}


def _reports_and_alerts(runner: Any, now: datetime) -> list[str]:
    """The Monday reports that are due (each once: the report's own row
    says whether it was made) and, every ALERTS interval, the alert check."""
    from . import reports

    queued = []
    with context().sessions() as s:
        due_now = reports.due_reports(s, now)
    for item in due_now:
        job_id = f"report-{item.account_id}-{item.week}"
        runner.enqueue(reports.send_weekly, item.account_id, item.week, job_id=job_id)
        queued.append(job_id)
    last = _last_alerts.get("at")
    if last is None or now - last >= ALERTS:
        runner.enqueue(reports.check_alerts, job_id="alerts")
        queued.append("alerts")
        _last_alerts["at"] = now
    return queued


class Scheduler:
    def __init__(self, runner: Any, redis: Any = None, every_s: float = 20.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.runner, self.redis, self.every_s, self.sleep = runner, redis, every_s, sleep
        self.stopped = threading.Event()
        self.name = f"scheduler-{os.getpid()}-{id(self)}"
        self.alive: Callable[[], bool] = lambda: True

    def leader(self) -> bool:
        if self.redis is None:
            return True
        if self.redis.set(KEY, self.name, nx=True, ex=LOCK_TTL_S):
            return True
        if self.redis.get(KEY) == self.name.encode():
            self.redis.expire(KEY, LOCK_TTL_S)
            return True
        return False

    def run(self) -> None:
        while not self.stopped.is_set() and self.alive():
            try:
                if self.leader():
                    tick(self.runner)
            except Exception as err:  # the schedule must outlive one bad tick
                log.error("scheduler tick failed: %s", err)
            self.stopped.wait(self.every_s)
        self.resign()

    def resign(self) -> None:
        """Hand the lead over at once rather than after LOCK_TTL_S."""
        if self.redis is None:
            return
        try:
            if self.redis.get(KEY) == self.name.encode():
                self.redis.delete(KEY)
        except Exception as err:  # Redis gone: the lock lapses by itself
            log.warning("scheduler could not resign: %s", err)

    def start(self) -> Scheduler:
        threading.Thread(target=self.run, name="hourbook-scheduler", daemon=True).start()
        return self
