"""Reading Bitrix24 elapsed-time records, with the documented payloads."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from b24.records import BadRecord, snapshot_from_elapseditem
from ledger import calendar as cal
from ledger.entries import apply_entry
from tests.helpers import Book

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "b24-examples"


def test_documented_getlist_item_becomes_a_snapshot():
    item = json.loads((EXAMPLES / "task.elapseditem.getlist.json").read_text())["result"][0]
    snap = snapshot_from_elapseditem(7, item)
    assert (snap.record_id, snap.task_id, snap.user_id, snap.duration_s) == (1, 691, 1, 3600)
    assert snap.work_at == datetime(2024, 5, 16, 8, 33, tzinfo=timezone.utc)
    assert type(snap.duration_s) is int


def test_backdated_manual_entry_counts_on_created_date_not_date_start(session):
    """Logged today (DATE_START) for work done on the last day of a closed
    month (CREATED_DATE): it belongs to that month, posted as a correction."""
    book = Book(session)
    acc = book.retainer(40)
    book.next_month(date(2026, 2, 1))
    item = {"ID": "5", "TASK_ID": "1", "USER_ID": "101", "COMMENT_TEXT": "созвон", "SECONDS": "1800",
            "MINUTES": "30", "SOURCE": "2", "CREATED_DATE": "2026-01-31T18:00:00+03:00",
            "DATE_START": "2026-02-03T10:00:00+03:00", "DATE_STOP": "2026-02-03T10:00:00+03:00"}
    apply_entry(book.s, snapshot_from_elapseditem(book.portal.id, item), book.now)
    posting = book.postings(kind="consumption")[-1]
    assert posting.origin_period_id == book.period(acc, "2026-01").id
    assert cal.local_date(snapshot_from_elapseditem(1, item).work_at, "Europe/Moscow") == date(2026, 1, 31)


@pytest.mark.parametrize("patch", [
    {"SECONDS": "1.5"}, {"SECONDS": "-60"}, {"SECONDS": True}, {"ID": "x"},
    {"CREATED_DATE": "2026-01-31 18:00:00"}, {"CREATED_DATE": "yesterday"}, {"TASK_ID": None},
])
def test_unreadable_records_are_refused(patch):
    item = {"ID": "5", "TASK_ID": "1", "USER_ID": "101", "SECONDS": "60",
            "CREATED_DATE": "2026-01-31T18:00:00+03:00", **patch}
    with pytest.raises(BadRecord):
        snapshot_from_elapseditem(1, item)


def test_minutes_only_record_falls_back_to_minutes():
    item = {"ID": "5", "TASK_ID": "1", "USER_ID": "101", "MINUTES": "10",
            "CREATED_DATE": "2026-01-31T18:00:00+03:00"}
    assert snapshot_from_elapseditem(1, item).duration_s == 600
