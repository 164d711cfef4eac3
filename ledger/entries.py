"""Applying a portal time record to the ledger.

`apply_entry` takes the portal's current state of one record (or its
deletion) and posts exactly the difference between what the record should
count now and what is already posted for it. Applying the same state twice
writes nothing; applying states out of order converges on the last one;
a change to a record dated in a closed period goes into the current open
period as a correction that names the original (PRODUCT.md rules 1, 2, 5).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from . import calendar as cal
from .db import among, insert_rows, sum_s, update_rows, utcnow
from .memo import forget, memo
from .models import Account, AccountBinding, Contract, Period, Portal, Posting, Task, TeamMember, TimeEntry
from .periods import FUTURE, contract_at, current_open, period_for, remember_contracts, remember_months
from .postings import lock_open_periods, new_ids, post_many
from .rounding import RoundingRule, round_seconds


@dataclass(frozen=True)
class EntrySnapshot:
    """One portal time record as the portal shows it now."""

    portal_id: int
    record_id: int
    task_id: int
    user_id: int
    duration_s: int
    work_at: datetime  # the day the work was done (Bitrix24: CREATED_DATE), aware
    comment: str = ""

    def __post_init__(self) -> None:
        for name in ("portal_id", "record_id", "task_id", "user_id", "duration_s"):
            if type(getattr(self, name)) is not int:
                raise TypeError(f"{name} must be an int")
        if self.duration_s < 0:
            raise ValueError("duration_s must not be negative")
        if self.work_at.tzinfo is None:
            raise ValueError("work_at must carry its offset")


@dataclass(frozen=True)
class EntryDeleted:
    """The portal no longer has this record."""

    portal_id: int
    record_id: int


@dataclass(frozen=True)
class ApplyResult:
    entry_id: int | None
    version: int
    state: str
    written: int  # postings written by this call


# Location of consumption: (account, period it counts in, period it belongs to by date)
Loc = tuple[int, int, int]

# States whose meaning can change with time alone: a future month begins, an
# open period appears for a waiting correction; these are always re-derived.
RETRY_STATES = ("new", "future", "unplaced")


def apply_entry(
    session: Session, snap: EntrySnapshot | EntryDeleted, now: datetime | None = None
) -> ApplyResult:
    """One record's state: a page of one through `apply_entries`, so there
    is one way to post."""
    return apply_entries(session, [snap], now)[0]


def apply_entries(
    session: Session, snaps: Sequence[EntrySnapshot | EntryDeleted], now: datetime | None = None
) -> list[ApplyResult]:
    """Apply a page of record states in the caller's transaction, set-based:
    one query finds the page's entries (locked), one finds what is posted
    for those that have postings, new entries and postings go in as
    multi-row inserts, and running totals move once per period.

    The result is what applying the states one by one, in order, would
    write: the same postings (keys, amounts, periods). A record that appears
    several times in the page is applied in rounds (its first state in the
    first round, its second in the next), since its later state is
    measured against what its earlier one posted. Returns one result a
    state, in order."""
    now = now or utcnow()
    results: list[ApplyResult | None] = [None] * len(snaps)
    rounds: list[list[int]] = []
    occurrences: dict[tuple[int, int], int] = defaultdict(int)
    for index, snap in enumerate(snaps):
        key = (snap.portal_id, snap.record_id)
        n = occurrences[key]
        occurrences[key] += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(index)
    rows = _load_entries(session, occurrences)
    raced: list[int] = []  # states of records a concurrent transaction inserted first
    raced_keys: set[tuple[int, int]] = set()
    for round_ in rounds:
        work: list[tuple[int, _Entry]] = []
        for index in round_:
            snap = snaps[index]
            key = (snap.portal_id, snap.record_id)
            if key in raced_keys:
                raced.append(index)
                continue
            entry, changed = _merge(rows.get(key), snap, now)
            if entry is None:  # deletion of a record we never saw
                results[index] = ApplyResult(None, 0, "unknown", 0)
                continue
            rows[key] = entry
            if not changed and entry.state not in RETRY_STATES:
                # Nothing new about the record, and every settings change already
                # re-derived its entries (contracts.py, reapply_task): what is posted
                # is what it should count. This is the path of most reconcile reads.
                results[index] = ApplyResult(entry.id, entry.version, entry.state, 0)
                continue
            work.append((index, entry))
        written, lost = _post_entries(session, [entry for _, entry in work], now)
        for (index, entry), count in zip(work, written):
            key = (entry.portal_id, entry.record_id)
            if key in lost:
                raced_keys.add(key)
                rows.pop(key, None)
                raced.append(index)
            else:
                results[index] = ApplyResult(entry.id, entry.version, entry.state, count)
    _store_entries(session, rows.values(), now)
    if raced:
        # Their rows exist now: applied again, they are locked (waiting for
        # the other transaction) and measured against what it stored.
        raced.sort()
        for index, res in zip(raced, apply_entries(session, [snaps[i] for i in raced], now)):
            results[index] = res
    return results  # type: ignore[return-value]


def reapply_task(session: Session, portal_id: int, *task_ids: int, now: datetime | None = None) -> int:
    """Re-derive tasks' entries after their metadata changed (moved to another
    company or workgroup): the records are the same, where they count is not."""
    return reapply_where(session, TimeEntry.portal_id == portal_id, TimeEntry.task_id.in_(task_ids), now=now)


# ---------------------------------------------------------------- the bulk path's parts

_ENTRY_COLUMNS = ("id", "portal_id", "record_id", "task_id", "user_id", "duration_s", "work_at", "comment",
                  "deleted", "version", "post_seq", "state", "account_id", "period_id", "counted_s",
                  "first_seen_at", "updated_at")
_SNAPSHOT_FIELDS = ("task_id", "user_id", "duration_s", "work_at", "comment")
_UPDATED_COLUMNS = ("task_id", "user_id", "duration_s", "work_at", "comment", "deleted", "version", "post_seq",
                    "state", "account_id", "period_id", "counted_s", "updated_at")
_PAGE = 2_000  # entries re-derived together by reapply_where


@dataclass(eq=False)
class _Entry:
    """A working copy of one time_entries row while a page is applied;
    written back once at the end (`_store_entries`). `id` is None until the
    row is inserted; `saved` is what the database row holds (the values of
    `_UPDATED_COLUMNS`), so that writing back sets only what changed."""

    id: int | None
    portal_id: int
    record_id: int
    task_id: int
    user_id: int
    duration_s: int
    work_at: datetime
    comment: str
    deleted: bool
    version: int
    post_seq: int
    state: str
    account_id: int | None
    period_id: int | None
    counted_s: int
    first_seen_at: datetime
    updated_at: datetime
    saved: tuple | None = None

    @classmethod
    def loaded(cls, row: Any) -> _Entry:
        """An entry read from its row (in `_ENTRY_COLUMNS` order)."""
        entry = cls(*row)
        entry.saved = entry.updatable()
        return entry

    def updatable(self) -> tuple:
        return _updatable(self)


_updatable = attrgetter(*_UPDATED_COLUMNS)


def _load_entries(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], _Entry]:
    """The page's existing entries, locked for this transaction (FOR UPDATE;
    SQLite's BEGIN IMMEDIATE already holds the whole database)."""
    table = TimeEntry.__table__
    by_portal: dict[int, list[int]] = defaultdict(list)
    for portal_id, record_id in keys:
        by_portal[portal_id].append(record_id)
    found: dict[tuple[int, int], _Entry] = {}
    for portal_id, record_ids in by_portal.items():
        stmt = (select(*[table.c[name] for name in _ENTRY_COLUMNS])
                .where(table.c.portal_id == portal_id, among(session, table.c.record_id, record_ids))
                .order_by(table.c.record_id)  # a fixed lock order: two pages never wait for each other in a circle
                .with_for_update())
        for row in session.execute(stmt):
            entry = _Entry.loaded(row)
            found[(portal_id, entry.record_id)] = entry
    return found


def _merge(entry: _Entry | None, snap: EntrySnapshot | EntryDeleted, now: datetime) -> tuple[_Entry | None, bool]:
    """`entry` updated to `snap`, its version bumped if anything changed; and
    whether it did (a record seen for the first time always did)."""
    if isinstance(snap, EntryDeleted):
        if entry is None or entry.deleted:
            return entry, False
        entry.deleted = True
        entry.version += 1
        entry.updated_at = now
        return entry, True
    if entry is None:
        return _Entry(None, snap.portal_id, snap.record_id, snap.task_id, snap.user_id, snap.duration_s,
                      snap.work_at, snap.comment, False, 1, 0, "new", None, None, 0, now, now), True
    differs = entry.deleted or any(getattr(entry, k) != getattr(snap, k) for k in _SNAPSHOT_FIELDS)
    if differs:
        for k in _SNAPSHOT_FIELDS:
            setattr(entry, k, getattr(snap, k))
        entry.deleted = False
        entry.version += 1
        entry.updated_at = now
    return entry, differs or entry.state == "new"


def _post_entries(session: Session, work: list[_Entry], now: datetime) -> tuple[list[int], set[tuple[int, int]]]:
    """Re-derive each entry of `work` (each at most once) and post the
    difference between what it should count and what is posted for it.
    Returns the postings written per entry, and the entries a concurrent
    transaction inserted first (nothing is posted for those here)."""
    if not work:
        return [], set()
    portals: dict[int, Portal] = {}
    for portal_id in sorted({e.portal_id for e in work}):
        portal = portals[portal_id] = session.get(Portal, portal_id)
        assert portal is not None
    # Each entry's local day, once: prefetching and deriving both need it.
    zones = {portal_id: cal.zone(portal.time_zone) for portal_id, portal in portals.items()}
    days = [entry.work_at.astimezone(zones[entry.portal_id]).date() for entry in work]
    for portal_id, portal in portals.items():
        _prefetch(session, portal, [(e, d) for e, d in zip(work, days) if e.portal_id == portal_id], now)
    derived: list[tuple[bool, int]] = []  # per entry: is its period by date open, seconds to count
    seen: dict[Any, Any] = {}
    for entry, day in zip(work, days):
        portal = portals[entry.portal_id]
        entry.state, entry.account_id, entry.period_id, is_open, entry.counted_s = _derive(
            session, portal, entry, now, seen, day)
        derived.append((is_open, entry.counted_s))

    posted = _posted(session, [e.id for e in work if e.post_seq and e.id is not None])
    planned: list[tuple[_Entry, int, int, int, int]] = []  # entry, account, period, origin, delta
    counts: dict[int, int] = {}
    for entry, (is_open, target_s) in zip(work, derived):
        portal = portals[entry.portal_id]
        counts[id(entry)] = 0
        account_id, origin_id = entry.account_id, entry.period_id
        if entry.id not in posted:
            # Nothing posted for the entry (the first import's every record):
            # what it should count is the whole difference, in one place.
            if target_s:
                assert account_id is not None and origin_id is not None
                target_id = origin_id if is_open else _open_id(session, portal, account_id, now, seen)
                if target_id is None:
                    entry.state = "unplaced"
                else:
                    entry.post_seq += 1
                    planned.append((entry, account_id, target_id, origin_id, -target_s))
            continue
        here: dict[Loc, int] = {}
        frozen: dict[tuple[int, int], int] = defaultdict(int)  # (account, origin) -> amount
        for acc_id, period_id, posted_origin_id, status, amount in posted.get(entry.id, ()):
            if status == "closed":
                frozen[(acc_id, posted_origin_id)] += amount
            else:
                here[(acc_id, period_id, posted_origin_id)] = amount
        desired: dict[Loc, int] = defaultdict(int)
        unplaced = False
        if target_s:
            assert account_id is not None and origin_id is not None
            if is_open:
                desired[(account_id, origin_id, origin_id)] -= target_s
            else:
                target_id = _open_id(session, portal, account_id, now, seen)
                if target_id is None:
                    unplaced = True
                else:
                    desired[(account_id, target_id, origin_id)] -= target_s
        for (acc_id, frozen_origin_id), amount in frozen.items():
            # Hours charged in a closed period stay there; the open period gets
            # the reversal, naming where the hours were first counted.
            target_id = _open_id(session, portal, acc_id, now, seen)
            if target_id is None:
                unplaced = True
            else:
                desired[(acc_id, target_id, frozen_origin_id)] -= amount
        deltas = [
            (loc, desired.get(loc, 0) - here.get(loc, 0))
            for loc in sorted(set(desired) | set(here))
            if desired.get(loc, 0) != here.get(loc, 0)
        ]
        if deltas:
            entry.post_seq += 1
            for (acc_id, period_id, origin_id), delta in deltas:
                planned.append((entry, acc_id, period_id, origin_id, delta))
        if unplaced:
            entry.state = "unplaced"
        counts[id(entry)] = 0

    if planned:
        lock_open_periods(session, sorted({period_id for _, _, period_id, _, _ in planned}))
    lost = _insert_new(session, [e for e in work if e.id is None], now)
    rows = [{
        "key": f"entry:{entry.id}:v{entry.version}:s{entry.post_seq}:{period_id}:{origin_id}",
        "portal_id": entry.portal_id, "account_id": acc_id, "period_id": period_id, "kind": "consumption",
        "amount_s": delta, "origin_period_id": origin_id, "entry_id": entry.id, "entry_version": entry.version,
        "adjustment_id": None, "author": None, "reason": None,
    } for entry, acc_id, period_id, origin_id, delta in planned
        if (entry.portal_id, entry.record_id) not in lost]
    owners = {row["key"]: id(entry) for row, (entry, *_) in zip(rows, (p for p in planned
              if (p[0].portal_id, p[0].record_id) not in lost))}
    for key in post_many(session, rows, now):
        counts[owners[key]] += 1
    return [counts[id(entry)] for entry in work], lost


def _prefetch(session: Session, portal: Portal, entries: list[tuple[_Entry, date]], now: datetime) -> None:
    """Read what deriving the page's entries asks, a few queries for the
    whole page rather than a few per entry: the tasks' accounts, the
    accounts' contracts, the month periods the entries fall in, the users'
    team memberships. Everything lands in the transaction's memo, where
    `_derive` finds it. `entries`: each with its local day."""
    cache = memo(session)
    tasks = {e.task_id for e, _ in entries}
    if portal.mode == "integrator":
        _remember_task_accounts(session, portal, tasks)
        accounts = {a for t in tasks if (a := cache[("task-account", portal.id, t)]) is not None}
    else:
        found = account_for_task(session, portal, 0)
        accounts = {found} if found is not None else set()
    remember_contracts(session, [a.id for a in accounts])
    by_id = {a.id: a for a in accounts}
    this_month = cal.month_start(cal.local_date(now, portal.time_zone))
    months: set[tuple[int, date]] = set()
    if portal.mode == "integrator":
        account_ids = {t: (a.id if (a := cache[("task-account", portal.id, t)]) is not None else None) for t in tasks}
        months = {(account_id, day.replace(day=1)) for e, day in entries
                  if (account_id := account_ids[e.task_id]) is not None}
    elif by_id:
        months = {(a, day.replace(day=1)) for a in by_id for day in {d for _, d in entries}}
    pairs = {(a, cal.month_label(first)) for a, first in months if first <= this_month}
    pairs |= {(a, cal.month_label(this_month)) for a in by_id}  # where corrections go
    remember_months(session, pairs)
    users = sorted({e.user_id for e, _ in entries if ("team", portal.id, e.user_id) not in cache})
    if users:
        members: dict[int, list[TeamMember]] = {u: [] for u in users}
        for member in session.execute(
            select(TeamMember)
            .where(TeamMember.portal_id == portal.id, among(session, TeamMember.user_id, users))
            .order_by(TeamMember.account_id.is_(None), TeamMember.id)
        ).scalars():
            members[member.user_id].append(member)
        for user, found_members in members.items():
            cache[("team", portal.id, user)] = found_members


def _remember_task_accounts(session: Session, portal: Portal, task_ids: set[int]) -> None:
    """`account_for_task` for many tasks of an integrator's portal at once:
    the tasks (and their parents, as far as placement looks up) and the
    portal's bindings in a few queries, then the same walk as
    `_account_by_task`."""
    cache = memo(session)
    wanted = {t for t in task_ids if ("task-account", portal.id, t) not in cache}
    if not wanted:
        return
    key = ("bindings", portal.id)
    if key not in cache:
        cache[key] = {(b.kind, b.ref_id): account for b, account in session.execute(
            select(AccountBinding, Account).join(Account, AccountBinding.account_id == Account.id)
            .where(AccountBinding.portal_id == portal.id, Account.active.is_(True)))}
    bindings = cache[key]
    rows: dict[int, Any] = {}  # task id -> (task_id, company_id, group_id, parent_id), None when unknown
    frontier = set(wanted)
    for _ in range(MAX_PARENTS):
        frontier -= set(rows)
        if not frontier:
            break
        ids = sorted(frontier)
        for t in ids:
            rows[t] = None
        table = Task.__table__
        for task in session.execute(select(table.c.task_id, table.c.company_id, table.c.group_id, table.c.parent_id)
                                    .where(table.c.portal_id == portal.id, among(session, table.c.task_id, ids))):
            rows[task.task_id] = task
        frontier = {task.parent_id for task in rows.values() if task is not None and task.parent_id is not None}
    for task_id in wanted:
        found = None
        seen: set[int] = set()
        current: int | None = task_id
        while current is not None and current not in seen and len(seen) < MAX_PARENTS:
            seen.add(current)
            if current not in rows:  # deeper than read above: ask the one-task way
                found = _account_by_task(session, portal, current)
                break
            task = rows[current]
            if task is None:
                break
            hit = next((bindings[(kind, ref)] for kind, ref in (("company", task.company_id), ("group", task.group_id))
                        if ref is not None and (kind, ref) in bindings), None)
            if hit is not None:
                found = hit
                break
            current = task.parent_id
        cache[("task-account", portal.id, task_id)] = found


def _posted(session: Session, entry_ids: list[int]) -> dict[int, list[tuple[int, int, int | None, str, int]]]:
    """What is posted for each entry, summed per place and with its period's
    status: one query for the page."""
    found: dict[int, list] = defaultdict(list)
    if not entry_ids:
        return found
    for entry_id, acc_id, period_id, origin_id, status, amount in session.execute(
        select(Posting.entry_id, Posting.account_id, Posting.period_id, Posting.origin_period_id,
               Period.status, sum_s(Posting.amount_s))
        .join(Period, Period.id == Posting.period_id)
        .where(among(session, Posting.entry_id, entry_ids))
        .group_by(Posting.entry_id, Posting.account_id, Posting.period_id, Posting.origin_period_id, Period.status)
    ):
        if amount:
            found[entry_id].append((acc_id, period_id, origin_id, status, int(amount)))
    return found


def _open_id(session: Session, portal: Portal, account_id: int, now: datetime, seen: dict[Any, Any]) -> int | None:
    """The period where corrections of the account go now (memoized for the
    transaction, and in `seen` for the rest of the page)."""
    key = ("open", account_id)
    if key not in seen:
        cache = memo(session)
        memo_key = ("open", account_id, now)
        if memo_key not in cache:
            account = session.get(Account, account_id)
            cache[memo_key] = current_open(session, portal, account, now) if account is not None else None
        seen[key] = cache[memo_key].id if cache[memo_key] is not None else None
    return seen[key]


@lru_cache(maxsize=None)
def _insert_entries(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(TimeEntry.__table__).on_conflict_do_nothing(index_elements=["portal_id", "record_id"])


def _insert_new(session: Session, entries: list[_Entry], now: datetime) -> set[tuple[int, int]]:
    """Insert entries seen for the first time, as derived (one multi-row
    insert with ids taken beforehand, so nothing has to come back); returns
    the records a concurrent transaction inserted first."""
    if not entries:
        return set()
    ids = new_ids(session, TimeEntry.__table__, len(entries))
    rows = []
    for entry, id_ in zip(entries, ids):
        entry.id = id_
        rows.append((id_, entry.portal_id, entry.record_id, entry.task_id, entry.user_id, entry.duration_s,
                     entry.work_at, entry.comment, entry.deleted, entry.version, entry.post_seq, entry.state,
                     entry.account_id, entry.period_id, entry.counted_s, entry.first_seen_at, entry.updated_at))
    inserted = insert_rows(session, TimeEntry.__table__, _ENTRY_COLUMNS, rows, ("portal_id", "record_id"))
    lost = set()
    for entry in entries:
        if (entry.portal_id, entry.record_id) in inserted:
            entry.saved = entry.updatable()
        else:
            entry.id = None
            lost.add((entry.portal_id, entry.record_id))
    return lost


def _store_entries(session: Session, entries: Iterable[_Entry], now: datetime) -> None:
    """Write back what the page changed: one executemany per set of changed
    columns. Only those are set, since an UPDATE rewrites every index over
    a column it sets, changed or not (on SQLite several times the cost of
    the row itself), and an edit mostly changes seconds and versions."""
    by_columns: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
    changed = []
    for e in entries:
        if e.id is None or e.saved is None:
            continue
        values = e.updatable()
        if values == e.saved:
            continue
        differ = [i for i, (old, new) in enumerate(zip(e.saved, values)) if old != new]
        by_columns[tuple(_UPDATED_COLUMNS[i] for i in differ)].append((*[values[i] for i in differ], e.id))
        e.saved = values
        changed.append(e)
    for columns, rows in by_columns.items():
        update_rows(session, TimeEntry.__table__, columns, rows)
    # ORM objects of these rows loaded earlier in the session are stale now.
    for e in changed:
        obj = session.identity_map.get(identity_key(TimeEntry, e.id))
        if obj is not None:
            session.expire(obj)


def _derive(
    session: Session, portal: Portal, entry: TimeEntry | _Entry, now: datetime,
    seen: dict[Any, Any] | None = None, day: date | None = None,
) -> tuple[str, int | None, int | None, bool, int]:
    """(state, account, period by date, whether that period is open, seconds
    to count) for the entry now, by id; `day` is its local day when the
    caller has it.

    `seen` keeps answers for the rest of a page: a retainer's period and
    rounding depend on its contract and the month only (a page of a few
    thousand records falls in a handful of them). A user's memberships are
    in the transaction's memo (`on_team`)."""
    seen = {} if seen is None else seen
    account = account_for_task(session, portal, entry.task_id)
    if account is None:
        return ("deleted" if entry.deleted else "no_account"), None, None, False, 0
    account_id = account.id
    if day is None:
        day = cal.local_date(entry.work_at, portal.time_zone)
    contract = contract_at(session, account_id, day)
    if contract is not None and contract.kind == "retainer":
        key = ("month", contract.id, day.year, day.month)
        place = seen.get(key)
        if place is None:
            place = seen[key] = _place(session, portal, account, entry.work_at, now)
    else:  # no contract, or a stage or project contract: the instant decides
        place = _place(session, portal, account, entry.work_at, now)
    period_id, is_open, rule = place
    if period_id is None:
        return ("deleted" if entry.deleted else "no_contract"), account_id, None, False, 0
    if period_id == FUTURE:
        return ("deleted" if entry.deleted else "future"), account_id, None, False, 0
    assert rule is not None
    if entry.deleted:
        return "deleted", account_id, period_id, is_open, 0
    if not on_team(session, portal.id, account_id, entry.user_id, day):
        return "not_team", account_id, period_id, is_open, 0
    return "counted", account_id, period_id, is_open, round_seconds(entry.duration_s, rule)


def _place(
    session: Session, portal: Portal, account: Account, at: datetime, now: datetime
) -> tuple[int | str | None, bool, RoundingRule | None]:
    """Where `at` counts (`period_for`): the period's id (or None, or
    FUTURE), whether it is open, and its contract's rounding."""
    found = period_for(session, portal, account, at, now)
    if not isinstance(found, Period):
        return found, False, None
    contract = session.get(Contract, found.contract_id)
    assert contract is not None
    return found.id, found.status == "open", RoundingRule(contract.rounding_mode, contract.rounding_step_s)


MAX_PARENTS = 5  # a subtask's chain is followed this far up


def account_for_task(session: Session, portal: Portal, task_id: int) -> Account | None:
    """The account a task's time belongs to.

    In a client's portal the portal is one account. In an integrator's portal
    the task's CRM company decides, then its workgroup; a subtask with
    neither inherits its parent's."""
    if portal.mode == "client":
        cache = memo(session)
        key = ("client-account", portal.id)
        if key not in cache:
            cache[key] = session.execute(
                select(Account).where(Account.portal_id == portal.id, Account.active.is_(True))
                .order_by(Account.id).limit(1)
            ).scalar_one_or_none()
        return cache[key]
    cache = memo(session)
    key = ("task-account", portal.id, task_id)
    if key not in cache:
        cache[key] = _account_by_task(session, portal, task_id)
    return cache[key]


def task_may_count_for(session: Session, account: Account, task_id: int) -> bool:
    """Whether a manager may tie a task to this account (a plan item, a
    scope item): not when our mirror places it in another account. A task
    not mirrored yet (created in the portal a minute ago), or one no
    account owns, is taken on the manager's word."""
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    if session.execute(select(Task.id).where(Task.portal_id == portal.id, Task.task_id == task_id)).first() is None:
        return True
    owner = account_for_task(session, portal, task_id)
    return owner is None or owner.id == account.id


def _account_by_task(session: Session, portal: Portal, task_id: int) -> Account | None:
    # Memoized for the transaction: tasks and bindings change only through
    # upsert_task and bind_account, which re-derive (and forget) after.
    seen: set[int] = set()
    current: int | None = task_id
    while current is not None and current not in seen and len(seen) < MAX_PARENTS:
        seen.add(current)
        task = session.execute(
            select(Task).where(Task.portal_id == portal.id, Task.task_id == current)
        ).scalar_one_or_none()
        if task is None:
            return None
        for kind, ref in (("company", task.company_id), ("group", task.group_id)):
            if ref is None:
                continue
            account = session.execute(
                select(Account)
                .join(AccountBinding, AccountBinding.account_id == Account.id)
                .where(AccountBinding.portal_id == portal.id, AccountBinding.kind == kind,
                       AccountBinding.ref_id == ref, Account.active.is_(True))
            ).scalar_one_or_none()
            if account is not None:
                return account
        current = task.parent_id
    return None


def _memberships(session: Session, portal_id: int, user_id: int) -> list[TeamMember]:
    """The user's memberships, this account's before every account's, once per session."""
    cache = memo(session)
    key = ("team", portal_id, user_id)
    members = cache.get(key)
    if members is None:
        members = cache[key] = list(session.execute(
            select(TeamMember)
            .where(TeamMember.portal_id == portal_id, TeamMember.user_id == user_id)
            .order_by(TeamMember.account_id.is_(None), TeamMember.id)
        ).scalars())
    return members


def team_member(session: Session, portal_id: int, account_id: int, user_id: int, day: date) -> TeamMember | None:
    """The membership that makes the user's time on `account_id` count on
    `day` (one for this account first, else one for every account): who they
    are and in what role, for the handover package."""
    for m in _memberships(session, portal_id, user_id):
        if m.account_id in (account_id, None) and (m.active_from is None or m.active_from <= day) and \
                (m.active_until is None or m.active_until >= day):
            return m
    return None


def on_team(session: Session, portal_id: int, account_id: int, user_id: int, day: date) -> bool:
    """Whether the user's time on `account_id` counts on `day`: a membership
    for this account or for every account, active that day."""
    cache = memo(session)
    key = ("team-spans", portal_id, user_id)
    spans = cache.get(key)
    if spans is None:
        spans = cache[key] = [(m.account_id, m.active_from, m.active_until)
                              for m in _memberships(session, portal_id, user_id)]
    for account, start, until in spans:  # a loop, not any(): this runs once a record
        if (account is None or account == account_id) and (start is None or start <= day) and \
                (until is None or until >= day):
            return True
    return False


def reapply_where(session: Session, *conditions, now: datetime | None = None) -> int:
    """Re-derive every entry matching `conditions` (after a settings change),
    a page at a time through the bulk path; returns how many postings that wrote."""
    now = now or utcnow()
    forget(session)  # called after settings changed: nothing cached may survive
    ids = list(session.execute(select(TimeEntry.id).where(*conditions).order_by(TimeEntry.id)).scalars())
    table = TimeEntry.__table__
    written = 0
    for start in range(0, len(ids), _PAGE):
        page = [_Entry.loaded(row) for row in session.execute(
            select(*[table.c[name] for name in _ENTRY_COLUMNS])
            .where(among(session, table.c.id, ids[start:start + _PAGE]))
            .order_by(table.c.id).with_for_update())]
        counts, _ = _post_entries(session, page, now)
        _store_entries(session, page, now)
        written += sum(counts)
    return written
