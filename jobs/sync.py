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
   It keeps its own cursor beside what it posted, so a full run killed
   part-way resumes where it stopped (a pass begun within a day).
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
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
from ledger.entries import EntryDeleted, apply_entries
from ledger.models import Account, Period, Portal, Task, TimeEntry
from ledger.tasks import upsert_task

log = logging.getLogger("hourbook.sync")
LOOKBACK = timedelta(days=3)  # records dated just before an open period still get re-read
CLOCK_MARGIN = timedelta(minutes=2)
FULL_RESUME_WITHIN = timedelta(days=1)  # an older interrupted full pass starts again: its reads are stale


@dataclass
class Progress:
    """Where a run stands, for a progress bar: records read from the portal
    and posted, of `total` when the portal told it; requests spent."""

    read: int = 0
    posted: int = 0
    total: int | None = None
    requests: int = 0
    requests_before: int = 0


def prefetch(chunks: Iterator[list[dict]], lock: threading.Lock, depth: int = 1) -> Iterator[list[dict]]:
    """The chunks of `chunks`, read one ahead on a thread of their own: the
    portal's next answer is on its way while the caller posts the last one.
    An error of the reader is raised here, in the caller's thread; leaving
    the loop early stops the reader after its current read."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def read() -> None:
        try:
            while not stop.is_set():
                with lock:
                    chunk = next(chunks, done)
                box.put(chunk)
                if chunk is done:
                    return
        except BaseException as err:  # handed to the caller, who raises it
            box.put(err)

    thread = threading.Thread(target=read, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting to put
            try:
                box.get_nowait()
            except queue.Empty:
                pass
            thread.join(0.05)


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
                 progress: Callable[[str], None] | None = None,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.sessions, self.rest, self.portal_id = sessions, rest, portal_id
        self.now = now
        self.progress = progress or (lambda message: None)
        self.on_progress = on_progress
        self.report = SyncReport()
        self.counts = Progress()
        self.tasks_read: set[int] = set()
        # The reader thread and this one never call the portal at once.
        self.rest_lock = threading.Lock()

    def progress_state(self, read: int = 0, posted: int = 0, total: int | None = None) -> None:
        """Count records read and posted (and the total when the portal said
        it), and tell whoever shows progress."""
        self.counts.read += read
        self.counts.posted += posted
        if total is not None:
            self.counts.total = self.counts.read + total
        self.counts.requests = sum(self.rest.requests_made.values()) - self.counts.requests_before
        if self.on_progress is not None:
            self.on_progress(self.counts)

    # ------------------------------------------------------------ the run

    def run(self, reconcile: bool = False, full: bool = False) -> SyncReport:
        # Task changes are read "since the last reconcile": that point must be
        # when this run began reading, or a change made during the run is
        # never asked for again.
        started = self.now()
        before = sum(self.rest.requests_made.values())
        state = self._state()
        cursor = state.last_record_id
        # The first import: every record is read now from the first ID on, so
        # the full run's re-read of every record (and of every task) would
        # read the same again. The task list comes whole (what decides each
        # record's account), with each task's total in it.
        first = cursor == 0
        known = self._count_tasks()
        # Enough task pages to see the end of the list (a short page) in this
        # same request; the rest of the batch reads new records.
        task_pages = reader.FIRST_TASK_PAGES if first else min(45, known // reader.PAGE + 1)
        record_pages = reader.MAX_BATCH - task_pages
        select_ = reader.TASK_FIELDS if first else ["ID", "TIME_SPENT_IN_LOGS"]
        cmds = {**reader.chain_commands("r", cursor, record_pages, reader._records_page),
                **reader.task_chain_commands(0, task_pages, select_)}
        batch = self.rest.batch(cmds)
        records = reader.read_chain(batch, "r", record_pages, cursor)
        totals = reader.read_task_chain(batch, task_pages, 0)
        remaining = batch.total.get("r0")
        task_rows = list(totals.items)
        if not totals.done:
            for chunk in reader.task_list(self.rest, totals.last_id, select_):
                task_rows.extend(chunk)
        if first:
            self._store_tasks(self._task_infos(task_rows))
            self.tasks_read = {int(row["id"]) for row in task_rows}
        remaining = int(remaining) if remaining not in (None, "") else None
        if state.first_sync_at is None:
            self._import_started(remaining, started)
        self.progress_state(total=remaining)
        self._stream_records(records.items, None if records.done else records.last_id)
        self._check_totals(task_rows)
        if reconcile or full:
            self._reconcile(state.reconcile_at, full, read_all=first)
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
        self.counts.requests_before = sum(self.rest.requests_made.values())
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

    def _stream_records(self, first: list[dict], after: int | None) -> None:
        """Apply `first`, then every record after `after` as the portal hands
        the batches over: the next batch is read while the last is posted."""
        self._apply_records(first)
        if after is None:
            return
        for chunk in prefetch(reader.new_records(self.rest, after), self.rest_lock):
            self._apply_records(chunk)

    def _apply_records(self, items: list[dict]) -> None:
        """Apply new records through the ledger's bulk path and move the
        cursor past them, in one transaction: a run killed at any moment
        resumes after the last page it committed, and counts nothing twice."""
        if not items:
            return
        snaps = self._snapshots(items)
        self._refresh_tasks(sorted({s.task_id for s in snaps}), only_unknown=True)
        last = max(int(item["ID"]) for item in items)
        now = self.now()
        with self.sessions() as s, s.begin():
            self.report.postings += sum(r.written for r in apply_entries(s, snaps, now))
            state = s.get(SyncState, self.portal_id)
            state.last_record_id = max(state.last_record_id, last)
            if state.first_sync_at is None:
                state.import_done = (state.import_done or 0) + len(items)
        self.report.new_records += len(items)
        self.progress(f"{self.report.new_records} new records")
        self.progress_state(read=len(items), posted=len(snaps))

    def _import_started(self, remaining: int | None, started: datetime) -> None:
        """The first import's size, for the manager's page: what is posted
        already plus what the portal says is left (a resumed import)."""
        with self.sessions() as s, s.begin():
            state = s.get(SyncState, self.portal_id)
            if remaining is not None:
                state.import_total = (state.import_done or 0) + remaining
            state.import_started_at = state.import_started_at or started

    def _task_infos(self, rows: list[dict]) -> list:
        infos = []
        for item in rows:
            try:
                infos.append(task_from_api(item))
            except BadRecord as err:
                self.report.bad_records.append(str(err))
        return infos

    def _refresh_tasks(self, task_ids: list[int], only_unknown: bool = False) -> None:
        if only_unknown and task_ids:
            with self.sessions() as s:
                known = set(s.execute(select(Task.task_id).where(
                    Task.portal_id == self.portal_id, Task.task_id.in_(task_ids))).scalars())
            task_ids = [t for t in task_ids if t not in known]
        if not task_ids:
            return
        with self.rest_lock:
            items = reader.tasks_meta(self.rest, task_ids)
        self._store_tasks(self._task_infos(items))

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
            page: list = []
            for task_id in task_ids:
                snaps = self._snapshots(found.get(task_id, []))
                page.extend(snaps)
                page.extend(self._missing(s, task_id, {snap.record_id for snap in snaps}))
            self.report.postings += sum(r.written for r in apply_entries(s, page, now))
        self.report.tasks_reread += len(task_ids)

    def _missing(self, s: Session, task_id: int, seen: set[int]) -> list[EntryDeleted]:
        """The task's live entries the portal no longer has: their deletions."""
        gone = [EntryDeleted(self.portal_id, record_id) for record_id in s.execute(
            select(TimeEntry.record_id).where(
                TimeEntry.portal_id == self.portal_id, TimeEntry.task_id == task_id,
                TimeEntry.deleted.is_(False))).scalars() if record_id not in seen]
        self.report.deleted += len(gone)
        return gone

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

    def _reconcile(self, last: datetime | None, full: bool, read_all: bool = False) -> None:
        with self.sessions() as s:
            tz = s.get(Portal, self.portal_id).time_zone
        if full:
            # The full run re-reads every record, not only the window: an edit in a
            # closed month that leaves its task's total as it was (durations swapped
            # between two records, a record re-dated within the closed months) shows
            # in no total and in no window. `read_all`: this run has just read every
            # record (the first import), so there is nothing to re-read.
            if not read_all:
                self._full_pass()
            # Every task we mirror, parents without time of their own too: a
            # change the portal makes silently (a deleted task's subtasks move
            # up to its parent, with no event and no new CHANGED_DATE) shows
            # here. After a first import, only those it did not read.
            with self.sessions() as s:
                ids = set(s.execute(select(Task.task_id).where(Task.portal_id == self.portal_id)).scalars())
            if read_all:
                ids -= self.tasks_read
            if ids:
                self._store_tasks(self._task_infos(reader.tasks_meta(self.rest, sorted(ids))))
            return
        if read_all:
            return
        since = self._window_start()
        seen: set[int] = set()
        now = self.now()
        for chunk in prefetch(reader.records_since(self.rest, since.astimezone(cal.zone(tz))), self.rest_lock):
            snaps = self._snapshots(chunk)
            self._refresh_tasks(sorted({s.task_id for s in snaps}), only_unknown=True)
            with self.sessions() as s, s.begin():
                seen.update(snap.record_id for snap in snaps)
                self.report.postings += sum(r.written for r in apply_entries(s, snaps, now))
            self.report.window_records += len(chunk)
            self.progress_state(read=len(chunk), posted=len(snaps))
        # The live entries the read did not bring back, found here rather than by
        # NOT IN: a list of every record read would pass PostgreSQL's bind limit.
        with self.sessions() as s:
            live = s.execute(select(TimeEntry.record_id, TimeEntry.task_id).where(
                TimeEntry.portal_id == self.portal_id, TimeEntry.deleted.is_(False),
                TimeEntry.work_at >= since)).all()
        missing = {task_id for record_id, task_id in live if record_id not in seen}
        if missing:
            self._reread_tasks(sorted(missing))  # confirm: deleted, or re-dated out of the window
        if last is not None:
            # A margin for the portal's clock and ours not quite agreeing.
            since = (last - CLOCK_MARGIN).astimezone(cal.zone(tz))
            self._store_tasks([task_from_api(i) for i in reader.changed_tasks(self.rest, since)])

    def _full_pass(self) -> None:
        """Re-read every record in ID order, a batch at a time, each batch
        applied with the deletions it shows: the live entries in its ID range
        that it did not bring back. The pass's cursor moves only after both,
        so a run killed at any moment resumes at the last batch it finished
        and finds every deletion once."""
        now = self.now()
        with self.sessions() as s, s.begin():
            state = s.get(SyncState, self.portal_id)
            if state.full_cursor is None or state.full_started_at is None or \
                    now - state.full_started_at > FULL_RESUME_WITHIN:
                state.full_cursor, state.full_started_at = 0, now
            after = state.full_cursor
        for chunk in prefetch(reader.new_records(self.rest, after), self.rest_lock):
            last = max(int(item["ID"]) for item in chunk)
            snaps = self._snapshots(chunk)
            self._refresh_tasks(sorted({s.task_id for s in snaps}), only_unknown=True)
            with self.sessions() as s, s.begin():
                self.report.postings += sum(r.written for r in apply_entries(s, snaps, now))
            self._reread_missing(after, last, {int(item["ID"]) for item in chunk})
            with self.sessions() as s, s.begin():
                s.get(SyncState, self.portal_id).full_cursor = after = last
            self.report.window_records += len(chunk)
            self.progress_state(read=len(chunk), posted=len(snaps))
        self._reread_missing(after, None, set())

    def _reread_missing(self, after: int, last: int | None, read: set[int]) -> None:
        """Re-read the tasks of live entries with record IDs in (after, last]
        (past `after` when `last` is None) that the portal's listing did not
        bring back: to confirm each is gone before its deletion is posted."""
        with self.sessions() as s:
            live = s.execute(select(TimeEntry.record_id, TimeEntry.task_id).where(
                TimeEntry.portal_id == self.portal_id, TimeEntry.deleted.is_(False),
                TimeEntry.record_id > after, TimeEntry.record_id <= last if last is not None else True)).all()
        missing = {task_id for record_id, task_id in live if record_id not in read}
        if missing:
            self._reread_tasks(sorted(missing))

    def _finish(self, reconciled: bool, full: bool, started: datetime) -> None:
        now = self.now()
        with self.sessions() as s, s.begin():
            state = s.get(SyncState, self.portal_id)
            state.incremental_at = now
            if reconciled:
                state.reconcile_at = started
            if full:
                state.history_at = now
                state.full_cursor = state.full_started_at = None  # the pass is complete
            if state.first_sync_at is None:
                state.first_sync_at = now
            state.failures, state.last_error = 0, None

