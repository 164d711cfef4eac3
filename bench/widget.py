"""Widget benchmark: render time and page weight of the CRM widget, 10k vs 1M postings.

The tab a client opens in their CRM must render as fast in an integrator's
database of a million postings as in one of ten thousand, and weigh little.

    .venv/bin/python -m bench.widget [--db sqlite|postgresql|both] [--quick] [--profile]

Two databases of the same shape, each one integrator's portal (integrator
mode, connected, synced a minute ago, a portal-wide team of eight):
accounts bound to CRM companies, each on a retainer (a mix of burn and
rollover, billed and deducted overage, 15- and 30-minute rounding; 40, 80
or 120 h) with five closed months and the open one, 24 tasks (done in an
earlier month, done this month, in progress; subtasks, workgroups, tags),
four plan directions, records by the client's own employees (shown, never
debited), late corrections and deletions of closed-month records and
adjustments. Every account holds exactly 500 postings: the baseline is 20
such accounts (10k postings), the large database 2,000 (1M).

How it is built, fast but true to the ledger:
- the 20 accounts are built through the ledger's own functions (portal,
  accounts, contracts, team, directions, every period opened and closed by
  `close_due`, corrections by `apply_entry`, `adjust`); only tasks, time
  entries and their consumption postings are bulk Core inserts, month by
  month before the month closes, with the running totals moved to match,
  exactly as apply_entry would have written them (state, counted_s after
  rounding, version, post_seq, key entry:<id>:v1:s1:<period>:<origin>);
- the large database builds the same 20 accounts the same way, then
  copies every row the ledger wrote for them 99 times with all ids moved
  (accounts, periods, entries, postings and their keys, adjustments, CRM
  companies, workgroups, tasks, records). Audit events are not copied.
  The copy skips the database's per-row foreign-key checks and checks
  every reference afterwards instead (`check_references`).
Then `ledger verify` must find nothing, every account must hold exactly
its postings and periods, and one account's summary must agree with the
sums of its postings, or the run stops.

The widget is then rendered end to end through the Flask app and its test
client (GET /widget/<account>?t=<frame token>, then the minute refresh
GET /widget/<account>/part), alternating between the two databases call by
call so that any drift of the machine falls on both alike; the heaviest
page is weighed with every same-origin asset it pulls in (CSS @import and
url() followed). Where a render's time goes is logged to stderr: SQL per
statement (cursor events), the parts of summarize, the template; with
--profile, or when a target fails, a cProfile of the large database too.

The clock is the real one: the widget asks `utcnow()`, so the history is
built around today (the open month is the current one). Measurements on a
shared machine move with its load: the 1-minute load average is recorded.
"""
from __future__ import annotations

import cProfile
import gzip
import io
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from bench.common import command, figures_table, log, result, stop_on_problems
from bench.ledger import (
    MOVE_TOTALS,
    counted_rows,
    database,
    human,
    insert_many,
    month_firsts,
    not_team_row,
    percentile,
    sync_entry_ids,
    workdays,
)
from b24.models import PortalAuth, SyncState
from ledger import calendar as cal
from ledger.contracts import (
    Policies,
    add_account,
    add_direction,
    add_team_member,
    adjust,
    close_due,
    create_portal,
    set_retainer,
)
from ledger.entries import EntryDeleted, EntrySnapshot, apply_entry
from ledger.example import DURATIONS_S
from ledger.models import Account, Period, Portal, Posting, Task, TimeEntry
from ledger.rounding import RoundingRule, round_seconds
from ledger.summary import summarize
from ledger.verify import verify  # not `from ledger import verify`: that is the function

TZ = "Europe/Moscow"
SEED = 20261123
RENDER_P95_MS = 50.0
GROWTH_RATIO = 1.5
PAGE_KB = 150
SECRET = "bench-widget-secret"
ACCOUNT_BATCH = 50  # accounts per transaction while opening them
PLACEMENT = "CRM_COMPANY_DETAIL_TAB"

# The integrator's staff: every account's time is theirs to log (portal-wide team).
STAFF = [
    (101, "Анна Петрова", "руководитель проекта"),
    (102, "Игорь Смирнов", "специалист техподдержки"),
    (103, "Мария Кузнецова", "аккаунт-менеджер"),
    (104, "Олег Волков", "разработчик"),
    (105, "Елена Соколова", "консультант"),
    (106, "Павел Морозов", "разработчик"),
    (107, "Светлана Лебедева", "аналитик"),
    (108, "Артём Новиков", "специалист техподдержки"),
]
CLIENT_EMPLOYEE_BASE = 900_000  # + account index: the client's own people (shown, never debited)
TITLES = [
    "Настроить воронку «Опт»", "Стадии сделок и обязательные поля", "Подключить IP-телефонию",
    "Интеграция почты отдела продаж", "Робот: задача менеджеру при новой сделке",
    "Бизнес-процесс согласования счёта", "Инструкция и видео по воронкам", "Ответы на вопросы в чате",
    "Импорт контактов из Excel", "Права доступа для отдела продаж", "Шаблон коммерческого предложения",
    "Виджет обратного звонка на сайте", "Интеграция с 1С: обмен счетами", "Отчёт по воронке для директора",
    "Смарт-процесс «Заявки на доставку»", "Настройка открытых линий", "Обучение новых менеджеров",
    "Правки карточки компании", "Дубли контактов: объединение", "Чат-бот для Telegram",
    "Уведомления о просроченных сделках", "Складской учёт: остатки", "Электронная подпись документов",
    "Аудит CRM и план работ",
]
TASKS_PER_ACCOUNT = len(TITLES)
DONE_EARLIER = 8  # tasks 0..7: done in an earlier month (hidden from this month's list)
DONE_NOW = (8, 9)  # done this month (listed as done)
COMPANY_NAMES = ["Ромашка", "Вектор", "Альфа", "Северный ветер", "Техносфера", "Гранит", "Лидер",
                 "Меридиан", "Прогресс", "Атлант", "Восход", "Магистраль", "Орион", "Сфера"]
FORMS = ["ООО", "АО", "ИП", "ООО ТД"]
HOURS_H = (40, 80, 120)  # the package: with ~60 h used a month, some months burn and some overdraw
# (policies, rounding rule): the contracts an integrator really sells
POLICY_MIX = [
    (Policies(), RoundingRule()),
    (Policies(expiry_policy="rollover", rollover_cap_s=10 * 3600, rollover_max_age_months=2,
              overage_policy="deduct", rounding_mode="up", rounding_step_s=900), RoundingRule("up", 900)),
    (Policies(overage_policy="deduct"), RoundingRule()),
    (Policies(expiry_policy="rollover", rounding_mode="up", rounding_step_s=1800), RoundingRule("up", 1800)),
]


@dataclass(frozen=True)
class Sizes:
    small_accounts: int
    large_accounts: int
    postings_per_account: int
    months: int  # closed months + the open one
    renders: int
    warmup: int
    breakdown_renders: int


FULL = Sizes(20, 2_000, 500, 6, 300, 50, 50)
QUICK = Sizes(4, 100, 200, 4, 60, 10, 10)


@dataclass
class Client:
    index: int
    account_id: int
    company_id: int
    groups: tuple[int, int]
    task_ids: list[int]
    rule: RoundingRule
    sample: EntrySnapshot | None = None  # a record of the last closed month, edited or deleted later


@dataclass
class Built:
    label: str
    url: str
    engine: Engine
    portal_id: int
    clients: list[Client]
    postings: int
    build_s: float
    check_s: float


# ---------------------------------------------------------------- history


def open_portal(s: Session, tag: str, setup_at: datetime, now: datetime) -> int:
    """The integrator's portal, connected, synced a minute ago, with its team."""
    member_id = f"bench-widget-{tag}"
    domain = f"{member_id}.bitrix24.ru"
    portal = create_portal(s, member_id, domain, TZ, "integrator", actor="bench")
    s.add(PortalAuth(portal_id=portal.id, kind="webhook", client_endpoint=f"https://{domain}/rest/",
                     installed=True, status="ok", scope="crm,task,user", updated_at=setup_at))
    s.add(SyncState(portal_id=portal.id, last_record_id=0, incremental_at=now - timedelta(minutes=1),
                    first_sync_at=setup_at, history_at=setup_at))
    for user_id, name, role in STAFF:
        add_team_member(s, portal, user_id, name=name, role=role, actor="bench", now=setup_at)
    s.flush()
    return portal.id


def company_name(index: int) -> str:
    """The account of the `index`-th client (and its CRM company): a legal
    form and a name, numbered from 1 (`Copier.row` renumbers the copies)."""
    return f"{FORMS[index % len(FORMS)]} «{COMPANY_NAMES[index % len(COMPANY_NAMES)]}-{index + 1}»"


def open_clients(s: Session, portal_id: int, count: int, first_month: date, setup_at: datetime) -> list[Client]:
    """Accounts bound to CRM companies, each on a retainer from the first
    month, with its tasks (Core) and plan directions (the ledger)."""
    portal = s.get(Portal, portal_id)
    assert portal is not None
    clients: list[Client] = []
    tasks: list[dict] = []
    for index in range(count):
        company_id = 10_000 + index
        account = add_account(s, portal, company_name(index), company_id=company_id, actor="bench", now=setup_at)
        policies, rule = POLICY_MIX[index % len(POLICY_MIX)]
        hours_h = HOURS_H[index % len(HOURS_H)]
        set_retainer(s, account, hours_s=hours_h * 3600, price_minor=hours_h * 2_500_00, starts_on=first_month,
                     policies=policies, title=f"Сопровождение {hours_h}", actor="bench", now=setup_at)
        groups = (700_000 + 2 * index, 700_001 + 2 * index)
        for name_, planned_h, kind, value in (
            ("Воронки продаж", 50, "group", str(groups[0])),
            ("Роботы и автоматизация", 50, "group", str(groups[1])),
            ("Телефония и почта", 30, "tag", "телефония"),
            ("Обучение сотрудников", 30, "tag", "обучение"),
        ):
            add_direction(s, account, name_, planned_s=planned_h * 3600, match_kind=kind, match_value=value,
                          actor="bench", now=setup_at)
        task_ids = [1_000_000 + index * 100 + k for k in range(TASKS_PER_ACCOUNT)]
        for k, task_id in enumerate(task_ids):
            # What upsert_task writes for a task synced from the portal.
            tasks.append(dict(
                portal_id=portal_id, task_id=task_id, title=TITLES[k],
                status=5 if k < DONE_EARLIER or k == DONE_NOW[1] else 4 if k == DONE_NOW[0] else (3 if k % 2 else 2),
                group_id=groups[0] if k % 4 == 0 else groups[1] if k % 4 == 1 else None,
                parent_id=task_ids[k - 20] if k >= 20 else None, company_id=company_id,
                responsible_id=STAFF[k % len(STAFF)][0],
                tags="телефония" if k % 4 == 2 else ("обучение" if k % 8 == 3 else ""),
                time_spent_s=None, updated_at=setup_at,
            ))
        clients.append(Client(index, account.id, company_id, groups, task_ids, rule))
        if (index + 1) % ACCOUNT_BATCH == 0:
            s.commit()
            s.expunge_all()
            portal = s.get(Portal, portal_id)
            assert portal is not None
        if (index + 1) % 500 == 0:
            log(f"  {index + 1}/{count} accounts")
    insert_many(s, Task.__table__, tasks)
    s.commit()
    return clients


def candidate_tasks(client: Client, month_index: int, months: int) -> list[int]:
    """Tasks worked on in a month: those in progress always; each task done
    earlier only in its own past month; the ones done now in the open month."""
    ids = [t for k, t in enumerate(client.task_ids) if k >= DONE_EARLIER and k not in DONE_NOW]
    closed = max(1, months - 1)
    ids += [client.task_ids[k] for k in range(DONE_EARLIER) if k % closed == month_index % closed]
    if month_index == months - 1:
        ids += [client.task_ids[k] for k in DONE_NOW]
    return ids


def periods_of(s: Session, label: str) -> dict[int, int]:
    return dict(s.execute(select(Period.account_id, Period.id).where(Period.label == label)).all())


def fill_month(s: Session, portal_id: int, clients: list[Client], counts: dict[int, int], first: date,
               month_index: int, months: int, now: datetime, rng: random.Random, next_ids: dict[str, int],
               sample: bool = False, not_team: bool = False) -> None:
    """For each client, `counts[account]` counted records in its (open)
    month and their consumption postings, as apply_entry writes them
    (`counted_rows`, counted_s = the contract's rounding), and the month's
    running totals moved by the same sums."""
    label = cal.month_label(first)
    period_ids = periods_of(s, label)
    zone = cal.zone(TZ)
    today = cal.local_date(now, TZ)
    # On the open month's first workday there is no earlier day: then today,
    # before the current hour.
    days = workdays(first, now, TZ) or [today]
    last_hour = max(1, now.astimezone(cal.zone(TZ)).hour)

    def moment(day: date, hour: int, minute: int) -> datetime:
        if day == today:
            hour = min(hour, last_hour - 1)
        return datetime.combine(day, clock(hour, minute), tzinfo=zone)

    entries: list[dict] = []
    postings: list[dict] = []
    moves: list[dict] = []
    for client in clients:
        count = counts.get(client.account_id, 0)
        if count <= 0:
            continue
        period_id = period_ids[client.account_id]
        tasks = candidate_tasks(client, month_index, months)
        used = 0
        for n in range(count):
            entry_id, record_id = next_ids["entry"], next_ids["record"]
            next_ids["entry"] += 1
            next_ids["record"] += 1
            local_at = moment(days[rng.randrange(len(days))], 9 + rng.randrange(8), rng.randrange(60))
            work_at = local_at.astimezone(timezone.utc)
            duration_s = rng.choice(DURATIONS_S)
            counted_s = round_seconds(duration_s, client.rule)
            user_id = STAFF[rng.randrange(len(STAFF))][0]
            task_id = rng.choice(tasks)
            posted_at = work_at + timedelta(seconds=duration_s)  # before the month closes
            comment = "Работы по задаче"
            used += counted_s
            entry, posting = counted_rows(
                entry_id=entry_id, portal_id=portal_id, record_id=record_id, task_id=task_id, user_id=user_id,
                duration_s=duration_s, counted_s=counted_s, work_at=work_at, comment=comment,
                account_id=client.account_id, period_id=period_id, first_seen_at=work_at, posted_at=posted_at,
            )
            entries.append(entry)
            postings.append(posting)
            if sample and n == 0:
                client.sample = EntrySnapshot(portal_id, record_id, task_id, user_id, duration_s, local_at, comment)
        moves.append({"b_period": period_id, "b_used": used, "b_n": count})
        if not_team and client.index % 3 == 0:
            # The client's own employee logged time in the client's task:
            # apply_entry keeps it as not_team, counting nothing, posting nothing.
            for _ in range(2):
                entry_id, record_id = next_ids["entry"], next_ids["record"]
                next_ids["entry"] += 1
                next_ids["record"] += 1
                work_at = moment(days[rng.randrange(len(days))], 11, 0).astimezone(timezone.utc)
                entries.append(not_team_row(
                    entry_id=entry_id, portal_id=portal_id, record_id=record_id, task_id=client.task_ids[-1],
                    user_id=CLIENT_EMPLOYEE_BASE + client.index, duration_s=1800, work_at=work_at,
                    comment="Проверка со стороны клиента", account_id=client.account_id, period_id=period_id,
                ))
    insert_many(s, TimeEntry.__table__, entries)
    insert_many(s, Posting.__table__, postings)
    if moves:
        s.connection().execute(MOVE_TOTALS, moves)


def postings_per_account(s: Session) -> dict[int, int]:
    return dict(s.execute(select(Posting.account_id, func.count()).group_by(Posting.account_id)).all())


def late_changes(s: Session, clients: list[Client], now: datetime) -> None:
    """What happens in a real portal after a month closes, through the
    ledger: a record of last month edited (a correction in the open month),
    another deleted (a reversal), and a manager's top-up."""
    for client in clients:
        if client.sample is not None and client.index % 10 == 0:
            snap = client.sample
            apply_entry(s, EntrySnapshot(snap.portal_id, snap.record_id, snap.task_id, snap.user_id,
                                         snap.duration_s + 1800, snap.work_at, snap.comment + " (уточнено)"), now)
        elif client.sample is not None and client.index % 10 == 5:
            apply_entry(s, EntryDeleted(client.sample.portal_id, client.sample.record_id), now)
        if client.index % 7 == 3:
            account = s.get(Account, client.account_id)
            assert account is not None
            adjust(s, account, 2 * 3600, reason="Бонус: 2 часа за задержку", author="Мария Кузнецова", now=now)
    s.commit()


def build(engine: Engine, tag: str, accounts: int, sizes: Sizes, now: datetime) -> tuple[int, list[Client]]:
    """One integrator portal with `accounts` clients of exactly
    `sizes.postings_per_account` postings each, month by month up to now.
    The same seed every time: both databases start from the same clients."""
    rng = random.Random(SEED)
    months = month_firsts(sizes.months, now, TZ)
    setup_at = cal.local_midnight(months[0], TZ)
    per_account = sizes.postings_per_account
    # Each closed month: an allocation, a close (one to three postings) and
    # its share of consumption; the open month takes whatever is left.
    closed_count = (per_account - 4 * sizes.months) // sizes.months
    with Session(engine) as s:
        portal_id = open_portal(s, tag, setup_at, now)
        s.commit()
        phase = time.perf_counter()
        clients = open_clients(s, portal_id, accounts, months[0], setup_at)
        log(f"  {accounts:,} accounts, contracts, directions and tasks in {time.perf_counter() - phase:.1f} s")
        next_ids = {"entry": (s.execute(select(func.max(TimeEntry.id))).scalar() or 0) + 1, "record": 1}
        for index, first in enumerate(months[:-1]):
            phase = time.perf_counter()
            fill_month(s, portal_id, clients, {c.account_id: closed_count for c in clients}, first, index,
                       sizes.months, now, rng, next_ids, sample=index == sizes.months - 2)
            s.commit()  # the close reads the totals just moved
            closed_at = cal.local_midnight(cal.add_months(first, 1), TZ) + timedelta(minutes=5)
            filled = time.perf_counter()
            close_due(s, closed_at)
            s.commit()
            log(f"  month {cal.month_label(first)} filled in {filled - phase:.1f} s, "
                f"closed in {time.perf_counter() - filled:.1f} s")
        phase = time.perf_counter()
        late_changes(s, clients, now)
        have = postings_per_account(s)
        rest = {c.account_id: per_account - have.get(c.account_id, 0) for c in clients}
        if min(rest.values()) <= 0:
            raise SystemExit(f"the closed months already hold more than {per_account} postings per account")
        fill_month(s, portal_id, clients, rest, months[-1], sizes.months - 1, sizes.months, now, rng, next_ids,
                   not_team=True)
        s.commit()
        sync_entry_ids(s)
        s.commit()
        log(f"  late changes and the open month in {time.perf_counter() - phase:.1f} s")
    return portal_id, clients


# ---------------------------------------------------------------- copies


# What each account owns, in the order foreign keys allow, with the filter
# that finds the prototypes' rows. Audit events are not copied: nothing
# the widget reads, and their JSON names the prototype's ids.
OWNED = (
    ("accounts", "id IN ({ids})"),
    ("account_bindings", "account_id IN ({ids})"),
    ("contracts", "account_id IN ({ids})"),
    ("contract_terms", "contract_id IN (SELECT id FROM contracts WHERE account_id IN ({ids}))"),
    ("periods", "account_id IN ({ids})"),
    ("period_totals", "account_id IN ({ids})"),
    ("directions", "account_id IN ({ids})"),
    ("tasks", "portal_id = {portal}"),
    ("time_entries", "account_id IN ({ids})"),
    ("adjustments", "account_id IN ({ids})"),
    ("postings", "account_id IN ({ids})"),
)
_KEY_PARTS = {
    # posting key → which of its numbers are ids of what (see entries.py, periods.py, contracts.adjust)
    "entry": re.compile(r"entry:(\d+):v(\d+):s(\d+):(\d+):(\d+)"),
    "alloc": re.compile(r"alloc:(\d+)"),
    "close": re.compile(r"close:(\d+):([a-z_]+):(\w+)"),
    "adj": re.compile(r"adj:(\d+)"),
}


class Copier:
    """Account copies of the prototypes: every row the ledger wrote for a
    prototype account, again, with its ids (and the portal's ids it names:
    CRM company, workgroups, tasks, records, the client's employees) moved
    past every id in use. Copy `c` of prototype `k` is account index
    c*K + k, so copy 0 is the prototype itself."""

    def __init__(self, scalar: Any, portal_id: int, prototypes: list[Client]) -> None:
        self.k = len(prototypes)
        self.portal_id = portal_id
        self.ids = ", ".join(str(c.account_id) for c in prototypes)
        self.span = {table: scalar(f"SELECT max(id) FROM {table}") or 0
                     for table, _ in OWNED if table != "period_totals"}
        self.records = scalar("SELECT max(record_id) FROM time_entries") or 0

    def id(self, table: str, value: int | None, c: int) -> int | None:
        return None if value is None else value + c * self.span[table]

    def key(self, key: str, c: int) -> str:
        kind = key.split(":", 1)[0]
        m = _KEY_PARTS[kind].fullmatch(key)
        assert m is not None, key
        if kind == "entry":
            entry, version, seq, period, origin = m.groups()
            return (f"entry:{self.id('time_entries', int(entry), c)}:v{version}:s{seq}:"
                    f"{self.id('periods', int(period), c)}:{self.id('periods', int(origin), c)}")
        if kind == "alloc":
            return f"alloc:{self.id('periods', int(m.group(1)), c)}"
        if kind == "close":
            period, what, suffix = m.groups()
            suffix = str(self.id("periods", int(suffix), c)) if suffix.isdigit() else suffix
            return f"close:{self.id('periods', int(period), c)}:{what}:{suffix}"
        return f"adj:{self.id('adjustments', int(m.group(1)), c)}"

    def row(self, table: str, r: dict, c: int) -> dict:
        r = dict(r)
        k = self.k
        if "account_id" in r:
            r["account_id"] = self.id("accounts", r["account_id"], c)
        if table == "accounts":
            r["id"] = self.id("accounts", r["id"], c)
            r["name"] = re.sub(r"-(\d+)»", lambda m: f"-{int(m.group(1)) + c * k}»", r["name"])
        elif table == "account_bindings":
            r["id"] = self.id(table, r["id"], c)
            r["ref_id"] += c * k  # the CRM company
        elif table == "contracts":
            r["id"] = self.id(table, r["id"], c)
        elif table == "contract_terms":
            r["id"] = self.id(table, r["id"], c)
            r["contract_id"] = self.id("contracts", r["contract_id"], c)
        elif table == "periods":
            r["id"] = self.id(table, r["id"], c)
            r["contract_id"] = self.id("contracts", r["contract_id"], c)
            r["status"] = "open"  # closed once its postings are in, as the ledger does
        elif table == "period_totals":
            r["period_id"] = self.id("periods", r["period_id"], c)
        elif table == "directions":
            r["id"] = self.id(table, r["id"], c)
            if r["match_kind"] == "group":
                r["match_value"] = str(int(r["match_value"]) + 2 * c * k)
        elif table == "tasks":
            r["id"] = self.id(table, r["id"], c)
            r["task_id"] += c * k * 100
            r["parent_id"] = None if r["parent_id"] is None else r["parent_id"] + c * k * 100
            r["group_id"] = None if r["group_id"] is None else r["group_id"] + 2 * c * k
            r["company_id"] += c * k
        elif table == "time_entries":
            r["id"] = self.id(table, r["id"], c)
            r["record_id"] += c * self.records
            r["task_id"] += c * k * 100
            if r["user_id"] >= CLIENT_EMPLOYEE_BASE:
                r["user_id"] += c * k
            r["period_id"] = self.id("periods", r["period_id"], c)
        elif table == "adjustments":
            r["id"] = self.id(table, r["id"], c)
            r["period_id"] = self.id("periods", r["period_id"], c)
        elif table == "postings":
            r["id"] = self.id(table, r["id"], c)
            r["key"] = self.key(r["key"], c)
            r["period_id"] = self.id("periods", r["period_id"], c)
            r["origin_period_id"] = self.id("periods", r["origin_period_id"], c)
            r["entry_id"] = self.id("time_entries", r["entry_id"], c)
            r["adjustment_id"] = self.id("adjustments", r["adjustment_id"], c)
        return r


def write_raw(cur: Any, dialect: str, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Rows as the database stores them (read raw, so no type conversion
    either way): COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if dialect == "postgresql":
        with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)


def copy_accounts(engine: Engine, portal_id: int, prototypes: list[Client], copies: int) -> list[Client]:
    """Copies 1..copies-1 of the prototype accounts in one transaction on a
    raw connection; every copied period closed as the prototype's is, and
    (PostgreSQL) the id sequences moved past the copies.

    The database's per-row foreign-key checks are off while copying (on
    PostgreSQL the triggers too: session_replication_role = replica), which
    makes the copy three times faster; `check_references` then proves every
    reference of every row instead, and `ledger verify` what the triggers
    guard (no posting into a closed period after it closed)."""
    dialect = engine.dialect.name
    clients = list(prototypes)
    proxy = engine.raw_connection()
    raw = proxy.driver_connection
    try:
        cur = raw.cursor()
        if dialect == "sqlite":
            cur.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, or SQLite ignores it
            # This connection only (the app's keep SQLite's default 2 MB):
            # a million index inserts thrash a small page cache.
            cur.execute("PRAGMA cache_size = -262144")
            cur.execute("BEGIN IMMEDIATE")
        else:
            cur.execute("SET LOCAL session_replication_role = replica")

        def scalar(sql: str) -> Any:
            cur.execute(sql)
            return cur.fetchone()[0]

        copier = Copier(scalar, portal_id, prototypes)
        for table, where in OWNED:
            cur.execute(f"SELECT * FROM {table} WHERE " + where.format(ids=copier.ids, portal=portal_id))
            columns = [d[0] for d in cur.description]
            source = [dict(zip(columns, r)) for r in cur.fetchall()]
            for first in range(1, copies, 10):  # ten copies per write: bounded memory
                rows = [tuple(copier.row(table, r, c).values())
                        for c in range(first, min(first + 10, copies)) for r in source]
                write_raw(cur, dialect, table, columns, rows)
        cur.execute("UPDATE periods SET status = 'closed' WHERE status = 'open' AND closed_at IS NOT NULL")
        if dialect == "postgresql":
            for table, _ in OWNED:
                if table != "period_totals":
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))")
        raw.commit()
        if dialect == "sqlite":
            cur.execute("PRAGMA foreign_keys = ON")
        cur.close()
    finally:
        proxy.close()
    for c in range(1, copies):
        for proto in prototypes:
            clients.append(Client(proto.index + c * copier.k, copier.id("accounts", proto.account_id, c) or 0,
                                  proto.company_id + c * copier.k, proto.groups, [], proto.rule))
    return clients


def check_references(engine: Engine) -> None:
    """Every foreign key of the copied tables points at a row: the check
    the database skipped while copying, done in one query per key."""
    from ledger.db import Base

    problems = []
    with engine.connect() as conn:
        for table, _ in OWNED:
            for fk in Base.metadata.tables[table].foreign_keys:
                column, parent = fk.parent.name, fk.column
                dangling = conn.exec_driver_sql(
                    f'SELECT count(*) FROM {table} t WHERE t."{column}" IS NOT NULL AND NOT EXISTS '
                    f'(SELECT 1 FROM {parent.table.name} p WHERE p."{parent.name}" = t."{column}")'
                ).scalar()
                if dangling:
                    problems.append(f"{table}.{column}: {dangling} rows point at no {parent.table.name}")
    if problems:
        raise SystemExit("copied rows with dangling references: " + "; ".join(problems))


def vacuum(engine: Engine) -> None:
    """PostgreSQL: what autovacuum does to freshly loaded tables (statistics
    for the planner, the visibility map for index-only scans). SQLite is
    left as the app leaves it: it never runs ANALYZE."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("time_entries", "postings", "periods", "period_totals", "tasks", "directions", "accounts",
                     "contracts", "team_members"):
            conn.execute(text(f"VACUUM ANALYZE {name}"))


def check(engine: Engine, clients: list[Client], sizes: Sizes, now: datetime) -> None:
    """The history must be one the ledger could have written (`ledger
    verify` finds nothing), every account must hold exactly its postings and
    periods, and one account's summary must agree with its postings."""
    with Session(engine) as s:
        problems = verify(s)
        stop_on_problems(problems, f"ledger verify found {len(problems)} problems in the bench history")
        counts = postings_per_account(s)
        wrong = {c.account_id: counts.get(c.account_id) for c in clients
                 if counts.get(c.account_id) != sizes.postings_per_account}
        if wrong:
            raise SystemExit(f"accounts without exactly {sizes.postings_per_account} postings: "
                             f"{dict(list(wrong.items())[:5])}")
        periods = defaultdict(int)
        for status, n in s.execute(select(Period.status, func.count()).group_by(Period.status)):
            periods[status] = n
        expected = {"closed": len(clients) * (sizes.months - 1), "open": len(clients)}
        if dict(periods) != expected:
            raise SystemExit(f"periods {dict(periods)}, expected {expected}")

        client = clients[len(clients) // 2]
        summary = summarize(s, client.account_id, now)
        assert summary is not None and summary.balance is not None
        sums: dict[tuple[int, str], int] = defaultdict(int)
        for period_id, kind, amount in s.execute(
            select(Posting.period_id, Posting.kind, func.sum(Posting.amount_s))
            .where(Posting.account_id == client.account_id).group_by(Posting.period_id, Posting.kind)
        ):
            sums[(period_id, kind)] = int(amount)
        open_id = summary.balance.period_id
        used = -sums[(open_id, "consumption")]
        allocated = sum(sums[(open_id, k)] for k in ("allocation", "rollover_in", "adjustment", "overage_deducted"))
        history_used = sum(m.used_s for m in summary.history)
        all_used = -sum(v for (_, k), v in sums.items() if k == "consumption")
        counted = s.execute(select(func.sum(TimeEntry.counted_s)).where(
            TimeEntry.account_id == client.account_id)).scalar_one()
        if (summary.used_s, summary.allocated_s, history_used) != (used, allocated, all_used) or counted != all_used:
            raise SystemExit(f"summary of account {client.account_id} disagrees with its postings: used "
                             f"{summary.used_s} vs {used}, allocated {summary.allocated_s} vs {allocated}, "
                             f"history {history_used} vs {all_used}, entries {counted}")
        if not summary.tasks or len(summary.directions) != 4 or len(summary.history) != sizes.months:
            raise SystemExit(f"summary of account {client.account_id} looks empty: {len(summary.tasks)} tasks, "
                             f"{len(summary.directions)} directions, {len(summary.history)} months")


# ---------------------------------------------------------------- the app


def make_app(url: str, instance: str) -> Any:
    from app import create_app

    return create_app({
        "DATABASE_URL": url, "AUTO_MIGRATE": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": instance,
        "REDIS_URL": None, "START_RUNNER": False, "TESTING": True,
    })


def frame_token(app: Any, portal_id: int) -> str:
    from handlers.frames import Frame, issue

    with app.test_request_context():
        return issue(Frame(portal_id, user_id=1, admin=True, manager=True, name="bench", lang="ru",
                           placement=PLACEMENT, entity_id=None))


@dataclass
class Target:
    """One database as the benchmark drives it."""

    built: Built
    app: Any
    client: Any
    token: str
    page_ns: list[int] = field(default_factory=list)
    part_ns: list[int] = field(default_factory=list)
    heaviest: tuple[int, str, bytes] = (0, "", b"")  # (bytes, url, html)

    def get(self, url: str) -> tuple[int, bytes]:
        started = time.perf_counter_ns()
        response = self.client.get(url)
        body = response.get_data()
        elapsed = time.perf_counter_ns() - started
        if response.status_code != 200:
            raise SystemExit(f"{self.built.label}: GET {url} answered {response.status_code}: {body[:300]!r}")
        return elapsed, body

    def page_url(self, account_id: int) -> str:
        return f"/widget/{account_id}?t={self.token}"


def render_all(targets: list[Target], sizes: Sizes, rng: random.Random) -> None:
    """Widget pages of random accounts, then the minute-refresh fragment,
    alternating between the databases (and their order) call by call."""
    for route in ("page", "part"):
        for call in range(sizes.warmup + sizes.renders):
            order = targets if call % 2 == 0 else list(reversed(targets))
            for target in order:
                account_id = rng.choice(target.built.clients).account_id
                url = target.page_url(account_id) if route == "page" else \
                    f"/widget/{account_id}/part?t={target.token}"
                elapsed, body = target.get(url)
                if call < sizes.warmup:
                    continue
                if route == "page":
                    target.page_ns.append(elapsed)
                    if len(body) > target.heaviest[0]:
                        target.heaviest = (len(body), url, body)
                else:
                    target.part_ns.append(elapsed)


# ---------------------------------------------------------------- page weight


class _Refs(HTMLParser):
    """Everything a browser would fetch for the page: stylesheets, icons,
    preloads, scripts, images (src and srcset), and url()s in <style> and
    style attributes."""

    FETCHED_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest"}

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and a.get("href") and self.FETCHED_RELS & set(a.get("rel", "").lower().split()):
            self.refs.append(a["href"])
        if a.get("src") and tag in ("script", "img", "source", "iframe", "embed", "video", "audio", "input", "track"):
            self.refs.append(a["src"])
        if a.get("srcset"):
            self.refs += [part.strip().split()[0] for part in a["srcset"].split(",") if part.strip()]
        if tag == "video" and a.get("poster"):
            self.refs.append(a["poster"])
        if a.get("style"):
            self.refs += css_refs(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.refs += css_refs(data)


_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""", re.I)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+?)["']?\s*\)""", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def css_refs(css: str) -> list[str]:
    css = _CSS_COMMENT.sub("", css)
    return list(dict.fromkeys(_CSS_IMPORT.findall(css) + _CSS_URL.findall(css)))


def page_weight(target: Target) -> dict[str, Any]:
    """The heaviest widget page seen, plus every same-origin asset it pulls
    in (CSS @import and url() followed), each fetched through the test
    client once: bytes raw and gzipped (level 6, as a proxy would serve them)."""
    size, page_url, html = target.heaviest
    base = "http://localhost" + page_url
    parser = _Refs()
    parser.feed(html.decode("utf-8", "replace"))
    queue = [urljoin(base, ref) for ref in parser.refs]
    seen: dict[str, int] = {}
    gz: dict[str, int] = {}
    missing: list[str] = []
    foreign: list[str] = []
    while queue:
        url = queue.pop(0)
        if url.startswith(("data:", "about:", "javascript:")) or url in seen or url in missing:
            continue
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            foreign.append(url)
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = target.client.get(path)
        body = response.get_data()
        response.close()
        if response.status_code != 200:
            missing.append(url)
            continue
        seen[url], gz[url] = len(body), len(gzip.compress(body, 6))
        if parts.path.endswith(".css") or "css" in (response.mimetype or ""):
            queue += [urljoin(url, ref) for ref in css_refs(body.decode("utf-8", "replace"))]
    html_gz = len(gzip.compress(html, 6))
    return {
        "html": size, "html_gz": html_gz, "assets": seen, "assets_gz": gz,
        "raw": size + sum(seen.values()), "gzip": html_gz + sum(gz.values()),
        "missing": missing, "foreign": foreign,
    }


# ---------------------------------------------------------------- where the time goes


def query_breakdown(target: Target, renders: int, rng: random.Random) -> list[tuple[str, int, float]]:
    """(statement, executions, ms per page) over `renders` pages, from the
    reader engine's cursor events: which queries a widget render spends on."""
    engine = target.app.extensions["hourbook"].readers.kw["bind"]
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("hb_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        elapsed = time.perf_counter() - conn.info["hb_started"].pop()
        line = spent[" ".join(statement.split())[:160]]
        line[0] += 1
        line[1] += elapsed

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    total = 0.0
    try:
        for _ in range(renders):
            elapsed, _body = target.get(target.page_url(rng.choice(target.built.clients).account_id))
            total += elapsed / 1e9
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    rows = sorted(((stmt, n // renders, t * 1000 / renders) for stmt, (n, t) in spent.items()),
                  key=lambda r: -r[2])
    sql_ms = sum(r[2] for r in rows)
    log(f"  {target.built.label}: {total * 1000 / renders:.2f} ms per page, of which SQL {sql_ms:.2f} ms "
        f"in {sum(r[1] for r in rows)} statements:")
    for stmt, n, ms in rows[:12]:
        log(f"    {ms:7.3f} ms  x{n:<3} {stmt}")
    return rows


def phases(target: Target, renders: int, rng: random.Random) -> dict[str, float]:
    """Mean ms per page of each part of a render, timed without a profiler:
    the summary (account_view) and, inside it, the heavy parts of
    summarize; the template; the whole request. Each part runs in a fresh
    reader session, as a request's would."""
    from flask import render_template

    from handlers import db as request_db
    from handlers import frames
    from handlers.views import account_view
    from ledger import summary as summary_module
    from ledger.usage import direction_usage

    spent: dict[str, float] = defaultdict(float)
    readers = target.app.extensions["hourbook"].readers
    for _ in range(renders):
        account_id = rng.choice(target.built.clients).account_id
        url = target.page_url(account_id)
        started = time.perf_counter()
        target.get(url)
        spent["whole request (test client)"] += time.perf_counter() - started
        with target.app.test_request_context(url):
            frames.current()
            session = request_db.reader()
            started = time.perf_counter()
            view = account_view(session, account_id)
            middle = time.perf_counter()
            render_template("widget.html", v=view, refresh_url="/widget/part", manage_url="/manage")
            spent["account_view (summary + sync state)"] += middle - started
            spent["template widget.html"] += time.perf_counter() - middle
            request_db.close()
        with readers() as s:
            account = s.get(Account, account_id)
            assert account is not None
            period = summary_module._shown_period(s, account_id, datetime.now(timezone.utc))
            period_id = period.id if period is not None else None
            for name, call in (
                ("  summarize: direction_usage", lambda: direction_usage(s, account.portal_id, account_id, period_id)),
                ("  summarize: _tasks", lambda: summary_module._tasks(s, account, period_id)),
                ("  summarize: _history", lambda: summary_module._history(s, account_id)),
            ):
                started = time.perf_counter()
                call()
                spent[name] += time.perf_counter() - started
    result = {name: seconds * 1000 / renders for name, seconds in spent.items()}
    log(f"  {target.built.label}: mean ms per page, {renders} pages:")
    for name in ("whole request (test client)", "account_view (summary + sync state)",
                 "  summarize: direction_usage", "  summarize: _tasks", "  summarize: _history",
                 "template widget.html"):
        log(f"    {result[name]:7.2f}  {name}")
    return result


def profile(target: Target, renders: int, rng: random.Random) -> str:
    """cProfile of `renders` page renders, the top of it by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(renders):
        target.get(target.page_url(rng.choice(target.built.clients).account_id))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    return out.getvalue()


# ---------------------------------------------------------------- the run


def prepare(db: str, tag: str, accounts: int, sizes: Sizes, now: datetime, stack: Any) -> Built:
    engine = stack.enter_context(database(db, tag))
    total = accounts * sizes.postings_per_account
    log(f"{db}: building {accounts:,} accounts x {sizes.postings_per_account} = {human(total)} postings")
    started = time.perf_counter()
    portal_id, clients = build(engine, tag, sizes.small_accounts, sizes, now)
    if accounts > len(clients):
        phase = time.perf_counter()
        clients = copy_accounts(engine, portal_id, clients, accounts // len(clients))
        check_references(engine)
        log(f"  {accounts // sizes.small_accounts - 1} copies of the {sizes.small_accounts} accounts in "
            f"{time.perf_counter() - phase:.1f} s")
    vacuum(engine)
    build_s = time.perf_counter() - started
    log(f"  built in {build_s:.1f} s")
    started = time.perf_counter()
    check(engine, clients, sizes, now)
    check_s = time.perf_counter() - started
    log(f"  ledger verify and summary check: no problems ({check_s:.1f} s)")
    url = engine.url.render_as_string(hide_password=False)
    return Built(f"{db} {human(total)}", url, engine, portal_id, clients, total, build_s, check_s)


def run_one(db: str, sizes: Sizes, want_profile: bool) -> list[dict]:
    from contextlib import ExitStack

    now = datetime.now(timezone.utc)
    rng = random.Random(SEED)
    with ExitStack() as stack:
        small = prepare(db, "widget_small", sizes.small_accounts, sizes, now, stack)
        large = prepare(db, "widget_large", sizes.large_accounts, sizes, now, stack)
        instance = stack.enter_context(tempfile.TemporaryDirectory(prefix="hb-bench-widget-"))
        targets = []
        for built in (small, large):
            app = make_app(built.url, instance)
            targets.append(Target(built, app, app.test_client(), frame_token(app, built.portal_id)))
        log(f"{db}: rendering the widget, {sizes.renders} pages and {sizes.renders} fragments per database "
            f"after {sizes.warmup} warm-up each")
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        render_all(targets, sizes, rng)
        load_after = os.getloadavg()[0]
        log(f"  measured in {time.perf_counter() - started:.1f} s; load average {load_before:.2f} before, "
            f"{load_after:.2f} after, {os.cpu_count()} CPUs")
        weights = [page_weight(t) for t in targets]
        log(f"{db}: where a render's time goes")
        for t in targets:
            query_breakdown(t, sizes.breakdown_renders, rng)
            phases(t, sizes.breakdown_renders, rng)
        ms = 1e-6
        p95_small, p95_large = percentile(targets[0].page_ns, 95) * ms, percentile(targets[1].page_ns, 95) * ms
        if want_profile or p95_large >= RENDER_P95_MS or p95_large / p95_small >= GROWTH_RATIO:
            log(f"{db}: cProfile of {sizes.breakdown_renders} renders on {large.label}")
            log(profile(targets[1], sizes.breakdown_renders, rng))
        for t in targets:
            t.app.extensions["hourbook"].engine.dispose()
            t.app.extensions["hourbook"].readers.kw["bind"].dispose()

    rows: list[dict] = []
    for t in targets:
        n = human(t.built.postings)
        rows.append(result(f"{db}: data build, {n} postings ({len(t.built.clients):,} accounts)",
                           round(t.built.build_s, 1), "s"))
    rows.append(result(f"{db}: load average (1 min) after measuring, {os.cpu_count()} CPUs", round(load_after, 2),
                       "load"))
    p95_target = f"< {RENDER_P95_MS:g} ms"
    for t in targets:
        n = human(t.built.postings)
        samples = t.page_ns
        p95 = percentile(samples, 95) * ms
        rows += [
            result(f"{db}: widget page p50, {n}", round(statistics.median(samples) * ms, 3), "ms"),
            result(f"{db}: widget page p95, {n}", round(p95, 3), "ms", p95_target, passed=p95 < RENDER_P95_MS),
            result(f"{db}: widget page max, {n}", round(max(samples) * ms, 3), "ms"),
        ]
    ratio = p95_large / p95_small
    rows.append(result(f"{db}: widget page p95 ratio {human(large.postings)}/{human(small.postings)}",
                       round(ratio, 3), "x", f"< {GROWTH_RATIO:g}", passed=ratio < GROWTH_RATIO))
    for t in targets:
        n = human(t.built.postings)
        rows.append(result(f"{db}: fragment /part p95, {n}", round(percentile(t.part_ns, 95) * ms, 3), "ms",
                           f"< {RENDER_P95_MS:g} ms (info)", passed=percentile(t.part_ns, 95) * ms < RENDER_P95_MS))
    for t, w in zip(targets, weights):
        n = human(t.built.postings)
        assets = ", ".join(f"{urlsplit(u).path} {b / 1024:.1f}" for u, b in w["assets"].items())
        log(f"{db} {n}: page weight: HTML {w['html'] / 1024:.1f} KB (gzip {w['html_gz'] / 1024:.1f}); "
            f"assets KB: {assets}")
        if w["missing"] or w["foreign"]:
            log(f"  missing: {w['missing']}; other origins (not counted): {w['foreign']}")
        ok = w["raw"] < PAGE_KB * 1024 and not w["missing"]
        rows.append(result(f"{db}: page weight raw, {n} (HTML {w['html'] / 1024:.1f} KB + {len(w['assets'])} assets)",
                           round(w["raw"] / 1024, 1), "KB", f"< {PAGE_KB} KB", passed=ok))
        rows.append(result(f"{db}: page weight gzip, {n}", round(w["gzip"] / 1024, 1), "KB",
                           f"< {PAGE_KB} KB (info)", passed=w["gzip"] < PAGE_KB * 1024))
    return rows


def run(quick: bool = False, db: str = "sqlite", want_profile: bool = False) -> list[dict]:
    sizes = QUICK if quick else FULL
    dbs = ("sqlite", "postgresql") if db == "both" else (db,)
    return [row for name in dbs for row in run_one(name, sizes, want_profile)]


def _measured(row: dict) -> str:
    value, unit = row["measured"], row["unit"]
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "KB":
        return f"{value:.1f} KB"
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "load":
        return f"{value:.2f}"
    return f"{value:,} {unit}"


def format_table(rows: list[dict]) -> str:
    return figures_table(rows, _measured)


def main(argv: list[str] | None = None) -> int:
    return command("widget", __doc__, run, format_table, argv, "small sizes, for a smoke run", db=True,
                   profile_help="print a cProfile of the large database's renders")


if __name__ == "__main__":
    sys.exit(main())
