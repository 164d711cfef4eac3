"""What the client sees (ledger/summary.py): the period's hours, the burn
date, the forecast at the current pace, tasks, stages and history — all
integer seconds, on both databases."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import calendar as cal
from ledger.contracts import add_account, add_team_member, adjust, advance_stage, set_staged
from ledger.models import Task
from ledger.summary import MIN_PACE_S, Forecast, forecast, summarize
from tests.helpers import CLIENT, H, STAFF, Book

UTC = timezone.utc
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def test_forecast_kinds():
    day = 86400
    at = START + timedelta(days=15)
    assert forecast(0, 40 * H, START, END, START + timedelta(hours=5), "UTC") == Forecast("early", left_s=40 * H,
                                                                                          burn_s=40 * H)
    assert forecast(H, 40 * H, START, END, START + timedelta(days=1), "UTC").kind == "early"
    assert forecast(0, 40 * H, START, END, at, "UTC").kind == "idle"
    # 10 h in 15 of 30 days: 20 h at the end, 20 h left to burn
    assert forecast(10 * H, 40 * H, START, END, at, "UTC") == Forecast("left", left_s=20 * H, burn_s=20 * H)
    # rollover carries what the cap allows; the rest burns
    assert forecast(10 * H, 40 * H, START, END, at, "UTC", carry_cap_s=5 * H, rollover=True) == \
        Forecast("left", left_s=20 * H, burn_s=15 * H, carry_s=5 * H)
    assert forecast(10 * H, 40 * H, START, END, at, "UTC", rollover=True) == \
        Forecast("left", left_s=20 * H, carry_s=20 * H)
    # 30 h in 15 days: 40 h are gone after 20 days, on 21 November
    assert forecast(30 * H, 40 * H, START, END, at, "UTC") == Forecast("runs_out", runs_out_on=date(2026, 11, 21))
    assert forecast(41 * H, 40 * H, START, END, at, "UTC").kind == "overdrawn"
    # a project without an end: the date the budget lasts until
    assert forecast(10 * H, 40 * H, START, None, START + timedelta(days=10), "UTC") == \
        Forecast("open_end", runs_out_on=date(2026, 12, 11))
    # corrections gave hours back (a closed month's record deleted): no pace, more left
    assert forecast(-2 * H, 40 * H, START, END, at, "UTC") == Forecast("idle", left_s=42 * H, burn_s=42 * H)
    assert MIN_PACE_S == 3 * day


@settings(max_examples=300, deadline=None)
@given(used=st.integers(-50 * H, 200 * H), allocated=st.integers(1, 200 * H), elapsed=st.integers(0, 30 * 86400))
def test_forecast_is_integer_and_consistent(used, allocated, elapsed):
    f = forecast(used, allocated, START, END, START + timedelta(seconds=elapsed), "UTC")  # UTC month bounds
    for value in (f.left_s, f.burn_s, f.carry_s):
        assert type(value) is int and value >= 0
    assert f.burn_s + f.carry_s == (f.left_s if f.kind == "left" else f.burn_s + f.carry_s)
    if f.kind == "left":
        # what is left at the end never exceeds what is left now
        assert f.left_s <= allocated - used
    if f.kind == "runs_out":
        assert f.runs_out_on is not None and f.runs_out_on <= date(2026, 11, 30)
    if used > allocated:
        assert f.kind == "overdrawn"


def test_summary_of_a_month(book: Book):
    acc = book.retainer(40)
    s, pid = book.s, book.portal.id
    s.add_all([Task(portal_id=pid, task_id=1, title="Воронка «Опт»", status=5),
               Task(portal_id=pid, task_id=2, title="Телефония", status=3)])
    book.log(1, 3 * H + 600, date(2026, 1, 5), task=1)
    book.log(2, 600, date(2026, 1, 6), task=2)  # 10 minutes are 10 minutes
    book.log(3, 2 * H, date(2026, 1, 6), task=2, user=CLIENT)  # shown apart, never debited
    adjust(s, acc, 2 * H, reason="докупка", author="manager", now=book.now)
    sm = summarize(s, acc.id, book.at(date(2026, 1, 10)))
    assert (sm.allocated_s, sm.used_s, sm.left_s, sm.overage_s) == (42 * H, 3 * H + 1200, 39 * H - 1200, 0)
    assert (sm.period_first_day, sm.period_last_day, sm.days_left) == (date(2026, 1, 1), date(2026, 1, 31), 22)
    assert sm.others_s == 2 * H and sm.others_users == 1
    assert [(t.task_id, t.done, t.period_s) for t in sm.tasks] == [(2, False, 600), (1, True, 3 * H + 600)]
    assert sm.used_permille == (3 * H + 1200) * 1000 // (42 * H)
    data = sm.as_dict()
    assert data["left_s"] == 39 * H - 1200 and data["period"]["adjustment_s"] == 2 * H
    assert all(type(v) is int for v in (data["allocated_s"], data["used_s"], data["others_s"]))


def test_overdrawn_shows_overage_never_negative(book: Book):
    acc = book.retainer(20)
    book.log(1, 25 * H, date(2026, 1, 5))
    sm = summarize(book.s, acc.id, book.at(date(2026, 1, 10)))
    assert (sm.left_s, sm.overage_s, sm.forecast.kind, sm.used_permille) == (0, 5 * H, "overdrawn", 1000)


def test_burn_warning_in_the_last_days(book: Book):
    acc = book.retainer(40)
    book.log(1, 4 * H, date(2026, 1, 5))
    early = summarize(book.s, acc.id, book.at(date(2026, 1, 10)))
    assert early.forecast.kind == "left" and early.forecast.burn_s > 0 and not early.warn_burn
    late = summarize(book.s, acc.id, book.at(date(2026, 1, 25)))
    assert late.warn_burn and late.days_left == 7
    # 4 h in 24 days and 12 h of the month's 31 days: 31 × 4 / 24.5 ≈ 5 h 3 min used by the end
    assert late.forecast.burn_s == 40 * H - (4 * H * (31 * 86400) // (24 * 86400 + 12 * 3600))


def test_rollover_without_cap_never_warns(book: Book):
    acc = book.retainer(40, expiry_policy="rollover")
    book.log(1, 4 * H, date(2026, 1, 5))
    sm = summarize(book.s, acc.id, book.at(date(2026, 1, 25)))
    assert sm.forecast.kind == "left" and sm.forecast.burn_s == 0 and sm.forecast.carry_s > 0
    assert not sm.warn_burn


def test_history_and_dst_month(session):
    book = Book(session, tz="Europe/Berlin")
    acc = book.retainer(20, start=date(2026, 3, 1))
    book.now = book.at(date(2026, 3, 2))
    book.log(1, 5 * H, date(2026, 3, 29), hour=1)  # the night the clocks go forward
    book.next_month(date(2026, 4, 1))
    book.log(2, H, date(2026, 4, 2))
    sm = summarize(session, acc.id, book.at(date(2026, 4, 3)))
    march = sm.history[0]
    assert (march.label, march.allocated_s, march.used_s, march.burned_s, march.status) == \
        ("2026-03", 20 * H, 5 * H, 15 * H, "closed")
    assert sm.history[-1].label == "2026-04" and sm.period_last_day == date(2026, 4, 30)
    # March in Berlin is 743 hours long; the month's bounds come from the zone, not from UTC
    first, last = cal.month_bounds(date(2026, 3, 1), "Europe/Berlin")
    assert (last - first) == timedelta(hours=743)


def test_stages_show_where_work_was_done(book: Book):
    acc = add_account(book.s, book.portal, "Вектор", now=book.now)
    add_team_member(book.s, book.portal, STAFF, account=acc, now=book.now)
    contract = set_staged(book.s, acc, stages=[("Аудит", 10 * H, 0), ("Настройка", 20 * H, 0)],
                          starts_on=date(2026, 1, 1), now=book.now)
    book.log(1, 4 * H, date(2026, 1, 5))
    book.now = book.at(date(2026, 1, 10))
    advance_stage(book.s, contract, now=book.now)
    book.log(2, 3 * H, date(2026, 1, 12))
    book.log(3, H, date(2026, 1, 6))  # late: dated in the finished stage
    sm = summarize(book.s, acc.id, book.at(date(2026, 1, 15)))
    assert [(x.name, x.state, x.spent_s) for x in sm.stages] == [("Аудит", "done", 5 * H), ("Настройка", "current", 3 * H)]
    assert sm.period_last_day is None and sm.days_left is None
    assert sm.contract_kind == "staged"


@pytest.mark.parametrize("account_id", [0, 10**9])
def test_unknown_account(book: Book, account_id):
    assert summarize(book.s, account_id) is None
