"""tasks.task.list / tasks.task.get (facts §4.4)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .conftest import assert_shape, call, example


def test_list_shape_keys_and_selected_fields(portal, hook):
    anna = portal.add_user("Анна", "Орлова", work_position="руководитель проекта")
    task = portal.add_task("Воронка", anna, crm=["CO_11"], tags=["crm"], auditors=[1],
                           deadline=datetime(2026, 12, 1, 19, tzinfo=timezone.utc))
    select = ["ID", "TITLE", "DESCRIPTION", "STATUS", "subStatus", "DEADLINE", "CREATED_DATE", "RESPONSIBLE_ID",
              "ACCOMPLICES", "AUDITORS", "TAGS", "PRIORITY", "MARK"]
    body = call(hook, "tasks.task.list", {"select": select}).json()
    documented = example("tasks.task.list.json")
    assert set(body) == set(documented) and body["total"] == 1
    assert_shape(body["result"], documented["result"], subset=True)
    row = body["result"]["tasks"][0]
    assert row["id"] == str(task) and row["status"] == "2" and "ufCrmTask" not in row
    assert row["tags"] == {str(portal.tag_ids["crm"]): {"id": portal.tag_ids["crm"], "title": "crm"}}
    with_crm = call(hook, "tasks.task.list", {"select": ["ID", "UF_CRM_TASK", "GROUP_ID", "PARENT_ID",
                                                        "CHANGED_DATE", "TIME_SPENT_IN_LOGS"]}).json()
    row = with_crm["result"]["tasks"][0]
    assert row["ufCrmTask"] == ["CO_11"] and row["groupId"] == "0" and row["parentId"] == "0"
    assert row["timeSpentInLogs"] is None   # no records yet


def test_get_shape(portal, hook):
    task = portal.add_task("Шаблон договора", 1, crm=["CO_11"], deadline=datetime(2026, 12, 1, tzinfo=timezone.utc))
    select = ["ID", "TITLE", "DESCRIPTION", "CREATED_BY", "RESPONSIBLE_ID", "DEADLINE", "UF_CRM_TASK"]
    body = call(hook, "tasks.task.get", {"taskId": task, "select": select}).json()
    assert_shape(body["result"], example("tasks.task.get.json")["result"], subset=True)
    assert body["result"]["task"]["ufCrmTask"] == ["CO_11"]
    missing = call(hook, "tasks.task.get", {"taskId": 999999})
    assert missing.status_code == 400


def test_filters(portal, hook):
    g = portal.add_group("Вектор — внедрение")
    ids = [portal.add_task(f"Задача {i}", 1, group_id=g if i % 2 else 0, crm=[f"CO_{11 + i % 3}"],
                           tags=["crm"] if i % 4 == 0 else [], parent_id=0, status=5 if i == 3 else 2)
           for i in range(8)]

    def found(filt):
        body = call(hook, "tasks.task.list", {"filter": filt, "select": ["ID"], "order": {"ID": "asc"}}).json()
        return [int(t["id"]) for t in body["result"]["tasks"]]

    assert found({"ID": ids[2]}) == [ids[2]]
    assert found({"ID": [ids[0], ids[5]]}) == [ids[0], ids[5]]
    assert found({">ID": ids[5]}) == ids[6:]
    assert found({"GROUP_ID": g}) == ids[1::2]
    assert found({"UF_CRM_TASK": "CO_12"}) == [ids[1], ids[4], ids[7]]
    assert found({"UF_CRM_TASK": ["CO_12", "CO_13"]}) == [i for n, i in enumerate(ids) if n % 3]
    assert found({"TAG": "crm"}) == [ids[0], ids[4]]
    assert found({"REAL_STATUS": 5}) == [ids[3]] == found({"STATUS": [5]})
    assert found({"!REAL_STATUS": 5}) == [i for i in ids if i != ids[3]]
    assert found({"RESPONSIBLE_ID": 1, "PARENT_ID": 0}) == ids


def test_changed_date_filter_sees_updates_and_ignores_time_records(portal, hook):
    old = datetime.now(timezone.utc) - timedelta(days=3)
    a = portal.add_task("Старая", 1, created_date=old)
    b = portal.add_task("Тоже старая", 1, created_date=old)
    since = (datetime.now(timezone.utc) - timedelta(minutes=5)).astimezone(timezone(timedelta(hours=3)))
    portal.update_task(a, title="Переименована")
    portal.add_time(b, 1, 600, datetime.now(timezone.utc))   # logging time does not touch the task
    body = call(hook, "tasks.task.list", {"filter": {">=CHANGED_DATE": since.isoformat()},
                                          "select": ["ID", "TITLE", "CHANGED_DATE"]}).json()
    assert [t["id"] for t in body["result"]["tasks"]] == [str(a)]


def test_paging_by_start_with_total_and_next_and_default_id_desc(portal, hook):
    ids = [portal.add_task(f"T{i}", 1) for i in range(120)]
    first = call(hook, "tasks.task.list", {"select": ["ID"]}).json()
    assert (first["total"], first["next"]) == (120, 50)
    assert first["result"]["tasks"][0]["id"] == str(ids[-1])   # ID descending by default
    last = call(hook, "tasks.task.list", {"select": ["ID"], "start": 100}).json()
    assert len(last["result"]["tasks"]) == 20 and "next" not in last
    seen = []
    start = 0
    while start is not None:
        page = call(hook, "tasks.task.list", {"select": ["ID"], "order": {"ID": "asc"}, "start": start}).json()
        seen += [int(t["id"]) for t in page["result"]["tasks"]]
        start = page.get("next")
    assert seen == ids


def test_visibility_for_non_admins(emu, portal, app):
    from .conftest import APP_ID

    anna = portal.add_user("Анна")
    group = portal.add_group("Ромашка", members=[anna])
    mine = portal.add_task("Моя", anna)
    in_group = portal.add_task("Групповая", 1, group_id=group)
    portal.add_task("Чужая", 1)
    tok = emu.grant_tokens(portal, APP_ID, anna)["access_token"]
    body = call(portal.client_endpoint, "tasks.task.list", {"select": ["ID"]}, auth=tok).json()
    assert sorted(int(t["id"]) for t in body["result"]["tasks"]) == [mine, in_group]
