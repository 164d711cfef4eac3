"""Events: binding, the wire format, offline queue, delivery faults (facts §3)."""
from __future__ import annotations

import time

import pytest

from emulators.bitrix24 import Faults
from emulators.bitrix24.php import parse_pairs

from .conftest import EXAMPLES, assert_shape, assert_wire_shape, call, example


@pytest.fixture
def bound(emu, portal, tokens, receiver):
    """ONTASKADD/ONTASKUPDATE/ONTASKDELETE bound to the receiver's /events."""
    ep, tok = portal.client_endpoint, tokens["access_token"]
    for event in ("ONTASKADD", "onTaskUpdate", "ONTASKDELETE"):   # names are case-insensitive
        assert call(ep, "event.bind", {"event": event, "handler": receiver.url + "/events"}, auth=tok).ok
    return ep, tok


def offline_example(name: str):
    """The documented answer with EVENT_DATA/EVENT_ADDITIONAL opened up: the
    examples show `false`, real records carry the event's data (facts §3.5)."""
    body = example(name)
    rows = body["result"] if isinstance(body["result"], list) else body["result"]["events"]
    for row in rows:
        row["EVENT_DATA"] = row["EVENT_ADDITIONAL"] = None
    return body


def received(receiver) -> list[dict]:
    return [parse_pairs(h["form"]) for h in receiver.at("/events")]


def test_task_events_are_form_encoded_like_the_documented_payload(emu, portal, receiver, bound):
    task = portal.add_task("Воронка", 1)
    portal.update_task(task, title="Воронка «Опт»")
    portal.delete_task(task)
    assert emu.flush_events()
    hits = receiver.at("/events")
    assert {h["content_type"] for h in hits} == {"application/x-www-form-urlencoded"}
    derived = (EXAMPLES / "ONTASKUPDATE.form-urlencoded.DERIVED.txt").read_text().split("\n\n")[0]
    wire_keys = {line.split("=", 1)[0] for line in derived.splitlines()}
    update = hits[1]
    assert {k for k, _ in update["form"]} == wire_keys | {"event_handler_id"}
    events = received(receiver)
    assert [e["event"] for e in events] == ["ONTASKADD", "ONTASKUPDATE", "ONTASKDELETE"]
    assert_wire_shape(events[0], example("ONTASKADD.json") | {"event_handler_id": "1"})
    assert events[0]["data"]["FIELDS_BEFORE"] == "undefined" and events[0]["data"]["FIELDS_AFTER"] == {"ID": str(task)}
    assert events[2]["data"]["IS_ACCESSIBLE_AFTER"] == "N"
    # The tokens in an event work.
    assert call(portal.client_endpoint, "profile", auth=events[0]["auth"]["access_token"]).status_code == 200
    assert [e["status_code"] for e in emu.events_sent] == [200, 200, 200]


def test_robot_changes_carry_no_tokens(emu, portal, receiver, bound):
    portal.events_without_tokens = True
    portal.add_task("Создана роботом", 1)
    emu.flush_events()
    auth = received(receiver)[0]["auth"]
    assert "access_token" not in auth and auth["member_id"] == portal.member_id


def test_bind_errors_get_and_unbind(emu, portal, receiver, bound):
    ep, tok = bound
    dup = call(ep, "event.bind", {"event": "ONTASKADD", "handler": receiver.url + "/events"}, auth=tok)
    assert dup.status_code == 400 and dup.json()["error"] == "ERROR_CORE"
    assert dup.json()["error_description"].startswith("Unable to set event handler")
    unknown = call(ep, "event.bind", {"event": "ONTASKELAPSEDTIMEADD", "handler": receiver.url}, auth=tok)
    assert (unknown.status_code, unknown.json()) == (400, example("event.bind.error.ERROR_EVENT_NOT_FOUND.json"))
    local = call(ep, "event.bind", {"event": "ONTASKADD", "handler": "http://localhost/x"}, auth=tok)
    assert local.json()["error"] == "ERROR_WRONG_HANDLER_URL"
    got = call(ep, "event.get", auth=tok).json()
    assert_shape(got, example("event.get.json") | {"time": got["time"]})
    assert [e["event"] for e in got["result"]] == ["ONTASKADD", "ONTASKUPDATE", "ONTASKDELETE"]
    gone = call(ep, "event.unbind", {"event": "ONTASKADD", "handler": receiver.url + "/events"}, auth=tok).json()
    assert_shape(gone, example("event.unbind.json") | {"time": gone["time"]})
    assert gone["result"] == {"count": 1}


def test_offline_queue_merges_per_object_and_clears(emu, portal, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    assert call(ep, "event.bind", {"event": "ONTASKUPDATE", "event_type": "offline"}, auth=tok).json()["result"]
    a, b = portal.add_task("A", 1), portal.add_task("B", 1)
    for _ in range(3):
        portal.update_task(a, status=3)
    portal.update_task(b, status=3)
    listed = call(ep, "event.offline.list", auth=tok).json()
    assert_shape(listed, offline_example("event.offline.list.json") | {"time": listed["time"]})
    assert listed["total"] == 2   # three changes of A are one record
    reserved = call(ep, "event.offline.get", {"clear": 0, "limit": 1}, auth=tok).json()["result"]
    assert_shape(reserved, {"process_id": "x", "events": offline_example("event.offline.get.json")["result"]["events"]})
    assert reserved["events"][0]["EVENT_DATA"]["FIELDS_AFTER"]["ID"] == a
    again = call(ep, "event.offline.get", {"process_id": reserved["process_id"]}, auth=tok).json()["result"]
    assert [e["ID"] for e in again["events"]] == [e["ID"] for e in reserved["events"]]
    cleared = call(ep, "event.offline.clear", {"process_id": reserved["process_id"]}, auth=tok).json()
    assert_shape(cleared, example("event.offline.clear.json") | {"time": cleared["time"]})
    rest = call(ep, "event.offline.get", auth=tok).json()["result"]   # clear=1: read and delete
    assert rest["process_id"] is None and [e["EVENT_DATA"]["FIELDS_AFTER"]["ID"] for e in rest["events"]] == [b]
    assert call(ep, "event.offline.get", auth=tok).json()["result"]["events"] == []


def test_offline_changes_wake_onofflineevent_at_most_every_min_timeout(emu, portal, tokens, receiver):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    call(ep, "event.bind", {"event": "ONTASKUPDATE", "event_type": "offline"}, auth=tok)
    call(ep, "event.bind", {"event": "ONOFFLINEEVENT", "handler": receiver.url + "/events",
                            "options": {"minTimeout": 30}}, auth=tok)
    task = portal.add_task("A", 1)
    for _ in range(5):
        portal.update_task(task, status=3)
    emu.flush_events()
    events = received(receiver)
    assert [e["event"] for e in events] == ["ONOFFLINEEVENT"]
    assert "data" not in events[0] and "refresh_token" in events[0]["auth"]   # "data": [] is empty on the wire


def test_drop_and_duplicate_faults(emu, portal, receiver, bound):
    emu.faults = Faults(drop_events=1.0)
    portal.add_task("Потеряно", 1)
    emu.flush_events()
    assert receiver.at("/events") == [] and len(emu.events_dropped) == 1
    emu.faults = Faults(duplicate_events=1.0)
    portal.add_task("Дважды", 1)
    emu.flush_events()
    events = received(receiver)
    assert [e["event"] for e in events] == ["ONTASKADD", "ONTASKADD"] and events[0] == events[1]


def test_reorder_and_delay_faults(emu, portal, receiver, bound):
    emu.faults = Faults(reorder_events=True, seed=3)
    tasks = [portal.add_task(f"T{i}", 1) for i in range(8)]
    assert emu.flush_events()
    order = [int(e["data"]["FIELDS_AFTER"]["ID"]) for e in received(receiver)]
    assert sorted(order) == tasks and order != tasks
    emu.faults = Faults(delay_events_s=0.3)
    started = time.monotonic()
    portal.update_task(tasks[0], title="позже")
    assert len(receiver.at("/events")) == 8
    assert emu.flush_events()
    assert len(receiver.at("/events")) == 9 and time.monotonic() - started >= 0.3


def test_events_test_method_echoes_the_query(emu, portal, tokens, receiver):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    call(ep, "event.bind", {"event": "ONAPPTEST", "handler": receiver.url + "/events"}, auth=tok)
    call(ep, "event.test", {"any": "data"}, auth=tok)
    emu.flush_events()
    assert received(receiver)[0]["data"]["QUERY"] == {"any": "data"}


def test_reserving_offline_events_needs_the_extended_feature(emu, portal, tokens):
    ep, tok = portal.client_endpoint, tokens["access_token"]
    assert call(ep, "feature.get", {"CODE": "rest_offline_extended"}, auth=tok).json()["result"] == {"value": "Y"}
    portal.features["rest_offline_extended"] = False
    assert_shape(call(ep, "feature.get", {"CODE": "rest_offline_extended"}, auth=tok).json(),
                 example("feature.get.json") | {"time": example("time-object.json")["time"]})
    r = call(ep, "event.offline.get", {"clear": 0}, auth=tok)
    assert (r.status_code, r.json()["error"]) == (403, "WRONG_LICENSE")
    assert call(ep, "event.offline.get", auth=tok).status_code == 200   # clear=1 works on every plan
