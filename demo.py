"""`python app.py demo`: a local Bitrix24 portal (the emulator) with an
integrator's four clients, Hourbook installed into it through the real
installer and OAuth flow, synced, and served; and a local amoCRM (the
second emulator) where the fourth client works, connected through the
manager's link and showing the client's hours in its company card. Nothing
else to start."""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from collections.abc import Callable
from typing import Any

import click
from babel import Locale
from sqlalchemy import func, select
from werkzeug.serving import make_server

from amocrm import widget as amocrm_widget
from emulators.amocrm import AmoEmulator
from emulators.bitrix24 import Emulator, scenario
from b24.models import SyncState
from ledger import calendar as cal
from ledger.balance import balance
from ledger.contracts import (
    Policies,
    add_account,
    add_direction,
    add_team_member,
    set_mode,
    set_retainer,
    set_staged,
    set_upfront,
)
from ledger.hours import format_hours
from ledger.access import add_recipient, create_cabinet_link
from reports.act import acts_of
from reports.agenda import add_note
from reports.models import ReportSettings
from ledger.models import Account, Contract, Portal, Stage, TimeEntry
from ledger.projects import accept_stage, add_item, project_status, record_payment, set_item_state, set_stage_dates
from ledger.advisor import advise, Item
from ledger.plan import tariff_options
from jobs.reports import check_alerts
from jobs.schedule import Scheduler

CLIENT_ID = "local.hourbook.demo"
# The amoCRM integration of the demo (its id is a UUID in amoCRM, §1.1).
AMO_CLIENT_ID = "7e1d5c0a-9b2f-4d63-8a41-0d3e5f6a7b8c"
AMO_SECRET = "demo-amocrm-integration-secret-0123456789"
NORTH = "ООО «Северный ветер»"  # the fourth client: its CRM is amoCRM


def stage_change(time_zone: str, now: datetime) -> datetime:
    """When the demo's staged client moved to its second stage: the 20th of last month."""
    start = cal.add_months(cal.month_start(cal.local_date(now, time_zone)), -1)
    return cal.local_midnight(start.replace(day=20), time_zone)


def setup_contracts(session, portal: Portal, p: Any, now: datetime, advance: bool = True) -> list[Account]:
    """What the integrator's manager would set up: three clients, their
    contracts and teams (from the portal's staff and workgroups). With
    `advance`, the staged client's first stage is finished on the 20th of
    last month at once (the demo instead replays the time records around
    it, see `_run`)."""
    set_mode(session, portal, "integrator", actor="demo")
    start = cal.add_months(cal.month_start(cal.local_date(now, portal.time_zone)), -1)
    companies, groups = p.keys["companies"], p.keys["groups"]
    romashka = add_account(session, portal, "ООО «Ромашка»", company_id=companies["romashka"],
                           group_ids=(groups["g_romashka"],), actor="demo", now=now)
    set_retainer(session, romashka, hours_s=40 * 3600, price_minor=100_000_00, starts_on=start,
                 title="Сопровождение 40", actor="demo", now=now)
    for name, hours, tag in [("CRM и воронки", 60, "crm"), ("Интеграции", 40, "интеграция"),
                             ("Роботы и автоматизация", 30, "роботы"), ("Обучение сотрудников", 30, "обучение")]:
        # the 160 h development plan
        add_direction(session, romashka, name, planned_s=hours * 3600, match_kind="tag", match_value=tag,
                      actor="demo", now=now)
    vector = add_account(session, portal, "АО «Вектор»", company_id=companies["vector"],
                         group_ids=(groups["g_vector"],), actor="demo", now=now)
    staged = set_staged(session, vector, stages=[("Аудит и проектирование", 20 * 3600, 60_000_00),
                                                 ("Настройка CRM", 40 * 3600, 120_000_00),
                                                 ("Обучение и запуск", 12 * 3600, 36_000_00)],
                        starts_on=start, policies=Policies(expiry_policy="rollover"),
                        title="Внедрение", actor="demo", now=now)
    sokolova = add_account(session, portal, "ИП Соколова", company_id=companies["sokolova"],
                           group_ids=(groups["g_sokolova"],), actor="demo", now=now)
    set_upfront(session, sokolova, budget_s=60 * 3600, price_minor=150_000_00, starts_on=start,
                title="Проект под ключ", actor="demo", now=now)
    for user_id, name, role in p.staff:
        add_team_member(session, portal, user_id, name=name, role=role, actor="demo", now=now)
    mid = stage_change(portal.time_zone, now)
    setup_projects(session, portal, p, vector, sokolova, now)
    if advance and mid < now:
        accept_first_stage(session, vector, now, mid)
    return [romashka, vector, sokolova]


# «Ромашка»'s development plan: (direction, the portal's task or None, a title for a task not created yet, hours)
PLAN = [
    ("CRM и воронки", "romashka0", "", 24), ("CRM и воронки", "romashka7", "", 16),
    ("Интеграции", "romashka2", "", 16), ("CRM и воронки", None, "Сквозная аналитика по рекламе", 20),
    ("Интеграции", "romashka8", "", 8), ("Роботы и автоматизация", "romashka10", "", 12),
    ("Обучение сотрудников", "romashka5", "", 12), ("Интеграции", None, "Обмен с 1С: счета и оплаты", 24),
    ("Обучение сотрудников", None, "Видеоинструкции для отдела продаж", 10),
]


def setup_steering(session, account: Account, p: Any, now: datetime) -> list[int]:
    """The client steers: «Ромашка»'s plan in the client's order, one
    request the manager accepted two days ago (telephony first) and one
    waiting (a cap on the robots). Returns the plan items' ids in order."""
    from datetime import timedelta

    from ledger.client_requests import accept, open_request
    from ledger.devplan import add_item, set_item_state
    from ledger.models import Direction

    directions = {d.name: d for d in session.execute(select(Direction).where(
        Direction.account_id == account.id)).scalars()}
    tasks = p.keys["tasks"]
    made = [add_item(session, account, direction_id=directions[name].id, task_id=tasks[key] if key else None,
                     title=title, planned_s=hours * 3600, actor="demo", now=now)
            for name, key, title, hours in PLAN]
    set_item_state(session, made[0], "done", actor="demo", now=now)
    set_item_state(session, made[2], "active", actor="demo", now=now)
    earlier = now - timedelta(days=2)
    first = open_request(session, account, "first", item_id=made[2].id, author="Ирина Петрова, директор",
                         source="cabinet", text="Звонки теряются, телефония важнее всего.", now=earlier)
    manager = next((f"{name} (#{uid})" for uid, name, role in p.staff if role == "руководитель проекта"), "demo")
    accept(session, first, actor=manager, now=earlier + timedelta(hours=3))
    open_request(session, account, "cap", item_id=made[5].id, cap_s=6 * 3600, author="Ирина Петрова, директор",
                 source="cabinet", text="Роботы подождут: не больше 6 часов в месяц.", now=now - timedelta(hours=5))
    return [i.id for i in made]


def announce_open_requests(hb: Any, account_id: int) -> None:
    """The chat hears of the demo's waiting request as of any other (once)."""
    from jobs.steering import announce_request
    from ledger.client_requests import requests_of

    with hb.sessions() as s:
        waiting = [r.request_id for r in requests_of(s, account_id, "open")]
    for request_id in waiting:
        hb.runner.enqueue(announce_request, request_id, job_id=f"request-chat-{request_id}")

def accept_first_stage(session, vector: Account, now: datetime, mid: datetime) -> None:
    """«Вектор» accepted its audit on the 20th of last month; the setup began then."""
    first = session.execute(select(Stage).join(Contract, Contract.id == Stage.contract_id).where(
        Contract.account_id == vector.id, Stage.position == 1)).scalar_one()
    accept_stage(session, vector, first.id, actor="demo", now=now, at=mid)


def setup_projects(session, portal: Portal, p: Any, vector: Account, sokolova: Account, now: datetime) -> None:
    """The seed's two clients (issue 16). «Вектор» pays stage by stage: the
    audit is done, accepted and paid; the CRM setup is paid and six days
    late; the launch is neither begun nor paid. «Соколова» paid the whole
    project up front: a list of settings with dates, two done (one of them
    late), the chat on the site three days late, the rest ahead."""
    tz = portal.time_zone
    today = cal.local_date(now, tz)
    start = cal.add_months(cal.month_start(today), -1)
    tasks = p.keys["tasks"]

    def day(n: int) -> date:
        return today + timedelta(days=n)

    def at(d: date, hour: int = 12) -> datetime:
        return min(now, cal.local_midnight(d, tz) + timedelta(hours=hour))

    stages = list(session.execute(select(Stage).join(Contract, Contract.id == Stage.contract_id).where(
        Contract.account_id == vector.id).order_by(Stage.position)).scalars())
    audit_due, setup_due = start.replace(day=20), day(-6)
    for stage, due_on, pay_due_on in zip(stages, (audit_due, setup_due, day(21)),
                                         (start, start.replace(day=20), day(7))):
        set_stage_dates(session, vector, stage.id, due_on=due_on, pay_due_on=pay_due_on, actor="demo", now=now)
    record_payment(session, vector, stages[0].id, True, actor="demo", now=at(start + timedelta(days=1)))
    record_payment(session, vector, stages[1].id, True, actor="demo", now=at(start.replace(day=21)))
    scope = [
        (0, "instruction", "Аудит текущих процессов", 8, audit_due, "vector0", start.replace(day=12)),
        (0, "setting", "Схема воронок продаж", 12, audit_due, "vector1", start.replace(day=18)),
        (1, "setting", "Сделки: стадии, поля, роботы", 14, day(-10), "vector2", day(-8)),
        (1, "setting", "Карточка компании", 8, setup_due, "vector3", None),
        (1, "integration", "Заявки с сайта в CRM", 18, setup_due, "vector4", None),
        # the launch is not begun: its tasks get linked when it starts
        (2, "integration", "Обмен с 1С", 6, day(14), None, None),
        (2, "training", "Обучение отдела продаж", 4, day(18), None, None),
        (2, "instruction", "Инструкция и приёмка", 2, day(21), None, None),
    ]
    for stage_n, kind, title, hours, due_on, task, done_on in scope:
        item = add_item(session, vector, kind=kind, title=title, planned_s=hours * 3600, due_on=due_on,
                        stage_id=stages[stage_n].id, task_ids=(tasks[task],) if task else (), actor="demo", now=now)
        if done_on is not None:
            set_item_state(session, vector, item.id, "done", actor="demo", now=at(done_on))
    set_stage_dates(session, sokolova, None, due_on=None, pay_due_on=start, actor="demo", now=now)
    record_payment(session, sokolova, None, True, actor="demo", now=at(start + timedelta(days=2)))
    scope = [
        ("setting", "Запуск CRM: базовая настройка", 10, start.replace(day=15), "sokolova0", start.replace(day=14),
         True),
        ("setting", "Импорт клиентов из Excel", 6, start.replace(day=25), "sokolova1", start.replace(day=27), True),
        ("integration", "Открытые линии и чат на сайте", 10, day(-3), "sokolova2", None, False),
        ("setting", "Бизнес-процесс заказа", 12, day(10), "sokolova3", None, False),
        ("instruction", "Инструкция для администратора", 4, day(14), "sokolova4", None, False),
        ("integration", "Телефония: сценарии звонков", 10, day(20), "sokolova5", None, False),
        ("training", "Финальное обучение", 8, day(25), "sokolova6", None, False),
    ]
    for kind, title, hours, due_on, task, done_on, accepted in scope:
        item = add_item(session, sokolova, kind=kind, title=title, planned_s=hours * 3600, due_on=due_on,
                        task_ids=(tasks[task],), actor="demo", now=now)
        if done_on is not None:
            set_item_state(session, sokolova, item.id, "done", actor="demo", now=at(done_on))
        if accepted:
            set_item_state(session, sokolova, item.id, "accepted", actor="demo",
                           now=at(done_on + timedelta(days=1)))


def rub(minor: int) -> str:
    return f"{minor // 100:,}".replace(",", "\u00a0") + "\u00a0₽"


def project_story(session, account: Account, now: datetime) -> list[str]:
    """What the demo says of a project, in the seed's terms: what was bought,
    what is done, what is late, what was paid, what leaving would take."""
    status = project_status(session, account.id, now)
    if status is None:
        return []
    items = status.items
    done = [i for i in items if i.state in ("done", "accepted")]
    lines = [f"  {account.name}: " + ("по этапам" if status.kind == "staged" else "оплачен сразу")
             + f", {len(items)} пунктов на {format_hours(status.planned_s)}, {rub(status.price_minor)}",
             f"    сделано {len(done)} из {len(items)}, потрачено {format_hours(status.spent_s)};"
             f" оплачено {rub(status.paid_minor)} из {rub(status.price_minor)}"]
    said = {"missed": "опаздывает на {n} дн.", "projected": "в таком темпе закончится на {n} дн. позже срока",
            "was": "закончен с опозданием на {n} дн."}
    for subject, late in status.late:
        name = f"«{subject.title}»" if hasattr(subject, "title") else (
            f"этап «{subject.name}»" if subject.id else "проект")
        lines.append(f"    {name} {said[late.kind].format(n=late.days)}")
    linked = sum(len(i.tasks) for i in items)
    lines.append(f"    уйти к другому подрядчику: python app.py export --account {account.id} --out handover/"
                 f" ({ru_count(len(done), 'готовый пункт', 'готовых пункта', 'готовых пунктов')},"
                 f" {ru_count(linked, 'задача', 'задачи', 'задач')} со ссылками)")
    return lines


def ru_count(n: int, one: str, few: str, many: str) -> str:
    """«1 задача», «3 задачи», «5 задач»: CLDR's Russian plural rule, from Babel."""
    form = Locale("ru").plural_form(n)
    return f"{n} {one if form == 'one' else few if form == 'few' else many}"


def add_north(p: Any, now: datetime) -> int:
    """The fourth client in the integrator's portal: a company, its tasks
    and this and last month's time. The client works in amoCRM; the
    integrator's staff log the time here, as for everyone."""
    u = p.keys["users"]
    company = p.add_company(NORTH)
    tz = p.time_zone
    first = cal.local_midnight(cal.month_start(cal.local_date(now, tz)), tz)
    # (title, who, status, tags): the "crm" tag puts a task in the development plan's direction.
    tasks = [("Воронка amoCRM: этапы и причины отказа", "pm", 3, ("crm",)), ("Интеграция сайта с amoCRM", "dev", 3, ()),
             ("Права менеджеров в amoCRM", "config", 5, ("crm",)), ("Салесбот для заявок", "config", 2, ("crm",))]
    ids = [p.add_task(title, u[who], crm=[f"CO_{company}"], tags=tags, status=status,
                      created_date=first - timedelta(days=40)) for title, who, status, tags in tasks]
    # (task, who, seconds, days before now): the last five weeks.
    log = [(0, "pm", 5400, 36), (1, "dev", 7200, 33), (2, "config", 3600, 31),
           (0, "pm", 3600, 9), (1, "dev", 10800, 7), (2, "config", 2700, 5), (3, "config", 4500, 3),
           (1, "dev", 5400, 2), (0, "pm", 1800, 1)]
    for task, who, seconds, days_ago in log:
        p.add_time(ids[task], u[who], seconds, now - timedelta(days=days_ago, hours=2), "работа по amoCRM")
    return company


def setup_north(session, portal: Portal, company_id: int, now: datetime) -> Account:
    start = cal.add_months(cal.month_start(cal.local_date(now, portal.time_zone)), -1)
    north = add_account(session, portal, NORTH, company_id=company_id, actor="demo", now=now)
    set_retainer(session, north, hours_s=20 * 3600, price_minor=50_000_00, starts_on=start,
                 title="Сопровождение amoCRM 20", actor="demo", now=now)
    add_direction(session, north, "Воронки и автоматизация", planned_s=30 * 3600, match_kind="tag",
                  match_value="crm", actor="demo", now=now)
    return north


def connect_amocrm(amo: AmoEmulator, app: Any, account: Any, hb_account_id: int, company_id: int | None) -> Any:
    """What the client's amoCRM admin does with the manager's link: opens
    it, allows access in amoCRM, chooses the company card. Real HTTP
    against Hourbook, the way a browser would go; the last answer."""
    import re
    from urllib.parse import parse_qs, urlsplit

    import requests

    from handlers.amocrm import panel

    with app.test_request_context("/"):
        link = panel(hb_account_id).connect_url
    page = requests.get(link, timeout=30)
    consent = re.search(r'href="([^"]+)" data-hb-consent', page.text)
    if page.status_code != 200 or consent is None:
        return page
    state = parse_qs(urlsplit(consent.group(1).replace("&amp;", "&")).query)["state"][0]
    back = requests.get(amo.authorize(account, AMO_CLIENT_ID, state), timeout=30, allow_redirects=False)
    if back.status_code != 303 or company_id is None:
        return back
    base = app.config["PUBLIC_URL"].rstrip("/")
    picker = requests.get(base + back.headers["Location"], timeout=30)
    token = re.search(r'name="t" value="([^"]+)"', picker.text)
    if token is None:
        return picker
    return requests.post(base + "/amocrm/company", data={"t": token.group(1), "company_id": company_id}, timeout=30)


def same_numbers(emu: Emulator, p: Any, company_id: int, amo: AmoEmulator, account: Any, amo_company_id: int,
                 user_id: int, url: str) -> str:
    """The fourth client's hours as the Bitrix24 widget shows them and as the
    amoCRM card's frame shows them: the same text, to the second."""
    import re

    import requests

    def summary(markup: str) -> str:
        found = re.search(r'<main id="hb-root"[^>]*>(.*?)</main>', markup, re.S)
        text = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
        return re.sub(r"\s+", " ", text).strip()

    frame_url, form = emu.open_frame(p, CLIENT_ID, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": str(company_id)})
    b24 = requests.post(frame_url, data=form, timeout=30).text
    token = amo.state.disposable(account, AMO_CLIENT_ID, user_id)
    answer = requests.post(url + "/amocrm/widget", data={"entity": "companies", "id": str(amo_company_id),
                                                         "lang": "ru"}, headers={"X-Auth-Token": token}, timeout=30)
    amo_page = requests.get(answer.json()["url"], timeout=30).text if answer.ok else ""
    left = re.search(r'class="hb-big-value[^"]*">(.*?)</div>', amo_page, re.S)
    shown = re.sub(r"\s+", " ", left.group(1)).strip() if left else "?"
    return f"yes ({shown})" if summary(b24) and summary(b24) == summary(amo_page) else "NO: they differ"


def hold_back(p: Any, since: datetime, company: str = "vector") -> list[Any]:
    """Take one client's time records dated from `since` out for now: the
    demo syncs the work before them first, as Hourbook would have seen it
    live, then logs them again (`log_again`)."""
    company_id, group_id = p.keys["companies"][company], p.keys["groups"][f"g_{company}"]

    def theirs(task_id: int) -> bool:
        task = p.tasks.get(task_id)
        return task is not None and (f"CO_{company_id}" in task.crm or task.group_id == group_id)

    later = [r for r in p.time.values() if r.created_date >= since and theirs(r.task_id)]
    for record in later:
        p.delete_time(record.id)
    return later


def log_again(p: Any, records: list[Any]) -> None:
    for r in sorted(records, key=lambda r: r.id):
        p.add_time(r.task_id, r.user_id, r.seconds, r.created_date, r.comment, r.source, r.date_start, r.date_stop)


def _wait_for(done: Any, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.3)
    raise click.ClickException(f"{what} did not finish in {timeout_s:.0f} s")


def _first_sync_done(hb: Any, portal_id: int) -> bool:
    with hb.sessions() as s:
        state = s.get(SyncState, portal_id)
        return state is not None and state.first_sync_at is not None


def _acts_made(hb: Any, account_id: int) -> bool:
    with hb.sessions() as s:
        return bool(acts_of(s, account_id))


def _synced(hb: Any, portal_id: int) -> int:
    with hb.sessions() as s:
        return s.execute(select(func.count()).select_from(TimeEntry).where(
            TimeEntry.portal_id == portal_id, TimeEntry.deleted.is_(False))).scalar_one()


def run(create_app: Callable[[dict], Any], port: int, emulator_port: int, instance: Path, serve: bool,
        amocrm_port: int | None = None) -> None:
    """`create_app` is the app factory (app.create_app), handed in by the command
    line so the demo and the app need not import each other."""
    # Ctrl-C (and a plain `kill`) stop both servers, whenever it comes, even
    # from a shell that had SIGINT ignored for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    servers: list[Any] = []
    try:
        _run(create_app, port, emulator_port, instance, serve, servers,
             amocrm_port if amocrm_port is not None else (emulator_port + 1 if emulator_port else 0))
    except KeyboardInterrupt:
        click.echo("stopping …")
    finally:
        for stop in reversed(servers):
            stop()


def _run(create_app: Callable[[dict], Any], port: int, emulator_port: int, instance: Path, serve: bool,
         servers: list[Any], amocrm_port: int = 0) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log in the demo's output
    now = datetime.now(timezone.utc)
    emu = Emulator().start(port=emulator_port)
    servers.append(emu.stop)
    p = scenario.demo(emu, now=now)
    p.rate_limit = (5.0, 250)  # an Enterprise plan's bucket: the demo need not wait
    north_company = add_north(p, now)
    # The local amoCRM: its consent page, and the fourth client's account on the next port.
    amo = AmoEmulator().start(www_port=amocrm_port)
    servers.append(amo.stop)
    amo_account = amo.add_account("severveter", NORTH, port=amocrm_port + 1 if amocrm_port else 0)
    amo.state.add_user(amo_account, "Олег Ветров, директор", "ru", admin=True)  # who connects it
    amo_new_user = amo.state.add_user(amo_account, "Алина Новикова", "ru")  # a new user: no Hourbook account
    amo_home = amo.state.add_company(amo_account, "Интегратор «Часы и люди»")  # the integrator, in the client's CRM
    amo.state.add_lead(amo_account, "Продление сопровождения на 2027 год", amo_home, 600_000)
    for name in ("ООО «Мебельный двор»", "ИП Кузьмин", "АО «Стройсервис»"):
        amo.state.add_lead(amo_account, f"Заказ: {name}", amo.state.add_company(amo_account, name), 150_000)
    db_file = instance / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    for old in (instance / "outbox").glob("*.eml"):  # the outbox belongs to the demo's database
        old.unlink()
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", port, lambda env, start: holder["app"](env, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({"DATABASE_URL": f"sqlite:///{db_file}", "B24_CLIENT_ID": CLIENT_ID,
                      "B24_CLIENT_SECRET": "demo-secret", "B24_OAUTH_SERVER": emu.url + "/",
                      "PUBLIC_URL": url, "START_RUNNER": False, "HEALTH_NEEDS_PORTAL": True,
                      "AMOCRM_CLIENT_ID": AMO_CLIENT_ID, "AMOCRM_CLIENT_SECRET": AMO_SECRET,
                      "AMOCRM_CONSENT_URL": amo.consent_url, "AMOCRM_DEV_HOSTS": "127.0.0.1"})
    holder["app"] = app
    emu.register_app(CLIENT_ID, "demo-secret", url)
    # The integration in amoCRM: redirect URI, disconnect hook, and the widget archive the project builds.
    amo.register_integration(AMO_CLIENT_ID, AMO_SECRET, url + "/amocrm/oauth", url + "/amocrm/hook")
    amo.upload_widget(AMO_CLIENT_ID, amocrm_widget.archive(amocrm_widget.files(url)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server.shutdown)
    click.echo(f"portal emulator: {emu.url}  (portal {p.domain})")
    click.echo(f"installing Hourbook into {p.domain} …")
    later = hold_back(p, stage_change(p.time_zone, now))
    response = emu.install(p, CLIENT_ID)
    if response.status_code != 200:
        raise click.ClickException(f"install failed: {response.status_code} {response.text[:200]}")
    emu.flush_events()
    hb = app.extensions["hourbook"]
    with hb.sessions() as s, s.begin():
        portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
        accounts = setup_contracts(s, portal, p, now, advance=False)
        accounts.append(setup_north(s, portal, north_company, now))
        change = stage_change(portal.time_zone, now)
        portal_id, account_ids = portal.id, [a.id for a in accounts]
        setup_steering(s, accounts[0], p, now)
        made = create_cabinet_link(s, accounts[0], actor="demo", label="Директор «Ромашки»", now=now)
        # The weekly report goes to the director and its summary to the project chat.
        add_recipient(s, accounts[0], "director@romashka.example", "Ирина Петрова, директор", alerts=True,
                      actor="demo", now=now)
        s.add(ReportSettings(account_id=accounts[0].id, weekly=True, send_hour=9, chat_dialog="chat1",
                             notify_user_ids="", alert_days=5, client_alerts=True))
        link = SimpleNamespace(id=made.id, nonce=made.nonce)
    with app.test_request_context():
        from handlers.cabinet import cabinet_url

        cabinet = cabinet_url(link)
    # Jobs start once the manager's setup is in: the first sync then counts
    # against the contracts, and /healthz turns 200 on a complete picture.
    hb.runner.start()
    Scheduler(hb.runner).start()
    announce_open_requests(hb, account_ids[0])
    click.echo("syncing time records …")
    _wait_for(lambda: _first_sync_done(hb, portal_id), "the first sync")
    # The staged client's first stage ended on the 20th of last month: the
    # work logged after it reaches the portal (and Hourbook) only now.
    with hb.sessions() as s, s.begin():
        accept_first_stage(s, s.get(Account, account_ids[1]), datetime.now(timezone.utc), change)
    log_again(p, later)
    hb.runner.enqueue(hb.jobs.sync_portal, portal_id, True, False, job_id=f"sync-{portal_id}-demo")
    hb.runner.enqueue(hb.jobs.close_periods, job_id="close-periods")
    _wait_for(lambda: _synced(hb, portal_id) >= len(p.time), "the second sync")
    # Last month closed (the close job, queued above): its act is made with
    # it; the weekly call left a note for the next report.
    _wait_for(lambda: _acts_made(hb, account_ids[0]), "last month's act")
    with hb.sessions() as s, s.begin():
        add_note(s, s.get(Account, account_ids[0]), call_on=cal.local_date(now, p.time_zone),
                 text="Клиент просит сначала закончить интеграцию с 1С, роботы — после неё.",
                 author="Анна Петрова (#1)", now=now)
        act_months = [a.period for a in acts_of(s, account_ids[0])]
    hb.runner.enqueue(check_alerts, job_id="alerts-demo")  # on the complete picture, not the first minute's
    # The fourth client's amoCRM admin opens the manager's link, allows access
    # in amoCRM and picks the integrator's company card.
    done = connect_amocrm(amo, app, amo_account, account_ids[3], amo_home)
    if done.status_code != 200:
        raise click.ClickException(f"connecting amoCRM failed: {done.status_code} {done.text[:200]}")
    # Last week's report for the fourth client: its summary lands on that card as a note.
    from jobs.reports import send_report
    from reports.build import previous_week, week_label

    with hb.sessions() as s:
        zone = s.get(Portal, portal_id).time_zone
    send_report(account_ids[3], week_label(previous_week(now, zone)), "demo")
    same = same_numbers(emu, p, north_company, amo, amo_account, amo_home, amo_new_user, url)
    with hb.sessions() as s:
        click.echo("")
        for account_id in account_ids:
            account = s.get(Account, account_id)
            b = balance(s, account_id, datetime.now(timezone.utc))
            if b is None:
                continue
            t = b.terms
            state = f"перерасход {format_hours(t.overage_s)}" if t.overage_s else f"осталось {format_hours(t.remaining_s)}"
            click.echo(f"  {account.name:<16} {b.label:<12} потрачено {format_hours(t.consumption_s):>12}, {state}")
    click.echo("\n  План развития «Ромашки» 160 ч / the 160 h development plan, 2 500 ₽/ч:")
    for option in tariff_options(160 * 3600, 2_500_00):
        if option.months and option.spare_s == 0:
            click.echo(f"    {option.tariff_h:>3} ч × {option.months} мес = "
                       f"{option.total_price_minor // 100:,} ₽ ({option.monthly_price_minor // 100:,} ₽/мес)"
                       .replace(",", " "))
    click.echo("\n  Проекты внедрения / implementation projects (seed 2):")
    with hb.sessions() as s:
        for account_id in account_ids[1:]:
            for line in project_story(s, s.get(Account, account_id), datetime.now(timezone.utc)):
                click.echo(line)
        vector_scope = project_status(s, account_ids[1], datetime.now(timezone.utc))
    if vector_scope is not None:
        advice = advise([Item(i.title, i.planned_s) for i in vector_scope.items], vector_scope.price_minor,
                        10 * 3600, cal.local_date(datetime.now(timezone.utc), "Europe/Moscow"),
                        monthly_budget_minor=120_000_00)
        chosen = advice.recommended
        click.echo("    советник для «Вектора» (бюджет 120 000 ₽ в месяц, 10 ч в неделю): "
                   + (f"{'сразу' if chosen.stages_n == 1 else f'{chosen.stages_n} этапа' if chosen.stages_n < 5 else '5 этапов'}, самый дорогой месяц"
                      f" {rub(chosen.max_month_minor)}, готово к {chosen.finish_on:%d.%m.%Y}" if chosen
                      else advice.reason))
    from sqlalchemy.exc import SQLAlchemyError

    from b24.client import RestError
    from b24.doctor import as_table, worst
    from jobs.doctor import diagnose

    try:
        checks = diagnose(portal_id)
    except (RestError, SQLAlchemyError, OSError) as err:
        # The jobs run beside it (a token refresh, a sync's write): the demo
        # goes on without the table rather than stop.
        click.echo(f"\n  The portal check could not run now ({err}); `python app.py doctor` runs it.")
    else:
        click.echo(f"\n  The portal check / проверка портала (python app.py doctor): {worst(checks).upper()}")
        click.echo(as_table(checks))
    company = p.keys["companies"]["romashka"]
    click.echo("\n  Open in a browser / откройте в браузере:")
    click.echo(f"    CRM card of «Ромашка» (the widget):   {emu.shell_url(p, CLIENT_ID, 1, 'CRM_COMPANY_DETAIL_TAB', {'ID': str(company)})}")
    click.echo(f"    the app page (manager, calculator):  {emu.shell_url(p, CLIENT_ID, 1, 'DEFAULT')}")
    click.echo(f"    the client's cabinet link:           {cabinet}")
    if act_months:
        click.echo(f"    last month's act ({act_months[0]}): PDF and XLSX on the app page (client «Ромашка», "
                   "Acts) and in the cabinet")
    click.echo(f"    chats and notifications (the portal): {emu.url}/p/{p.domain}/im")
    click.echo("    the client steers: in the widget «Попросить» (pause, hours, first, a question); the manager")
    click.echo("      accepts or declines on the app page (Запросы клиента); each request also goes to the chat")
    click.echo(f"    e-mails (no SMTP_URL: the outbox):    {Path(app.config['INSTANCE_PATH']) / 'outbox'}/")
    click.echo(f"\n  {NORTH} works in amoCRM (the local amoCRM, {amo_account.url}):")
    click.echo(f"    its company card, as a new user:      {amo.card_url(amo_account, 'companies', amo_home, amo_new_user, 'ru')}")
    click.echo(f"    the same card in English:             {amo.card_url(amo_account, 'companies', amo_home, amo_new_user, 'en')}")
    click.echo(f"    the card in Bitrix24, to compare:     {emu.shell_url(p, CLIENT_ID, 1, 'CRM_COMPANY_DETAIL_TAB', {'ID': str(north_company)})}")
    click.echo(f"    the same hours in both: {same}")
    click.echo(f"\nHourbook: {url}/   health: {url}/healthz   (Ctrl-C stops both)")
    while serve:
        time.sleep(3600)

