"""Directions of the plan and caps: planned vs spent."""
from __future__ import annotations

from datetime import date

from ledger.models import Cap, Direction, Task
from ledger.usage import cap_usage, direction_usage, task_usage
from tests.helpers import CLIENT, H, Book


def test_directions_match_by_group_tag_and_parent(book: Book):
    acc = book.retainer(40)
    s, pid = book.s, book.portal.id
    s.add_all([
        Direction(account_id=acc.id, name="Воронки", planned_s=50 * H, match_kind="group", match_value="11"),
        Direction(account_id=acc.id, name="Телефония", planned_s=30 * H, match_kind="tag", match_value="Телефония"),
        Direction(account_id=acc.id, name="Интеграция", planned_s=20 * H, match_kind="parent", match_value="900"),
        Task(portal_id=pid, task_id=1, group_id=11),
        Task(portal_id=pid, task_id=2, tags="телефония\nсрочно"),
        Task(portal_id=pid, task_id=3, parent_id=900),
        Task(portal_id=pid, task_id=900),
    ])
    s.flush()
    book.log(1, H, date(2026, 1, 5), task=1)
    book.log(2, 2 * H, date(2026, 1, 5), task=2)
    book.log(3, 3 * H, date(2026, 1, 5), task=3)
    book.log(4, 4 * H, date(2026, 1, 5), task=900)
    book.log(5, 5 * H, date(2026, 1, 5), task=1, user=CLIENT)  # never debited, never counted here
    period = book.period(acc, "2026-01")
    usage = {u.name: (u.planned_s, u.spent_s, u.period_s) for u in direction_usage(s, pid, acc.id, period.id)}
    assert usage == {"Воронки": (50 * H, H, H), "Телефония": (30 * H, 2 * H, 2 * H),
                     "Интеграция": (20 * H, 7 * H, 7 * H)}
    assert task_usage(s, acc.id, period.id) == {1: H, 2: 2 * H, 3: 3 * H, 900: 4 * H}


def test_caps_per_task_and_direction(book: Book):
    acc = book.retainer(40)
    s, pid = book.s, book.portal.id
    direction = Direction(account_id=acc.id, name="Воронки", planned_s=10 * H, match_kind="group", match_value="11")
    s.add_all([direction, Task(portal_id=pid, task_id=1, group_id=11), Task(portal_id=pid, task_id=2)])
    s.flush()
    s.add_all([Cap(account_id=acc.id, scope="task", ref_id=2, limit_s=2 * H, per="period"),
               Cap(account_id=acc.id, scope="direction", ref_id=direction.id, limit_s=5 * H, per="total")])
    s.flush()
    book.log(1, 3 * H, date(2026, 1, 5), task=1)
    book.log(2, 2 * H, date(2026, 1, 6), task=2)
    book.next_month(date(2026, 2, 1))
    book.log(3, 2 * H, date(2026, 2, 3), task=1)
    feb = book.period(acc, "2026-02")
    caps = {c.scope: c for c in cap_usage(s, pid, acc.id, feb.id)}
    assert caps["task"].used_s == 0 and not caps["task"].reached
    assert caps["direction"].used_s == 5 * H and caps["direction"].reached
