"""Building the weekly report from the ledger (reports.build), on SQLite and
PostgreSQL, with a ledger whose clock the test holds (tests.helpers.Book).

A week is Monday 00:00 to the next Monday 00:00 in the portal's zone
(PRODUCT.md rule 8): across a DST change it is 167 or 169 hours long, and
23:30 on a Sunday and 00:30 on a Monday fall in different weeks whatever
the UTC date says. A change to a closed month is counted in the open one
and flagged as a correction (rule 5).
"""
from __future__ import annotations

import email
import io
from datetime import date, datetime, timedelta, timezone
from email import policy

import openpyxl
import pytest
from sqlalchemy import select

from b24.links import task_url
from ledger import calendar as cal
from ledger.entries import EntrySnapshot, apply_entry
from ledger.models import TimeEntry
from ledger.tasks import upsert_task
from reports import render
from reports.build import build_report, previous_week, week_label
from reports.mail import message
from reports.model import SCHEMA, Report
from tests.helpers import CLIENT, STAFF, Book

H, M = 3600, 60
DEV = 102  # a second team member


def log(book: Book, record: int, seconds: int, day: date, hour: int, minute: int = 0, user: int = STAFF,
        task: int = 1, comment: str = "") -> None:
    apply_entry(book.s, EntrySnapshot(book.portal.id, record, task, user, seconds, book.at(day, hour, minute),
                                      comment), book.now)


def report(book: Book, account, monday: date) -> Report:
    return build_report(book.s, account.id, monday, task_url, now=book.now)


def by_record(book: Book, rep: Report) -> list[int]:
    """The record ids behind a report's lines (each record here has its own duration)."""
    seconds = {e.duration_s: e.record_id for e in book.s.execute(select(TimeEntry)).scalars()}
    return [seconds[x.duration_s] for x in rep.lines]


def xlsx_seconds(data: bytes) -> tuple[list[int], int]:
    """The work log's «Debited» cells and their total, in seconds."""
    sheet = openpyxl.load_workbook(io.BytesIO(data), data_only=True).worksheets[1]
    values = [row[7] for row in sheet.iter_rows(min_row=2, values_only=True)]

    def seconds(value) -> int:
        return round(value.total_seconds() if isinstance(value, timedelta) else value * 86400)

    return [seconds(v) for v in values[:-1]], seconds(values[-1])


# ---------------------------------------------------------------- weeks across a DST change


@pytest.mark.parametrize("tz, change, hours", [
    ("Europe/Berlin", date(2026, 3, 29), 167),      # W13: clocks go forward on its Sunday
    ("America/New_York", date(2026, 3, 8), 167),    # W10: forward; W11 is the first summer week
    ("Europe/Berlin", date(2026, 10, 25), 169),     # W43: back
    ("America/New_York", date(2026, 11, 1), 169),   # W44: back
])
def test_a_week_across_a_dst_change_is_monday_to_sunday_in_the_portals_zone(session, tz, change, hours):
    book = Book(session, tz=tz)
    monday = change - timedelta(days=6)
    before, after, later = monday - timedelta(days=7), monday + timedelta(days=7), monday + timedelta(days=14)
    book.now = book.at(cal.month_start(before), 10)
    account = book.retainer(start=cal.month_start(before))
    book.now = book.at(later + timedelta(days=3), 12)
    edges = {  # record -> (local day, hour, minute); record n logs n × 10 minutes
        1: (before + timedelta(days=6), 23, 30),   # Sunday before: the week before
        2: (monday, 0, 30),                        # Monday: this week
        3: (change, 1, 30),                        # Sunday, before the change
        4: (change, 3, 30),                        # Sunday, after the change
        5: (change, 23, 30),                       # Sunday night: still this week
        6: (after, 0, 30),                         # Monday: the next week
        7: (after + timedelta(days=6), 23, 30),    # Sunday: the next week
        8: (later, 0, 30),                         # Monday: the week after
    }
    for record, (day, hour, minute) in edges.items():
        log(book, record, record * 10 * M, day, hour, minute)

    start, end = cal.week_bounds(monday, tz)
    assert end - start == timedelta(hours=hours)
    weeks = {m: report(book, account, m) for m in (before, monday, after)}

    assert by_record(book, weeks[before]) == [1]
    assert by_record(book, weeks[monday]) == [2, 3, 4, 5]
    assert by_record(book, weeks[after]) == [6, 7]
    for m, rep in weeks.items():
        assert rep.week == week_label(m) and rep.first_day == m and rep.last_day == m + timedelta(days=6)
        assert all(m <= x.day <= m + timedelta(days=6) for x in rep.lines)
        assert rep.week_s == sum(x.counted_s for x in rep.lines) == sum(x.duration_s for x in rep.lines)
        debited, total = xlsx_seconds(render.xlsx(rep))
        assert debited == [x.counted_s for x in rep.lines] and total == rep.week_s
    assert [x.day for x in weeks[monday].lines] == [monday, change, change, change]
    assert [x.day for x in weeks[after].lines] == [after, after + timedelta(days=6)]
    # The Monday after the change: "last week" from any moment of it is this one.
    assert previous_week(book.at(after, 0, 1), tz) == monday
    assert previous_week(book.at(after + timedelta(days=6), 23, 59), tz) == monday


def test_the_new_york_week_after_spring_forward_keeps_its_edges():
    """2026-W11 in New York: Monday 00:30 EDT is 04:30 UTC and the Sunday
    before at 23:30 EDT is already Monday 03:30 UTC."""
    tz = "America/New_York"
    monday = cal.parse_week("2026-W11")
    start, end = cal.week_bounds(monday, tz)
    assert (start, end) == (datetime(2026, 3, 9, 4, tzinfo=timezone.utc), datetime(2026, 3, 16, 4, tzinfo=timezone.utc))
    sunday_night = datetime(2026, 3, 9, 3, 30, tzinfo=timezone.utc)
    assert sunday_night < start and cal.week_of(sunday_night, tz) == monday - timedelta(days=7)


# ---------------------------------------------------------------- a week across a month boundary


def test_a_week_across_the_month_boundary_lists_both_months_and_counts_the_new_period(session):
    """2026-W49, Monday 30 November – Sunday 6 December, in Moscow:
    November was closed on 1 December; the report lists the whole week and
    its hours of this period are December's."""
    book = Book(session)
    book.now = book.at(date(2026, 11, 2), 10)
    account = book.retainer(start=date(2026, 11, 1), team=(STAFF, DEV))
    upsert_task(book.s, book.portal.id, 1, title="Настройка воронки", status=2, now=book.now)
    upsert_task(book.s, book.portal.id, 2, title="Интеграция с 1С", status=5, now=book.now)
    book.now = book.at(date(2026, 11, 30), 20)
    log(book, 1, 30 * M, date(2026, 11, 29), 23, 30)                      # W48
    log(book, 2, 40 * M, date(2026, 11, 30), 0, 30)                       # W49, November
    log(book, 3, 2 * H, date(2026, 11, 30), 15, 0, user=DEV, task=2)      # W49, November
    book.next_month(date(2026, 12, 1))
    book.now = book.at(date(2026, 12, 10), 12)
    log(book, 4, 1 * H, date(2026, 12, 1), 10, 0, task=2)                 # W49, December
    log(book, 5, 50 * M, date(2026, 12, 6), 23, 30, user=DEV)             # W49, December
    log(book, 6, 70 * M, date(2026, 12, 7), 0, 30)                        # W50
    log(book, 7, 20 * M, date(2026, 11, 30), 18, 0, user=CLIENT)          # W49, outside the team

    rep = report(book, account, date(2026, 11, 30))

    assert rep.week == "2026-W49" and rep.period == "2026-12" and rep.period_last_day == date(2026, 12, 31)
    assert [(x.day, x.duration_s, x.counted_s) for x in rep.lines] == [
        (date(2026, 11, 30), 40 * M, 40 * M), (date(2026, 11, 30), 2 * H, 2 * H),
        (date(2026, 11, 30), 20 * M, 0), (date(2026, 12, 1), 1 * H, 1 * H), (date(2026, 12, 6), 50 * M, 50 * M)]
    assert not any(x.correction for x in rep.lines)  # logged before November closed
    assert rep.week_s == (40 + 120 + 60 + 50) * M and rep.others_s == 20 * M
    assert rep.used_s == (60 + 50 + 70) * M  # December's consumption: W49's December days and W50's Monday
    tasks = {t.task_id: t for t in rep.tasks}
    assert (tasks[1].week_s, tasks[1].period_s) == ((40 + 50) * M, (50 + 70) * M)
    assert (tasks[2].week_s, tasks[2].period_s, tasks[2].done) == (3 * H, 1 * H, True)
    assert {p.user_id: p.week_s for p in rep.people} == {STAFF: (40 + 60) * M, DEV: (120 + 50) * M}
    assert [t.task_id for t in rep.in_progress] == [1]
    debited, total = xlsx_seconds(render.xlsx(rep))
    assert debited == [x.counted_s for x in rep.lines] and total == rep.week_s


# ---------------------------------------------------------------- corrections


def test_changes_to_a_closed_month_are_flagged_as_corrections(session):
    """2026-W05 (26 January – 1 February, Moscow). January closed on
    1 February; afterwards one January record is lengthened and a late one
    dated in January arrives: both count in February as corrections naming
    January, and the report flags those two lines only."""
    book = Book(session)
    account = book.retainer(start=date(2026, 1, 1))
    book.now = book.at(date(2026, 1, 31), 12)
    log(book, 1, 1 * H, date(2026, 1, 27), 11)
    log(book, 2, 2 * H, date(2026, 1, 28), 11)
    book.next_month(date(2026, 2, 1))
    book.now = book.at(date(2026, 2, 1), 20)
    log(book, 3, 30 * M, date(2026, 2, 1), 12)
    book.now = book.at(date(2026, 2, 3), 12)
    log(book, 1, 1 * H + 30 * M, date(2026, 1, 27), 11)   # edited after the close
    log(book, 4, 45 * M, date(2026, 1, 29), 16)           # late: dated in the closed month

    rep = report(book, account, date(2026, 1, 26))

    lines = {x.duration_s: x for x in rep.lines}
    assert [(x.day, x.counted_s, x.correction) for x in rep.lines] == [
        (date(2026, 1, 27), 90 * M, True), (date(2026, 1, 28), 2 * H, False),
        (date(2026, 1, 29), 45 * M, True), (date(2026, 2, 1), 30 * M, False)]
    assert rep.week_s == (90 + 120 + 45 + 30) * M
    january, february = book.period(account, "2026-01"), book.period(account, "2026-02")
    assert book.bal(account, "2026-01").consumption_s == 3 * H  # frozen
    assert rep.period == "2026-02" and rep.used_s == (30 + 45 + 30) * M
    corrections = [p for p in book.postings(kind="consumption") if p.period_id != p.origin_period_id]
    assert {(p.period_id, p.origin_period_id) for p in corrections} == {(february.id, january.id)}
    assert sorted(-p.amount_s for p in corrections) == [30 * M, 45 * M]
    assert lines[90 * M].correction and not lines[2 * H].correction
    # Every rendering says which lines are corrections.
    assert render.text(rep).count("[исправление]") == 2
    assert render.html(rep).count("исправление") >= 2
    notes = [row[8] for row in openpyxl.load_workbook(io.BytesIO(render.xlsx(rep))).worksheets[1]
             .iter_rows(min_row=2, max_row=1 + len(rep.lines), values_only=True)]
    assert [bool(n) for n in notes] == [True, False, True, False]


def test_a_report_kept_as_json_renders_the_same_after_a_correction(session):
    """The stored JSON is the report: after a record of the week changes,
    the week built again differs, the kept one renders byte for byte as
    before."""
    book = Book(session)
    account = book.retainer(start=date(2026, 1, 1), team=(STAFF, DEV))
    book.now = book.at(date(2026, 2, 2), 10)
    log(book, 1, 1 * H, date(2026, 1, 27), 11, comment="Воронка <продаж> & роботы")
    log(book, 2, 25 * M, date(2026, 1, 28), 11, user=DEV)
    kept = report(book, account, date(2026, 1, 26)).to_json()
    before = Report.from_json(kept)
    sent = (render.html(before), render.text(before), render.xlsx(before),
            bytes(message(before, "weekly:1:2026-W05", [("Директор", "d@romashka.test")], "h@hourbook.test")))
    book.next_month(date(2026, 2, 1))
    book.now = book.at(date(2026, 2, 3), 12)
    log(book, 1, 2 * H, date(2026, 1, 27), 11, comment="Воронка <продаж> & роботы")

    assert report(book, account, date(2026, 1, 26)).week_s == 2 * H + 25 * M
    again = Report.from_json(kept)
    assert again == before and again.to_json() == kept and again.schema == SCHEMA
    assert (render.html(again), render.text(again), render.xlsx(again),
            bytes(message(again, "weekly:1:2026-W05", [("Директор", "d@romashka.test")], "h@hourbook.test"))) == sent


# ---------------------------------------------------------------- the subject a client reads


# Once a bug: Python 3.11 folded the Subject at the space after «26» and mail
# clients dropped it (CPython gh-144156); reports/mail.py no longer folds headers.
def test_the_subject_a_mail_client_decodes_is_the_reports_subject(session):
    book = Book(session)
    account = book.retainer(start=date(2026, 10, 1), name="Клиент")
    book.now = book.at(date(2026, 11, 4), 10)
    rep = report(book, account, date(2026, 10, 26))
    assert render.subject(rep) == "Отчёт о часах: Клиент, 26 октября – 1 ноября 2026"

    raw = bytes(message(rep, "weekly:1:2026-W44", [("Директор", "d@romashka.test")], "h@hourbook.test"))

    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == render.subject(rep)


def test_a_report_for_a_month_on_demand(session):
    """The manager's page sends a report for any week or month: a month's
    report covers its first to its last day in the portal's zone."""
    from reports.build import span

    book = Book(session)
    account = book.retainer(start=date(2026, 10, 1), name="Клиент")
    book.now = book.at(date(2026, 11, 20), 10)
    book.log(1, 3600, date(2026, 10, 31), hour=23)  # the last evening of October: not November's
    book.log(2, 1800, date(2026, 11, 1), hour=0)
    book.log(3, 900, date(2026, 11, 30), hour=23)  # logged ahead, still November
    first, last = span("2026-11")
    assert (first, last) == (date(2026, 11, 1), date(2026, 11, 30))
    rep = build_report(book.s, account.id, first, task_url, now=book.now, last_day=last, label="2026-11")
    assert (rep.week, rep.first_day, rep.last_day) == ("2026-11", first, last)
    assert sorted(line.duration_s for line in rep.lines) == [900, 1800]
    assert span("2026-W47") == (date(2026, 11, 16), date(2026, 11, 22))
    with pytest.raises(ValueError):
        span("2026-13")
    assert "1–30 ноября 2026" in render.subject(rep)
