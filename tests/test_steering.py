"""The client steers (issue 15): the development plan and the client's
requests. Every test runs on SQLite and on PostgreSQL (the `book` fixture)."""
from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.client_requests import (
    MAX_TEXT,
    accept,
    decline,
    open_request,
    paused_work,
    requests_of,
)
from ledger.contracts import LedgerError, add_account, add_direction, set_retainer
from ledger.db import make_engine
from ledger.devplan import (
    add_item,
    items,
    move_first,
    plan_status,
    recommend_for_plan,
    remove_item,
    reorder,
    set_item_state,
    update_item,
)
from ledger.models import AuditEvent, Cap, ClientRequest, Direction, PlanItem, Posting, Task
from tests.helpers import H, Book

TABLES = (ClientRequest, PlanItem, Cap, Direction, AuditEvent, Posting)


def counts(session: Session) -> dict[str, int]:
    return {t.__tablename__: session.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


def setup_plan(book: Book):
    """A 40 h retainer with two directions: CRM (tasks 1, 2 with subtask 3)
    and Telephony (task 4, and a planned item not yet in the portal)."""
    acc = book.retainer(40)
    s = book.s
    s.add_all([Task(portal_id=book.portal.id, task_id=1, title="Воронка"),
               Task(portal_id=book.portal.id, task_id=2, title="Роботы"),
               Task(portal_id=book.portal.id, task_id=3, title="Подзадача", parent_id=2),
               Task(portal_id=book.portal.id, task_id=4, title="Телефония")])
    s.flush()
    crm = add_direction(s, acc, "CRM", planned_s=0, match_kind="tag", match_value="crm", actor="mgr", now=book.now)
    tel = add_direction(s, acc, "Телефония", planned_s=0, match_kind="parent", match_value="4", actor="mgr",
                        now=book.now)
    a = add_item(s, acc, direction_id=crm.id, task_id=1, planned_s=10 * H, actor="mgr", now=book.now)
    b = add_item(s, acc, direction_id=crm.id, task_id=2, planned_s=20 * H, actor="mgr", now=book.now)
    c = add_item(s, acc, direction_id=tel.id, task_id=4, planned_s=30 * H, actor="mgr", now=book.now)
    d = add_item(s, acc, direction_id=tel.id, title="Интеграция с АТС", planned_s=25 * H, actor="mgr", now=book.now)
    return acc, crm, tel, (a, b, c, d)


# ---------------------------------------------------------------- the plan


def test_items_keep_the_clients_order_and_every_change_is_audited(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    assert [i.id for i in items(book.s, acc.id)] == [a.id, b.id, c.id, d.id]
    reorder(book.s, acc, [d.id, a.id, c.id, b.id], actor="mgr", now=book.now)
    assert [i.position for i in items(book.s, acc.id)] == [1, 2, 3, 4]
    assert [i.id for i in items(book.s, acc.id)] == [d.id, a.id, c.id, b.id]
    move_first(book.s, acc, [b.id, c.id], actor="mgr", now=book.now)
    assert [i.id for i in items(book.s, acc.id)] == [c.id, b.id, d.id, a.id]
    update_item(book.s, a, direction_id=tel.id, planned_s=12 * H, task_id=1, title="", actor="mgr", now=book.now)
    remove_item(book.s, d, actor="mgr", now=book.now)
    assert [i.position for i in items(book.s, acc.id)] == [1, 2, 3]
    actions = [e.action for e in book.s.execute(select(AuditEvent).where(AuditEvent.action.like("plan.%"))
                                                 .order_by(AuditEvent.id)).scalars()]
    assert actions == ["plan.add"] * 4 + ["plan.reorder", "plan.reorder", "plan.update", "plan.remove"]


@pytest.mark.parametrize("change", [
    dict(direction_id=999_999, planned_s=H, task_id=9),           # no such direction
    dict(planned_s=-1, task_id=9),                                 # negative hours
    dict(planned_s=H),                                             # neither task nor title
    dict(planned_s=H, title="x" * 501),                            # too long a title
    dict(planned_s=H, task_id=1),                                  # task already in the plan
    dict(planned_s=H, task_id=0),                                  # not a task number
    dict(planned_s=1.5, task_id=9),                                # not integer seconds
])
def test_bad_items_are_refused_with_nothing_written(book: Book, change):
    acc, crm, tel, _ = setup_plan(book)
    before = counts(book.s)
    with pytest.raises(LedgerError):
        add_item(book.s, acc, **{"direction_id": crm.id, **change}, actor="mgr", now=book.now)
    assert counts(book.s) == before


def test_another_accounts_direction_and_a_partial_order_are_refused(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    other = add_account(book.s, book.portal, "Other", now=book.now)
    theirs = add_direction(book.s, other, "Их", planned_s=0, match_kind="tag", match_value="x", actor="m",
                           now=book.now)
    before = counts(book.s)
    with pytest.raises(LedgerError):
        add_item(book.s, acc, direction_id=theirs.id, task_id=9, planned_s=H, actor="mgr", now=book.now)
    with pytest.raises(LedgerError):
        reorder(book.s, acc, [a.id, b.id, c.id], actor="mgr", now=book.now)
    with pytest.raises(LedgerError):
        reorder(book.s, acc, [a.id, b.id, c.id, c.id], actor="mgr", now=book.now)
    assert counts(book.s) == before
    assert [i.id for i in items(book.s, acc.id)] == [a.id, b.id, c.id, d.id]


def test_plan_status_spent_counts_the_task_and_its_subtasks(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.log(1, 4 * H, date(2026, 1, 5), task=1)
    book.log(2, 5 * H, date(2026, 1, 5), task=2)
    book.log(3, 7 * H, date(2026, 1, 6), task=3)   # a subtask of 2
    book.log(4, 31 * H, date(2026, 1, 6), task=4)  # over its 30 h
    status = plan_status(book.s, acc.id, book.now)
    by_item = {i.item_id: i for dirn in status.directions for i in dirn.items}
    assert (by_item[a.id].spent_s, by_item[a.id].left_s, by_item[a.id].status) == (4 * H, 6 * H, "in_progress")
    assert (by_item[b.id].spent_s, by_item[b.id].left_s) == (12 * H, 8 * H)
    assert (by_item[c.id].spent_s, by_item[c.id].left_s, by_item[c.id].over_s, by_item[c.id].status) == \
        (31 * H, 0, H, "over")
    assert (by_item[d.id].spent_s, by_item[d.id].status) == (0, "not_started")
    tel_status = next(x for x in status.directions if x.direction_id == tel.id)
    assert (tel_status.planned_s, tel_status.spent_s) == (55 * H, 31 * H)   # the parent-4 direction's usage
    assert status.planned_s == 85 * H and status.left_s == 6 * H + 8 * H + 25 * H
    assert recommend_for_plan(book.s, acc.id, 2500_00).options[0].option.months == 2  # 39 h at 20 h a month


def test_plan_status_with_a_tariff_names_the_finish_months(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    set_item_state(book.s, b, "paused", actor="mgr", now=book.now)
    status = plan_status(book.s, acc.id, book.now, tariff_s=40 * H)
    by_item = {i.item_id: i for dirn in status.directions for i in dirn.items}
    # a: 10 h in January; b paused; c: 30 h → January (30 of 40); d: 25 h → 0 left in Jan + Feb
    assert by_item[a.id].finish_month == date(2026, 1, 1)
    assert by_item[b.id].finish_month is None and by_item[b.id].status == "paused"
    assert by_item[c.id].finish_month == date(2026, 1, 1)
    assert by_item[d.id].finish_month == date(2026, 2, 1)
    tel_status = next(x for x in status.directions if x.direction_id == tel.id)
    assert tel_status.finish_month == date(2026, 2, 1)


def test_plan_status_reads_on_a_read_only_session(engine, book: Book):
    acc, *_ = setup_plan(book)
    book.s.commit()
    ro = make_engine(engine.url.render_as_string(hide_password=False), read_only=True)
    try:
        with Session(ro) as s:
            status = plan_status(s, acc.id, book.now, tariff_s=20 * H)
            assert status is not None and len(status.directions) == 2
            assert paused_work(s, acc.id) == [] and requests_of(s, acc.id) == []
    finally:
        ro.dispose()


# ---------------------------------------------------------------- requests


def req(book: Book, acc, kind: str, **kw):
    return open_request(book.s, acc, kind, author="Иван (директор)", source="widget", source_ref="7",
                        now=book.now, **kw)


def test_pause_accepted_pauses_and_later_time_is_flagged(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.log(1, H, date(2026, 1, 5), task=2, hour=9)
    postings = book.count_postings()
    r = req(book, acc, "pause", task_id=2)
    assert b.state == "planned" and book.count_postings() == postings  # nothing until accepted
    assert accept(book.s, r, actor="manager", now=book.now) is True
    assert (b.state, b.paused_at) == ("paused", book.now)
    book.log(2, 30 * 60, date(2026, 1, 5), task=3, hour=15)  # a subtask, after the pause
    book.log(3, 20 * 60, date(2026, 1, 5), task=1, hour=15)  # another task: not flagged
    flagged = paused_work(book.s, acc.id)
    assert [(f.item_id, f.task_id, f.duration_s) for f in flagged] == [(b.id, 3, 30 * 60)]
    assert book.bal(acc).consumption_s == H + 50 * 60  # flagged, still counted (rule 1)
    r2 = req(book, acc, "resume", item_id=b.id)
    accept(book.s, r2, actor="manager", now=book.now)
    assert (b.state, b.paused_at) == ("active", None) and paused_work(book.s, acc.id) == []


def test_cap_request_sets_or_changes_the_cap(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    postings = book.count_postings()
    r1 = req(book, acc, "cap", task_id=1, cap_s=5 * H)
    accept(book.s, r1, actor="manager", now=book.now)
    r2 = req(book, acc, "cap", item_id=a.id, cap_s=8 * H)   # the item's task
    accept(book.s, r2, actor="manager", now=book.now)
    r3 = req(book, acc, "cap", direction_id=tel.id, cap_s=12 * H)
    accept(book.s, r3, actor="manager", now=book.now)
    caps = {(c.scope, c.ref_id): c.limit_s for c in book.s.execute(select(Cap)).scalars()}
    assert caps == {("task", 1): 8 * H, ("direction", tel.id): 12 * H}
    assert book.count_postings() == postings


def test_do_first_moves_the_item_or_the_direction_up(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    accept(book.s, req(book, acc, "first", item_id=d.id), actor="manager", now=book.now)
    assert [i.id for i in items(book.s, acc.id)] == [d.id, a.id, b.id, c.id]
    accept(book.s, req(book, acc, "first", direction_id=crm.id), actor="manager", now=book.now)
    assert [i.id for i in items(book.s, acc.id)] == [a.id, b.id, d.id, c.id]
    assert (crm.position, tel.position) == (1, 2)


def test_question_is_answered_and_declines_keep_their_reason(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.log(1, H, date(2026, 1, 5), task=1)
    entry = book.s.execute(select(Posting.entry_id).where(Posting.kind == "consumption")).scalar_one()
    q = req(book, acc, "question", entry_id=entry, text="Что это за час?")
    with pytest.raises(LedgerError):
        accept(book.s, q, actor="manager", now=book.now)  # a question needs an answer
    assert q.state == "open"
    accept(book.s, q, actor="manager", answer="Настройка воронки.", now=book.now)
    r = req(book, acc, "pause", item_id=c.id)
    assert decline(book.s, r, actor="manager", reason="Телефония нужна к запуску.", now=book.now) is True
    assert decline(book.s, r, actor="manager", reason="again", now=book.now) is False
    with pytest.raises(LedgerError):
        accept(book.s, r, actor="manager", now=book.now)
    assert c.state == "planned"
    views = {v.request_id: v for v in requests_of(book.s, acc.id)}
    assert (views[q.id].state, views[q.id].answer, views[q.id].decided_by) == ("accepted", "Настройка воронки.",
                                                                                 "manager")
    assert (views[r.id].state, views[r.id].reason) == ("declined", "Телефония нужна к запуску.")
    log = [(e.action, json.loads(e.after).get("state")) for e in book.s.execute(
        select(AuditEvent).where(AuditEvent.action.like("request.%")).order_by(AuditEvent.id)).scalars()]
    assert log == [("request.open", "open"), ("request.accept", "accepted"), ("request.open", "open"),
                   ("request.decline", "declined")]


def test_accepting_twice_applies_once(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    r = req(book, acc, "cap", direction_id=crm.id, cap_s=3 * H)
    assert accept(book.s, r, actor="manager", now=book.now) is True
    assert accept(book.s, r, actor="manager", now=book.now) is False
    with pytest.raises(LedgerError):
        decline(book.s, r, actor="manager", reason="late", now=book.now)
    assert book.s.execute(select(func.count()).select_from(Cap)).scalar_one() == 1
    assert book.s.execute(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "request.accept")).scalar_one() == 1


def test_a_request_whose_target_went_is_refused_whole(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    r = req(book, acc, "first", item_id=d.id)
    remove_item(book.s, d, actor="mgr", now=book.now)
    before = counts(book.s)
    with pytest.raises(LedgerError):
        accept(book.s, r, actor="manager", now=book.now)
    assert counts(book.s) == before and r.state == "open"


def bad_requests(book: Book, acc, other, crm, tel, items_):
    a, b, c, d = items_
    theirs = add_direction(book.s, other, "Их", planned_s=0, match_kind="tag", match_value="x", actor="m",
                           now=book.now)
    book.s.add(Task(portal_id=book.portal.id, task_id=50, title="Их задача", company_id=77))
    return [
        ("pause", dict(direction_id=theirs.id)),                         # another account's direction
        ("cap", dict(task_id=123456, cap_s=H)),                           # a task the account does not have
        ("pause", dict(task_id=4000)),                                    # not in the plan
        ("explode", dict(item_id=a.id)),                                  # unknown kind
        ("question", dict(item_id=a.id, text="x" * (MAX_TEXT + 1))),      # huge text
        ("question", dict(item_id=a.id, text="   ")),                     # a question without text
        ("cap", dict(task_id=1, cap_s=0)),                                # no hours
        ("cap", dict(task_id=1, cap_s=2.5)),                              # not integer seconds
        ("cap", dict(item_id=d.id, cap_s=H)),                             # a planned item has no task yet
        ("pause", dict(item_id=a.id, cap_s=H)),                           # hours on a pause
        ("pause", dict(item_id=a.id, direction_id=crm.id)),               # two targets
        ("pause", dict()),                                                # none
        ("question", dict(entry_id=987654, text="?")),                    # no such line
    ]


def test_bad_requests_are_refused_with_nothing_written(session):
    book = Book(session, mode="integrator", member_id="integrator")
    acc = add_account(book.s, book.portal, "Альфа", company_id=11, now=book.now)
    set_retainer(book.s, acc, hours_s=40 * H, starts_on=date(2026, 1, 1), now=book.now)
    other = add_account(book.s, book.portal, "Бета", company_id=12, now=book.now)
    crm = add_direction(book.s, acc, "CRM", planned_s=0, match_kind="tag", match_value="crm", actor="m", now=book.now)
    tel = add_direction(book.s, acc, "Tel", planned_s=0, match_kind="tag", match_value="tel", actor="m", now=book.now)
    its = [add_item(book.s, acc, direction_id=crm.id, task_id=1, planned_s=H, actor="m", now=book.now),
           add_item(book.s, acc, direction_id=crm.id, task_id=2, planned_s=H, actor="m", now=book.now),
           add_item(book.s, acc, direction_id=tel.id, task_id=4, planned_s=H, actor="m", now=book.now),
           add_item(book.s, acc, direction_id=tel.id, title="АТС", planned_s=H, actor="m", now=book.now)]
    cases = bad_requests(book, acc, other, crm, tel, its)
    cases.append(("cap", dict(task_id=50, cap_s=H)))  # the other company's task in the same portal
    book.s.flush()
    for kind, kw in cases:
        before = counts(book.s)
        with pytest.raises(LedgerError):
            open_request(book.s, acc, kind, author="client", source="cabinet", source_ref="3", now=book.now, **kw)
        assert counts(book.s) == before, (kind, kw)
    for author, source in (("", "widget"), ("x" * 256, "widget"), ("client", "email")):
        with pytest.raises(LedgerError):
            open_request(book.s, acc, "pause", item_id=its[0].id, author=author, source=source, now=book.now)


def test_a_question_on_a_closed_periods_line_is_refused(book: Book):
    acc, *_ = setup_plan(book)
    book.log(1, H, date(2026, 1, 20), task=1)
    entry = book.s.execute(select(Posting.entry_id).where(Posting.kind == "consumption")).scalar_one()
    book.next_month(date(2026, 2, 1))
    before = counts(book.s)
    with pytest.raises(LedgerError):
        req(book, acc, "question", entry_id=entry, text="Почему так долго?")
    assert counts(book.s) == before


def test_no_request_ever_writes_a_posting(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.log(1, H, date(2026, 1, 5), task=1)
    postings = [p.id for p in book.postings()]
    for kind, kw in [("pause", dict(item_id=a.id)), ("resume", dict(item_id=a.id)), ("first", dict(item_id=c.id)),
                     ("cap", dict(task_id=1, cap_s=H)), ("question", dict(direction_id=crm.id, text="?"))]:
        r = req(book, acc, kind, **kw)
        accept(book.s, r, actor="manager", answer="ok", now=book.now)
        assert [p.id for p in book.postings()] == postings


# ---------------------------------------------------------------- two managers at once


def _one_cap_one_accept(engine, request_id: int, winner: str) -> None:
    with Session(engine) as check:
        assert check.execute(select(func.count()).select_from(Cap)).scalar_one() == 1
        assert check.get(ClientRequest, request_id).decided_by == winner
        assert check.execute(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "request.accept")).scalar_one() == 1


def test_a_stale_page_accepting_again_applies_nothing(engine, book: Book):
    """The second manager's page loaded the request while it was open."""
    acc, crm, tel, _ = setup_plan(book)
    r = req(book, acc, "cap", direction_id=crm.id, cap_s=6 * H)
    book.s.commit()
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        stale = second.get(ClientRequest, r.id)
        second.commit()  # the page was rendered; its transaction ended
        assert stale.state == "open"
        assert accept(first, first.get(ClientRequest, r.id), actor="A", now=book.now) is True
        first.commit()
        assert accept(second, stale, actor="B", now=book.now) is False
        second.commit()
        assert stale.state == "accepted"
    _one_cap_one_accept(engine, r.id, "A")


def test_two_sessions_accepting_at_once_apply_once_on_postgresql(pg_engine):
    """Two web processes accept the same request at the same moment: the
    second's UPDATE waits on the first's row lock, then PostgreSQL re-checks
    `state = 'open'` against the committed row and it matches nothing."""
    from tests.conftest import reset_pg

    reset_pg(pg_engine)
    with Session(pg_engine, expire_on_commit=False) as s:
        book = Book(s)
        acc, crm, tel, _ = setup_plan(book)
        r = req(book, acc, "cap", direction_id=crm.id, cap_s=6 * H)
        s.commit()
        now = book.now
    first = Session(pg_engine, expire_on_commit=False)
    second = Session(pg_engine, expire_on_commit=False)
    try:
        r1, r2 = first.get(ClientRequest, r.id), second.get(ClientRequest, r.id)
        assert r1.state == r2.state == "open"  # both saw it open
        assert accept(first, r1, actor="A", now=now) is True  # holds the row lock until commit
        results: dict[str, object] = {}

        def racing() -> None:
            try:
                results["second"] = accept(second, r2, actor="B", now=now)
                second.commit()
            except Exception as exc:  # pragma: no cover - shown by the assertion below
                results["second"] = exc

        thread = threading.Thread(target=racing)
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive()  # waiting on the lock, not deciding on a stale read
        first.commit()
        thread.join(timeout=30)
        assert results == {"second": False}
    finally:
        first.close()
        second.close()
    _one_cap_one_accept(pg_engine, r.id, "A")


def test_removing_a_direction_removes_its_items_and_keeps_the_order(book: Book):
    from ledger.contracts import remove_direction

    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    reorder(book.s, acc, [c.id, a.id, d.id, b.id], actor="mgr", now=book.now)
    r = req(book, acc, "pause", item_id=c.id)
    remove_direction(book.s, tel, actor="mgr", now=book.now)
    assert [(i.id, i.position) for i in items(book.s, acc.id)] == [(a.id, 1), (b.id, 2)]
    assert book.s.get(ClientRequest, r.id).item_id == c.id  # the request is history: it keeps the number


def test_item_states(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    before = counts(book.s)
    with pytest.raises(LedgerError):
        set_item_state(book.s, a, "frozen", actor="mgr", now=book.now)
    set_item_state(book.s, a, "done", actor="mgr", now=book.now)
    with pytest.raises(LedgerError):
        set_item_state(book.s, a, "paused", actor="mgr", now=book.now)
    set_item_state(book.s, a, "done", actor="mgr", now=book.now)  # again: nothing
    assert counts(book.s)["audit_events"] == before["audit_events"] + 1
    r = req(book, acc, "pause", direction_id=crm.id)  # pauses what is not done
    accept(book.s, r, actor="manager", now=book.now)
    assert (a.state, b.state) == ("done", "paused")
    status = plan_status(book.s, acc.id, book.now, tariff_s=20 * H)
    crm_status = next(x for x in status.directions if x.direction_id == crm.id)
    assert crm_status.status == "paused" and crm_status.finish_month is None


def test_bad_decisions_are_refused_with_nothing_written(book: Book):
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    q = req(book, acc, "question", item_id=a.id, text="Когда?")
    p = req(book, acc, "pause", item_id=a.id)
    before = counts(book.s)
    for call in (lambda: accept(book.s, q, actor="manager", answer="x" * (MAX_TEXT + 1), now=book.now),
                 lambda: accept(book.s, p, actor="", now=book.now),
                 lambda: decline(book.s, p, actor="manager", reason="", now=book.now),
                 lambda: decline(book.s, p, actor="manager", reason="x" * (MAX_TEXT + 1), now=book.now)):
        with pytest.raises(LedgerError):
            call()
        assert counts(book.s) == before and (q.state, p.state, a.state) == ("open", "open", "planned")


def test_every_refusal_is_in_the_catalogs():
    """A page shows `gettext(err.template)`: each template these modules can
    raise is listed for translation (handlers/ledger_messages.py)."""
    import ast
    from pathlib import Path

    from handlers.ledger_messages import MESSAGES

    root = Path(__file__).resolve().parent.parent / "ledger"
    found = set()
    for name in ("devplan.py", "client_requests.py"):
        for node in ast.walk(ast.parse((root / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LedgerError" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if isinstance(node, ast.keyword) and node.arg == "message" and isinstance(node.value, ast.Constant):
                found.add(node.value.value)
    assert len(found) > 30 and found - set(MESSAGES) == set()


def test_another_accounts_task_cannot_join_the_plan_in_an_integrator_portal(session):
    book = Book(session, mode="integrator", member_id="integrator")
    acc = add_account(book.s, book.portal, "Альфа", company_id=11, now=book.now)
    add_account(book.s, book.portal, "Бета", company_id=12, now=book.now)
    crm = add_direction(book.s, acc, "CRM", planned_s=0, match_kind="tag", match_value="crm", actor="m", now=book.now)
    book.s.add_all([Task(portal_id=book.portal.id, task_id=50, title="Их", company_id=12),
                    Task(portal_id=book.portal.id, task_id=51, title="Наша", company_id=11),
                    Task(portal_id=book.portal.id, task_id=52, title="Наша подзадача", parent_id=51)])
    book.s.flush()
    before = counts(book.s)
    with pytest.raises(LedgerError):
        add_item(book.s, acc, direction_id=crm.id, task_id=50, planned_s=H, actor="m", now=book.now)
    assert counts(book.s) == before
    add_item(book.s, acc, direction_id=crm.id, task_id=52, planned_s=H, actor="m", now=book.now)   # by its parent
    add_item(book.s, acc, direction_id=crm.id, task_id=9999, planned_s=H, actor="m", now=book.now)  # not synced yet
    r = open_request(book.s, acc, "cap", task_id=51, cap_s=H, author="client", source="cabinet", now=book.now)
    assert r.task_id == 51


def test_a_directions_spent_counts_its_plan_tasks_and_its_rule_once(book: Book):
    """The plan's tasks under a direction count for it even when its rule
    (here the tag «crm») does not match them; a task both matched and
    listed counts once."""
    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    book.log(1, 4 * H, date(2026, 1, 5), task=1)   # listed under CRM, not tagged
    book.log(2, 2 * H, date(2026, 1, 5), task=4)   # Telephony's rule (parent 4) and its listed task
    book.s.add(Task(portal_id=book.portal.id, task_id=9, title="Тег", tags="crm"))
    book.s.flush()
    book.log(3, H, date(2026, 1, 6), task=9)       # matched by the tag, not listed
    status = plan_status(book.s, acc.id, book.now)
    spent = {x.direction_id: x.spent_s for x in status.directions}
    assert spent == {crm.id: 5 * H, tel.id: 2 * H}
    assert status.spent_s == 7 * H


def test_time_logged_in_the_second_of_the_pause_is_after_it(book: Book):
    """The portal's records carry whole seconds: a pause at 15:00:00.4 and
    an entry the portal dates 15:00:00 are the same second, so the entry
    is flagged as after the pause."""
    from datetime import datetime, timezone

    acc, crm, tel, (a, b, c, d) = setup_plan(book)
    moment = datetime(2026, 1, 5, 12, 0, 0, 400_000, tzinfo=timezone.utc)
    set_item_state(book.s, a, "paused", actor="mgr", now=moment)
    assert a.paused_at == moment.replace(microsecond=0)
    book.log(1, 600, date(2026, 1, 5), task=1, hour=15)  # 15:00 Moscow = 12:00:00 UTC
    assert [f.duration_s for f in paused_work(book.s, acc.id)] == [600]
