"""The seed's client, as data: a 40 h/month retainer with a 160 h plan.

Used by `python app.py demo`, the tests and the benchmarks. Everything goes
through the ledger's public functions, the way a sync would: entries are
applied as they happen, months close at their end, and one entry in a
closed month is edited later, which posts a correction.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy.orm import Session

from . import calendar as cal
from .contracts import Policies, add_account, add_team_member, adjust, close_due, create_portal, set_retainer
from .entries import EntryDeleted, EntrySnapshot, apply_entry
from .models import Account, Direction, Portal, Task

TZ = "Europe/Moscow"
TEAM = [  # (user id, name, role): the seed's team of three, plus a developer
    (101, "Анна Петрова", "руководитель проекта"),
    (102, "Игорь Смирнов", "специалист техподдержки"),
    (103, "Мария Кузнецова", "аккаунт-менеджер"),
    (104, "Олег Волков", "разработчик"),
]
CLIENT_EMPLOYEE = (201, "Дмитрий Орлов")
DIRECTIONS = [  # the 160 h development plan, split into directions
    ("Воронки продаж", 50 * 3600, "group", "11"),
    ("Телефония и почта", 30 * 3600, "tag", "телефония"),
    ("Роботы и автоматизация", 50 * 3600, "group", "12"),
    ("Обучение сотрудников", 30 * 3600, "tag", "обучение"),
]
TASKS = [  # (task id, title, group, tags)
    (501, "Настроить воронку «Опт»", 11, ""),
    (502, "Стадии сделок и обязательные поля", 11, ""),
    (503, "Подключить IP-телефонию", None, "телефония"),
    (504, "Интеграция почты отдела продаж", None, "телефония"),
    (505, "Робот: задача менеджеру при новой сделке", 12, ""),
    (506, "Бизнес-процесс согласования счёта", 12, ""),
    (507, "Инструкция и видео по воронкам", None, "обучение"),
    (508, "Ответы на вопросы в чате", None, ""),
]
DURATIONS_S = [600, 600, 1200, 1200, 1800, 2700, 3600, 5400, 7200]  # 10 min is a normal entry
MONTH_TARGETS_S = [34 * 3600, 42 * 3600]  # closed months: some hours burn, then an overage


@dataclass
class Example:
    portal_id: int
    account_id: int
    first_record_id: int
    records: int


def _workdays(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _at(day: date, hour: int) -> datetime:
    """An instant the way Bitrix24 reports it: server time with its offset."""
    return datetime.combine(day, time(hour, 15), tzinfo=cal.zone(TZ))


def seed(session: Session, now: datetime | None = None, member_id: str = "demo-romashka") -> Example:
    """Three months of the seed's client up to `now`: two closed, one open."""
    now = now or datetime.now(timezone.utc)
    rng = random.Random(20261123)
    today = cal.local_date(now, TZ)
    start = cal.add_months(cal.month_start(today), -2)
    portal = create_portal(session, member_id, "romashka.bitrix24.ru", TZ, "client", actor="demo")
    setup_at = cal.local_midnight(start, TZ)
    account = add_account(session, portal, "ООО «Ромашка»", actor="demo", now=setup_at)
    set_retainer(session, account, hours_s=40 * 3600, price_minor=100_000_00, starts_on=start,
                 policies=Policies(), title="Сопровождение 40", actor="demo", now=setup_at)
    for user_id, name, role in TEAM:
        add_team_member(session, portal, user_id, name=name, role=role, account=account, actor="demo", now=setup_at)
    for position, (name, planned_s, kind, value) in enumerate(DIRECTIONS):
        session.add(Direction(account_id=account.id, name=name, planned_s=planned_s, match_kind=kind,
                              match_value=value, position=position))
    for task_id, title, group_id, tags in TASKS:
        session.add(Task(portal_id=portal.id, task_id=task_id, title=title, group_id=group_id, tags=tags,
                         status=5 if task_id in (501, 503) else 3, updated_at=setup_at))
    session.flush()

    record = 1000
    first_record = record + 1
    applied: list[EntrySnapshot] = []

    def log(day: date, user_id: int, duration_s: int, task_id: int, comment: str, at_now: datetime) -> EntrySnapshot:
        nonlocal record
        record += 1
        snap = EntrySnapshot(portal.id, record, task_id, user_id, duration_s,
                             _at(day, 9 + rng.randrange(8)), comment)
        apply_entry(session, snap, at_now)
        applied.append(snap)
        return snap

    comments = ["Ответ на вопрос в чате", "Постановка задачи разработчику", "Настройка", "Созвон с клиентом",
                "Тестирование", "Правки по замечаниям", "Запись видеоинструкции"]
    for index in range(3):
        first = cal.add_months(start, index)
        last = min(cal.add_months(first, 1) - timedelta(days=1), today)
        target = MONTH_TARGETS_S[index] if index < len(MONTH_TARGETS_S) else 27 * 3600 + 1800
        days = _workdays(first, last)
        spent = 0
        while spent < target and days:
            day = days[rng.randrange(len(days))]
            duration = min(rng.choice(DURATIONS_S), target - spent)
            user_id = TEAM[rng.randrange(len(TEAM))][0]
            task_id = TASKS[rng.randrange(len(TASKS))][0]
            at_now = min(_at(day, 18).astimezone(timezone.utc), now)
            log(day, user_id, duration, task_id, rng.choice(comments), at_now)
            spent += duration
        # The client's own employee logs time too: shown, never debited.
        log(days[0], CLIENT_EMPLOYEE[0], 1800, 508, "Проверка воронки со стороны клиента",
            min(_at(days[0], 18).astimezone(timezone.utc), now))
        if index < 2:
            close_due(session, cal.local_midnight(cal.add_months(first, 1), TZ) + timedelta(hours=1))

    # Last month's call was logged 30 min short; fixed today: a correction in this month.
    late = next(s for s in applied if s.work_at.month == cal.add_months(start, 1).month and s.user_id == 101)
    apply_entry(session, EntrySnapshot(late.portal_id, late.record_id, late.task_id, late.user_id,
                                       late.duration_s + 1800, late.work_at, late.comment + " (уточнено)"), now)
    # An entry logged twice by mistake this month, then deleted.
    dup = applied[-2]
    twin = log(cal.local_date(dup.work_at, TZ), dup.user_id, dup.duration_s, dup.task_id, dup.comment, now)
    apply_entry(session, EntryDeleted(portal.id, twin.record_id), now)
    adjust(session, account, 2 * 3600, reason="Бонус: 2 часа за задержку по телефонии",
           author="Мария Кузнецова", now=now)
    session.flush()
    return Example(portal.id, account.id, first_record, record - first_record + 1)


def portal_and_account(session: Session, example: Example) -> tuple[Portal, Account]:
    portal = session.get(Portal, example.portal_id)
    account = session.get(Account, example.account_id)
    assert portal is not None and account is not None
    return portal, account
