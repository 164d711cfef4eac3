from datetime import date

from ledger.verify import verify
from tests.helpers import H, Book


def test_log_and_balance(book: Book):
    acc = book.retainer(40)
    book.log(1, 600, date(2026, 1, 5))
    b = book.bal(acc)
    assert b.allocation_s == 40 * H
    assert b.consumption_s == 600
    assert b.remaining_s == 40 * H - 600
    assert verify(book.s) == []
