"""batch: envelope, $result references, halt, limits, counting (facts §6)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from .conftest import call, example


@pytest.fixture
def data(portal):
    t = portal.add_task("Воронка", 1)
    at = datetime(2026, 10, 1, 7, tzinfo=timezone.utc)
    return t, [portal.add_time(t, 1, 600 * (i + 1), at) for i in range(3)]


def _envelope(body):
    return {k: v for k, v in body.items() if k != "time"}


def test_batch_answer_has_the_documented_envelope(portal, hook, data):
    body = call(hook, "batch", {"halt": 0, "cmd": {
        "get_user": "user.current",
        "get_list": "task.elapseditem.getlist?0[ID]=asc"}}).json()
    documented = example("batch.json")
    assert set(body) == set(documented) and set(body["time"]) == set(example("time-object.json")["time"])
    res = body["result"]
    assert set(res) == set(documented["result"])
    assert res["result_error"] == [] and res["result_next"] == []
    assert res["result_total"] == {"get_list": 3}
    assert set(res["result_time"]) == {"get_user", "get_list"}
    assert set(documented["result"]["result"]["get_user"]) <= set(res["result"]["get_user"])


def test_result_references_chain_calls(portal, hook, data):
    task, records = data
    body = call(hook, "batch", {"cmd": {
        "list": "task.elapseditem.getlist?0[ID]=desc",
        "one": "task.elapseditem.get?0=$result[list][0][TASK_ID]&1=$result[list][0][ID]",
        "task": "tasks.task.get?taskId=$result[one][0][TASK_ID]&select[]=ID&select[]=TIME_SPENT_IN_LOGS",
        "count": "user.get?filter[ID]=$total[list]",
    }}).json()["result"]
    assert body["result_error"] == []
    assert body["result"]["one"][0]["ID"] == str(records[-1])
    assert body["result"]["task"]["task"]["timeSpentInLogs"] == "3600"
    assert [u["ID"] for u in body["result"]["count"]] == []   # there is no user 3


def test_cmd_as_a_list_gives_lists(portal, hook, data):
    body = call(hook, "batch", {"cmd": ["server.time", "profile"]}).json()["result"]
    assert isinstance(body["result"], list) and len(body["result"]) == 2
    assert body["result"][1]["ID"] == "1"


def test_reference_to_a_missing_value_fails_that_command(portal, hook, data):
    body = call(hook, "batch", {"cmd": {
        "list": "task.elapseditem.getlist?0[ID]=asc",
        "bad": "task.elapseditem.get?0=$result[list][7][TASK_ID]&1=1",
        "after": "profile"}}).json()["result"]
    assert set(body["result"]) == {"list", "after"}
    assert body["result_error"]["bad"]["error"] == "INVALID_ARG_VALUE"


def test_halt_0_and_halt_1_match_the_documented_answers(emu, portal, receiver):
    emu.register_app("app.nouser", "s", receiver.url, scope="task")
    tok = emu.grant_tokens(portal, "app.nouser")["access_token"]
    cmd = {"get_user": "user.current", "get_department": "user.get?ID=1"}
    halt0 = call(portal.client_endpoint, "batch", {"halt": 0, "cmd": cmd}, auth=tok)
    assert halt0.status_code == 200
    assert _envelope(halt0.json()) == _envelope(example("batch.error-halt0.json"))
    halt1 = call(portal.client_endpoint, "batch", {"halt": 1, "cmd": cmd}, auth=tok)
    assert _envelope(halt1.json()) == _envelope(example("batch.error-halt1.json"))


def test_more_than_50_commands_fail_beyond_the_50th(portal, hook):
    body = call(hook, "batch", {"cmd": {f"c{i}": "server.time" for i in range(53)}}).json()["result"]
    assert len(body["result"]) == 50
    assert {k: v["error"] for k, v in body["result_error"].items()} == {
        f"c{i}": "ERROR_BATCH_LENGTH_EXCEEDED" for i in (50, 51, 52)}


def test_nested_batch_is_not_allowed(portal, hook):
    body = call(hook, "batch", {"cmd": {"inner": "batch?cmd[a]=profile"}}).json()["result"]
    assert body["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_form_encoded_batch_and_counters(emu, portal, hook, data):
    emu.reset_counts()
    r = call(hook, "batch", {"halt": "0", "cmd": {"a": "profile", "b": "server.time",
                                                  "c": "task.elapseditem.getlist?0[ID]=asc"}}, http="form")
    assert r.status_code == 200 and set(r.json()["result"]["result"]) == {"a", "b", "c"}
    assert emu.requests == {"batch": 1}
    assert emu.calls == {"batch": 1, "profile": 1, "server.time": 1, "task.elapseditem.getlist": 1}


def test_list_paging_inside_batch_reports_total_and_next(portal, hook):
    for i in range(60):
        portal.add_task(f"T{i}", 1)
    body = call(hook, "batch", {"cmd": {"p1": "tasks.task.list?select[]=ID&order[ID]=asc",
                                        "p2": "tasks.task.list?select[]=ID&order[ID]=asc&start=$next[p1]"}}
                ).json()["result"]
    assert body["result_total"] == {"p1": 60, "p2": 60}
    assert body["result_next"] == {"p1": 50}
    assert len(body["result"]["p2"]["tasks"]) == 10
