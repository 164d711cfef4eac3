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
from dataclasses import dataclass
from datetime import date, datetime

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import calendar as cal
from .db import sum_s, utcnow
from .memo import forget, memo
from .models import Account, AccountBinding, Contract, Period, Portal, Posting, Task, TeamMember, TimeEntry
from .periods import FUTURE, current_open, period_for
from .postings import NewPosting, lock_open_period, post
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
    now = now or utcnow()
    entry, changed = _lock_entry(session, snap, now)
    if entry is None:  # deletion of a record we never saw
        return ApplyResult(None, 0, "unknown", 0)
    if not changed and entry.state not in RETRY_STATES:
        # Nothing new about the record, and every settings change already
        # re-derived its entries (contracts.py, reapply_task): what is posted
        # is what it should count. This is the path of most reconcile reads.
        return ApplyResult(entry.id, entry.version, entry.state, 0)
    return reapply(session, entry, now)


def reapply_task(session: Session, portal_id: int, *task_ids: int, now: datetime | None = None) -> int:
    """Re-derive tasks' entries after their metadata changed (moved to another
    company or workgroup): the records are the same, where they count is not."""
    return reapply_where(session, TimeEntry.portal_id == portal_id, TimeEntry.task_id.in_(task_ids), now=now)


def reapply(session: Session, entry: TimeEntry, now: datetime) -> ApplyResult:
    """Post the difference between what `entry` should count and what is posted.

    Also the path for configuration changes (team, contract, task moved to
    another company): the record did not change, what it means did."""
    portal = session.get(Portal, entry.portal_id)
    assert portal is not None
    state, account, origin, target_s = _derive(session, portal, entry, now)
    entry.state, entry.counted_s = state, target_s
    entry.account_id = account.id if account is not None else None
    entry.period_id = origin.id if origin is not None else None

    posted: dict[Loc, int] = {}
    frozen: dict[tuple[int, int], int] = defaultdict(int)  # (account, origin) -> amount
    never_posted = entry.post_seq == 0  # a record seen for the first time has nothing to undo
    for acc_id, period_id, origin_id, status, amount in () if never_posted else session.execute(
        select(Posting.account_id, Posting.period_id, Posting.origin_period_id, Period.status,
               sum_s(Posting.amount_s))
        .join(Period, Period.id == Posting.period_id)
        .where(Posting.entry_id == entry.id)
        .group_by(Posting.account_id, Posting.period_id, Posting.origin_period_id, Period.status)
    ):
        if not amount:
            continue
        if status == "closed":
            frozen[(acc_id, origin_id)] += amount
        else:
            posted[(acc_id, period_id, origin_id)] = amount

    desired: dict[Loc, int] = defaultdict(int)
    unplaced = False
    open_cache: dict[int, Period | None] = {}

    def open_of(acc_id: int) -> Period | None:
        if acc_id not in open_cache:
            acc = account if account is not None and account.id == acc_id else session.get(Account, acc_id)
            open_cache[acc_id] = current_open(session, portal, acc, now) if acc is not None else None
        return open_cache[acc_id]

    if target_s:
        assert account is not None and origin is not None
        if origin.status == "open":
            desired[(account.id, origin.id, origin.id)] -= target_s
        else:
            target = open_of(account.id)
            if target is None:
                unplaced = True
            else:
                desired[(account.id, target.id, origin.id)] -= target_s
    for (acc_id, origin_id), amount in frozen.items():
        # Hours charged in a closed period stay there; the open period gets
        # the reversal, naming where the hours were first counted.
        target = open_of(acc_id)
        if target is None:
            unplaced = True
        else:
            desired[(acc_id, target.id, origin_id)] -= amount

    deltas = [
        (loc, desired.get(loc, 0) - posted.get(loc, 0))
        for loc in sorted(set(desired) | set(posted))
        if desired.get(loc, 0) != posted.get(loc, 0)
    ]
    written = 0
    if deltas:
        entry.post_seq += 1
        for (acc_id, period_id, origin_id), delta in deltas:
            lock_open_period(session, period_id)
            written += post(session, NewPosting(
                key=f"entry:{entry.id}:v{entry.version}:s{entry.post_seq}:{period_id}:{origin_id}",
                portal_id=portal.id, account_id=acc_id, period_id=period_id, kind="consumption",
                amount_s=delta, origin_period_id=origin_id, entry_id=entry.id,
                entry_version=entry.version,
            ), now)
    if unplaced:
        entry.state = "unplaced"
    return ApplyResult(entry.id, entry.version, entry.state, written)


_ENTRY_FOR_UPDATE = (
    select(TimeEntry)
    .where(TimeEntry.portal_id == bindparam("p_portal"), TimeEntry.record_id == bindparam("p_record"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_SNAPSHOT_FIELDS = ("task_id", "user_id", "duration_s", "work_at", "comment")


@lru_cache(maxsize=None)
def _insert_entry(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(TimeEntry.__table__).on_conflict_do_nothing(index_elements=["portal_id", "record_id"])


def _lock_entry(
    session: Session, snap: EntrySnapshot | EntryDeleted, now: datetime
) -> tuple[TimeEntry | None, bool]:
    """Our mirror of the record, locked for this transaction, updated to `snap`
    with its version bumped if anything changed; and whether it did."""
    ids = {"p_portal": snap.portal_id, "p_record": snap.record_id}
    entry = session.execute(_ENTRY_FOR_UPDATE, ids).scalar_one_or_none()
    if isinstance(snap, EntryDeleted):
        if entry is None or entry.deleted:
            return entry, False
        entry.deleted = True
        entry.version += 1
        entry.updated_at = now
        return entry, True
    fields = {name: getattr(snap, name) for name in _SNAPSHOT_FIELDS}
    fields["deleted"] = False
    if entry is None:
        # A racing worker may insert the same record first: then we wait for
        # its lock and compare against what it stored, like any other change.
        session.execute(_insert_entry(session.get_bind().dialect.name), {
            "portal_id": snap.portal_id, "record_id": snap.record_id, "version": 1, "post_seq": 0,
            "state": "new", "counted_s": 0, "first_seen_at": now, "updated_at": now, **fields,
        })
        entry = session.execute(_ENTRY_FOR_UPDATE, ids).scalar_one()
    if entry.state == "new":  # inserted just now (by us or a racing worker)
        changed = True
    else:
        changed = any(getattr(entry, k) != v for k, v in fields.items())
    if any(getattr(entry, k) != v for k, v in fields.items()):
        for k, v in fields.items():
            setattr(entry, k, v)
        entry.version += 1
        entry.updated_at = now
    return entry, changed


def _derive(
    session: Session, portal: Portal, entry: TimeEntry, now: datetime
) -> tuple[str, Account | None, Period | None, int]:
    """(state, account, period by date, seconds to count) for the entry now."""
    account = account_for_task(session, portal, entry.task_id)
    if account is None:
        return ("deleted" if entry.deleted else "no_account"), None, None, 0
    found = period_for(session, portal, account, entry.work_at, now)
    if found is None:
        return ("deleted" if entry.deleted else "no_contract"), account, None, 0
    if found == FUTURE:
        return ("deleted" if entry.deleted else "future"), account, None, 0
    assert isinstance(found, Period)
    if entry.deleted:
        return "deleted", account, found, 0
    day = cal.local_date(entry.work_at, portal.time_zone)
    if team_member(session, portal.id, account.id, entry.user_id, day) is None:
        return "not_team", account, found, 0
    contract = session.get(Contract, found.contract_id)
    assert contract is not None
    rule = RoundingRule(contract.rounding_mode, contract.rounding_step_s)
    return "counted", account, found, round_seconds(entry.duration_s, rule)


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


def team_member(session: Session, portal_id: int, account_id: int, user_id: int, day: date) -> TeamMember | None:
    """The user's membership that makes their time on `account_id` count on
    `day`: one for this account first, else one for every account."""
    cache = memo(session)
    key = ("team", portal_id, user_id)
    if key not in cache:
        cache[key] = list(session.execute(
            select(TeamMember)
            .where(TeamMember.portal_id == portal_id, TeamMember.user_id == user_id)
            .order_by(TeamMember.account_id.is_(None), TeamMember.id)
        ).scalars())
    for member in cache[key]:
        if member.account_id not in (account_id, None):
            continue
        if member.active_from is not None and member.active_from > day:
            continue
        if member.active_until is not None and member.active_until < day:
            continue
        return member
    return None


def reapply_where(session: Session, *conditions, now: datetime | None = None) -> int:
    """Re-derive every entry matching `conditions` (after a settings change);
    returns how many postings that wrote."""
    now = now or utcnow()
    forget(session)  # called after settings changed: nothing cached may survive
    ids = list(session.execute(select(TimeEntry.id).where(*conditions).order_by(TimeEntry.id)).scalars())
    written = 0
    for entry_id in ids:
        entry = session.execute(
            select(TimeEntry).where(TimeEntry.id == entry_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        written += reapply(session, entry, now).written
    return written
