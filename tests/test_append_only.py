"""Postings are append-only and closed periods frozen, by the database itself."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.helpers import H, Book

FEB = date(2026, 2, 1)


def _refused(book: Book, sql: str) -> None:
    n = book.count_postings()
    book.s.commit()
    with pytest.raises(DBAPIError, match="append-only|closed"):
        with book.s.begin_nested():
            book.s.execute(text(sql))
    assert book.count_postings() == n


def test_database_refuses_update_of_a_posting(book: Book):
    book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    _refused(book, "UPDATE postings SET amount_s = amount_s * 2")


def test_database_refuses_delete_of_a_posting(book: Book):
    book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    _refused(book, "DELETE FROM postings")


def test_database_refuses_emptying_postings(book: Book):
    """TRUNCATE on PostgreSQL; SQLite has none, and its DELETE without WHERE
    (which would otherwise skip row triggers) is refused too."""
    book.retainer(40)
    postgres = book.s.get_bind().dialect.name == "postgresql"
    _refused(book, "TRUNCATE postings CASCADE" if postgres else "DELETE FROM postings WHERE 1")


def test_database_refuses_a_posting_into_a_closed_period(book: Book):
    acc = book.retainer(40)
    book.next_month(FEB)
    jan = book.period(acc, "2026-01")
    _refused(book, f"INSERT INTO postings (key, portal_id, account_id, period_id, kind, amount_s, created_at) "
                   f"VALUES ('forged', {book.portal.id}, {acc.id}, {jan.id}, 'allocation', 3600, CURRENT_TIMESTAMP)")


def test_database_refuses_a_statement_of_postings_with_one_into_a_closed_period(book: Book):
    """The guard holds for many rows at once (PostgreSQL checks each
    statement's rows together): one posting into a closed month and the
    statement inserts none, the open month's included."""
    acc = book.retainer(40)
    book.next_month(FEB)
    jan, feb = book.period(acc, "2026-01"), book.period(acc, "2026-02")
    rows = ", ".join(f"('forged-{n}', {book.portal.id}, {acc.id}, {period.id}, 'allocation', 3600, CURRENT_TIMESTAMP)"
                     for n, period in enumerate((feb, feb, jan, feb)))
    _refused(book, f"INSERT INTO postings (key, portal_id, account_id, period_id, kind, amount_s, created_at) "
                   f"VALUES {rows}")


def test_bulk_insert_refuses_a_posting_into_a_closed_period(book: Book):
    """The bulk path's own insert (COPY on PostgreSQL) meets the same guard,
    even when its caller skipped `lock_open_periods`."""
    from ledger.postings import post_many

    acc = book.retainer(40)
    book.next_month(FEB)
    jan, feb = book.period(acc, "2026-01"), book.period(acc, "2026-02")
    n = book.count_postings()
    book.s.commit()
    rows = [dict(key=f"bulk-{k}", portal_id=book.portal.id, account_id=acc.id, period_id=period.id,
                 kind="allocation", amount_s=60, origin_period_id=None, entry_id=None,
                 entry_version=None, adjustment_id=None, author=None, reason=None)
            for k, period in enumerate((feb, jan, feb))]
    with pytest.raises(Exception, match="closed"):
        with book.s.begin_nested():
            post_many(book.s, rows, book.now)
    book.s.rollback()
    assert book.count_postings() == n


def test_database_refuses_reopening_a_closed_period(book: Book):
    acc = book.retainer(40)
    book.next_month(FEB)
    jan = book.period(acc, "2026-01")
    book.s.commit()
    with pytest.raises(DBAPIError, match="stays closed"):
        with book.s.begin_nested():
            book.s.execute(text(f"UPDATE periods SET status = 'open' WHERE id = {jan.id}"))


def test_an_adjustment_posting_must_name_its_source(book: Book):
    from ledger.postings import NewPosting, post

    acc = book.retainer(40)
    period = book.period(acc, "2026-01")
    p = NewPosting(key="probe", portal_id=book.portal.id, account_id=acc.id, period_id=period.id,
                   kind="adjustment", amount_s=60, adjustment_id=None, author="a", reason="r")
    with pytest.raises(DBAPIError):
        post(book.s, p, book.now)  # no adjustment row named: the CHECK constraint refuses
    book.s.rollback()


def test_posting_amount_must_be_an_integer():
    from ledger.postings import NewPosting

    for bad in (1.5, True, "60", None):
        with pytest.raises(TypeError):
            NewPosting(key="k", portal_id=1, account_id=1, period_id=1, kind="allocation", amount_s=bad)
    with pytest.raises(ValueError):
        NewPosting(key="k", portal_id=1, account_id=1, period_id=1, kind="allocation", amount_s=0)
    with pytest.raises(ValueError):
        NewPosting(key="k", portal_id=1, account_id=1, period_id=1, kind="bonus", amount_s=1)


def test_replaying_a_key_with_the_same_payload_answers_exists(book: Book):
    from ledger.postings import NewPosting, PostingConflict, post

    acc = book.retainer(40)
    period = book.period(acc, "2026-01")
    p = NewPosting(key="alloc-probe", portal_id=book.portal.id, account_id=acc.id, period_id=period.id,
                   kind="allocation", amount_s=60)
    assert post(book.s, p, book.now) is True
    assert post(book.s, p, book.now) is False
    with pytest.raises(PostingConflict):
        post(book.s, NewPosting(**{**p.__dict__, "amount_s": 61}), book.now)
