"""Leaky bucket, operating limit, injected call faults (facts §6)."""
from __future__ import annotations

import time

import pytest
import requests

from emulators.bitrix24 import Faults, clock

from .conftest import call


def test_leaky_bucket_refuses_after_the_burst_of_50(emu, portal, hook):
    portal.rate_limit = (2.0, 50)   # the basic plan (add_portal's default)
    with requests.Session() as s:
        codes = [s.post(hook + "server.time", timeout=5).status_code for _ in range(53)]
        # The bucket drains while we fill it, so on a slow machine a 51st may still fit.
        assert codes[:50] == [200] * 50 and codes[-1] == 503 and codes.count(200) <= 51
        refused = s.post(hook + "server.time", timeout=5)
        assert refused.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        time.sleep(0.6)   # drains 2 a second: one more fits
        assert s.post(hook + "server.time", timeout=5).status_code == 200


def test_enterprise_bucket_and_batch_counts_once(emu):
    p = emu.add_portal("vector.bitrix24.test", plan="enterprise")
    assert p.rate_limit == (5.0, 250)
    p.rate_limit = (1.0, 3)
    hook = p.webhook()
    batch = {"cmd": {f"c{i}": "server.time" for i in range(50)}}
    assert [call(hook, "batch", batch).status_code for _ in range(3)] == [200] * 3
    assert call(hook, "batch", batch).status_code == 503
    assert emu.calls["server.time"] == 150


def test_operating_limit_answers_429_and_resets(emu, portal, hook, monkeypatch):
    portal.operating_cost_s = {"task.elapseditem.getlist": 100.0}
    seen = []
    for _ in range(5):
        body = call(hook, "task.elapseditem.getlist", []).json()
        seen.append(body["time"]["operating"])
    assert seen == [100.0, 200.0, 300.0, 400.0, 500.0]
    reset_at = body["time"]["operating_reset_at"]
    assert 0 < reset_at - clock.now_ts() <= 600
    blocked = call(hook, "task.elapseditem.getlist", [])
    assert blocked.status_code == 429
    assert blocked.json() == {"error": "OPERATION_TIME_LIMIT",
                              "error_description": "Method is blocked due to operation time limit."}
    assert call(hook, "tasks.task.list").status_code == 200   # the limit is per method
    inside = call(hook, "batch", {"cmd": {"x": "task.elapseditem.getlist"}}).json()["result"]
    assert inside["result_error"]["x"]["error"] == "OPERATION_TIME_LIMIT"
    monkeypatch.setattr(clock, "offset_s", 601)
    assert call(hook, "task.elapseditem.getlist", []).status_code == 200


def test_failed_calls_are_503_or_500_and_do_nothing(emu, portal, hook):
    task = portal.add_task("T", 1)
    emu.faults = Faults(fail_calls=1.0, seed=7)
    answers = [call(hook, "task.elapseditem.add", [task, {"SECONDS": 60, "COMMENT_TEXT": ""}]) for _ in range(12)]
    assert {r.status_code for r in answers} == {500, 503}
    assert {r.json()["error"] for r in answers} == {"QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR"}
    assert portal.records() == []
    emu.faults = Faults(fail_calls=1.0, seed=7)
    again = [call(hook, "task.elapseditem.add", [task, {"SECONDS": 60, "COMMENT_TEXT": ""}]).status_code
             for _ in range(12)]
    assert again == [r.status_code for r in answers]   # same seed, same run


def test_timed_out_calls_still_take_effect(emu, portal, hook):
    task = portal.add_task("T", 1)
    emu.faults = Faults(timeout_calls=1.0, timeout_sleep_s=0.5)
    with pytest.raises(requests.Timeout):
        requests.post(hook + "task.elapseditem.add", json=[task, {"SECONDS": 60, "COMMENT_TEXT": "x"}], timeout=0.2)
    assert len(portal.records()) == 1   # the client never saw the answer, the portal has the record


def test_slow_calls(emu, portal, hook):
    emu.faults = Faults(slow_s=0.2)
    started = time.monotonic()
    assert call(hook, "server.time").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_request_and_call_counters(emu, portal, hook, tokens):
    emu.reset_counts()
    call(hook, "profile")
    call(hook, "tasks.task.list.json")
    requests.get(f"{emu.url}/oauth/token/", params={"grant_type": "x"}, timeout=5)
    assert emu.requests == {"profile": 1, "tasks.task.list": 1, "oauth/token": 1}
    assert emu.calls == {"profile": 1, "tasks.task.list": 1}
