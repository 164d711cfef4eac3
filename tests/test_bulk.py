"""The bulk path against the one-record path: for any sequence of record
states, split into pages of any size (1 included), `apply_entries` writes
the same postings as `apply_entry` state by state — the same keys, amounts
and periods — and leaves the same entries. On SQLite and on PostgreSQL.

Database ids (entries', periods') may be handed out in another order by the
two paths (a page derives all its records before it inserts them), so keys
and periods are compared through what the ids stand for: an entry's record
id, a period's account and label.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.db import make_engine
from ledger.entries import EntryDeleted, EntrySnapshot, apply_entries, apply_entry
from ledger.models import Account, Period, Posting, TimeEntry
from ledger.verify import verify
from tests.conftest import reset_pg
from tests.helpers import CLIENT, H, STAFF, Book

OTHER_STAFF = 102
EXAMPLES = int(os.environ.get("HOURBOOK_PROPERTY_EXAMPLES", "40"))

# One step of a portal's life: a record's state, its deletion, or time passing.
STATE = st.tuples(st.just("log"), st.integers(1, 10), st.sampled_from([0, 60, 600, 901, 3600, 5400, 7 * H]),
                  st.integers(0, 80), st.sampled_from([STAFF, STAFF, OTHER_STAFF, CLIENT]), st.integers(1, 3))
DELETE = st.tuples(st.just("delete"), st.integers(1, 10))
TIME = st.tuples(st.just("time"), st.integers(1, 40))
STEPS = st.lists(st.one_of(STATE, STATE, STATE, DELETE, TIME), min_size=1, max_size=40)
POLICY = st.fixed_dictionaries({
    "expiry_policy": st.sampled_from(["burn", "rollover"]),
    "overage_policy": st.sampled_from(["bill", "deduct"]),
    "rounding": st.sampled_from([("none", 0), ("up", 900), ("nearest", 600), ("down", 300)]),
})


def play(s: Session, steps: list, policy: dict, page: int | None) -> tuple[list, list]:
    """Play `steps` on an empty ledger: record states one by one (`page`
    None) or `page` at a time through the bulk path. Returns the postings and
    entries, in ids' stead what they stand for."""
    book = Book(s, member_id=f"p-{uuid.uuid4().hex[:8]}")
    mode, step_s = policy["rounding"]
    book.retainer(20, team=(STAFF, OTHER_STAFF), expiry_policy=policy["expiry_policy"],
                  overage_policy=policy["overage_policy"], rounding_mode=mode, rounding_step_s=step_s)
    s.commit()
    pending: list = []

    def flush() -> None:
        if page is None:
            for snap in pending:
                apply_entry(s, snap, book.now)
        else:
            for start in range(0, len(pending), page):
                results = apply_entries(s, pending[start:start + page], book.now)
                assert len(results) == len(pending[start:start + page])
        pending.clear()
        s.commit()

    for step in steps:
        if step[0] == "time":
            flush()
            book.advance_to(book.now + timedelta(days=step[1]))
            s.commit()
            continue
        if step[0] == "delete":
            pending.append(EntryDeleted(book.portal.id, step[1]))
            continue
        _, record, seconds, back, user, task = step
        day = max(cal.local_date(book.now, book.tz) - timedelta(days=back), date(2026, 1, 1))
        pending.append(EntrySnapshot(book.portal.id, record, task, user, seconds, book.at(day, 12), ""))
    flush()
    assert verify(s) == []

    records = {entry_id: record_id for entry_id, record_id in s.execute(select(TimeEntry.id, TimeEntry.record_id))}
    periods = {pid: f"{name}/{label}" for pid, name, label in s.execute(
        select(Period.id, Account.name, Period.label).join(Account, Account.id == Period.account_id))}

    def key(k: str) -> str:
        m = re.fullmatch(r"entry:(\d+):v(\d+):s(\d+):(\d+):(\d+)", k)
        if not m:
            return k if not re.match(r"(alloc|close):", k) else re.sub(
                r"\d+", lambda n: periods.get(int(n.group()), n.group()), k, count=1)
        entry, version, seq, period, origin = m.groups()
        return f"entry:r{records[int(entry)]}:v{version}:s{seq}:{periods[int(period)]}:{periods[int(origin)]}"

    postings = sorted(
        (key(p.key), p.kind, p.amount_s, periods[p.period_id], periods.get(p.origin_period_id),
         records.get(p.entry_id), p.entry_version)
        for p in s.execute(select(Posting)).scalars())
    entries = sorted(
        (e.record_id, e.task_id, e.user_id, e.duration_s, e.deleted, e.version, e.post_seq, e.state,
         e.counted_s, periods.get(e.period_id))
        for e in s.execute(select(TimeEntry)).scalars())
    return postings, entries


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(steps=STEPS, policy=POLICY, page=st.integers(1, 12))
def check(new_session, steps, policy, page):
    with new_session() as one, new_session() as bulk:
        assert play(bulk, steps, policy, page) == play(one, steps, policy, None)


def test_bulk_equals_one_by_one_on_sqlite(sqlite_template, tmp_path):
    counter = iter(range(10**9))

    def new_session() -> Session:
        path = tmp_path / f"b{next(counter)}.db"
        shutil.copy(sqlite_template, path)
        return Session(make_engine(f"sqlite:///{path}"), expire_on_commit=False)

    check(new_session)


def test_bulk_equals_one_by_one_on_postgresql(pg_engine):
    # Both plays share the schema: each gets a portal of its own, and the
    # comparison is by record ids and period labels, never by raw ids.
    def new_session() -> Session:
        return Session(pg_engine, expire_on_commit=False)

    def run(steps, policy, page):
        reset_pg(pg_engine)
        with new_session() as bulk:
            b = play(bulk, steps, policy, page)
        reset_pg(pg_engine)
        with new_session() as one:
            o = play(one, steps, policy, None)
        assert b == o

    given(steps=STEPS, policy=POLICY, page=st.integers(1, 12))(SETTINGS(run))()


def test_a_page_with_the_same_record_many_times(book: Book):
    """Three states of one record in one page post what three calls post."""
    acc = book.retainer(40)
    p = book.portal.id
    snaps = [EntrySnapshot(p, 1, 1, STAFF, 600, book.at(date(2026, 1, 2)), ""),
             EntrySnapshot(p, 1, 1, STAFF, 900, book.at(date(2026, 1, 2)), ""),
             EntryDeleted(p, 1), EntrySnapshot(p, 2, 1, STAFF, 60, book.at(date(2026, 1, 3)), "")]
    results = apply_entries(book.s, snaps, book.now)
    assert [r.version for r in results] == [1, 2, 3, 1]
    assert [r.written for r in results] == [1, 1, 1, 1]
    assert book.bal(acc).consumption_s == 60
    assert verify(book.s) == []


def test_post_many_skips_keys_that_exist_and_refuses_a_different_payload(book: Book):
    """Replayed keys write nothing and move no totals (on PostgreSQL the
    COPY gives way to INSERT … ON CONFLICT DO NOTHING); the same key with
    another amount is a bug and raises, as `post` does."""
    from ledger.postings import PostingConflict, post_many

    acc = book.retainer(40)
    period = book.period(acc, "2026-01")

    def row(key: str, amount_s: int) -> dict:
        return dict(key=key, portal_id=book.portal.id, account_id=acc.id, period_id=period.id, kind="allocation",
                    amount_s=amount_s, origin_period_id=period.id, entry_id=None, entry_version=None,
                    adjustment_id=None, author=None, reason=None)

    before = book.bal(acc).allocation_s
    assert post_many(book.s, [row("a", 60), row("b", 120)], book.now) == ["a", "b"]
    assert post_many(book.s, [row("b", 120), row("c", 180), row("a", 60)], book.now) == ["c"]
    assert book.bal(acc).allocation_s == before + 360
    with pytest.raises(PostingConflict):
        post_many(book.s, [row("d", 30), row("c", 181)], book.now)
