"""Scenario loader, seeded generator and the demo portal."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from emulators.bitrix24 import Emulator
from emulators.bitrix24.scenario import demo, generate, load

from .conftest import call

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)


def _story(p):
    return ([(t.title, t.responsible_id, t.group_id, t.crm, t.tags, t.parent_id) for t in p.tasks.values()],
            p.records())


def test_generate_is_the_same_for_the_same_seed(emu):
    a = generate(emu, seed=5, companies=3, tasks=12, months=2, records=150, now=NOW, domain="a.bitrix24.test")
    b = generate(emu, seed=5, companies=3, tasks=12, months=2, records=150, now=NOW, domain="b.bitrix24.test")
    c = generate(emu, seed=6, companies=3, tasks=12, months=2, records=150, now=NOW, domain="c.bitrix24.test")
    assert _story(a) == _story(b) != _story(c)
    assert len(a.tasks) == 12 and len(a.companies) == 3
    assert 150 * 0.9 < len(a.time) <= 150   # some records were deleted later
    assert all(r["CREATED_DATE"] <= "2026-11-18T15:00:00+03:00" for r in a.records())


def test_load_resolves_keys_and_orders_records_by_entry(emu):
    p = load(emu, {
        "domain": "spec.bitrix24.test",
        "users": [{"key": "pm", "name": "Анна", "role": "руководитель проекта"},
                  {"key": "irina", "name": "Ирина", "client_of": "romashka", "user_type": "extranet"}],
        "companies": [{"key": "romashka", "title": "ООО «Ромашка»", "kind": "retainer"}],
        "groups": [{"key": "g", "name": "Ромашка", "company": "romashka", "members": ["pm", "irina"]}],
        "tasks": [{"key": "t", "title": "Воронка", "responsible": "pm", "company": "romashka", "group": "g"}],
        "time": [{"key": "late", "task": "t", "user": "pm", "seconds": 600, "at": "2026-10-31T17:00:00+03:00",
                  "entered": "2026-11-02T10:00:00+03:00"},
                 {"key": "early", "task": "t", "user": "irina", "seconds": 300, "at": "2026-11-01T12:00:00+03:00"}],
        "edits": [{"record": "early", "seconds": 900}],
        "deletions": [],
    })
    cid = p.companies["ООО «Ромашка»"]
    assert p.tasks[p.keys["tasks"]["t"]].crm == [f"CO_{cid}"]
    assert p.keys["time"]["early"] < p.keys["time"]["late"]   # ids follow entry time, not the day worked
    late = next(r for r in p.records() if r["ID"] == str(p.keys["time"]["late"]))
    assert (late["CREATED_DATE"], late["DATE_START"]) == ("2026-10-31T17:00:00+03:00", "2026-11-02T10:00:00+03:00")
    assert p.staff == [(p.keys["users"]["pm"], "Анна", "руководитель проекта")]
    assert p.client_users == [(p.keys["users"]["irina"], "Ирина", "ООО «Ромашка»")]


def test_demo_portal_tells_who_is_who():
    with Emulator() as emu:
        p = demo(emu, now=NOW)
        p.rate_limit = None
        assert set(p.companies) == {"ООО «Ромашка»", "АО «Вектор»", "ИП Соколова"}
        assert p.kinds == {"ООО «Ромашка»": "retainer", "АО «Вектор»": "staged", "ИП Соколова": "upfront"}
        roles = Counter(role for _, _, role in p.staff)
        assert set(roles) >= {"руководитель проекта", "специалист техподдержки", "аккаунт-менеджер",
                              "разработчик", "настройщик"}
        (client_id, _, company), = p.client_users
        assert company == "ООО «Ромашка»" and p.users[client_id].user_type == "extranet"
        assert 25 <= len(p.tasks) <= 35 and p.time_zone == "Europe/Moscow"
        records = p.records()
        assert any(r["USER_ID"] == str(client_id) for r in records)
        assert any(r["CREATED_DATE"][:10] < r["DATE_START"][:10] for r in records)   # back-dated entries
        assert len(records) < len(p.keys["time"])                                    # deletions happened
        # Tasks reach their client by CRM binding or by workgroup.
        hook = p.webhook()
        romashka = p.companies["ООО «Ромашка»"]
        by_crm = call(hook, "tasks.task.list", {"filter": {"UF_CRM_TASK": f"CO_{romashka}"}}).json()["total"]
        by_group = call(hook, "tasks.task.list", {"filter": {"GROUP_ID": p.groups["Вектор — внедрение"]}}).json()
        assert by_crm >= 12 and by_group["total"] == 8
        # About two months of work: Ромашка's hours are around the 40 h package.
        hours = sum(int(r["SECONDS"]) for r in records
                    if p.tasks[int(r["TASK_ID"])].crm == [f"CO_{romashka}"]) / 3600
        assert 40 < hours < 200
