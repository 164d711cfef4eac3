"""`ledger verify` finds what is wrong and says where."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text

from ledger.balance import balance_from_postings
from ledger.verify import verify
from tests.helpers import H, Book


def test_verify_clean_ledger(book: Book):
    book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    book.next_month(date(2026, 2, 1))
    assert verify(book.s) == []


def test_verify_reports_tampered_running_totals(book: Book):
    acc = book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    book.s.execute(text("UPDATE period_totals SET consumption_s = consumption_s - 60"))
    problems = verify(book.s)
    assert [p.check for p in problems] == ["totals"]
    assert "consumption" in problems[0].detail
    assert acc


def test_verify_reports_an_entry_that_counts_differently(book: Book):
    book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    book.s.execute(text("UPDATE time_entries SET counted_s = 7200"))
    problems = verify(book.s)
    assert [p.check for p in problems] == ["entries"]


def test_balance_from_postings_equals_balance_from_totals(book: Book):
    acc = book.retainer(40, overage_policy="deduct")
    book.log(1, 45 * H, date(2026, 1, 5))
    book.next_month(date(2026, 2, 1))
    book.log(2, 5 * H, date(2026, 2, 5))
    for label in ("2026-01", "2026-02"):
        period = book.period(acc, label)
        from_postings = balance_from_postings((p.kind, p.amount_s) for p in book.postings(period_id=period.id))
        assert from_postings == book.bal(acc, label)
