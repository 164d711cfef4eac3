"""Several workers applying the same change, or closing the same month, at
once: the result is as if one did it (the keys and row locks see to it)."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.contracts import add_account, add_team_member, close_due, create_portal, set_retainer
from ledger.entries import EntrySnapshot, apply_entry
from ledger.models import Period, Posting
from ledger.verify import verify

WORKERS = 6
JAN5 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)


def _setup(engine) -> int:
    with Session(engine) as s, s.begin():
        portal = create_portal(s, "race", "race.bitrix24.ru")
        account = add_account(s, portal, "A", now=JAN5)
        set_retainer(s, account, hours_s=40 * 3600, starts_on=date(2026, 1, 1), now=JAN5)
        add_team_member(s, portal, 101, account=account, now=JAN5)
        return portal.id


def _race(engine, work) -> list[BaseException]:
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with Session(engine) as s, s.begin():
                work(s)
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _count(engine, *where) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(Posting).where(*where)).scalar_one()


def test_same_snapshot_applied_by_many_workers_posts_once(engine):
    portal_id = _setup(engine)
    snap = EntrySnapshot(portal_id, 77, 1, 101, 1800, JAN5)
    assert _race(engine, lambda s: apply_entry(s, snap, JAN5)) == []
    assert _count(engine, Posting.kind == "consumption") == 1
    with Session(engine) as s:
        assert verify(s) == []


def test_new_month_opened_by_many_workers_at_once_is_allocated_once(engine):
    portal_id = _setup(engine)
    feb = datetime(2026, 2, 3, 9, tzinfo=timezone.utc)
    snaps = [EntrySnapshot(portal_id, 100 + i, 1, 101, 600, feb) for i in range(WORKERS)]
    it = iter(snaps)
    lock = threading.Lock()

    def work(s: Session) -> None:
        with lock:
            snap = next(it)
        apply_entry(s, snap, feb)

    assert _race(engine, work) == []
    assert _count(engine, Posting.kind == "allocation") == 2  # January and February, once each
    assert _count(engine, Posting.kind == "consumption") == WORKERS
    with Session(engine) as s:
        assert verify(s) == []


def test_month_closed_by_many_workers_at_once_closes_once(engine):
    _setup(engine)
    march = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    assert _race(engine, lambda s: close_due(s, march)) == []
    with Session(engine) as s:
        closed = s.execute(select(func.count()).select_from(Period).where(Period.status == "closed")).scalar_one()
        assert closed == 2
        assert verify(s) == []
    assert _count(engine, Posting.kind == "expiry") == 2
