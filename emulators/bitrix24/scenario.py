"""Portals full of plausible data: from a spec, from a seed, or the demo.

`load(emu, spec)` builds a portal from a plain dict (all references by
key, so a spec reads like a story):

    {"domain": "integrator.bitrix24.test", "plan": "basic", "time_zone": "Europe/Moscow",
     "users": [{"key": "pm", "name": "Анна", "last_name": "Соколова",
                "role": "руководитель проекта"},                    # staff
               {"key": "irina", "name": "Ирина", "client_of": "romashka",
                "user_type": "extranet"}],                          # a client's employee
     "companies": [{"key": "romashka", "title": "ООО «Ромашка»", "kind": "retainer"}],
     "groups": [{"key": "g1", "name": "Ромашка — сопровождение", "company": "romashka",
                 "members": ["pm", "irina"]}],
     "tasks": [{"key": "t1", "title": "Настроить воронку", "responsible": "pm",
                "company": "romashka",     # → UF_CRM_TASK ["CO_<id>"]; or "group": "g1"
                "tags": ["crm"], "parent": None, "status": 3, "created_by": "pm"}],
     "time": [{"key": "r1", "task": "t1", "user": "pm", "seconds": 600,
               "at": "2026-10-03T10:00:00+03:00",          # CREATED_DATE: the day worked
               "entered": "2026-10-05T09:00:00+03:00",     # DATE_START; later = back-dated
               "comment": "созвон"}],
     "edits": [{"record": "r1", "seconds": 900}],          # later edits by users
     "deletions": ["r2"]}

The portal admin (user 1) is key "admin". Records are added in the order
they were *entered*, so record ids grow with entry time, not with the day
worked — as on a real portal. Edits and deletions come after all entries
and fire no events (facts §4.3).

The returned portal tells the caller who is who: `p.companies` (title →
id), `p.kinds` (title → "retainer" | "staged" | "upfront"), `p.groups`,
`p.staff` [(user id, name, role)], `p.client_users` [(user id, name,
company title)] and `p.keys` (spec key → id per kind).

`generate(emu, seed, …)` makes such a spec at random, the same for the same
seed and `now`; `demo(emu)` is the integrator's portal the product demo uses.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .state import Portal

ROLES = ("руководитель проекта", "специалист техподдержки", "аккаунт-менеджер", "разработчик", "настройщик",
         "помощник руководителя проекта")
FIRST = ("Анна", "Дмитрий", "Мария", "Сергей", "Ольга", "Алексей", "Екатерина", "Павел", "Наталья", "Игорь",
         "Татьяна", "Михаил")
LAST = ("Смирнова", "Кузнецов", "Попова", "Васильев", "Новикова", "Морозов", "Волкова", "Лебедев", "Козлова",
        "Соколов", "Павлова", "Орлов")
WORK = ("Настроить воронку продаж", "Интеграция с телефонией", "Права доступа для отдела продаж",
        "Робот: напоминание менеджеру", "Импорт клиентской базы", "Отчёт по конверсии", "Бизнес-процесс согласования",
        "Обучение сотрудников", "Виджет на сайт", "Шаблоны документов", "Смарт-процесс «Заявки»",
        "Интеграция с 1С", "Чат-бот для открытых линий", "Дашборд руководителя", "Аудит настроек CRM",
        "Инструкция для менеджеров", "Настройка почты", "Карточка сделки: поля", "Автоматизация счетов",
        "Созвон по плану развития")
COMMENTS = ("созвон с клиентом", "настройка", "ответ в чате", "правки по замечаниям", "тестирование",
            "постановка задачи разработчику", "документация", "анализ требований", "")
TAGS = ("crm", "интеграция", "обучение", "роботы", "отчёты")


def _at(value: Any, tz: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = clock.parse(value, tz)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    return parsed


def load(emu, spec: dict) -> Portal:
    """Build a portal from a spec (see the module docstring)."""
    tz = spec.get("time_zone", "Europe/Moscow")
    p = emu.add_portal(spec.get("domain", "integrator.bitrix24.test"), spec.get("plan", "basic"), tz,
                       spec.get("lang", "ru"))
    keys: dict[str, dict[str, int]] = {"users": {"admin": 1}, "companies": {}, "groups": {}, "tasks": {},
                                       "time": {}}
    p.keys = keys
    for c in spec.get("companies", ()):
        cid = p.add_company(c["title"])
        keys["companies"][c.get("key", c["title"])] = cid
        if c.get("kind"):
            p.kinds[c["title"]] = c["kind"]
    titles = {key: p.company_rows[cid].title for key, cid in keys["companies"].items()}
    for u in spec.get("users", ()):
        uid = p.add_user(u["name"], u.get("last_name", ""), u.get("admin", False), u.get("time_zone", tz),
                         u.get("user_type", "employee"), u.get("email", ""), u.get("role", ""))
        keys["users"][u.get("key", str(uid))] = uid
        name = p.users[uid].full_name
        if u.get("client_of"):
            p.client_users.append((uid, name, titles[u["client_of"]]))
        elif u.get("role"):
            p.staff.append((uid, name, u["role"]))
    for g in spec.get("groups", ()):
        members = [keys["users"][m] for m in g.get("members", ())]
        gid = p.add_group(g["name"], members, keys["users"][g.get("owner", "admin")], g.get("extranet", False))
        keys["groups"][g.get("key", g["name"])] = gid
    for t in spec.get("tasks", ()):
        crm = list(t.get("crm", ()))
        if t.get("company"):
            crm.append(f"CO_{keys['companies'][t['company']]}")
        tid = p.add_task(
            t["title"], keys["users"][t["responsible"]],
            group_id=keys["groups"][t["group"]] if t.get("group") else 0, crm=crm, tags=t.get("tags", ()),
            parent_id=keys["tasks"][t["parent"]] if t.get("parent") else 0, status=t.get("status", 2),
            created_by=keys["users"][t.get("created_by", "admin")], created_date=_at(t.get("created"), tz),
            description=t.get("description", ""), time_estimate=t.get("time_estimate", 0))
        keys["tasks"][t.get("key", str(tid))] = tid
    entries = sorted(spec.get("time", ()), key=lambda r: _at(r.get("entered") or r["at"], tz))
    for r in entries:
        worked = _at(r["at"], tz)
        rid = p.add_time(keys["tasks"][r["task"]], keys["users"][r["user"]], r["seconds"], worked,
                         r.get("comment", ""), r.get("source", 2), date_start=_at(r.get("entered"), tz))
        keys["time"][r.get("key", str(rid))] = rid
    for e in spec.get("edits", ()):
        p.update_time(keys["time"][e["record"]], e.get("seconds"), _at(e.get("at"), tz), e.get("comment"))
    for key in spec.get("deletions", ()):
        p.delete_time(keys["time"][key])
    return p


def _work_moment(rng: random.Random, day: datetime) -> datetime:
    """A weekday office-hours moment on or before `day`'s date."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.replace(hour=rng.randint(9, 18), minute=rng.choice((0, 10, 15, 20, 30, 40, 45, 50)), second=0,
                       microsecond=0)


def _seconds(rng: random.Random) -> int:
    # Mostly short entries (10 minutes is a normal one), a few long sessions.
    return rng.choice((600, 600, 900, 1200, 1800, 1800, 2700, 3600, 5400, 7200, 10800))


def _time_records(rng: random.Random, now: datetime, since: datetime, count: int | None, task_keys: list[str],
                  workers_for: dict[str, list[str]], clients_for: dict[str, list[str]], backdated: float,
                  client_share: float, prefix: str = "r", hours: float | None = None,
                  until: datetime | None = None) -> list[dict]:
    """`count` records, or records adding up to `hours`, worked between `since` and `until` (now)."""
    until = min(until or now, now)
    span_days = max((until - since).total_seconds() / 86400, 0.01)
    budget = None if hours is None else int(hours * 3600)
    out = []
    i = 0
    while (budget is None and i < (count or 0)) or (budget is not None and budget >= 300):
        task = rng.choice(task_keys)
        clients = clients_for.get(task, [])
        user = rng.choice(clients) if clients and rng.random() < client_share else rng.choice(workers_for[task])
        worked = _work_moment(rng, until - timedelta(days=rng.uniform(0, span_days)))
        if worked < since:
            worked += timedelta(days=2)
        if worked > until:
            worked -= timedelta(days=1)
        entered = worked + timedelta(seconds=_seconds(rng))
        if rng.random() < backdated:   # logged by hand days later
            entered = worked + timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 5))
        seconds = _seconds(rng)
        if budget is not None:
            seconds = min(seconds, budget - budget % 300)
            budget -= seconds
        out.append({"key": f"{prefix}{i}", "task": task, "user": user, "seconds": seconds,
                    "at": worked, "entered": min(entered, now), "comment": rng.choice(COMMENTS)})
        i += 1
    return out


def _later_changes(rng: random.Random, records: list[dict], edits: float, deletions: float) -> tuple[list, list]:
    keys = [r["key"] for r in records]
    changed = rng.sample(keys, int(len(keys) * edits))
    edit_list = [{"record": k, "seconds": _seconds(rng)} for k in changed]
    rest = [k for k in keys if k not in set(changed)]
    return edit_list, rng.sample(rest, int(len(keys) * deletions))


def generated_spec(seed: int, companies: int = 3, tasks: int = 40, months: int = 2, records: int = 600,
                   staff: int = 6, now: datetime | None = None, domain: str | None = None, plan: str = "basic",
                   time_zone: str = "Europe/Moscow", edits: float = 0.05, deletions: float = 0.03,
                   backdated: float = 0.1, client_share: float = 0.05) -> dict:
    rng = random.Random(seed)
    now = (now or clock.now()).astimezone(clock.zone(time_zone)).replace(second=0, microsecond=0)
    users = []
    for i in range(staff):
        users.append({"key": f"s{i}", "name": FIRST[i % len(FIRST)], "last_name": LAST[(i * 5) % len(LAST)],
                      "role": ROLES[i % len(ROLES)]})
    comps, groups, clients_of = [], [], {}
    kinds = ("retainer", "staged", "upfront")
    for c in range(companies):
        key = f"c{c}"
        comps.append({"key": key, "title": f"Клиент {c + 1}", "kind": kinds[c % 3]})
        client = {"key": f"x{c}", "name": rng.choice(FIRST), "last_name": rng.choice(LAST), "client_of": key,
                  "user_type": "extranet"}
        users.append(client)
        team = rng.sample([u["key"] for u in users if u.get("role")], k=min(3, staff))
        groups.append({"key": f"g{c}", "name": f"Клиент {c + 1} — проект", "company": key,
                       "members": team + [client["key"]], "owner": team[0]})
        clients_of[key] = ([client["key"]], team)
    task_specs, workers_for, clients_for = [], {}, {}
    for t in range(tasks):
        c = rng.randrange(companies)
        ckey, group = f"c{c}", groups[c]
        spec = {"key": f"t{t}", "title": f"{rng.choice(WORK)} #{t + 1}", "responsible": rng.choice(group["members"][:-1]),
                "tags": rng.sample(TAGS, k=rng.randint(0, 2)), "status": rng.choice((2, 3, 3, 5)),
                "created": now - timedelta(days=months * 30 + rng.randint(1, 20))}
        # A task belongs to its client by CRM binding, by workgroup, or both (PRODUCT.md "Account").
        how = rng.random()
        if how < 0.5:
            spec["company"] = ckey
        if how >= 0.3:
            spec["group"] = group["key"]
        if t > 3 and rng.random() < 0.15:
            parent = rng.choice([s for s in task_specs if s.get("company") == spec.get("company")] or task_specs)
            spec["parent"] = parent["key"]
        task_specs.append(spec)
        clients, team = clients_of[ckey]
        workers_for[spec["key"]] = team
        if spec.get("group"):
            clients_for[spec["key"]] = clients
    time_specs = _time_records(rng, now, now - timedelta(days=months * 30), records, [t["key"] for t in task_specs],
                               workers_for, clients_for, backdated, client_share)
    edit_list, deleted = _later_changes(rng, time_specs, edits, deletions)
    return {"domain": domain or f"gen{seed}.bitrix24.test", "plan": plan, "time_zone": time_zone, "users": users,
            "companies": comps, "groups": groups, "tasks": task_specs, "time": time_specs, "edits": edit_list,
            "deletions": deleted}


def generate(emu, seed: int, companies: int = 3, tasks: int = 40, months: int = 2, records: int = 600,
             **options) -> Portal:
    """A random portal, the same for the same seed (and `now`, if given)."""
    return load(emu, generated_spec(seed, companies, tasks, months, records, **options))


def demo_spec(now: datetime | None = None, domain: str = "integrator.bitrix24.test", seed: int = 2026) -> dict:
    """The integrator's portal of the product demo (PRODUCT.md, seeds/)."""
    tz = "Europe/Moscow"
    rng = random.Random(seed)
    now = (now or clock.now()).astimezone(clock.zone(tz)).replace(second=0, microsecond=0)
    users = [
        {"key": "pm", "name": "Анна", "last_name": "Орлова", "role": "руководитель проекта"},
        {"key": "pm2", "name": "Павел", "last_name": "Лебедев", "role": "руководитель проекта"},
        {"key": "support", "name": "Дмитрий", "last_name": "Кузнецов", "role": "специалист техподдержки"},
        {"key": "account", "name": "Мария", "last_name": "Попова", "role": "аккаунт-менеджер"},
        {"key": "dev", "name": "Сергей", "last_name": "Васильев", "role": "разработчик"},
        {"key": "config", "name": "Ольга", "last_name": "Новикова", "role": "настройщик"},
        {"key": "irina", "name": "Ирина", "last_name": "Клиентова", "client_of": "romashka",
         "user_type": "extranet"},
    ]
    companies = [
        {"key": "romashka", "title": "ООО «Ромашка»", "kind": "retainer"},   # 40 h a month
        {"key": "vector", "title": "АО «Вектор»", "kind": "staged"},
        {"key": "sokolova", "title": "ИП Соколова", "kind": "upfront"},
    ]
    teams = {"romashka": ["pm", "support", "account", "config", "dev"],
             "vector": ["pm2", "config", "dev", "account"],
             "sokolova": ["pm2", "support", "config"]}
    groups = [
        {"key": "g_romashka", "name": "Ромашка — сопровождение", "company": "romashka", "owner": "pm",
         "members": teams["romashka"] + ["irina"]},
        {"key": "g_vector", "name": "Вектор — внедрение", "company": "vector", "owner": "pm2",
         "members": teams["vector"]},
        {"key": "g_sokolova", "name": "Соколова — проект", "company": "sokolova", "owner": "pm2",
         "members": teams["sokolova"]},
    ]
    plan = {
        # Ромашка: bound by CRM (UF_CRM_TASK) and its group.
        "romashka": ("Воронка «Опт»: стадии и роботы", "Права доступа отдела продаж", "Интеграция с телефонией",
                     "Отчёт по конверсии для директора", "Шаблон договора", "Обучение менеджеров",
                     "Ответы на вопросы в чате", "Смарт-процесс «Рекламации»", "Импорт прайс-листа",
                     "Еженедельный созвон по плану развития", "Робот: просроченные сделки", "Настройка почты"),
        # Вектор: only the workgroup binds these (no CRM link), by stage.
        "vector": ("Этап 1. Аудит текущих процессов", "Этап 1. Схема воронок", "Этап 2. Настройка сделок",
                   "Этап 2. Карточка компании", "Этап 2. Интеграция с сайтом", "Этап 3. Интеграция с 1С",
                   "Этап 3. Обучение отдела продаж", "Этап 3. Приёмка"),
        # Соколова: CRM binding only, one project paid up front.
        "sokolova": ("Запуск CRM: базовая настройка", "Импорт клиентов из Excel", "Открытые линии и чат на сайте",
                     "Бизнес-процесс заказа", "Инструкция для администратора", "Телефония: сценарии звонков",
                     "Финальное обучение"),
    }
    tasks, workers_for, clients_for = [], {}, {}
    for company, titles in plan.items():
        for i, title in enumerate(titles):
            key = f"{company}{i}"
            spec = {"key": key, "title": title, "responsible": teams[company][i % len(teams[company])],
                    "created_by": teams[company][0], "tags": [rng.choice(TAGS)] if i % 3 == 0 else [],
                    "status": 5 if i < len(titles) // 3 else rng.choice((2, 3, 3)),
                    "created": now - timedelta(days=62 + i)}
            if company != "vector":
                spec["company"] = company
            if company != "sokolova":
                spec["group"] = f"g_{company}"
            tasks.append(spec)
            workers_for[key] = teams[company]
            if company == "romashka":
                clients_for[key] = ["irina"]
    tasks.append({"key": "romashka_sub", "title": "Роботы для стадии «Счёт»", "responsible": "config",
                  "created_by": "pm", "company": "romashka", "group": "g_romashka", "parent": "romashka0",
                  "status": 3, "created": now - timedelta(days=30)})
    workers_for["romashka_sub"] = teams["romashka"]
    tasks.append({"key": "internal", "title": "Внутреннее: обновить регламент", "responsible": "account",
                  "created_by": "admin", "status": 3, "created": now - timedelta(days=40)})
    workers_for["internal"] = ["account", "pm"]
    # Two months: the whole previous month and this one up to now. Hours a month: Ромашка a little
    # over its 40 h package, the two projects at their own pace; this month pro rata so far.
    first = now.replace(day=1, hour=0, minute=0)
    since = (first - timedelta(days=1)).replace(day=1)
    elapsed = (now - first).total_seconds() / ((first + timedelta(days=32)).replace(day=1) - first).total_seconds()
    per_month = {"romashka": 44, "vector": 30, "sokolova": 20, "internal": 4}
    records = []
    for company, hours in per_month.items():
        keys = [t["key"] for t in tasks if t["key"].startswith(company)]
        clients = clients_for if company == "romashka" else {}
        for label, start, end, share in (("a", since, first, 1.0), ("b", first, now, elapsed)):
            records += _time_records(rng, now, start, None, keys, workers_for, clients, backdated=0.08,
                                     client_share=0.07, prefix=f"r_{company}_{label}", hours=hours * share,
                                     until=end - timedelta(minutes=1))
    # Hand-made stories the demo shows: a record of last month edited this month, a duplicate deleted,
    # work done on the last day of last month logged on the 2nd of this month.
    first = first.replace(hour=10)
    last_month_end = first - timedelta(days=1)
    records += [
        {"key": "late", "task": "romashka3", "user": "pm", "seconds": 5400, "comment": "отчёт директору",
         "at": last_month_end.replace(hour=17), "entered": min(now, first + timedelta(days=1))},
        {"key": "dup_a", "task": "romashka6", "user": "support", "seconds": 1200, "comment": "ответ в чате",
         "at": min(now, first + timedelta(hours=2)), "entered": min(now, first + timedelta(hours=2, minutes=20))},
        {"key": "dup_b", "task": "romashka6", "user": "support", "seconds": 1200, "comment": "ответ в чате",
         "at": min(now, first + timedelta(hours=2)), "entered": min(now, first + timedelta(hours=2, minutes=21))},
        {"key": "fix_me", "task": "romashka1", "user": "config", "seconds": 7200, "comment": "права доступа",
         "at": last_month_end.replace(day=max(1, last_month_end.day - 5), hour=11),
         "entered": last_month_end.replace(day=max(1, last_month_end.day - 5), hour=13)},
        {"key": "client_time", "task": "romashka5", "user": "irina", "seconds": 3600,
         "comment": "обучение: присутствовала", "at": min(now, now - timedelta(days=3)),
         "entered": min(now, now - timedelta(days=3) + timedelta(hours=1))},
    ]
    edits = [{"record": "fix_me", "seconds": 5400, "comment": "права доступа (исправлено: 1,5 ч)"}]
    generated = records[:-5]
    edits += [{"record": r["key"], "seconds": _seconds(rng)} for r in rng.sample(generated[::2], 6)]
    deletions = ["dup_b"] + [r["key"] for r in rng.sample(generated[1::2], 3)]
    return {"domain": domain, "plan": "basic", "time_zone": tz, "users": users, "companies": companies,
            "groups": groups, "tasks": tasks, "time": records, "edits": edits, "deletions": deletions}


def demo(emu, now: datetime | None = None, domain: str = "integrator.bitrix24.test") -> Portal:
    """The integrator's portal: three clients (a 40 h retainer, a staged
    implementation, an upfront project), staff of every role, one client
    employee, workgroups, ~30 tasks and two months of time up to now."""
    return load(emu, demo_spec(now, domain))
