"""Mirroring a portal's time records into the ledger.

Time records have no REST event (facts §4.3), so events are only hints and
the portal's records are the truth (PRODUCT.md rule 1). One sync run:

1. One request reads both the new records (an `>ID` cursor, chained pages)
   and every task's TIME_SPENT_IN_LOGS. When nothing changed, that is the
   whole run.
2. New records are applied in ID order; tasks we have not seen are read
   first (their company or workgroup decides the account). The cursor is
   saved in the same transaction as the records it covers, so a run killed
   at any point resumes where it stopped and converges.
3. Tasks whose total differs from our mirror are re-read whole: edits and
   deletions, in closed months too, are found there, 50 tasks per request.
4. A reconcile (every 10 minutes) also re-reads every record dated in the
   open periods plus a lookback, and task metadata changed since the last
   one. A record missing from that window may have been re-dated rather
   than deleted: its task is re-read before its deletion is posted.
5. The full run (nightly) re-reads every record instead of the window, and
   every task's metadata: what no total and no window shows is found there.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from b24 import reader
from b24.client import Rest
from b24.models import SyncState
from b24.records import BadRecord, snapshot_from_elapseditem, task_from_api
from ledger import calendar as cal
from ledger import clock
from ledger.entries import EntryDeleted, apply_entry
from ledger.models import Account, Period, Portal, Task, TimeEntry
from ledger.tasks import upsert_task

log = logging.getLogger("hourbook.sync")
LOOKBACK = timedelta(days=3)  # records dated just before an open period still get re-read
CLOCK_MARGIN = timedelta(minutes=2)


@dataclass
class SyncReport:
    new_records: int = 0
    tasks_checked: int = 0
    tasks_reread: int = 0
    window_records: int = 0
    deleted: int = 0
    postings: int = 0
    bad_records: list[str] = field(default_factory=list)
    requests: int = 0


class Sync:
    def __init__(self, sessions: sessionmaker[Session], rest: Rest, portal_id: int,
                 now: Callable[[], datetime] = lambda: clock.now(),
                 progress: Callable[[str], None] | None = None) -> None:
        self.sessions, self.rest, self.portal_id = sessions, rest, portal_id
        self.now = now
        self.progress = progress or (lambda message: None)
        self.report = SyncReport()

    # ------------------------------------------------------------ the run

    def run(self, reconcile: bool = False, full: bool = False) -> SyncReport:
        # Task changes are read "since the last reconcile": that point must be
        # when this run began reading, or a change made during the run is
        # never asked for again.
        started = self.now()
        before = sum(self.rest.requests_made.values())
        state = self._state()
        cursor = state.last_record_id
        known = self._count_tasks()
        # Enough task pages to see the end of the list (a short page) in this
        # same request; the rest of the batch reads new records.
        task_pages = min(45, known // reader.PAGE + 1)
        record_pages = reader.MAX_BATCH - task_pages
        cmds = {**reader.chain_commands("r", cursor, record_pages, reader._records_page),
                **reader.task_chain_commands(0, task_pages, ["ID", "TIME_SPENT_IN_LOGS"])}
        first = self.rest.batch(cmds)
        records = reader.read_chain(first, "r", record_pages, cursor)
        totals = reader.read_task_chain(first, task_pages, 0)
        self._apply_records(records.items)
        if not records.done:
            for chunk in reader.new_records(self.rest, records.last_id):
                self._apply_records(chunk)
        task_rows = list(totals.items)
        if not totals.done:
            for chunk in reader.task_totals(self.rest, totals.last_id):
                task_rows.extend(chunk)
        self._check_totals(task_rows)
        if reconcile or full:
            self._reconcile(state.reconcile_at, full)
        self._finish(reconcile or full, full, started)
        self.report.requests = sum(self.rest.requests_made.values()) - before
        return self.report

    def sync_task(self, task_id: int) -> SyncReport:
        """A task event's hint: re-read that task now."""
        return self.sync_tasks([task_id])

    def sync_tasks(self, task_ids: list[int]) -> SyncReport:
        """Task events' hints: re-read these tasks now, together (batched)."""
        before = sum(self.rest.requests_made.values())
        self._refresh_tasks(task_ids)
        self._reread_tasks(task_ids)
        self.report.requests += sum(self.rest.requests_made.values()) - before
        return self.report

    # ------------------------------------------------------------ steps

    def _state(self) -> SyncState:
        with self.sessions() as s, s.begin():
            state = s.get(SyncState, self.portal_id)
            if state is None:
                state = SyncState(portal_id=self.portal_id, last_record_id=0, failures=0)
                s.add(state)
                s.flush()
            s.expunge(state)
            return state

    def _count_tasks(self) -> int:
        with self.sessions() as s:
            return s.execute(select(func.count()).select_from(Task).where(Task.portal_id == self.portal_id)).scalar_one()

    def _snapshots(self, items: Iterable[dict]) -> list:
        snaps = []
        for item in items:
            try:
                snaps.append(snapshot_from_elapseditem(self.portal_id, item))
            except BadRecord as err:
                # One unreadable record must not stop the sync of every other; it
                # is reported (and shown to the manager), never guessed at.
                self.report.bad_records.append(f"{item.get('ID')}: {err}")
                log.warning("portal %s: unreadable record %s: %s", self.portal_id, item.get("ID"), err)
        return snaps

    def _apply_records(self, items: list[dict]) -> None:
        """Apply new records and move the cursor past them, in one transaction."""
        if not items:
            return
        snaps = self._snapshots(items)
        self._refresh_tasks(sorted({s.task_id for s in snaps}), only_unknown=True)
        last = max(int(item["ID"]) for item in items)
        now = self.now()
        with self.sessions() as s, s.begin():
            for snap in snaps:
                self.report.postings += apply_entry(s, snap, now).written
            state = s.get(SyncState, self.portal_id)
            state.last_record_id = max(state.last_record_id, last)
        self.report.new_records += len(items)
        self.progress(f"{self.report.new_records} new records")

    def _refresh_tasks(self, task_ids: list[int], only_unknown: bool = False) -> None:
        if only_unknown and task_ids:
            with self.sessions() as s:
                known = set(s.execute(select(Task.task_id).where(
                    Task.portal_id == self.portal_id, Task.task_id.in_(task_ids))).scalars())
            task_ids = [t for t in task_ids if t not in known]
        if not task_ids:
            return
        infos = []
        for item in reader.tasks_meta(self.rest, task_ids):
            try:
                infos.append(task_from_api(item))
            except BadRecord as err:
                self.report.bad_records.append(str(err))
        self._store_tasks(infos)

    def _store_tasks(self, infos: list) -> None:
        now = self.now()
        with self.sessions() as s, s.begin():
            for info in infos:
                upsert_task(s, self.portal_id, info.task_id, title=info.title, status=info.status,
                            group_id=info.group_id, parent_id=info.parent_id, company_id=info.company_id,
                            responsible_id=info.responsible_id, tags=info.tags,
                            time_spent_s=info.time_spent_s, now=now)
        # A subtask without a company or workgroup counts where its parent
        # does: a parent we have not seen (it has no time of its own) is read
        # too; storing it re-derives the subtask's entries.
        parents = sorted({i.parent_id for i in infos if i.parent_id} - {i.task_id for i in infos})
        if parents:
            self._refresh_tasks(parents, only_unknown=True)

    def _mirror_totals(self) -> dict[int, int]:
        with self.sessions() as s:
            return {task: int(total) for task, total in s.execute(
                select(TimeEntry.task_id, func.sum(TimeEntry.duration_s))
                .where(TimeEntry.portal_id == self.portal_id, TimeEntry.deleted.is_(False))
                .group_by(TimeEntry.task_id))}

    def _check_totals(self, task_rows: list[dict]) -> None:
        """Re-read the tasks whose TIME_SPENT_IN_LOGS differs from our mirror."""
        portal = {}
        for row in task_rows:
            spent = row.get("timeSpentInLogs")
            portal[int(row["id"])] = int(spent) if spent not in (None, "") else 0
        mirror = self._mirror_totals()
        differ = sorted(t for t in set(portal) | set(mirror) if portal.get(t, 0) != mirror.get(t, 0))
        self.report.tasks_checked += len(portal)
        if differ:
            self.progress(f"{len(differ)} tasks changed")
            self._reread_tasks(differ)

    def _reread_tasks(self, task_ids: list[int]) -> None:
        """Bring each task's records in line with the portal: apply what it
        has, delete what it no longer has (the whole task was read, so a
        missing record is gone, not re-dated)."""
        found, gone = reader.records_of_tasks(self.rest, task_ids)  # a vanished task has no records left
        now = self.now()
        self._refresh_tasks(sorted({int(i["TASK_ID"]) for items in found.values() for i in items}),
                            only_unknown=True)
        if gone:
            # The portal moves a deleted task's subtasks up to its parent without
            # an event or a new CHANGED_DATE: where their time counts may change.
            with self.sessions() as s:
                children = sorted(s.execute(select(Task.task_id).where(
                    Task.portal_id == self.portal_id, Task.parent_id.in_(sorted(gone)))).scalars())
            self._refresh_tasks(children)
        with self.sessions() as s, s.begin():
            for task_id in task_ids:
                items = found.get(task_id, [])
                seen = set()
                for snap in self._snapshots(items):
                    seen.add(snap.record_id)
                    self.report.postings += apply_entry(s, snap, now).written
                self._delete_missing(s, task_id, seen, now)
        self.report.tasks_reread += len(task_ids)

    def _delete_missing(self, s: Session, task_id: int, seen: set[int], now: datetime) -> None:
        for record_id in s.execute(select(TimeEntry.record_id).where(
                TimeEntry.portal_id == self.portal_id, TimeEntry.task_id == task_id,
                TimeEntry.deleted.is_(False))).scalars():
            if record_id not in seen:
                self.report.postings += apply_entry(s, EntryDeleted(self.portal_id, record_id), now).written
                self.report.deleted += 1

    def _window_start(self) -> datetime:
        with self.sessions() as s:
            portal = s.get(Portal, self.portal_id)
            earliest = s.execute(
                select(func.min(Period.starts_at)).join(Account, Account.id == Period.account_id)
                .where(Account.portal_id == self.portal_id, Period.status == "open")
            ).scalar_one_or_none()
            tz = portal.time_zone
        if earliest is None:
            earliest = cal.local_midnight(cal.month_start(cal.local_date(self.now(), tz)), tz)
        return earliest - LOOKBACK

    def _reconcile(self, last: datetime | None, full: bool) -> None:
        with self.sessions() as s:
            tz = s.get(Portal, self.portal_id).time_zone
        # The full run re-reads every record, not only the window: an edit in a
        # closed month that leaves its task's total as it was (durations swapped
        # between two records, a record re-dated within the closed months) shows
        # in no total and in no window.
        since = None if full else self._window_start()
        seen: set[int] = set()
        now = self.now()
        chunks = reader.new_records(self.rest, 0) if since is None else \
            reader.records_since(self.rest, since.astimezone(cal.zone(tz)))
        for chunk in chunks:
            snaps = self._snapshots(chunk)
            self._refresh_tasks(sorted({s.task_id for s in snaps}), only_unknown=True)
            with self.sessions() as s, s.begin():
                for snap in snaps:
                    seen.add(snap.record_id)
                    self.report.postings += apply_entry(s, snap, now).written
            self.report.window_records += len(chunk)
        # The live entries the read did not bring back, found here rather than by
        # NOT IN: a list of every record read would pass PostgreSQL's bind limit.
        with self.sessions() as s:
            live = s.execute(select(TimeEntry.record_id, TimeEntry.task_id).where(
                TimeEntry.portal_id == self.portal_id, TimeEntry.deleted.is_(False),
                TimeEntry.work_at >= since if since is not None else True)).all()
        missing = {task_id for record_id, task_id in live if record_id not in seen}
        if missing:
            self._reread_tasks(sorted(missing))  # confirm: deleted, or re-dated out of the window
        if full:
            # Every task we mirror, parents without time of their own too: a
            # change the portal makes silently (a deleted task's subtasks move
            # up to its parent, with no event and no new CHANGED_DATE) shows here.
            with self.sessions() as s:
                ids = sorted(s.execute(select(Task.task_id).where(Task.portal_id == self.portal_id)).scalars())
            self._store_tasks([task_from_api(i) for i in reader.tasks_meta(self.rest, ids)])
        elif last is not None:
            # A margin for the portal's clock and ours not quite agreeing.
            since = (last - CLOCK_MARGIN).astimezone(cal.zone(tz))
            self._store_tasks([task_from_api(i) for i in reader.changed_tasks(self.rest, since)])

    def _finish(self, reconciled: bool, full: bool, started: datetime) -> None:
        now = self.now()
        with self.sessions() as s, s.begin():
            state = s.get(SyncState, self.portal_id)
            state.incremental_at = now
            if reconciled:
                state.reconcile_at = started
            if full:
                state.history_at = now
            if state.first_sync_at is None:
                state.first_sync_at = now
            state.failures, state.last_error = 0, None

