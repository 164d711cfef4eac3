"""Reports benchmark: every account's weekly report, built from the ledger
and rendered (HTML e-mail, plain text, XLSX, chat), must take under 0.25 s
per report.

    .venv/bin/python -m bench.reports [--db sqlite|postgresql|both] [--quick] [--profile]

One integrator's portal with 200 client accounts (20 with --quick), each
bound to a CRM company and on a retainer (a mix of burn/rollover,
bill/deduct and rounding policies, 40 to 120 h a month) since the 1st of
the month, with a month of work: 80–120 records by its team of 3–5 (a
portal-wide account manager and 2–4 people of the account's own) on 10–20
tasks with real titles (some done, a subtask, workgroups and tags for the
plan's 2–4 directions), comments short and long, a few records on
weekends, and 2–4 records by people outside the team (the client's own
employee, a colleague who is not on the account): shown, never debited.

Portal, accounts, contracts, teams, directions, a few later edits and
deletions of records and some managers' top-ups go through the ledger's
own functions; tasks, records and their consumption postings are written
with Core in bulk, with the period's running totals moved to match, as
apply_entry would have left them. `ledger verify` must find nothing, or
the run stops.

The clock is fixed: now is Monday 30 November 2026, 07:00 in Moscow (the
morning weekly reports go out), the report is for the week of 23–29
November (ISO 2026-W48), the last of the month, so two runs build the same
data and differ only in time.

Each report is what the job does (jobs/reports.py): `build_report` in a
fresh session and transaction, then the report kept as JSON (to_json,
digest) and read back (from_json), then rendered from that: html, text,
xlsx, chat. Each step is timed; "build" is build_report plus the JSON round
trip, "render" the four renderings, "total" both. A few reports are
rendered first and not counted (the first pays the templates, Babel's
locale data and the CSS inliner; shown as "cold"). After the timed pass
every report is checked against the ledger (its week's hours are the
week's records' counted seconds) and each rendering is checked to be one.

The judged figure is seconds per report over the whole pass (wall time /
reports), target < 0.25 s; mean, p95 and max of each phase are shown
beside it. When the target is missed (or with --profile) a cProfile of a
sample of reports is printed, with the share of each phase and the SQL.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import command, figures_table, log, result, stop_on_problems
from bench.ledger import (
    MOVE_TOTALS,
    counted_rows,
    database,
    insert_many,
    not_team_row,
    percentile,
    sync_entry_ids,
)
from bench.widget import CLIENT_EMPLOYEE_BASE, POLICY_MIX, company_name
from bench.widget import TITLES as WIDGET_TITLES
from b24.links import task_url
from ledger import calendar as cal
from ledger.contracts import add_account, add_direction, add_team_member, adjust, create_portal, set_retainer
from ledger.entries import EntryDeleted, EntrySnapshot, apply_entry
from ledger.example import DURATIONS_S
from ledger.models import Account, Period, Portal, Posting, Task, TimeEntry
from ledger.rounding import RoundingRule, round_seconds
from ledger.summary import summarize
from ledger.verify import verify  # not `from ledger import verify`: that is the function
from reports import render
from reports.build import build_report, previous_week, week_label
from reports.model import Report

TZ = "Europe/Moscow"
SEED = 20261130
# Monday morning after the month's last full week: the weekly run.
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=cal.zone(TZ)).astimezone(timezone.utc)
MONTH = date(2026, 11, 1)  # the retainers' first (and open) month: the month of records
MONDAY = previous_week(NOW, TZ)  # 2026-11-23, the report's week
SETUP_AT = cal.local_midnight(MONTH, TZ)
LATE_AT = datetime(2026, 11, 27, 18, 30, tzinfo=cal.zone(TZ)).astimezone(timezone.utc)  # edits, top-ups
TARGET_S = 0.25  # per report, build + render
ACCOUNT_BATCH = 50  # accounts per transaction while opening them

# The integrator's staff, with the role codes the manager's page stores.
ACCOUNT_MANAGER = (120, "Мария Кузнецова", "account_manager")  # on every account (portal-wide member)
STAFF = [
    (101, "Анна Петрова", "project_manager"),
    (102, "Игорь Смирнов", "support"),
    (104, "Олег Волков", "developer"),
    (105, "Елена Соколова", "configurator"),
    (106, "Павел Морозов", "developer"),
    (107, "Светлана Лебедева", "specialist"),
    (108, "Артём Новиков", "support"),
    (109, "Дарья Фёдорова", "assistant"),
    (110, "Кирилл Васильев", "configurator"),
    (111, "Наталья Егорова", "project_manager"),
    (112, "Роман Зайцев", "developer"),
]
# The widget benchmark's task titles, and some long ones a report must lay out.
TITLES = WIDGET_TITLES + [
    "Интеграция с сайтом на Tilda: заявки из форм [UTM-метки, источники] и распределение по менеджерам",
    "Сквозная аналитика: рекламные кабинеты", "Маркетинг: рассылки и сегменты",
    "Роботы в воронке «Сервис»: SLA и эскалации", "Печатные формы договоров", "Миграция из amoCRM",
]
COMMENTS_RU = [
    "Созвон с клиентом, уточнили требования",
    "Настроил стадии и обязательные поля, проверил на тестовой сделке",
    "Исправил робота: не ставилась задача при смене ответственного",
    "Ответы на вопросы в чате",
    "Обучение менеджеров: воронки, карточка сделки, задачи",
    "Проверка после обновления портала",
    "Правки по списку [см. чат проекта], пункты 3–7",
    "Импорт 1 250 контактов из Excel, объединение дублей",
    "Подготовил шаблон КП:\n— шапка с реквизитами\n— таблица товаров\n— подпись и печать",
    "Разбор ошибки обмена с 1С: дубли счетов после повторной выгрузки. Нашёл причину в сопоставлении по "
    "ИНН, поправил правило, перезапустил обмен за неделю и сверил итоги с бухгалтерией клиента.",
    "Демонстрация руководителю отдела продаж",
    "Настройка прав: роли «Менеджер», «Старший менеджер», «Руководитель»; проверка доступа к чужим сделкам",
    "Согласование ТЗ",
    "Доработка по замечаниям",
    "Встреча по итогам месяца: что сделано, что дальше. Договорились перенести интеграцию с сайтом на "
    "декабрь, сначала закончить воронку «Сервис» и обучение новых сотрудников склада. Клиент пришлёт "
    "список полей для карточки заявки до среды; после этого — оценка и план работ на две недели. Отдельно "
    "обсудили ошибки телефонии в пятницу: провайдер признал сбой на своей стороне, записи звонков восстановлены.",
    "Тестирование бизнес-процесса на 10 сделках",
]
COMMENTS_EN = [
    "Call with the client: requirements clarified",
    "Set up deal stages and required fields, tested on a sample deal",
    "Fixed the automation rule: no task was created when the owner changed",
    "Answered questions in the chat",
    "Training for the sales team: pipelines, the deal card, tasks",
    "Checked everything after the portal update",
    "Fixes from the list [see the project chat], items 3–7",
    "Investigated the 1C sync error: duplicate invoices after a repeated export. Matching by tax number was "
    "wrong; fixed the rule, re-ran the week's sync and reconciled the totals with the client's accountant.",
]
HOURS_H = (40, 60, 80, 100, 120)  # with ~75 h logged a month, some packages run out and some burn


@dataclass(frozen=True)
class Sizes:
    accounts: int
    records: tuple[int, int]  # counted records per account in the month, inclusive
    outside: tuple[int, int]  # records by people outside the team per account
    warmup: int  # reports rendered first and not counted
    profile_reports: int  # reports under cProfile when the target is missed (or --profile)


FULL = Sizes(200, (80, 120), (2, 4), 3, 40)
QUICK = Sizes(20, (80, 120), (2, 4), 2, 10)


@dataclass
class Client:
    index: int
    account_id: int
    company_id: int
    language: str
    rule: RoundingRule
    team: list[tuple[int, int]]  # (user id, weight): who logs, how much
    tasks: list[tuple[int, int, bool]]  # (task id, weight, done)
    week_sample: EntrySnapshot | None = None  # a record of the report's week, edited or deleted later


@dataclass
class Built:
    label: str
    engine: Engine
    clients: list[Client]
    records: int  # time records of every account (team and outside)
    postings: int
    build_s: float


# ---------------------------------------------------------------- the month


def month_days() -> tuple[list[date], list[date]]:
    """The month's days up to the report's Sunday: (weekdays, weekend days)."""
    last = MONDAY + timedelta(days=6)
    days = [MONTH + timedelta(days=n) for n in range((last - MONTH).days + 1)]
    return [d for d in days if d.weekday() < 5], [d for d in days if d.weekday() >= 5]


def open_clients(s: Session, portal_id: int, count: int, rng: random.Random) -> list[Client]:
    """Accounts bound to CRM companies, each on a retainer from the 1st,
    with its team and plan directions (the ledger) and its tasks (Core)."""
    portal = s.get(Portal, portal_id)
    assert portal is not None
    clients: list[Client] = []
    tasks: list[dict] = []
    for index in range(count):
        company_id = 10_000 + index
        language = "en" if index % 8 == 7 else "ru"
        account = add_account(s, portal, company_name(index), company_id=company_id, language=language, actor="bench",
                              now=SETUP_AT)
        policies, rule = POLICY_MIX[index % len(POLICY_MIX)]
        hours_h = HOURS_H[index % len(HOURS_H)]
        set_retainer(s, account, hours_s=hours_h * 3600, price_minor=hours_h * 2_500_00, starts_on=MONTH,
                     policies=policies, title=f"Сопровождение {hours_h}", actor="bench", now=SETUP_AT)
        own = rng.sample(STAFF, rng.randint(2, 4))
        for user_id, person, role in own:
            add_team_member(s, portal, user_id, name=person, role=role, account=account, actor="bench",
                            now=SETUP_AT)
        # The lead logs most; the account manager a little.
        team = [(own[0][0], 6)] + [(user_id, rng.choice((2, 3, 4))) for user_id, _, _ in own[1:]]
        team.append((ACCOUNT_MANAGER[0], 1))

        groups = (700_000 + 2 * index, 700_001 + 2 * index)
        plan = [("Воронки продаж", 50, "group", str(groups[0])),
                ("Роботы и автоматизация", 40, "group", str(groups[1])),
                ("Телефония и почта", 20, "tag", "телефония"),
                ("Обучение сотрудников", 20, "tag", "обучение")]
        for direction, planned_h, kind, value in plan[:rng.randint(2, 4)]:
            add_direction(s, account, direction, planned_s=planned_h * 3600, match_kind=kind, match_value=value,
                          actor="bench", now=SETUP_AT)

        titles = rng.sample(TITLES, rng.randint(10, 20))
        task_ids = [1_000_000 + index * 100 + k for k in range(len(titles))]
        client_tasks = []
        for k, (task_id, title) in enumerate(zip(task_ids, titles)):
            # Two done early in the month, one finished in the report's week, the rest in progress.
            status = 5 if k < 2 else 4 if k == 2 else (3 if k % 2 else 2)
            tasks.append(dict(
                portal_id=portal_id, task_id=task_id, title=title, status=status,
                group_id=groups[0] if k % 4 == 0 else groups[1] if k % 4 == 1 else None,
                parent_id=task_ids[3] if k == len(titles) - 1 else None, company_id=company_id,
                responsible_id=team[k % len(team)][0],
                tags="телефония" if k % 4 == 2 else ("обучение" if k % 8 == 3 else ""),
                time_spent_s=None, updated_at=SETUP_AT,
            ))
            client_tasks.append((task_id, rng.choice((1, 1, 2, 3, 6)), k < 2))
        clients.append(Client(index, account.id, company_id, language, rule, team, client_tasks))
        if (index + 1) % ACCOUNT_BATCH == 0:
            s.commit()
            s.expunge_all()
            portal = s.get(Portal, portal_id)
            assert portal is not None
    insert_many(s, Task.__table__, tasks)
    s.commit()
    return clients


def fill_month(s: Session, portal_id: int, clients: list[Client], sizes: Sizes, rng: random.Random) -> tuple[int, int]:
    """Each client's month of records and their consumption postings, as
    apply_entry writes them (`counted_rows`, counted_s by the contract's
    rounding), the period's running totals moved by the same sums; and the
    records of people outside the team (`not_team_row`: nothing counted,
    nothing posted). Returns (records, postings) written."""
    period_ids = dict(s.execute(select(Period.account_id, Period.id)
                                .where(Period.label == cal.month_label(MONTH))).all())
    weekdays, weekend = month_days()
    week = [MONDAY + timedelta(days=n) for n in range(5)]
    zone = cal.zone(TZ)
    next_id = (s.execute(select(func.max(TimeEntry.id))).scalar() or 0) + 1
    record_id = 1
    entries: list[dict] = []
    postings: list[dict] = []
    moves: list[dict] = []

    def at(day: date) -> datetime:
        return datetime.combine(day, clock(9 + rng.randrange(9), rng.randrange(60)), tzinfo=zone)

    for client in clients:
        period_id = period_ids[client.account_id]
        comments = COMMENTS_EN if client.language == "en" else COMMENTS_RU
        users, user_w = zip(*client.team)
        live = [(t, w) for t, w, done in client.tasks if not done]
        early = [(t, w) for t, w, done in client.tasks if done]
        used = 0
        count = rng.randint(*sizes.records)
        for n in range(count):
            # Done tasks were worked on in the first half of the month.
            pool = early if early and rng.random() < 0.1 else live
            task_id = rng.choices([t for t, _ in pool], [w for _, w in pool])[0]
            days = weekdays if task_id not in dict(early) else [d for d in weekdays if d.day <= 13]
            day = rng.choice(weekend) if weekend and rng.random() < 0.03 else rng.choice(days)
            if n == 0:
                day = week[rng.randrange(len(week))]  # one sure record in the report's week, edited later
            local_at = at(day)
            work_at = local_at.astimezone(timezone.utc)
            duration_s = rng.choice(DURATIONS_S)
            counted_s = round_seconds(duration_s, client.rule)
            user_id = rng.choices(users, user_w)[0]
            comment = "" if rng.random() < 0.08 else rng.choice(comments)
            posted_at = work_at + timedelta(seconds=duration_s)
            used += counted_s
            entry, posting = counted_rows(
                entry_id=next_id, portal_id=portal_id, record_id=record_id, task_id=task_id, user_id=user_id,
                duration_s=duration_s, counted_s=counted_s, work_at=work_at, comment=comment,
                account_id=client.account_id, period_id=period_id, first_seen_at=posted_at, posted_at=posted_at,
            )
            entries.append(entry)
            postings.append(posting)
            if n == 0:
                client.week_sample = EntrySnapshot(portal_id, record_id, task_id, user_id, duration_s, local_at,
                                                   comment)
            next_id += 1
            record_id += 1
        moves.append({"b_period": period_id, "b_used": used, "b_n": count})
        # Outside the team: the client's own employee checking the work, and
        # now and then a colleague who is not on this account's team.
        members = {u for u, _ in client.team}
        strangers = [u for u, _, _ in STAFF if u not in members]
        for n in range(rng.randint(*sizes.outside)):
            user_id = strangers[0] if n == 2 and strangers else CLIENT_EMPLOYEE_BASE + client.index
            day = week[rng.randrange(len(week))] if n == 0 else rng.choice(weekdays)
            work_at = at(day).astimezone(timezone.utc)
            duration_s = rng.choice((900, 1800, 3600))
            entries.append(not_team_row(
                entry_id=next_id, portal_id=portal_id, record_id=record_id, task_id=rng.choice(live)[0],
                user_id=user_id, duration_s=duration_s, work_at=work_at,
                comment="Проверка со стороны клиента" if user_id >= CLIENT_EMPLOYEE_BASE else "Подменил коллегу",
                account_id=client.account_id, period_id=period_id,
            ))
            next_id += 1
            record_id += 1
    insert_many(s, TimeEntry.__table__, entries)
    insert_many(s, Posting.__table__, postings)
    s.connection().execute(MOVE_TOTALS, moves)
    return len(entries), len(postings)


def late_changes(s: Session, clients: list[Client]) -> None:
    """What a sync and a manager do during a week, through the ledger: a
    record of the report's week edited (a new version and its posting),
    another deleted (a reversal), and a manager's top-up."""
    for client in clients:
        snap = client.week_sample
        assert snap is not None
        if client.index % 10 == 0:
            apply_entry(s, EntrySnapshot(snap.portal_id, snap.record_id, snap.task_id, snap.user_id,
                                         snap.duration_s + 1800, snap.work_at, snap.comment + " (уточнено)"),
                        LATE_AT)
        elif client.index % 10 == 5:
            apply_entry(s, EntryDeleted(snap.portal_id, snap.record_id), LATE_AT)
        if client.index % 7 == 3:
            account = s.get(Account, client.account_id)
            assert account is not None
            adjust(s, account, 2 * 3600, reason="Бонус: 2 часа за задержку", author=ACCOUNT_MANAGER[1], now=LATE_AT)
    s.commit()


def build(db: str, engine: Engine, sizes: Sizes) -> Built:
    rng = random.Random(SEED)
    started = time.perf_counter()
    with Session(engine) as s:
        portal = create_portal(s, "bench-reports", "bench-reports.bitrix24.ru", TZ, "integrator", actor="bench")
        add_team_member(s, portal, ACCOUNT_MANAGER[0], name=ACCOUNT_MANAGER[1], role=ACCOUNT_MANAGER[2],
                        actor="bench", now=SETUP_AT)
        portal_id = portal.id
        s.commit()
        clients = open_clients(s, portal_id, sizes.accounts, rng)
        log(f"  {sizes.accounts} accounts, contracts, teams, directions and tasks in "
            f"{time.perf_counter() - started:.1f} s")
        records, _ = fill_month(s, portal_id, clients, sizes, rng)
        s.commit()
        late_changes(s, clients)
        sync_entry_ids(s)
        s.commit()
        postings = s.execute(select(func.count()).select_from(Posting)).scalar_one()
    build_s = time.perf_counter() - started
    log(f"  {records:,} records, {postings:,} postings; built in {build_s:.1f} s")
    check(engine, clients)
    return Built(f"{db}", engine, clients, records, postings, build_s)


def check(engine: Engine, clients: list[Client]) -> None:
    """`ledger verify` finds nothing, and one account's summary agrees with
    the sums of its postings and records."""
    started = time.perf_counter()
    with Session(engine) as s:
        problems = verify(s)
        stop_on_problems(problems, f"ledger verify found {len(problems)} problems in the bench data")
        client = clients[len(clients) // 2]
        summary = summarize(s, client.account_id, NOW)
        assert summary is not None and summary.balance is not None
        posted = -(s.execute(select(func.sum(Posting.amount_s)).where(
            Posting.account_id == client.account_id, Posting.kind == "consumption")).scalar_one() or 0)
        counted = s.execute(select(func.sum(TimeEntry.counted_s)).where(
            TimeEntry.account_id == client.account_id)).scalar_one()
        if not (summary.used_s == posted == counted) or not summary.tasks or not summary.directions:
            raise SystemExit(f"summary of account {client.account_id} disagrees with the ledger: used "
                             f"{summary.used_s}, posted {posted}, counted {counted}, {len(summary.tasks)} tasks, "
                             f"{len(summary.directions)} directions")
    log(f"  ledger verify and summary check: no problems ({time.perf_counter() - started:.1f} s)")


# ---------------------------------------------------------------- the reports


PHASES = ("build_report", "json round trip", "html", "text", "xlsx", "chat")


@dataclass
class Output:
    account_id: int
    report: Report
    html: str
    text: str
    xlsx: bytes
    chat: str


@dataclass
class Measured:
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statements: list[int] = field(default_factory=list)  # SQL statements per build
    sql_s: list[float] = field(default_factory=list)  # SQL time per build
    wall_s: float = 0.0
    cold_s: float = 0.0
    outputs: list[Output] = field(default_factory=list)

    def per_report(self, *phases: str) -> list[float]:
        return [sum(parts) for parts in zip(*(self.seconds[p] for p in phases))]


class SqlMeter:
    """Statements and their time, from the engine's cursor events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0
        self.seconds = 0.0
        self.by_statement: dict[str, list] = defaultdict(lambda: [0, 0.0])
        self.detail = False

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("hb_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        elapsed = time.perf_counter() - conn.info["hb_started"].pop()
        self.count += 1
        self.seconds += elapsed
        if self.detail:
            line = self.by_statement[" ".join(statement.split())[:150]]
            line[0] += 1
            line[1] += elapsed

    @contextmanager
    def listening(self) -> Iterator[SqlMeter]:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)


def one_report(sessions: sessionmaker, account_id: int, into: dict[str, list[float]] | None) -> Output:
    """One account's report as the job makes and sends it, each step timed
    into `into` (seconds per phase)."""
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        report = build_report(s, account_id, MONDAY, task_url, now=NOW)
    t1 = time.perf_counter()
    kept = Report.from_json(report.to_json())
    _digest = report.digest  # the job stores both
    t2 = time.perf_counter()
    html = render.html(kept)
    t3 = time.perf_counter()
    text = render.text(kept)
    t4 = time.perf_counter()
    book = render.xlsx(kept)
    t5 = time.perf_counter()
    chat = render.chat(kept)
    t6 = time.perf_counter()
    if into is not None:
        for phase, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            into[phase].append(seconds)
    if kept != report:
        raise SystemExit(f"account {account_id}: the report does not survive its JSON round trip")
    return Output(account_id, report, html, text, book, chat)


def measure(engine: Engine, clients: list[Client], sizes: Sizes) -> Measured:
    sessions = sessionmaker(engine)
    m = Measured()
    meter = SqlMeter(engine)
    started = time.perf_counter()
    one_report(sessions, clients[0].account_id, None)
    m.cold_s = time.perf_counter() - started
    for client in clients[1:sizes.warmup]:
        one_report(sessions, client.account_id, None)
    with meter.listening():
        started = time.perf_counter()
        for client in clients:
            before_n, before_s = meter.count, meter.seconds
            m.outputs.append(one_report(sessions, client.account_id, m.seconds))
            m.statements.append(meter.count - before_n)
            m.sql_s.append(meter.seconds - before_s)
        m.wall_s = time.perf_counter() - started
    return m


def check_outputs(engine: Engine, outputs: list[Output]) -> None:
    """Each report says what the ledger holds for its week (hours, records,
    people outside the team), and each rendering is what it should be."""
    start, end = cal.week_bounds(MONDAY, TZ)
    with Session(engine) as s:
        week = {account_id: (int(counted or 0), int(n), int(others or 0))
                for account_id, counted, n, others in s.execute(
                    select(TimeEntry.account_id, func.sum(TimeEntry.counted_s), func.count(),
                           func.sum(TimeEntry.duration_s).filter(TimeEntry.state == "not_team"))
                    .where(TimeEntry.deleted.is_(False), TimeEntry.work_at >= start, TimeEntry.work_at < end)
                    .group_by(TimeEntry.account_id))}
        names = dict(s.execute(select(Account.id, Account.name)).all())
    wrong = []
    for o in outputs:
        r = o.report
        counted, n, others = week.get(o.account_id, (0, 0, 0))
        if (r.week, r.week_s, len(r.lines), r.others_s) != (week_label(MONDAY), counted, n, others) or not r.tasks:
            wrong.append(f"account {o.account_id}: week {r.week}, {r.week_s} s in {len(r.lines)} records, "
                         f"others {r.others_s}; the ledger has {counted} s in {n} records, others {others}")
            continue
        name = names[o.account_id]
        if not (o.html.lstrip().lower().startswith(("<!doctype", "<html")) and name in o.text
                and r.account == name and "[B]" in o.chat):
            wrong.append(f"account {o.account_id}: html, text or chat is not a report of {name!r}")
            continue
        with zipfile.ZipFile(io.BytesIO(o.xlsx)) as book:
            sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
            if len(sheets) != 4 or book.testzip() is not None:
                wrong.append(f"account {o.account_id}: the XLSX has {len(sheets)} sheets")
    if wrong:
        raise SystemExit(f"{len(wrong)} reports wrong: " + "; ".join(wrong[:5]))


# ---------------------------------------------------------------- where the time goes


def breakdown(m: Measured) -> None:
    """Mean ms per report of each phase and its share of the total; SQL's share of the build."""
    total = statistics.fmean(m.per_report(*PHASES))
    log("  mean per report, by phase:")
    for phase in PHASES:
        mean = statistics.fmean(m.seconds[phase])
        log(f"    {mean * 1000:8.2f} ms  {mean / total:6.1%}  {phase}")
    build = statistics.fmean(m.seconds["build_report"])
    sql = statistics.fmean(m.sql_s)
    log(f"  build_report: {statistics.fmean(m.statements):.1f} SQL statements, {sql * 1000:.2f} ms in the driver "
        f"({sql / build:.0%} of build_report); the rest is ORM and Python")


def profile(engine: Engine, clients: list[Client], n: int) -> None:
    """Where a report's time goes: summarize's share of build_report, the
    statements it runs, and a cProfile of `n` whole reports."""
    sessions = sessionmaker(engine)
    sample = clients[:n]
    spent = 0.0
    for client in sample:
        with sessions() as s, s.begin():
            started = time.perf_counter()
            summarize(s, client.account_id, NOW)
            spent += time.perf_counter() - started
    log(f"  summarize alone (inside build_report): {spent * 1000 / n:.2f} ms per report")
    meter = SqlMeter(engine)
    meter.detail = True
    with meter.listening():
        for client in sample:
            one_report(sessions, client.account_id, None)
    log("  SQL per report, by statement (ms, executions):")
    for stmt, (count, seconds) in sorted(meter.by_statement.items(), key=lambda kv: -kv[1][1])[:12]:
        log(f"    {seconds * 1000 / n:7.3f} ms  x{count / n:<4.1f} {stmt}")
    profiler = cProfile.Profile()
    profiler.enable()
    for client in sample:
        one_report(sessions, client.account_id, None)
    profiler.disable()
    for order, count in (("cumulative", 40), ("tottime", 25)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
        log(f"  cProfile of {n} reports, by {order}:")
        log(out.getvalue())


# ---------------------------------------------------------------- the run


def run_one(db: str, sizes: Sizes, want_profile: bool) -> list[dict]:
    with database(db, "reports") as engine:
        log(f"{db}: building {sizes.accounts} accounts with a month of records each")
        built = build(db, engine, sizes)
        log(f"{db}: {sizes.accounts} weekly reports for {week_label(MONDAY)} after {sizes.warmup} not counted")
        load_before = os.getloadavg()[0]
        m = measure(engine, built.clients, sizes)
        load_after = os.getloadavg()[0]
        n = len(m.outputs)
        log(f"  {n} reports in {m.wall_s:.2f} s; load average {load_before:.2f} before, {load_after:.2f} after, "
            f"{os.cpu_count()} CPUs")
        check_outputs(engine, m.outputs)
        log(f"  every report agrees with the ledger; every HTML, text, XLSX and chat rendering is one")
        breakdown(m)
        per_report = m.wall_s / n
        missed = per_report >= TARGET_S or percentile(m.per_report(*PHASES), 95) >= TARGET_S
        if want_profile or missed:
            log(f"{db}: where a report's time goes ({'target missed' if missed else '--profile'})")
            profile(engine, built.clients, min(sizes.profile_reports, len(built.clients)))

    lines = [len(o.report.lines) for o in m.outputs]
    html_kb = [len(o.html.encode()) / 1024 for o in m.outputs]
    xlsx_kb = [len(o.xlsx) / 1024 for o in m.outputs]
    target = f"< {TARGET_S:g} s"
    info = f"{target} (info)"
    rows = [
        result(f"{db}: data build, {sizes.accounts} accounts, {built.records:,} records, "
               f"{built.postings:,} postings", round(built.build_s, 1), "s"),
        result(f"{db}: records per report's week (mean / max {max(lines)})", round(statistics.fmean(lines), 1),
               "records"),
        result(f"{db}: HTML per report (mean / max {max(html_kb):.1f} KB)", round(statistics.fmean(html_kb), 1), "KB"),
        result(f"{db}: XLSX per report (mean / max {max(xlsx_kb):.1f} KB)", round(statistics.fmean(xlsx_kb), 1), "KB"),
        result(f"{db}: load average (1 min) after measuring, {os.cpu_count()} CPUs", round(load_after, 2), "load"),
        result(f"{db}: first report in the process (cold, not counted)", round(m.cold_s, 4), "s"),
    ]
    for name, phases in (("build (build_report + JSON round trip)", PHASES[:2]),
                         ("render (html + text + xlsx + chat)", PHASES[2:])):
        samples = m.per_report(*phases)
        rows += [
            result(f"{db}: {name} mean", round(statistics.fmean(samples), 4), "s"),
            result(f"{db}: {name} p95", round(percentile(samples, 95), 4), "s"),
            result(f"{db}: {name} max", round(max(samples), 4), "s"),
        ]
    for phase in PHASES:
        rows.append(result(f"{db}:   {phase} mean", round(statistics.fmean(m.seconds[phase]), 4), "s"))
    rows.append(result(f"{db}:   SQL statements per build_report (driver time "
                       f"{statistics.fmean(m.sql_s) * 1000:.1f} ms)", round(statistics.fmean(m.statements), 1),
                       "statements"))
    total = m.per_report(*PHASES)
    rows += [
        result(f"{db}: total per report (build + render) mean", round(statistics.fmean(total), 4), "s"),
        result(f"{db}: total per report p95", round(percentile(total, 95), 4), "s", info,
               passed=percentile(total, 95) < TARGET_S),
        result(f"{db}: total per report max", round(max(total), 4), "s", info, passed=max(total) < TARGET_S),
        result(f"{db}: wall time, all {n} reports", round(m.wall_s, 2), "s"),
        result(f"{db}: seconds per report (wall / {n})", round(per_report, 4), "s", target,
               passed=per_report < TARGET_S),
    ]
    return rows


def run(quick: bool = False, db: str = "sqlite", want_profile: bool = False) -> list[dict]:
    sizes = QUICK if quick else FULL
    dbs = ("sqlite", "postgresql") if db == "both" else (db,)
    return [row for name in dbs for row in run_one(name, sizes, want_profile)]


def _measured(row: dict) -> str:
    value, unit = row["measured"], row["unit"]
    if unit == "s":
        return f"{value:.4f} s" if value < 1 else f"{value:.2f} s"
    if unit == "KB":
        return f"{value:.1f} KB"
    if unit == "load":
        return f"{value:.2f}"
    return f"{value:,} {unit}"


def format_table(rows: list[dict]) -> str:
    return figures_table(rows, _measured)


def main(argv: list[str] | None = None) -> int:
    return command("reports", __doc__, run, format_table, argv, "20 accounts, for a smoke run", db=True,
                   profile_help="print where a report's time goes even on a pass")


if __name__ == "__main__":
    sys.exit(main())
