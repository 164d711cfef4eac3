"""A second opinion on the emulator: fast_bitrix24, a client written and used
against real portals, must behave against it as it does against them.

What fast_bitrix24 does is taken from its source (libraries.md §A, version
1.8.14): every non-raw call goes through `batch`; `get_all` makes one plain
request, then packs the remaining pages (offset `start`, 50 items each) into
batches of 50 commands; HTTP 5xx (503 QUERY_LIMIT_EXCEEDED included) is
retried with backoff; a batch sub-call's error raises
ErrorInServerResponseException; a 4xx on a raw call raises aiohttp's
ClientResponseError with the status (the body is dropped); its own leaky
bucket (2 requests/s, pool 50) keeps it under a standard plan's limit.
Where the emulator answered differently from a documented behaviour, the
emulator was changed, not these tests.
"""
from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import aiohttp
import pytest
import requests

from emulators.bitrix24 import Faults

fast_bitrix24 = pytest.importorskip("fast_bitrix24")
from fast_bitrix24.server_response import ErrorInServerResponseException  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_client():
    # Its logger forces itself to DEBUG and logs whole answers (libraries.md §A4).
    logging.getLogger("fast_bitrix24").setLevel(logging.WARNING)


class InThread:
    """fast_bitrix24's sync client driven from a thread of its own, with a
    loop of its own. Its sync wrapper hands back an asyncio Task instead of
    the answer when the calling thread has a running loop (libraries.md
    §A5) — and a test worker that ran playwright's sync API before has one.
    One client per thread, as the library needs."""

    def __init__(self, hook: str) -> None:
        self._pool = ThreadPoolExecutor(1)
        self._bx = self._pool.submit(self._make, hook).result()

    @staticmethod
    def _make(hook: str):
        asyncio.set_event_loop(asyncio.new_event_loop())
        # operating_time_limit: the client sums `time.operating`, which the
        # portal documents as cumulative, and would sleep 600 s (§A4).
        return fast_bitrix24.Bitrix(hook, verbose=False, operating_time_limit=10**9)

    def __getattr__(self, name: str):
        method = getattr(self._bx, name)
        return lambda *args, **kwargs: self._pool.submit(method, *args, **kwargs).result()


def client(hook: str) -> InThread:
    return InThread(hook)


def http_requests(emu) -> int:
    return sum(n for method, n in emu.requests.items() if not method.startswith("oauth"))


def test_get_all_pages_every_task_once_in_the_documented_number_of_requests(emu, portal, hook):
    n = 2_600  # 52 pages: the first alone, then 51 pages in two batches
    for i in range(n):
        portal.add_task(f"Задача {i}", 1)
    before = http_requests(emu)
    tasks = client(hook).get_all("tasks.task.list", {"select": ["ID", "TITLE", "TIME_SPENT_IN_LOGS"]})
    assert sorted(int(t["id"]) for t in tasks) == sorted(portal.tasks)
    assert len(tasks) == n and {"id", "title", "timeSpentInLogs"} <= set(tasks[0])
    pages = math.ceil(n / 50)
    assert http_requests(emu) - before == 1 + math.ceil((pages - 1) / 50)


def test_a_batch_with_result_references(portal, hook):
    task = portal.add_task("Воронка", 1)
    records = [portal.add_time(task, 1, 600 * (i + 1), datetime(2026, 10, 1, 7, tzinfo=timezone.utc))
               for i in range(3)]
    result = client(hook).call_batch({"halt": 0, "cmd": {
        "list": "task.elapseditem.getlist?0[ID]=desc",
        "one": "task.elapseditem.get?0=$result[list][0][TASK_ID]&1=$result[list][0][ID]",
        "me": "profile",
    }})
    assert [r["ID"] for r in result["list"]] == [str(r) for r in reversed(records)]
    one = result["one"][0] if isinstance(result["one"], list) else result["one"]
    assert one["ID"] == str(records[-1]) and one["SECONDS"] == "1800"
    assert result["me"]["ID"] == "1"


def test_get_by_id_reads_many_objects_in_one_batch(emu, portal, hook):
    ids = [portal.add_task(f"T{i}", 1) for i in range(5)]
    before = http_requests(emu)
    got = client(hook).get_by_ID("tasks.task.get", ids, ID_field_name="taskId", params={"select": ["ID", "TITLE"]})
    assert http_requests(emu) - before == 1
    assert {int(k) for k in got} == set(ids)


def test_a_sub_call_error_raises_with_the_portals_error(portal, hook):
    task = portal.add_task("Воронка", 1)
    with pytest.raises(ErrorInServerResponseException) as caught:
        client(hook).call("tasks.task.get", {"taskId": task + 1000, "select": ["ID"]})
    (error,) = caught.value.args[0].values()
    assert error["error"] and error["error_description"]


def test_a_positional_method_through_a_batch_fails_as_on_a_real_portal(portal, hook):
    # fast_bitrix24 adds `__order` to every batch command; the legacy task.*
    # methods read values by position, so TASKID becomes "order0000000000"
    # and the portal refuses it in these words (b24phpsdk issue #180), which
    # is why fast_bitrix24's users are told to call them raw (its issues #157,
    # #197, #199).
    task = portal.add_task("Воронка", 1)
    with pytest.raises(ErrorInServerResponseException) as caught:
        client(hook).call("task.elapseditem.get", {"TASKID": task, "ITEMID": 1})
    (error,) = caught.value.args[0].values()
    assert error["error"] == "ERROR_CORE"
    assert error["error_description"].startswith("TASKS_ERROR_EXCEPTION_#256; Param #0 (taskId) for method "
                                                 "ctaskelapseditem::get() expected to be of type \"integer\"")
    assert error["error_description"].endswith("256/TE/WRONG_ARGUMENTS")


def test_an_unknown_method_and_a_wrong_webhook_are_http_errors(portal, hook):
    with pytest.raises(aiohttp.ClientResponseError) as unknown:
        client(hook).call("no.such.method", {}, raw=True)
    assert unknown.value.status == 404  # ERROR_METHOD_NOT_FOUND (facts §6)
    forged = hook.rstrip("/").rsplit("/", 1)[0] + "/notthesecret/"
    with pytest.raises(aiohttp.ClientResponseError) as refused:
        client(forged).call("profile", {}, raw=True)
    assert refused.value.status == 401  # NO_AUTH_FOUND (facts §7)


def test_503s_are_retried_until_an_answer(emu, portal, hook):
    emu.faults = Faults(fail_calls=0.5, seed=3, fail_kinds=("QUERY_LIMIT_EXCEEDED",))
    bx = client(hook)
    for _ in range(4):
        assert bx.call("profile", {}, raw=True)["result"]["ID"] == "1"
    assert emu.faults.injected["failed"] >= 1


def test_within_the_documented_rate_the_bucket_never_refuses(emu, portal, hook):
    # A standard plan: 2 requests/s drained, 50 in the bucket (facts §6).
    # fast_bitrix24's own throttle keeps to the same numbers, so 56 calls in a
    # row are paced, never refused.
    portal.rate_limit = (2.0, 50)
    emu.faults = Faults()
    bx = client(hook)
    for _ in range(56):
        bx.call("server.time", {}, raw=True)
    assert emu.refused["server.time"] == 0
    assert emu.requests["server.time"] == 56
    # The bucket is on: the same calls unpaced, straight after, are refused.
    answers = [requests.post(hook + "server.time", json={}, timeout=5).status_code for _ in range(20)]
    assert 503 in answers and emu.refused["server.time"] == answers.count(503)


def test_elapsed_records_raw_with_positional_params(portal, hook):
    # get_all cannot page task.elapseditem.getlist (NAV_PARAMS; libraries.md
    # §A4): raw calls with the documented order of parameters.
    task = portal.add_task("Интеграция", 1)
    at = datetime(2026, 10, 1, 7, tzinfo=timezone.utc)
    ids = [portal.add_time(task, 1, 60 * (i + 1), at) for i in range(60)]
    bx = client(hook)
    page = bx.call("task.elapseditem.getlist", [
        {"ID": "asc"}, {">ID": ids[49]}, ["ID", "SECONDS"], {"NAV_PARAMS": {"nPageSize": 50, "iNumPage": 1}},
    ], raw=True)
    assert [int(r["ID"]) for r in page["result"]] == ids[50:]
    assert page["result"][0]["SECONDS"] == str(60 * 51)
