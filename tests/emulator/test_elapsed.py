"""task.elapseditem.*: positional parameters, filters, paging, rights (facts §4.1)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from .conftest import APP_ID, assert_shape, call, example

MSK = timezone(timedelta(hours=3))


@pytest.fixture
def logged(portal):
    """Two tasks, 120 records on the first, 5 on the second."""
    anna = portal.add_user("Анна", "Орлова")
    t1 = portal.add_task("Воронка", anna, crm=["CO_11"])
    t2 = portal.add_task("Телефония", 1)
    start = datetime(2026, 10, 1, 10, 0, tzinfo=MSK)
    for i in range(120):
        portal.add_time(t1, anna, 600, start + timedelta(hours=i), f"запись {i}")
    for i in range(5):
        portal.add_time(t2, 1, 1800, start + timedelta(days=i))
    return anna, t1, t2


def test_getlist_shape_is_the_documented_one(portal, hook, logged):
    body = call(hook, "task.elapseditem.getlist", [logged[2], {"ID": "asc"}]).json()
    assert_shape({k: body[k] for k in ("result", "total")}, {k: example("task.elapseditem.getlist.json")[k]
                                                               for k in ("result", "total")})
    row = body["result"][0]
    assert all(isinstance(v, str) for v in row.values())
    assert row["CREATED_DATE"] == "2026-10-01T10:00:00+03:00" and row["MINUTES"] == "30"


def test_without_taskid_the_first_value_is_order_and_pages_are_50(portal, hook, logged):
    # b24-examples/task.elapseditem.getlist-request.webhook.txt: a JSON array, no TASKID.
    body = call(hook, "task.elapseditem.getlist", [{"ID": "desc"}, {">=CREATED_DATE": "2024-02-16"}]).json()
    assert len(body["result"]) == 50 and body["total"] == 125
    assert body["result"][0]["ID"] == str(max(portal.time))


def test_with_taskid_and_no_nav_params_all_rows_of_the_task(portal, hook, logged):
    body = call(hook, "task.elapseditem.getlist", {"TASKID": logged[1], "ORDER": {"ID": "asc"}}).json()
    assert len(body["result"]) == 120 and body["total"] == 120


def test_values_count_by_position_not_by_name(portal, hook, logged):
    # Keys are ignored: "FILTER" first is read as ORDER when it is an array (no TASKID).
    named_wrong = call(hook, "task.elapseditem.getlist", {"FILTER": {"ID": "asc"}, "ORDER": {"USER_ID": 1}}).json()
    assert named_wrong["total"] == 5   # the second value was used as the filter
    numeric = call(hook, "task.elapseditem.getlist",
                   {"0": {"ID": "asc"}, "1": {">ID": 1100}, "2": ["ID", "SECONDS"],
                    "3": {"NAV_PARAMS": {"nPageSize": 10, "iNumPage": 2}}}).json()
    assert [r["ID"] for r in numeric["result"]] == [str(i) for i in range(1111, 1121)]
    assert set(numeric["result"][0]) == {"ID", "SECONDS"} and numeric["total"] == 25


def test_nav_params_cap_at_50_and_pages_end_empty(portal, hook, logged):
    params = [logged[1], {"ID": "asc"}, {}, ["*"], {"NAV_PARAMS": {"nPageSize": 500, "iNumPage": 3}}]
    body = call(hook, "task.elapseditem.getlist", params).json()
    assert len(body["result"]) == 20 and body["total"] == 120
    params[4]["NAV_PARAMS"]["iNumPage"] = 4
    assert call(hook, "task.elapseditem.getlist", params).json()["result"] == []


def test_filters_by_id_user_and_created_date_with_offset(portal, hook, logged):
    anna = logged[0]
    q = [{"ID": "asc"}, {"!USER_ID": anna, "<CREATED_DATE": "2026-10-03T10:00:00+03:00"}]
    assert call(hook, "task.elapseditem.getlist", q).json()["total"] == 2
    # The same instant written in UTC selects the same rows.
    q[1]["<CREATED_DATE"] = "2026-10-03T07:00:00+00:00"
    assert call(hook, "task.elapseditem.getlist", q).json()["total"] == 2
    bad = call(hook, "task.elapseditem.getlist", [{"ID": "asc"}, {"COMMENT_TEXT": "x"}])
    assert bad.status_code == 400 and bad.json()["error"] == "ERROR_CORE"


def test_add_get_update_delete_round_trip_without_events(emu, portal, tokens, receiver, logged):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    assert call(ep, "event.bind", {"event": "ONTASKUPDATE", "handler": receiver.url + "/events"},
                auth=tok).status_code == 200
    task = logged[2]
    # b24-examples/task.elapseditem.add-request.oauth.txt
    added = call(ep, "task.elapseditem.add", {"TASKID": task, "ARFIELDS": {
        "SECONDS": 113, "COMMENT_TEXT": "comment text", "CREATED_DATE": "2026-09-30T18:00:00+03:00"}}, auth=tok)
    assert_shape(added.json(), example("task.elapseditem.add.json") | {"time": added.json()["time"]})
    rid = added.json()["result"]
    got = call(ep, "task.elapseditem.get", [task, rid], auth=tok).json()
    assert_shape(got["result"], example("task.elapseditem.get.json")["result"])   # a one-item list
    assert got["result"][0]["CREATED_DATE"] == "2026-09-30T18:00:00+03:00"
    spent = call(ep, "tasks.task.get", {"taskId": task, "select": ["TIME_SPENT_IN_LOGS"]}, auth=tok).json()
    assert spent["result"]["task"]["timeSpentInLogs"] == str(5 * 1800 + 113)
    upd = call(ep, "task.elapseditem.update", [task, rid, {"SECONDS": 900}], auth=tok).json()
    assert upd["result"] is None
    assert [r["SECONDS"] for r in portal.records() if r["ID"] == str(rid)] == ["900"]
    refused = call(ep, "task.elapseditem.update", [task, rid, {"USER_ID": 2}], auth=tok)
    assert refused.status_code == 400
    assert call(ep, "task.elapseditem.delete", [task, rid], auth=tok).json()["result"] is None
    assert str(rid) not in {r["ID"] for r in portal.records()}
    emu.flush_events()
    assert receiver.at("/events") == []   # time changes fire nothing (facts §4.3)


def test_errors_for_missing_task_and_foreign_records(emu, portal, app, logged):
    anna, t1, t2 = logged
    tok = emu.grant_tokens(portal, APP_ID, anna)["access_token"]
    ep = portal.client_endpoint
    r = call(ep, "task.elapseditem.get", [99999, 1], auth=tok)
    assert (r.status_code, r.json()) == (400, {"error": "ERROR_CORE", "error_description": "Task not found"})
    # Anna takes no part in t2: she sees none of its rows and may not read it.
    mine = call(ep, "task.elapseditem.getlist", [{"ID": "asc"}, {}, [], {"NAV_PARAMS": {"nPageSize": 50}}],
                auth=tok).json()
    assert mine["total"] == 120
    denied = call(ep, "task.elapseditem.getlist", [t2], auth=tok)
    assert denied.json() == example("task.elapseditem.getlist.error.json")


def test_manifest_is_the_documented_one(portal, hook):
    body = call(hook, "task.elapseditem.getmanifest").json()
    assert body["result"] == example("task.elapseditem.getmanifest.json")["result"]


def test_batch_query_string_with_php_keys(portal, hook, logged):
    cmd = "task.elapseditem.getlist?0[ID]=desc&1[TASK_ID]=%d&2[0]=ID&3[NAV_PARAMS][nPageSize]=2" % logged[2]
    body = call(hook, "batch", {"cmd": {"last": cmd}}).json()["result"]
    assert [r["ID"] for r in body["result"]["last"]] == [str(max(portal.time)), str(max(portal.time) - 1)]
    assert body["result_total"] == {"last": 5}


def test_portal_records_match_the_api(portal, hook, logged):
    rows = call(hook, "task.elapseditem.getlist", [{"ID": "asc"}, {"TASK_ID": logged[2]}]).json()["result"]
    assert rows == [r for r in portal.records() if r["TASK_ID"] == str(logged[2])]
    assert requests.get(hook + "task.elapseditem.getlist", timeout=5).json()["total"] == 125
