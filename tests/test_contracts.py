"""Staged and upfront contracts, contract succession, integrator portals."""
from __future__ import annotations

from datetime import date

import pytest

from ledger.contracts import (
    LedgerError,
    Policies,
    add_account,
    add_team_member,
    advance_stage,
    bind_account,
    current_stage,
    finish_project,
    mark_stage_paid,
    set_retainer,
    set_staged,
    set_upfront,
)
from ledger.entries import reapply_task
from ledger.models import Task
from ledger.verify import verify
from tests.helpers import H, STAFF, Book


def staged(book: Book, policies: Policies | None = None):
    acc = add_account(book.s, book.portal, "Implementation", now=book.now)
    contract = set_staged(book.s, acc, stages=[("Аудит", 10 * H, 50_000_00), ("Настройка", 30 * H, 150_000_00),
                                                ("Обучение", 8 * H, 40_000_00)],
                          starts_on=date(2026, 1, 1), policies=policies, now=book.now)
    add_team_member(book.s, book.portal, STAFF, account=acc, now=book.now)
    return acc, contract


def test_staged_time_debits_the_current_stage(book: Book):
    acc, contract = staged(book)
    book.log(1, 4 * H, date(2026, 1, 5))
    stage, period = current_stage(book.s, contract)
    assert stage.name == "Аудит"
    b = book.bal(acc, period.label)
    assert (b.stage_budget_s, b.consumption_s, b.remaining_s) == (10 * H, 4 * H, 6 * H)


def test_staged_budget_does_not_expire_monthly(book: Book):
    acc, contract = staged(book)
    book.log(1, 4 * H, date(2026, 1, 5))
    book.advance_to(book.at(date(2026, 3, 2)))  # two month ends pass
    stage, period = current_stage(book.s, contract)
    assert stage.position == 1 and period.status == "open"
    assert book.bal(acc, period.label).remaining_s == 6 * H


def test_staged_paid_then_next_stage(book: Book):
    acc, contract = staged(book)
    book.log(1, 9 * H, date(2026, 1, 5))
    first, _ = current_stage(book.s, contract)
    mark_stage_paid(book.s, first, now=book.now)
    book.now = book.at(date(2026, 1, 20))
    nxt = advance_stage(book.s, contract, now=book.now)
    assert nxt.name == "Настройка"
    assert first.paid and first.paid_at is not None
    old = book.bal(acc, f"stage:{first.id}")
    assert old.expiry_s == H and old.net_s == 0           # burn is the default policy
    book.now = book.at(date(2026, 1, 21))
    book.log(2, 2 * H, date(2026, 1, 21))
    assert book.bal(acc).consumption_s == 2 * H
    assert book.bal(acc).remaining_s == 28 * H
    assert verify(book.s) == []


def test_staged_leftover_carries_to_next_stage_when_contract_rolls_over(book: Book):
    acc, contract = staged(book, Policies(expiry_policy="rollover"))
    book.log(1, 9 * H, date(2026, 1, 5))
    book.now = book.at(date(2026, 1, 20))
    advance_stage(book.s, contract, now=book.now)
    assert book.bal(acc).rollover_in_s == H
    assert book.bal(acc).remaining_s == 31 * H


def test_staged_edit_of_time_in_a_finished_stage_goes_to_the_current_stage(book: Book):
    acc, contract = staged(book)
    book.log(1, 9 * H, date(2026, 1, 5))
    book.now = book.at(date(2026, 1, 20))
    advance_stage(book.s, contract, now=book.now)
    book.log(1, 10 * H, date(2026, 1, 5))
    assert book.bal(acc).consumption_s == H
    assert verify(book.s) == []


def test_staged_finished_late_as_of_an_earlier_day(book: Book):
    """The manager presses "finish stage" on the 25th for a stage that ended
    on the 20th: records from the 20th count in the next stage, and the
    close happens now, so nothing is posted after a period's close."""
    acc, contract = staged(book)
    book.log(1, 4 * H, date(2026, 1, 5))
    book.log(2, 3 * H, date(2026, 1, 22))
    first, _ = current_stage(book.s, contract)
    book.now = book.at(date(2026, 1, 25))
    nxt = advance_stage(book.s, contract, now=book.now, ends_at=book.at(date(2026, 1, 20), hour=0))
    old = book.period(acc, f"stage:{first.id}")
    assert (old.status, old.ends_at, old.closed_at) == ("closed", book.at(date(2026, 1, 20), hour=0), book.now)
    assert book.bal(acc, old.label).consumption_s == 4 * H
    assert book.bal(acc, f"stage:{nxt.id}").consumption_s == 3 * H
    assert verify(book.s) == []


@pytest.mark.parametrize("day", [date(2026, 1, 26), date(2025, 12, 31)])
def test_staged_cannot_end_in_the_future_or_before_it_began(book: Book, day: date):
    acc, contract = staged(book)
    book.now = book.at(date(2026, 1, 25))
    before = book.count_postings()
    with pytest.raises(LedgerError):
        advance_stage(book.s, contract, now=book.now, ends_at=book.at(day))
    assert current_stage(book.s, contract)[0].position == 1 and book.count_postings() == before


def test_staged_last_stage_finishes_the_contract(book: Book):
    acc, contract = staged(book)
    for day in (5, 6, 7):
        book.now = book.at(date(2026, 1, day))
        advance_stage(book.s, contract, now=book.now)
    assert current_stage(book.s, contract) is None
    assert contract.ends_on == date(2026, 1, 7)
    with pytest.raises(LedgerError):
        advance_stage(book.s, contract, now=book.now)
    assert verify(book.s) == []


def test_staged_needs_stages_with_budgets(book: Book):
    acc = add_account(book.s, book.portal, "X", now=book.now)
    with pytest.raises(LedgerError):
        set_staged(book.s, acc, stages=[], now=book.now)
    with pytest.raises(LedgerError):
        set_staged(book.s, acc, stages=[("A", 0, 0)], now=book.now)


def test_upfront_one_budget_for_the_whole_project(book: Book):
    acc = add_account(book.s, book.portal, "Project", now=book.now)
    contract = set_upfront(book.s, acc, budget_s=100 * H, price_minor=300_000_00,
                           starts_on=date(2026, 1, 1), now=book.now)
    add_team_member(book.s, book.portal, STAFF, account=acc, now=book.now)
    book.log(1, 30 * H, date(2026, 1, 5))
    book.advance_to(book.at(date(2026, 4, 2)))
    book.log(2, 20 * H, date(2026, 3, 5))
    b = book.bal(acc)
    assert (b.allocation_s, b.consumption_s, b.remaining_s) == (100 * H, 50 * H, 50 * H)
    book.now = book.at(date(2026, 4, 10))
    finish_project(book.s, contract, now=book.now)
    final = book.bal(acc, f"project:{contract.id}")
    assert final.expiry_s == 50 * H and final.net_s == 0
    assert verify(book.s) == []


def test_retainer_after_implementation_ends_the_staged_contract(book: Book):
    acc, contract = staged(book)
    book.log(1, 3 * H, date(2026, 1, 5))
    book.now = book.at(date(2026, 1, 25))
    set_retainer(book.s, acc, hours_s=40 * H, starts_on=date(2026, 2, 1), now=book.now)
    assert contract.ends_on == date(2026, 2, 1)
    book.next_month(date(2026, 2, 1))
    book.log(2, H, date(2026, 2, 3))
    assert book.bal(acc).allocation_s == 40 * H and book.bal(acc).consumption_s == H
    assert verify(book.s) == []


def test_time_before_any_contract_is_kept_not_counted(book: Book):
    acc = add_account(book.s, book.portal, "Later", now=book.now)
    add_team_member(book.s, book.portal, STAFF, account=acc, now=book.now)
    result = book.log(1, H, date(2026, 1, 5))
    assert result.state == "no_contract" and result.written == 0
    set_retainer(book.s, acc, hours_s=20 * H, starts_on=date(2026, 1, 1), now=book.now)
    assert book.bal(acc).consumption_s == H  # the contract covers it: now debited


# Integrator portals: each CRM company is an account.

def integrator(session):
    book = Book(session, mode="integrator", member_id="integrator")
    a = add_account(book.s, book.portal, "Альфа", company_id=11, now=book.now)
    b = add_account(book.s, book.portal, "Бета", group_ids=(7,), now=book.now)
    for acc in (a, b):
        set_retainer(book.s, acc, hours_s=20 * H, starts_on=date(2026, 1, 1), now=book.now)
    add_team_member(book.s, book.portal, STAFF, now=book.now)  # staff for every account
    book.s.add_all([
        Task(portal_id=book.portal.id, task_id=1, title="CRM bound", company_id=11),
        Task(portal_id=book.portal.id, task_id=2, title="In group", group_id=7),
        Task(portal_id=book.portal.id, task_id=3, title="Subtask", parent_id=1),
        Task(portal_id=book.portal.id, task_id=4, title="Unbound"),
    ])
    book.s.flush()
    return book, a, b


def test_integrator_task_belongs_by_crm_binding_or_workgroup(session):
    book, a, b = integrator(session)
    book.log(1, H, date(2026, 1, 5), task=1)
    book.log(2, 2 * H, date(2026, 1, 5), task=2)
    book.log(3, 3 * H, date(2026, 1, 5), task=3)   # inherits the parent's company
    unbound = book.log(4, 4 * H, date(2026, 1, 5), task=4)
    assert unbound.state == "no_account"
    assert book.bal(a).consumption_s == 4 * H
    assert book.bal(b).consumption_s == 2 * H
    bind_account(book.s, b, "company", 99, now=book.now)
    task = book.s.query(Task).filter_by(task_id=4).one()
    task.company_id = 99  # the sync saw the task bound to the company
    assert book.log(4, 4 * H, date(2026, 1, 5), task=4).written == 0  # the record itself did not change
    reapply_task(book.s, book.portal.id, 4, now=book.now)
    assert book.bal(b).consumption_s == 6 * H


def test_integrator_task_moved_to_another_company_moves_its_hours(session):
    book, a, b = integrator(session)
    book.log(1, H, date(2026, 1, 5), task=1)
    task = book.s.query(Task).filter_by(task_id=1).one()
    task.company_id, task.group_id = None, 7
    reapply_task(book.s, book.portal.id, 1, now=book.now)
    assert book.bal(a).consumption_s == 0 and book.bal(b).consumption_s == H
    assert verify(book.s) == []


def test_one_company_cannot_belong_to_two_accounts(session):
    book, a, b = integrator(session)
    with pytest.raises(LedgerError):
        bind_account(book.s, b, "company", 11, now=book.now)


def test_team_member_until_date_keeps_earlier_time(book: Book):
    from ledger.contracts import end_team_member
    from ledger.models import TeamMember

    acc = book.retainer(40)
    book.log(1, H, date(2026, 1, 5))
    book.log(2, H, date(2026, 1, 20))
    member = book.s.query(TeamMember).filter_by(user_id=STAFF).one()
    end_team_member(book.s, member, date(2026, 1, 10), now=book.now)
    assert book.bal(acc).consumption_s == H
