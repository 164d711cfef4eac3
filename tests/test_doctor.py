"""`python app.py doctor` (b24/doctor.py): passes against the emulator's
portals, app and webhook, and against a portal that breaks an assumption
fails the right check with the fix named; writes nothing to the portal."""
from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from b24.doctor import FAIL, PASS, READ_METHODS, SKIP, WARN, Probe
from commands import cli
from emulators.bitrix24 import Emulator, Faults
from tests.live import CLIENT_ID, serve_app


def busy_portal(emu, domain: str = "doctor.bitrix24.test", records: int = 130):
    p = emu.add_portal(domain)
    p.rate_limit = None
    staff = p.add_user("Анна")
    other = p.add_user("Борис")
    company = p.add_company("ООО Ромашка")
    now = datetime.now(timezone.utc)
    tasks = [p.add_task(f"Задача {i}", staff, crm=(f"CO_{company}",)) for i in range(4)]
    for i in range(records):
        p.add_time(tasks[i % 4], staff if i % 3 else other, 300 + i, now - timedelta(hours=i))
    return p, staff, other


def state(p) -> str:
    """Everything a doctor could change in the portal."""
    inst = [(i.app.client_id, i.installed, i.removed, i.version, repr(i.bindings), repr(i.placements),
             repr(i.offline)) for i in p.installs.values()]
    return json.dumps([sorted(p.tasks), sorted(p.time), sorted((r["ID"], r["SECONDS"]) for r in p.records()),
                       sorted(p.users), sorted(p.company_rows), inst], default=str)


@pytest.fixture
def webhook_world(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'hb.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("HOURBOOK_RECORD_DIR", raising=False)
    with Emulator() as emu:
        p, staff, other = busy_portal(emu)
        yield emu, p, staff


@contextmanager
def read_only(emu, p):
    """The doctor's promise: whatever the portal breaks, it writes nothing
    to it and calls only read methods."""
    before, calls_before = state(p), copy.copy(emu.calls)
    yield
    assert state(p) == before
    called = {m for m, n in (emu.calls - calls_before).items() if n}
    assert called <= READ_METHODS, called - READ_METHODS


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def rows(output: str) -> dict[str, dict]:
    (portal,) = json.loads(output).values()
    return {r["check"]: r for r in portal["checks"]}


def test_a_webhook_portal_passes_and_nothing_is_written(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))
    before, calls_before = state(p), copy.copy(emu.calls)
    out = run("doctor", "--json")
    found = rows(out)
    assert {k: r["status"] for k, r in found.items()} == {
        "rights": PASS, "positional": PASS, "chain": PASS, "dates": PASS, "task_fields": PASS,
        "events": SKIP, "placements": SKIP, "limits": PASS, "latency": PASS}, out
    assert "records = task totals on 4 tasks" in found["rights"]["seen"]
    assert "75 records of 75" in found["chain"]["seen"]
    assert state(p) == before
    called = {m for m, n in (emu.calls - calls_before).items() if n}
    assert called <= READ_METHODS, called - READ_METHODS
    table = run("doctor")
    assert "portal 1: PASS" in table and "PASS  Rights of the connection" in table


def test_the_json_shape_and_an_unknown_portal(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))
    answer = json.loads(run("doctor", "--portal", "1", "--json"))
    assert list(answer) == ["1"] and answer["1"]["status"] == PASS
    for row in answer["1"]["checks"]:
        assert set(row) == {"check", "title", "status", "expected", "seen", "fix"}
        assert row["status"] in (PASS, WARN, FAIL, SKIP) and all(isinstance(v, str) for v in row.values())
    result = CliRunner().invoke(cli, ["doctor", "--portal", "99"])
    assert result.exit_code == 1 and "portal 99" in result.output


def test_a_non_admin_webhook_fails_the_rights_check_and_names_the_fix(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(staff))
    with read_only(emu, p):
        out = run("doctor", "--json", code=1)
    rights = rows(out)["rights"]
    assert rights["status"] == FAIL and "is not an administrator" in rights["seen"]
    # Анна sees her own tasks whole (rights are per task, facts §4.1): ADMIN is what tells.
    assert "administrator" in rights["fix"]
    assert "FAIL  Rights of the connection" in run("doctor", code=1)


def test_a_portal_in_another_time_zone_fails_the_dates_check(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))  # Hourbook takes the administrator's zone: Moscow
    p.users[1].time_zone = "Asia/Vladivostok"  # then the portal moves east
    p.time_zone = "Asia/Vladivostok"
    with read_only(emu, p):
        dates = rows(run("doctor", "--json", code=1))["dates"]
    assert dates["status"] == FAIL and "Asia/Vladivostok" in dates["seen"]
    assert "Settings → Time zone" in dates["fix"] and "Asia/Vladivostok" in dates["fix"]


def test_zones_that_agree_today_but_not_in_summer_fail_the_dates_check(webhook_world):
    emu, p, staff = webhook_world
    p.users[1].time_zone = p.time_zone = "UTC"
    run("connect", "--webhook", p.webhook(1))  # Hourbook holds UTC
    p.users[1].time_zone = "Europe/London"  # UTC+00:00 in winter, UTC+01:00 in summer
    with read_only(emu, p):
        dates = rows(run("doctor", "--json", code=1))["dates"]
    assert dates["status"] == FAIL and "Europe/London" in dates["fix"], dates
    p.users[1].time_zone = "Etc/UTC"  # another name, the same months
    assert rows(run("doctor", "--json"))["dates"]["status"] == PASS


def test_a_server_in_another_offset_without_an_admin_zone_is_a_warning(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))
    p.users[1].time_zone = ""
    p.time_zone = "Asia/Yekaterinburg"
    with read_only(emu, p):
        dates = rows(run("doctor", "--json"))["dates"]
    assert dates["status"] == WARN and "UTC+05:00" in dates["seen"]


class CannedProbe(Probe):
    """A probe answering from a table: for checks whose broken answers the
    emulator does not play (a portal that leaves out a selected field, or
    sends a task's date without an offset)."""

    def __init__(self, answers):
        self.answers_by_method, self.answers, self.elapsed_s = answers, [], []

    def call(self, method, params=None):
        answer = self.answers_by_method[method]
        self.answers.append(answer)
        return answer


def test_a_missing_task_field_fails_with_the_scope_to_grant():
    from b24.doctor import Portal, check_task_fields

    task = {"id": "1", "title": "x", "status": "2", "groupId": "0", "parentId": "0", "responsibleId": "1",
            "tags": [], "timeSpentInLogs": None, "changedDate": "2026-11-02T10:00:00+03:00", "closedDate": None}
    probe = CannedProbe({"tasks.task.list": {"result": {"tasks": [task]}}})
    (check,) = check_task_fields(probe, Portal("webhook", "Europe/Moscow"))
    assert check.status == FAIL and check.as_dict()["seen"] == "missing: ufCrmTask" and "crm" in check.fix
    probe = CannedProbe({"tasks.task.list": {"result": {"tasks": [{**task, "ufCrmTask": []}]}}})
    assert [c.status for c in check_task_fields(probe, Portal("webhook", "Europe/Moscow"))] == [PASS]


def test_a_task_date_without_an_offset_fails_the_dates_check():
    from b24.doctor import Portal, check_dates

    task = {"id": "1", "changedDate": "2026-11-30T23:30:00+03:00", "closedDate": None}
    answers = {"server.time": {"result": "2026-12-01T10:00:00+03:00"},
               "task.elapseditem.getlist": {"result": [{"ID": "1", "CREATED_DATE": "2026-11-30T23:30:00+03:00"}]},
               "profile": {"result": {"ID": "1", "ADMIN": True, "TIME_ZONE": "Europe/Moscow"}},
               "tasks.task.list": {"result": {"tasks": [task]}}}
    held = Portal("webhook", "Europe/Moscow")
    assert [c.status for c in check_dates(CannedProbe(answers), held)] == [PASS]
    answers["tasks.task.list"] = {"result": {"tasks": [{**task, "closedDate": "2026-11-30 23:30:00"}]}}
    (check,) = check_dates(CannedProbe(answers), held)
    assert check.status == FAIL and "2026-11-30 23:30:00" in check.as_dict()["seen"]
    assert "records and tasks" in check.as_dict()["seen"]


class OddRest:
    """A gateway to a portal whose answers have shapes the checks do not
    expect: records without ID, a task list that is a list."""

    last_request_s = 0.01

    def call(self, method, params=None):
        time = {"start": 1.0, "finish": 1.01, "duration": 0.01, "processing": 0.0, "date_start": "",
                "date_finish": "", "operating": 0}
        if method == "batch":
            return {"result": {"result": {k: [{"SECONDS": "many"}, {"X": 1}] for k in params["cmd"]}}, "time": time}
        if method == "server.time":
            return {"result": "2026-12-01T10:00:00+03:00", "time": time}
        return {"result": [{"X": 1}] if method != "profile" else {"ID": "1", "ADMIN": True}, "time": time}


def test_answers_of_an_unexpected_shape_fail_their_check_and_every_other_check_still_runs():
    from b24.doctor import Portal, run

    checks = run(OddRest(), Portal("webhook", "Europe/Moscow"))
    assert [c.key for c in checks] == ["rights", "positional", "chain", "dates", "task_fields", "events",
                                       "placements", "limits", "latency"]
    positional = next(c for c in checks if c.key == "positional")
    assert positional.status == FAIL and "KeyError" in positional.as_dict()["seen"]
    assert "support" in positional.fix
    assert {c.key: c.status for c in checks}["latency"] == PASS


def test_an_operating_limit_near_exhaustion_and_slow_answers_are_named(webhook_world):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))
    p.operating_cost_s = {"batch": 115.0}  # four batches: 460 s of the 480 s in 10 minutes
    emu.faults = Faults(slow_s=2.2)
    with read_only(emu, p):
        found = rows(run("doctor", "--json", code=1))
    assert found["limits"]["status"] == FAIL and "operating budget" in found["limits"]["fix"]
    assert found["latency"]["status"] == WARN and "network" in found["latency"]["fix"]


def test_the_app_portal_passes_then_fails_when_its_events_are_unbound(emu, tmp_path, monkeypatch):
    monkeypatch.delenv("HOURBOOK_RECORD_DIR", raising=False)
    p, staff, other = busy_portal(emu, "app-doctor.bitrix24.test")
    with serve_app(emu, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "INSTANCE_PATH": str(tmp_path)}) \
            as (app, url):
        emu.install(p, CLIENT_ID)
        emu.flush_events()
        app.extensions["hourbook"].runner.drain()
        from jobs.doctor import diagnose

        with app.app_context(), read_only(emu, p):
            checks = {c.key: c for c in diagnose(1)}
        assert {k: c.status for k, c in checks.items()} == {
            "rights": PASS, "positional": PASS, "chain": PASS, "dates": PASS, "task_fields": PASS,
            "events": PASS, "placements": PASS, "limits": PASS, "latency": PASS}
        p.drop_bindings(CLIENT_ID, events=("ONTASKUPDATE",))
        with app.app_context(), read_only(emu, p):
            checks = {c.key: c for c in diagnose(1)}
        assert checks["events"].status == FAIL and "ONTASKUPDATE" in checks["events"].as_dict()["seen"]
        assert "Bind again" in checks["events"].as_dict()["fix"]
        assert checks["placements"].status == FAIL and "CRM_COMPANY_DETAIL_TAB" in checks["placements"].as_dict()["seen"]
        assert "Bind again" in checks["placements"].as_dict()["fix"]


def test_doctor_record_saves_its_requests(webhook_world, tmp_path):
    emu, p, staff = webhook_world
    run("connect", "--webhook", p.webhook(1))
    run("doctor", "--record", str(tmp_path / "rec"))
    methods = {json.loads(f.read_text())["method"] for f in (tmp_path / "rec").glob("*.json")}
    assert methods <= READ_METHODS and {"profile", "batch", "server.time"} <= methods


def test_every_text_the_doctor_shows_is_in_the_catalogs():
    """The page translates the doctor's templates; one missing from
    handlers/doctor_messages.py would reach a Russian page in English."""
    import ast
    from pathlib import Path

    from b24 import doctor
    from handlers.doctor_messages import MESSAGES

    tree = ast.parse(Path(doctor.__file__).read_text(encoding="utf-8"))
    texts = set(doctor.TITLES.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Check":
            texts |= {a.value for a in node.args[1:6] if isinstance(a, ast.Constant) and a.value}
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "seen_text":
            texts |= {n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert texts - set(MESSAGES) == set()
