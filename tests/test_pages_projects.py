"""Implementation projects on the pages (issue 16), on SQLite and PostgreSQL:
the manager's scope, date, payment and acceptance forms (saved and shown
in the widget; refused with nothing written), the advisor beside the tariff
calculator, and the handover package from the manager's page."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from ledger.models import AuditEvent, Contract, Period, ScopeItem, Stage
from tests.pages import H, page_text, world_fixture
from tests.test_pages_manager import make_account, today, widget_of

world = world_fixture("sqlite", "postgresql")


def stages_of(w, account_id: int) -> list[int]:
    with w.session() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == account_id)
                             .order_by(Contract.id.desc())).scalars().first()
        return list(s.execute(select(Stage.id).where(Stage.contract_id == contract.id)
                              .order_by(Stage.position)).scalars())


def post(w, token: str, account_id: int, action: str, **data):
    return w.post(f"/app/account/{account_id}/project/{action}", token, data)


def test_the_manager_builds_a_scope_and_the_client_sees_what_is_late(world):
    w = world
    token = w.token()
    account = make_account(w, "staged")
    first, second, _ = stages_of(w, account)
    yesterday = today(w) - timedelta(days=6)
    answer = post(w, token, account, "item", kind="setting", title="Воронка «Опт»", planned="6",
                  due_on=yesterday.isoformat(), stage_id=str(first), tasks="#501, 502")
    assert answer.status_code == 303, answer.text[:500]
    assert post(w, token, account, "item", kind="training", title="Обучение отдела продаж", planned="4",
                stage_id=str(second)).status_code == 303
    assert post(w, token, account, "dates", stage_id=str(first), due_on=yesterday.isoformat(),
                pay_due_on="").status_code == 303
    assert post(w, token, account, "paid", stage_id=str(first), paid="1").status_code == 303
    with w.session() as s:
        item = s.execute(select(ScopeItem).where(ScopeItem.account_id == account,
                                                 ScopeItem.title == "Воронка «Опт»")).scalar_one()
        assert (item.planned_s, item.stage_id, item.due_on) == (6 * H, first, yesterday)
        assert s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.account_id == account, AuditEvent.action == "scope.add")).scalar_one() == 2
    text = page_text(widget_of(w, account))
    # the issue's own line, in the client's language
    assert "Этап «Аудит» опаздывает на 6 дней" in text.replace("\u00a0", " ")
    assert "Воронка «Опт»" in text and "Обучение отдела продаж" in text and "#501" in text
    assert w.msg("not started") in text and '<svg class="hb-timeline is-wide"' in widget_of(w, account)
    # the manager's page shows the forms; the stage is accepted once, however often it is clicked
    page = w.get(f"/app/account/{account}", token)
    assert page.status_code == 200 and 'id="project"' in page.text
    assert post(w, token, account, "state", item_id=str(item.id), state="done").status_code == 303
    for _ in range(2):
        assert post(w, token, account, "accept", stage_id=str(first)).status_code == 303
    with w.session() as s:
        assert s.execute(select(func.count()).select_from(Period).join(Stage, Stage.id == Period.stage_id).where(
            Stage.id.in_([first, second]))).scalar_one() == 2
        assert s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.account_id == account, AuditEvent.action == "stage.accept")).scalar_one() == 1
        assert s.get(ScopeItem, item.id).accepted_at is not None


@pytest.mark.parametrize("action,data,field", [
    ("item", {"kind": "dance", "title": "x", "planned": "1"}, "kind"),
    ("item", {"kind": "setting", "title": "", "planned": "1"}, "title"),
    ("item", {"kind": "setting", "title": "x", "planned": "много"}, "planned"),
    ("item", {"kind": "setting", "title": "x", "planned": "1", "due_on": "2026-13-01"}, "due_on"),
    ("item", {"kind": "setting", "title": "x", "planned": "1", "tasks": "x y"}, "tasks"),
    ("item", {"kind": "setting", "title": "x", "planned": "1"}, "_"),  # no stage in a staged project
    ("item", {"kind": "setting", "title": "x", "planned": "1", "stage_id": "OTHER"}, "_"),
    ("paid", {"stage_id": "OTHER", "paid": "1"}, "_"),  # a payment marked for another account
    ("dates", {"stage_id": "OTHER", "due_on": "2026-12-01"}, "_"),
    ("accept", {"stage_id": "OTHER"}, "_"),
    ("accept", {"stage_id": "THIRD"}, "_"),  # not begun
    ("accept", {"stage_id": "FIRST", "at": "2999-01-01"}, "_"),  # accepted in the future
    ("accept", {"stage_id": "FIRST", "at": "1999-01-01"}, "_"),  # before the stage began
    ("state", {"item_id": "999999", "state": "done"}, "_"),
    ("paid", {"stage_id": "FIRST", "paid": "maybe"}, "_"),
])
def test_a_refused_project_form_writes_nothing(world, action, data, field):
    w = world
    token = w.token()
    account, other = make_account(w, "staged"), make_account(w, "staged")
    mine, theirs = stages_of(w, account), stages_of(w, other)
    swap = {"OTHER": str(theirs[0]), "THIRD": str(mine[2]), "FIRST": str(mine[0])}
    data = {k: swap.get(v, v) for k, v in data.items()}
    before = w.snapshot()
    answer = post(w, token, account, action, **data)
    assert answer.status_code == 400, answer.text[:300]
    assert w.snapshot() == before
    assert ('has-error' if field != "_" else 'role="alert"') in answer.text


def test_an_upfront_project_has_one_payment_and_its_items_dates(world):
    w = world
    token = w.token()
    account = make_account(w, "upfront")
    late = today(w) - timedelta(days=3)
    assert post(w, token, account, "item", kind="integration", title="Телефония", planned="5",
                due_on=late.isoformat()).status_code == 303
    assert post(w, token, account, "paid", paid="1").status_code == 303
    assert post(w, token, account, "item", kind="setting", title="x", planned="1",
                stage_id=str(stages_of(w, make_account(w, "staged"))[0])).status_code == 400
    text = page_text(widget_of(w, account)).replace("\u00a0", " ")
    assert "Проект опаздывает на 3 дня" in text and "«Телефония» опаздывает на 3 дня" in text
    assert w.msg("Project, paid upfront") in text
    assert w.msg("paid %(date)s", date="").strip() in text


def test_the_advisor_compares_upfront_and_stages(world):
    w = world
    token = w.token()
    answer = w.get("/app/advisor", token, params={"scope": "80", "price": "200000", "pace": "10",
                                                  "budget": "100000"})
    assert answer.status_code == 200, answer.text[:500]
    text = page_text(answer.text)
    assert w.msg("Recommended:") in text and "hb-recommended" in answer.text
    assert text.count(w.msg("over the budget")) == 1  # upfront asks 200 000 in one month
    calculator = w.get("/app/calculator", token)
    assert "/app/advisor" in calculator.text
    for bad in ({"scope": "80", "price": "-1", "pace": "10"}, {"scope": "80", "price": "1", "pace": "0"},
                {"scope": "abc", "price": "1", "pace": "10"}, {"scope": "80", "price": "1", "pace": "500"},
                {"scope": "80", "price": "1", "pace": "10", "wanted": "2026-02-30"}):
        before = w.counts()
        refused = w.get("/app/advisor", token, params=bad)
        assert refused.status_code == 400, (bad, refused.status_code)
        assert w.counts() == before


def test_the_handover_package_from_the_managers_page(world):
    w = world
    token = w.token()
    account = w.accounts["vector"]
    xlsx = w.get(f"/app/account/{account}/handover.xlsx", token)
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["Content-Type"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[0] in ("Сводка", "Summary")
    data = json.loads(w.get(f"/app/account/{account}/handover.json", token).content)
    assert data["account"]["id"] == account and data["totals"]["records"] > 0
    names = {a: n for a, n in [(data["account"]["id"], data["account"]["name"])]}
    others = [w.accounts[k] for k in ("romashka", "sokolova")]
    with w.session() as s:
        from ledger.models import Account
        other_names = [s.get(Account, a).name for a in others]
    raw = w.get(f"/app/account/{account}/handover.json", token).text
    assert all(n not in raw for n in other_names) and names
    # another portal's manager gets nothing of it
    assert w.get(f"/app/account/{account}/handover.json", w.token(w.pb)).status_code == 404


def cabinet_of(w, account_id: int) -> str:
    """A cabinet link for the account, made on the manager's page; its path."""
    import re

    response = w.post(f"/app/account/{account_id}/access_create", w.token(), {"label": "Директор"})
    assert response.status_code == 303, response.text[:300]
    page = w.get(response.headers["Location"].replace(w.url, ""))
    url = re.findall(r'<div class="hb-copy">([^<]+)</div>', page.text)[0].replace("&amp;", "&")
    return url[len(w.url):]


def test_the_minute_refresh_and_the_cabinets_json_carry_the_project(world):
    """The /part fragments the widget and the cabinet re-fetch every minute
    hold the project too; the cabinet's JSON has its scope, stages, lateness
    and stalls in integer seconds and minor units, and nothing of another
    account's project."""
    w = world
    token = w.token()
    account, other = make_account(w, "staged"), make_account(w, "staged")
    first = stages_of(w, account)[0]
    late = today(w) - timedelta(days=6)
    assert post(w, token, account, "item", kind="setting", title="Воронка «Опт»", planned="6,5",
                due_on=late.isoformat(), stage_id=str(first), tasks="#501").status_code == 303
    assert post(w, token, account, "dates", stage_id=str(first), due_on=late.isoformat(),
                pay_due_on="").status_code == 303
    assert post(w, token, account, "paid", stage_id=str(first), paid="1").status_code == 303
    assert post(w, token, other, "item", kind="widget", title="Чужой виджет", planned="3",
                stage_id=str(stages_of(w, other)[0])).status_code == 303
    part = w.get(f"/widget/{account}/part", token)
    assert part.status_code == 200 and "<html" not in part.text
    assert 'id="project-scope"' in part.text and "Воронка «Опт»" in part.text and "data-hb-stall" in part.text
    assert "Этап «Аудит» опаздывает на 6 дней" in page_text(part.text).replace("\u00a0", " ")
    # the project is inside what the refresh replaces, once
    page = widget_of(w, account)
    root = page[page.index('<main id="hb-root"'):page.index("</main>")]
    assert 'id="project-scope"' in root and page.count('id="project-scope"') == 1

    path = cabinet_of(w, account)
    cabinet_part = w.get(path + "/part")
    assert cabinet_part.status_code == 200 and "Воронка «Опт»" in cabinet_part.text
    assert "#501" not in cabinet_part.text  # the cabinet links nowhere into the portal
    raw = w.get(path + ".json")
    assert raw.status_code == 200 and "Чужой виджет" not in raw.text
    p = raw.json()["project"]
    assert (p["kind"], p["currency"], p["stall_days"]) == ("staged", "RUB", 7)
    assert p["paid_minor"] == 30_000_00 and p["price_minor"] == sum(st["price_minor"] for st in p["stages"])
    stage = p["stages"][0]
    assert (stage["id"], stage["state"], stage["paid"], stage["due_on"]) == (first, "current", True, late.isoformat())
    assert stage["late"] == {"kind": "missed", "days": 6, "due_on": late.isoformat(), "finish_on": None}
    assert [s["kind"] for s in stage["stalls"]] == ["no_work"] and stage["stalls"][0]["days"] >= 7
    item = stage["items"][0]
    assert (item["title"], item["planned_s"], item["spent_s"], item["state"]) == ("Воронка «Опт»", 6 * H + 30 * 60,
                                                                                    0, "not_started")
    assert item["due_on"] == late.isoformat() and item["tasks"][0]["task_id"] == 501
    assert all(type(v) is int for v in (p["planned_s"], p["spent_s"], item["planned_s"], stage["price_minor"]))
    assert p["late"][0]["stage_id"] == first and "опаздывает на 6 дней" in p["late"][0]["line"].replace("\u00a0", " ")
    assert p["stalls"][0]["kind"] == "no_work" and p["stalls"][0]["line"]
    # a retainer's cabinet says so plainly
    assert w.get(cabinet_of(w, make_account(w)) + ".json").json()["project"] is None


def test_the_manager_sets_when_a_project_counts_as_stalled(world):
    w = world
    token = w.token()
    account = make_account(w, "staged")
    assert post(w, token, account, "paid", stage_id=str(stages_of(w, account)[0]), paid="1").status_code == 303
    page = w.get(f"/app/account/{account}", token)
    assert 'name="stall_days" value="7"' in page.text
    # the first stage began last month with no work: stalled after a week, not after 90 days
    assert "data-hb-stall" in widget_of(w, account)
    for bad in ("0", "91", "-1", "7.5", "семь", "", "9" * 30):
        before = w.snapshot()
        answer = post(w, token, account, "stall", stall_days=bad)
        assert answer.status_code == 400, (bad, answer.status_code)
        assert w.snapshot() == before and "has-error" in answer.text
    assert post(w, token, account, "stall", stall_days="90").status_code == 303
    with w.session() as s:
        from ledger.models import Account

        assert s.get(Account, account).stall_days == 90
        assert s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.account_id == account, AuditEvent.action == "project.stall_days")).scalar_one() == 1
    assert 'name="stall_days" value="90"' in w.get(f"/app/account/{account}", token).text
    assert "data-hb-stall" not in widget_of(w, account)
    # another portal's manager changes nothing
    before = w.snapshot()
    assert post(w, w.token(w.pb), account, "stall", stall_days="5").status_code == 404
    assert w.snapshot() == before
