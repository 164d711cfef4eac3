"""Implementation projects (issue 16): scope, stage payments, acceptance,
lateness and stalls, on SQLite and PostgreSQL; the pure parts table-driven."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger.contracts import LedgerError, add_account, add_team_member, set_staged, set_upfront
from ledger.models import AuditEvent, Period, ScopeItem, ScopeTask, Stage
from ledger.projects import (
    Lateness,
    Stall,
    accept_stage,
    add_item,
    lateness,
    link_task,
    project_status,
    record_payment,
    set_item_state,
    set_stage_dates,
    set_stall_days,
    stall_alerts,
    stalls_of,
)
from reports.timeline import NARROW, WIDTH, build
from tests.helpers import STAFF, H, Book

D = date

# (due, today, finished, started, planned h, spent h) → expected Lateness or None
LATENESS = [
    # no due date: never late
    (None, D(2026, 5, 1), None, None, 10, 0, None),
    # the line: six days past the due date
    (D(2026, 3, 26), D(2026, 4, 1), None, D(2026, 3, 1), 40, 10, Lateness("missed", 6, D(2026, 3, 26))),
    # month end: due on 31 January, today 1 March (2027 is not a leap year)
    (D(2027, 1, 31), D(2027, 3, 1), None, None, 0, 0, Lateness("missed", 29, D(2027, 1, 31))),
    # the due day itself is on time
    (D(2026, 3, 31), D(2026, 3, 31), None, D(2026, 3, 1), 40, 40, None),
    # done after the date: it was late
    (D(2026, 3, 31), D(2026, 5, 1), D(2026, 4, 3), None, 0, 0, Lateness("was", 3, D(2026, 3, 31), D(2026, 4, 3))),
    # done in time, and asked later: not late
    (D(2026, 3, 31), D(2026, 5, 1), D(2026, 3, 30), None, 0, 0, None),
    # projected: 10 of 40 h in 10 days → 30 more days → 10 February, due 31 January
    (D(2026, 1, 31), D(2026, 1, 11), None, D(2026, 1, 1), 40, 10,
     Lateness("projected", 10, D(2026, 1, 31), D(2026, 2, 10))),
    # the same pace with a due date it meets
    (D(2026, 2, 28), D(2026, 1, 11), None, D(2026, 1, 1), 40, 10, None),
    # too early to tell (two days), and nothing done (no pace): no projection
    (D(2026, 1, 5), D(2026, 1, 3), None, D(2026, 1, 1), 40, 10, None),
    (D(2026, 1, 31), D(2026, 1, 20), None, D(2026, 1, 1), 40, 0, None),
    # all planned hours spent before the date: no projection
    (D(2026, 1, 31), D(2026, 1, 20), None, D(2026, 1, 1), 40, 45, None),
]


@pytest.mark.parametrize("due,today,finished,started,planned,spent,expected", LATENESS)
def test_lateness_table(due, today, finished, started, planned, spent, expected):
    assert lateness(due, today, finished_on=finished, started_on=started, planned_s=planned * H,
                    spent_s=spent * H) == expected


# (today, started, last work, paid, priced, pay due, items done on, accepted) → kinds of stall (7 days)
STALLS = [
    # a week without work on the current stage
    (D(2026, 2, 10), D(2026, 1, 20), D(2026, 2, 3), True, True, None, None, False, ["no_work"]),
    (D(2026, 2, 9), D(2026, 1, 20), D(2026, 2, 3), True, True, None, None, False, []),
    # never any work, counted from the stage's start
    (D(2026, 2, 10), D(2026, 2, 3), None, True, True, None, None, False, ["no_work"]),
    # waiting for the payment: not "no work" as well
    (D(2026, 2, 10), D(2026, 1, 20), None, False, True, D(2026, 2, 1), None, False, ["payment"]),
    (D(2026, 2, 10), D(2026, 1, 20), None, False, True, D(2026, 2, 5), None, False, []),
    # a free stage never waits for money
    (D(2026, 2, 10), D(2026, 2, 1), D(2026, 2, 9), False, False, None, None, False, []),
    # everything done, the client has not accepted for a week
    (D(2026, 2, 10), D(2026, 1, 1), D(2026, 2, 1), True, True, None, D(2026, 2, 2), False, ["client"]),
    # accepted: nothing waits
    (D(2026, 3, 10), D(2026, 1, 1), None, False, True, None, D(2026, 2, 2), True, []),
]


@pytest.mark.parametrize("today,started,last,paid,priced,pay_due,done_on,accepted,expected", STALLS)
def test_stalls_table(today, started, last, paid, priced, pay_due, done_on, accepted, expected):
    found = stalls_of(today, started_on=started, last_work_on=last, paid=paid, priced=priced, pay_due_on=pay_due,
                      items_done_on=done_on, accepted=accepted, days=7)
    assert [s.kind for s in found] == expected
    assert all(isinstance(s, Stall) and s.days >= 7 for s in found)


def staged(b: Book, name: str = "Вектор", start: date = date(2026, 1, 1)):
    account = add_account(b.s, b.portal, name, now=b.now)
    contract = set_staged(b.s, account, stages=[("Аудит", 20 * H, 60_000_00), ("Настройка", 40 * H, 120_000_00),
                                                ("Обучение", 10 * H, 30_000_00)],
                          starts_on=start, now=b.now)
    add_team_member(b.s, b.portal, STAFF, account=account, now=b.now)
    stages = list(b.s.execute(select(Stage).where(Stage.contract_id == contract.id).order_by(Stage.position))
                  .scalars())
    return account, contract, stages


def test_scope_items_count_their_tasks_time(session):
    b = Book(session)
    account, _, stages = staged(b)
    a = add_item(session, account, kind="setting", title="Воронки", planned_s=8 * H, due_on=date(2026, 1, 20),
                 stage_id=stages[0].id, task_ids=(11,), actor="m", now=b.now)
    c = add_item(session, account, kind="integration", title="Сайт", planned_s=6 * H, stage_id=stages[0].id,
                 actor="m", now=b.now)
    link_task(session, account, c.id, 12, actor="m", now=b.now)
    b.now = b.at(date(2026, 1, 12))
    b.log(1, 3 * H, date(2026, 1, 10), task=11)
    b.log(2, 1800, date(2026, 1, 11), task=11)
    b.log(3, 2 * H, date(2026, 1, 11), task=99)  # in the stage, in no item
    p = project_status(session, account.id, b.now)
    first = p.stages[0]
    assert [(i.title, i.spent_s, i.state) for i in first.items] == [
        ("Воронки", 3 * H + 1800, "in_progress"), ("Сайт", 0, "not_started")]
    assert first.spent_s == 5 * H + 1800 and first.planned_s == 14 * H and first.state == "current"
    assert [st.state for st in p.stages] == ["current", "next", "next"]
    assert p.stages[1].planned_s == 40 * H  # no items yet: the stage's budget
    assert set_item_state(session, account, a.id, "done", actor="m", now=b.now)
    assert not set_item_state(session, account, a.id, "done", actor="m", now=b.at(date(2026, 1, 13)))
    p = project_status(session, account.id, b.now)
    assert p.stages[0].items[0].state == "done" and p.stages[0].items[0].done_on == date(2026, 1, 12)
    with pytest.raises(LedgerError):
        link_task(session, account, c.id, 11, actor="m")  # counts for the first item already


def test_accepting_a_stage_twice_applies_once(session):
    b = Book(session)
    account, contract, stages = staged(b)
    item = add_item(session, account, kind="setting", title="Аудит", planned_s=4 * H, stage_id=stages[0].id,
                    actor="m", now=b.now)
    set_item_state(session, account, item.id, "done", actor="m", now=b.now)
    b.now = b.at(date(2026, 1, 20))
    assert accept_stage(session, account, stages[0].id, actor="m", now=b.now) is True
    periods = session.execute(select(func.count()).select_from(Period).where(
        Period.contract_id == contract.id)).scalar_one()
    audits = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert accept_stage(session, account, stages[0].id, actor="m", now=b.at(date(2026, 1, 21))) is False
    assert session.execute(select(func.count()).select_from(Period).where(
        Period.contract_id == contract.id)).scalar_one() == periods == 2
    assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == audits
    p = project_status(session, account.id, b.at(date(2026, 1, 22)))
    assert [st.state for st in p.stages] == ["done", "current", "next"]
    assert p.stages[0].accepted_on == date(2026, 1, 20) and p.stages[0].items[0].state == "accepted"
    assert p.stages[1].started_on == date(2026, 1, 20)
    with pytest.raises(LedgerError):  # not begun
        accept_stage(session, account, stages[2].id, actor="m", now=b.now)


def test_a_payment_marked_for_another_account_is_refused(session):
    b = Book(session)
    account, _, stages = staged(b)
    other, _, their = staged(b, "Другой")
    with pytest.raises(LedgerError):
        record_payment(session, other, stages[0].id, True, actor="m", now=b.now)
    with pytest.raises(LedgerError):
        set_stage_dates(session, other, stages[0].id, due_on=date(2026, 2, 1), pay_due_on=None, actor="m")
    session.refresh(stages[0])
    assert stages[0].paid is False and stages[0].due_on is None
    assert record_payment(session, account, stages[0].id, True, actor="m", now=b.now)
    assert not record_payment(session, account, stages[0].id, True, actor="m", now=b.at(date(2026, 1, 9)))
    p = project_status(session, account.id, b.now)
    assert p.paid_minor == 60_000_00 and p.stages[0].paid_on == date(2026, 1, 5)
    assert project_status(session, other.id, b.now).paid_minor == 0 and not their[0].paid


@pytest.mark.parametrize("tz,now_local,expected_days", [
    # Berlin's clocks go forward on 28 March 2027: 00:30 on 1 April is 22:30 UTC on 31 March
    ("Europe/Berlin", (date(2027, 4, 1), 0, 30), 6),
    # and back on 31 October 2027
    ("Europe/Berlin", (date(2027, 11, 1), 0, 30), 6 + (date(2027, 11, 1) - date(2027, 4, 1)).days),
    # Vladivostok is ten hours ahead: the date turns long before UTC's
    ("Asia/Vladivostok", (date(2027, 4, 1), 8, 0), 6),
])
def test_missed_stage_date_in_the_portals_calendar(session, tz, now_local, expected_days):
    b = Book(session, tz=tz)
    b.now = b.at(date(2027, 3, 1), 10)
    account, _, stages = staged(b, start=date(2027, 3, 1))
    set_stage_dates(session, account, stages[0].id, due_on=date(2027, 3, 26), pay_due_on=None, actor="m")
    day, hour, minute = now_local
    p = project_status(session, account.id, b.at(day, hour, minute))
    assert p.stages[0].late == Lateness("missed", expected_days, date(2027, 3, 26))
    assert p.late == [(p.stages[0], p.stages[0].late)]


def test_projected_lateness_and_a_month_end(session):
    b = Book(session)
    account, _, stages = staged(b)
    set_stage_dates(session, account, stages[0].id, due_on=date(2026, 1, 31), pay_due_on=None, actor="m")
    add_item(session, account, kind="setting", title="Всё", planned_s=20 * H, stage_id=stages[0].id, actor="m",
             now=b.now)
    b.now = b.at(date(2026, 1, 11))
    b.log(1, 5 * H, date(2026, 1, 9))
    p = project_status(session, account.id, b.now)  # 5 of 20 h in 10 days: 30 more → 10 February
    assert p.stages[0].late == Lateness("projected", 10, date(2026, 1, 31), date(2026, 2, 10))
    p = project_status(session, account.id, b.at(date(2026, 3, 1), 0, 10))
    assert p.stages[0].late == Lateness("missed", 29, date(2026, 1, 31))


def test_stalls_and_their_alerts_once_per_stage_and_kind(session):
    b = Book(session)
    account, _, stages = staged(b)
    record_payment(session, account, stages[0].id, True, actor="m", now=b.now)
    b.now = b.at(date(2026, 1, 3))
    b.log(1, H, date(2026, 1, 3))
    assert stall_alerts(session, account.id, b.at(date(2026, 1, 9))) == []
    found = stall_alerts(session, account.id, b.at(date(2026, 1, 10)))
    assert [(a.kind, a.days) for a in found] == [("stall:no_work", 7)]
    # accepted on the 12th; the second stage is not paid: it waits for money from then
    accept_stage(session, account, stages[0].id, actor="m", now=b.at(date(2026, 1, 12)))
    found = stall_alerts(session, account.id, b.at(date(2026, 1, 20)))
    assert [(a.kind, a.days) for a in found] == [("stall:payment", 8)]
    set_stage_dates(session, account, stages[1].id, due_on=None, pay_due_on=date(2026, 1, 18), actor="m")
    assert stall_alerts(session, account.id, b.at(date(2026, 1, 20))) == []


def test_the_stall_threshold_is_the_accounts_own(session):
    """Set on the project section (1..90 days, audited, refused with nothing
    written otherwise), read by the stall lines and the alerts alike."""
    b = Book(session)
    account, _, stages = staged(b)
    record_payment(session, account, stages[0].id, True, actor="m", now=b.now)
    b.log(1, H, date(2026, 1, 3))
    assert account.stall_days == 7 and stall_alerts(session, account.id, b.at(date(2026, 1, 7))) == []
    assert set_stall_days(session, account, 3, actor="m", now=b.now) is True
    assert set_stall_days(session, account, 3, actor="m", now=b.now) is False  # the same twice: one event
    found = stall_alerts(session, account.id, b.at(date(2026, 1, 7)))
    assert [(a.kind, a.days) for a in found] == [("stall:no_work", 4)]
    status = project_status(session, account.id, b.at(date(2026, 1, 7)))
    assert status.stall_days == 3 and [s.kind for _, s in status.stalls] == ["no_work"]
    assert project_status(session, account.id, b.at(date(2026, 1, 7)), stall_days=30).stalls == []
    events = session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "project.stall_days")).scalar_one()
    for bad in (0, 91, -1, "7", 7.0, None, True):
        with pytest.raises(LedgerError):
            set_stall_days(session, account, bad, actor="m", now=b.now)
    assert account.stall_days == 3 and events == 1 and session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "project.stall_days")).scalar_one() == 1
    assert set_stall_days(session, account, 90, actor="m", now=b.now) and set_stall_days(session, account, 1, actor="m")


def test_upfront_project_is_one_stage_due_by_its_items(session):
    b = Book(session)
    account = add_account(session, b.portal, "Соколова", now=b.now)
    set_upfront(session, account, budget_s=60 * H, price_minor=150_000_00, starts_on=date(2026, 1, 1), now=b.now)
    add_team_member(session, b.portal, STAFF, account=account, now=b.now)
    add_item(session, account, kind="setting", title="Базовая настройка", planned_s=10 * H,
             due_on=date(2026, 1, 15), task_ids=(1,), actor="m", now=b.now)
    add_item(session, account, kind="training", title="Обучение", planned_s=4 * H, due_on=date(2026, 2, 10),
             actor="m", now=b.now)
    with pytest.raises(LedgerError):
        add_item(session, account, kind="setting", title="x", planned_s=H, stage_id=1, actor="m")
    set_stage_dates(session, account, None, due_on=None, pay_due_on=date(2026, 1, 10), actor="m")
    b.now = b.at(date(2026, 1, 20))
    b.log(1, 6 * H, date(2026, 1, 12), task=1)
    p = project_status(session, account.id, b.now)
    (only,) = p.stages
    assert only.id is None and only.due_on == date(2026, 2, 10) and only.price_minor == 150_000_00
    assert [(i.title, i.late) for i in only.items] == [
        ("Базовая настройка", Lateness("missed", 5, date(2026, 1, 15))), ("Обучение", None)]
    assert [s.kind for s in only.stalls] == ["payment"]
    assert record_payment(session, account, None, True, actor="m", now=b.now)
    assert project_status(session, account.id, b.now).stages[0].paid


@pytest.mark.parametrize("kwargs", [
    {"kind": "dance"}, {"title": "  "}, {"title": "x" * 501}, {"planned_s": -1}, {"planned_s": 1.5},
    {"stage_id": None}, {"stage_id": 10**6}, {"stage_id": "1"}, {"task_ids": (0,)}, {"task_ids": (5, 5)},
    {"due_on": "2026-01-01"},
])
def test_bad_items_write_nothing(session, kwargs):
    b = Book(session)
    account, _, stages = staged(b)
    args = {"kind": "setting", "title": "Воронки", "planned_s": H, "stage_id": stages[0].id, **kwargs}
    before = [session.execute(select(func.count()).select_from(t)).scalar_one() for t in (ScopeItem, ScopeTask,
                                                                                          AuditEvent)]
    with pytest.raises(LedgerError):
        add_item(session, account, actor="m", now=b.now, **args)
    after = [session.execute(select(func.count()).select_from(t)).scalar_one() for t in (ScopeItem, ScopeTask,
                                                                                         AuditEvent)]
    assert after == before


def test_a_task_of_another_account_stays_there(session):
    b = Book(session)
    account, _, stages = staged(b)
    other, _, their = staged(b, "Другой")
    add_item(session, other, kind="setting", title="Их", planned_s=H, stage_id=their[0].id, task_ids=(7,),
             actor="m", now=b.now)
    with pytest.raises(LedgerError):  # another account's item
        set_item_state(session, account, session.execute(select(ScopeItem.id)).scalar_one(), "done", actor="m")


def test_a_task_our_mirror_places_in_another_account_is_refused(session):
    """ledger.entries.task_may_count_for, shared with the plan's items
    (ledger.devplan): in a client portal its first account owns its tasks."""
    from ledger.entries import task_may_count_for
    from ledger.tasks import upsert_task

    b = Book(session)
    account, _, _ = staged(b)
    other, _, their = staged(b, "Другой")
    upsert_task(session, b.portal.id, 77, title="Воронка", now=b.now)
    assert task_may_count_for(session, account, 77) and not task_may_count_for(session, other, 77)
    assert task_may_count_for(session, other, 78)  # not mirrored yet: taken on the manager's word
    before = session.execute(select(func.count()).select_from(ScopeItem)).scalar_one()
    with pytest.raises(LedgerError, match="no such task"):
        add_item(session, other, kind="setting", title="Их", planned_s=H, stage_id=their[0].id, task_ids=(77,),
                 actor="m", now=b.now)
    assert session.execute(select(func.count()).select_from(ScopeItem)).scalar_one() == before


# ---------------------------------------------------------------- properties of the pure parts

days_st = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=300, deadline=None)
@given(due=days_st, today=days_st, finished=st.none() | days_st, started=st.none() | days_st,
       planned=st.integers(0, 500 * H), spent=st.integers(0, 500 * H))
def test_lateness_properties(due, today, finished, started, planned, spent):
    late = lateness(due, today, finished_on=finished, started_on=started, planned_s=planned, spent_s=spent)
    if late is None:
        assert (finished is not None and finished <= due) or (finished is None and today <= due)
        return
    assert late.days > 0 and late.due_on == due
    if finished is not None:
        assert late == Lateness("was", (finished - due).days, due, finished)
    elif today > due:
        assert late == Lateness("missed", (today - due).days, due)
    else:  # projected: at the pace so far, after the date, never before today
        assert late.kind == "projected" and late.finish_on > due and late.finish_on >= today
        assert late.days == (late.finish_on - due).days
        faster = lateness(due, today, started_on=started, planned_s=planned, spent_s=spent + H)
        assert faster is None or faster.finish_on <= late.finish_on  # more done, never later


def test_the_timeline_draws_planned_work_waits_and_lateness(session):
    b = Book(session)
    account, _, stages = staged(b)
    set_stage_dates(session, account, stages[0].id, due_on=date(2026, 1, 20), pay_due_on=None, actor="m")
    set_stage_dates(session, account, stages[1].id, due_on=date(2026, 2, 10), pay_due_on=None, actor="m")
    record_payment(session, account, stages[0].id, True, actor="m", now=b.now)
    b.now = b.at(date(2026, 1, 25))
    b.log(1, 4 * H, date(2026, 1, 6))
    b.log(2, 4 * H, date(2026, 1, 24))
    accept_stage(session, account, stages[0].id, actor="m", now=b.at(date(2026, 1, 26)))
    p = project_status(session, account.id, b.at(date(2026, 2, 14)))
    for width in (WIDTH, NARROW):
        t = build(p, width)
        assert len(t.rows) == 3 and t.today_x is not None
        first, second, third = ([s.kind for s in r.segments] for r in t.rows)
        # audit: planned; waited for its first work (the 6th); worked; past its date from the 21st
        assert first == ["planned", "wait", "work", "late"]
        # setup: planned; waits for its payment since the 26th, nothing done yet
        assert second == ["planned", "wait"]
        assert third == []
        for row in t.rows:
            assert all(0 <= s.x and s.x + s.width <= width + 2 and s.start <= s.end for s in row.segments)
