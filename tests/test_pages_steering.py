"""The client steers, through the pages (issue 15): the plan in the widget
and the cabinet, each request kind from both, the manager's queue and plan
editor, the chat message per request, and bad input refused with nothing
written. On SQLite and PostgreSQL, against the served app and the emulator."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

import demo
from ledger.db import utcnow
from ledger.devplan import items, plan_status
from ledger.models import Account, AuditEvent, Cap, ClientRequest, PlanItem, TimeEntry
from reports.models import ReportSettings
from tests.pages import H, form_html, frame_token, page_text, world_fixture

world = world_fixture("sqlite", "postgresql")
TABLES_WRITTEN = ("client_requests", "plan_items", "caps", "audit_events", "postings")


@pytest.fixture(scope="module")
def steer(world):
    """«Ромашка» with the demo's plan and requests, and a cabinet link."""
    from ledger.access import create_cabinet_link

    from handlers.cabinet import link_token

    with world.session() as s, s.begin():
        romashka = s.get(Account, world.accounts["romashka"])
        ids = demo.setup_steering(s, romashka, world.p, utcnow())
        s.add(ReportSettings(account_id=romashka.id, weekly=False, send_hour=9, chat_dialog="chat7",
                             notify_user_ids="", alert_days=5, client_alerts=False))  # the project chat
        link = create_cabinet_link(s, romashka, actor="test", label="Директор")
        s.flush()
        with world.app.test_request_context():
            token = link_token(link)
    return {"items": ids, "cabinet": token}


def rows(world, model, **where):
    with world.session() as s:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        found = list(s.execute(stmt.order_by(model.id)).scalars())
        s.expunge_all()
        return found


def newest_request(world) -> ClientRequest:
    return rows(world, ClientRequest)[-1]


def widget_page(world, lang: str = "ru"):
    response = world.widget(world.p, 1, world.companies["romashka"], lang=lang)
    assert response.status_code == 200, response.text[:500]
    return response


def ask_widget(world, token: str, **form):
    return world.post(f"/widget/{world.accounts['romashka']}/request", token, form)


def cabinet_form_token(markup: str) -> str:
    found = re.search(r'name="_f" value="([^"]+)"', markup)
    assert found, "no form token in the cabinet"
    return found.group(1)


def ask_cabinet(world, cabinet: str, **form):
    page = world.get(f"/cabinet/{cabinet}")
    assert page.status_code == 200
    form.setdefault("_f", cabinet_form_token(page.text))
    return world.post(f"/cabinet/{cabinet}/request", None, form)


def drain(world) -> int:
    return world.app.extensions["hourbook"].runner.drain()


# ---------------------------------------------------------------- the plan as the client sees it


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_widget_and_cabinet_show_the_plan(world, steer, lang):
    markup = widget_page(world, lang).text
    cabinet = world.get(f"/cabinet/{steer['cabinet']}", params={"lang": lang}).text
    with world.session() as s:
        status = plan_status(s, world.accounts["romashka"], tariff_s=40 * H)
    for page in (markup, cabinet):
        section = re.search(r'<section class="hb-card hb-steer" id="plan">.*?</section>', page, re.S).group(0)
        assert world.msg("Development plan", lang) in page_text(section)
        for d in status.directions:
            assert d.name in page_text(section)
            for i in d.items:
                row = re.search(rf'<tr class="hb-item[^"]*" data-hb-item="{i.item_id}">(.*?)</tr>', section, re.S)
                assert row, i.item_id
                cells = [page_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
                assert cells[0] == str(i.priority)
                hm = lambda x: f"{x // 3600}:{x % 3600 // 60:02d}"  # noqa: E731
                assert cells[2:5] == [hm(i.planned_s), hm(i.spent_s), hm(i.left_s)]
        # the summary's own directions table gives way to the plan
        assert page.count(world.msg("Development plan", lang)) == 1
    assert world.msg("waiting for the manager", lang) in page_text(markup)  # the demo's open request
    assert world.msg("accepted", lang) in page_text(cabinet)


def test_cabinet_json_has_the_plan_and_the_requests(world, steer):
    body = world.get(f"/cabinet/{steer['cabinet']}.json").json()
    with world.session() as s:
        plan_ids = [i.id for i in items(s, world.accounts["romashka"])]
    got = [i["id"] for d in body["plan"]["directions"] for i in d["items"]]
    assert sorted(got) == sorted(plan_ids)
    assert all(type(i["planned_s"]) is int for d in body["plan"]["directions"] for i in d["items"])
    assert {r["state"] for r in body["requests"]} >= {"open", "accepted"}


# ---------------------------------------------------------------- each request kind, from both places


KINDS = [  # (kind, target picker, extra fields)
    ("pause", "item", {}), ("resume", "item", {}), ("cap", "item", {"hours": "6"}),
    ("first", "direction", {}), ("question", "item", {"text": "Почему так долго?"}),
    ("question", "entry", {"text": "Что это за строка?"}),
]


def target_of(world, steer, picker: str) -> str:
    if picker == "item":
        return f"item:{steer['items'][4]}"
    if picker == "direction":
        with world.session() as s:
            item = s.get(PlanItem, steer["items"][6])
            return f"direction:{item.direction_id}"
    from ledger.models import Period

    with world.session() as s:
        entry = s.execute(select(TimeEntry.id).join(Period, Period.id == TimeEntry.period_id).where(
            TimeEntry.account_id == world.accounts["romashka"], TimeEntry.counted_s > 0, Period.status == "open")
            .order_by(TimeEntry.work_at.desc()).limit(1)).scalar_one()
    return f"entry:{entry}"


@pytest.mark.parametrize("kind,picker,extra", KINDS)
@pytest.mark.parametrize("place", ["widget", "cabinet"])
def test_each_request_kind_is_kept_and_told_to_the_chat_once(world, steer, place, kind, picker, extra):
    target = target_of(world, steer, picker)
    before = len(rows(world, ClientRequest))
    messages = len(world.emu.messages)
    postings = world.counts()["postings"]
    if place == "widget":
        token = frame_token(widget_page(world).text)
        response = ask_widget(world, token, kind=kind, target=target, **extra)
    else:
        response = ask_cabinet(world, steer["cabinet"], kind=kind, target=target, name="Ирина", **extra)
    assert response.status_code == 303, page_text(response.text)[:800]
    assert "#requests" in response.headers["Location"]
    made = newest_request(world)
    assert len(rows(world, ClientRequest)) == before + 1
    assert (made.kind, made.source, made.state) == (kind, place, "open")
    assert made.author == ("Администратор Портала (#1)" if place == "widget" else "Ирина · Директор")
    assert made.created_at > utcnow() - timedelta(minutes=1)
    if kind == "cap":
        assert made.cap_s == 6 * H and made.task_id is not None
    # the client sees it waiting
    shown = world.get(response.headers["Location"].split("#")[0].replace(world.url, "")) if place == "cabinet" \
        else world.get(f"/widget/{world.accounts['romashka']}", frame_token(widget_page(world).text))
    item = re.search(rf'data-hb-request="{made.id}">(.*?)</li>', shown.text, re.S)
    assert item and world.msg("waiting for the manager") in page_text(item.group(1))
    # one chat message, however often the job runs
    assert drain(world) >= 1
    from jobs.steering import announce_request

    assert announce_request(made.id) == "already"
    new = world.emu.messages[messages:]
    assert len(new) == 1 and "Hourbook" in new[0]["params"]["MESSAGE"]
    assert (new[0]["method"], new[0]["params"]["DIALOG_ID"]) == ("im.message.add", "chat7")
    assert "Ромашка" in new[0]["params"]["MESSAGE"] and (made.text[:20] in new[0]["params"]["MESSAGE"])
    assert world.counts()["postings"] == postings  # a request never moves hours by itself


# ---------------------------------------------------------------- bad input, nothing written


def written(world) -> dict[str, int]:
    counts = world.counts()
    return {t: counts[t] for t in TABLES_WRITTEN}


def other_accounts_item(world) -> int:
    """A plan item of another account of the same portal (Вектор)."""
    from ledger.contracts import add_direction
    from ledger.devplan import add_item

    with world.session() as s, s.begin():
        vector = s.get(Account, world.accounts["vector"])
        found = s.execute(select(PlanItem.id).where(PlanItem.account_id == vector.id)).scalar()
        if found:
            return found
        d = add_direction(s, vector, "Внедрение", planned_s=0, match_kind="tag", match_value="x", actor="t")
        return add_item(s, vector, direction_id=d.id, title="Их задача", planned_s=H, actor="t").id


def closed_line(world) -> int:
    """A line of «Ромашка»'s last month, closed (as the schedule would at the month's end)."""
    from jobs.tasks import close_periods
    from ledger.models import Period

    close_periods()
    with world.session() as s:
        return s.execute(select(TimeEntry.id).join(Period, Period.id == TimeEntry.period_id).where(
            TimeEntry.account_id == world.accounts["romashka"], Period.status == "closed").limit(1)).scalar_one()


def bad_forms(world, steer) -> list[tuple[str, dict]]:
    item = steer["items"][4]
    return [
        ("another account's task", {"kind": "pause", "target": f"item:{other_accounts_item(world)}"}),
        ("a task not of the account", {"kind": "cap", "target": "task:999999", "hours": "3"}),
        ("a closed period's line", {"kind": "question", "target": f"entry:{closed_line(world)}", "text": "?"}),
        ("huge text", {"kind": "question", "target": f"item:{item}", "text": "я" * 2001}),
        ("hours not a number", {"kind": "cap", "target": f"item:{item}", "hours": "много"}),
        ("hours negative", {"kind": "cap", "target": f"item:{item}", "hours": "-5"}),
        ("hours beyond any plan", {"kind": "cap", "target": f"item:{item}", "hours": "99999999"}),
        ("target not a number", {"kind": "pause", "target": "item:abc"}),
        ("target too big", {"kind": "pause", "target": "item:99999999999"}),
        ("no target", {"kind": "pause"}),
        ("unknown kind", {"kind": "explode", "target": f"item:{item}"}),
        ("target beyond any key", {"kind": "pause", "target": "item:2147483648"}),
        ("question without text", {"kind": "question", "target": f"item:{item}", "text": "  "}),
        ("control characters", {"kind": "question", "target": f"item:{item}", "text": "a\x00b"}),
        ("a direction not of the account", {"kind": "pause", "target": f"direction:{10**6}"}),
    ]


@pytest.mark.parametrize("place", ["widget", "cabinet"])
def test_bad_requests_are_refused_with_nothing_written(world, steer, place):
    token = frame_token(widget_page(world).text)
    before = written(world)
    for name, form in bad_forms(world, steer):
        before = written(world)
        if place == "widget":
            response = ask_widget(world, token, **form)
        else:
            response = ask_cabinet(world, steer["cabinet"], **form)
        assert response.status_code == 400, (name, response.status_code, page_text(response.text)[:300])
        assert written(world) == before, name
        assert 'role="alert"' in response.text, name


def test_forged_links_and_tokens_are_refused(world, steer):
    from tests.fuzz_support import make_cabinet_links

    links = make_cabinet_links(world)
    page = world.get(f"/cabinet/{steer['cabinet']}")
    good_f = cabinet_form_token(page.text)
    form = {"kind": "pause", "target": f"item:{steer['items'][4]}"}
    before = written(world)
    for name in ("revoked", "expired", "wrong nonce", "nonexistent", "negative"):
        response = world.post(f"/cabinet/{links[name]}/request", None, {**form, "_f": good_f})
        assert response.status_code == 404, name
    for forged in ("", "x", good_f[:-2] + "aa", "a" * 300):
        response = world.post(f"/cabinet/{steer['cabinet']}/request", None, {**form, "_f": forged})
        assert response.status_code == 403
    # another link's form token does not open this one (a page of portal B cannot post here)
    other = world.get(f"/cabinet/{links['other']}")
    response = world.post(f"/cabinet/{steer['cabinet']}/request", None, {**form, "_f": cabinet_form_token(other.text)})
    assert response.status_code == 403
    # the widget: no token, a forged one, another portal's frame on this account
    for token in (None, "forged", world.token(world.pb, world.users["b_admin"])):
        response = world.post(f"/widget/{world.accounts['romashka']}/request", token, form)
        assert response.status_code in (403, 404), token
    assert written(world) == before


# ---------------------------------------------------------------- the manager decides


def manager_token(world) -> str:
    return world.token(world.p, 1)


def decide(world, action: str, request_id: int, **form):
    return world.post(f"/app/account/{world.accounts['romashka']}/steer_{action}", manager_token(world),
                      {"request_id": str(request_id), **form})


def test_the_queue_on_the_app_page_and_a_pause_accepted_once(world, steer):
    token = frame_token(widget_page(world).text)
    item_id = steer["items"][6]
    ask_widget(world, token, kind="pause", target=f"item:{item_id}", text="Обучение после запуска")
    made = newest_request(world)
    page = world.get(f"/app/account/{world.accounts['romashka']}", manager_token(world))
    queue = re.search(r'<section class="hb-card hb-steer hb-queue" id="steer">.*?</section>', page.text, re.S).group(0)
    assert f'data-hb-request="{made.id}"' in queue and "Обучение после запуска" in page_text(queue)
    postings = world.counts()["postings"]
    assert decide(world, "accept", made.id).status_code == 303
    assert rows(world, PlanItem, id=item_id)[0].state == "paused"
    log = rows(world, AuditEvent, action="request.accept")
    assert decide(world, "accept", made.id).status_code == 303  # a second click applies nothing
    assert len(rows(world, AuditEvent, action="request.accept")) == len(log)
    assert len([e for e in rows(world, AuditEvent, action="plan.state") if f'"id": {item_id}' in e.after]) == 1
    assert world.counts()["postings"] == postings
    refused = decide(world, "decline", made.id, reason="поздно")
    assert refused.status_code == 400 and rows(world, ClientRequest, id=made.id)[0].state == "accepted"
    shown = widget_page(world).text
    assert world.msg("accepted") in page_text(re.search(rf'data-hb-request="{made.id}">(.*?)</li>', shown, re.S)
                                              .group(1))


def test_decline_needs_a_reason_and_the_client_reads_it(world, steer):
    token = frame_token(widget_page(world).text)
    ask_widget(world, token, kind="first", target=f"item:{steer['items'][8]}")
    made = newest_request(world)
    before = written(world)
    assert decide(world, "decline", made.id, reason="").status_code == 400
    assert decide(world, "decline", 2**31 - 1, reason="x").status_code == 400
    assert written(world) == before
    assert decide(world, "decline", made.id, reason="Сначала 1С, потом видео.").status_code == 303
    shown = widget_page(world).text
    line = page_text(re.search(rf'data-hb-request="{made.id}">(.*?)</li>', shown, re.S).group(1))
    assert "Сначала 1С, потом видео." in line and world.msg("declined") in line


def test_a_cap_accepted_sets_the_cap_and_a_question_needs_an_answer(world, steer):
    ask_cabinet(world, steer["cabinet"], kind="cap", target=f"item:{steer['items'][1]}", hours="3:30")
    cap_request = newest_request(world)
    assert decide(world, "accept", cap_request.id).status_code == 303
    caps = rows(world, Cap, account_id=world.accounts["romashka"], scope="task", ref_id=cap_request.task_id)
    assert [c.limit_s for c in caps] == [3 * H + 30 * 60]
    ask_cabinet(world, steer["cabinet"], kind="question", target=f"item:{steer['items'][1]}", text="Зачем?")
    q = newest_request(world)
    assert decide(world, "accept", q.id).status_code == 400  # an answer is needed
    assert decide(world, "accept", q.id, answer="Так решили на созвоне.").status_code == 303
    cabinet = world.get(f"/cabinet/{steer['cabinet']}").text
    assert "Так решили на созвоне." in page_text(re.search(rf'data-hb-request="{q.id}">(.*?)</li>', cabinet,
                                                           re.S).group(1))


def test_another_portals_manager_cannot_decide(world, steer):
    made = rows(world, ClientRequest, account_id=world.accounts["romashka"], state="open")[0]
    before = written(world)
    b = world.token(world.pb, world.users["b_admin"])
    response = world.post(f"/app/account/{world.accounts['client']}/steer_accept", b,
                          {"request_id": str(made.id)})
    assert response.status_code == 400
    response = world.post(f"/app/account/{world.accounts['romashka']}/steer_accept", b,
                          {"request_id": str(made.id)})
    assert response.status_code == 404
    assert written(world) == before


# ---------------------------------------------------------------- the plan editor


def editor(world, action: str, **form):
    return world.post(f"/app/account/{world.accounts['romashka']}/steer_{action}", manager_token(world), form)


def order(world) -> list[int]:
    with world.session() as s:
        return [i.id for i in items(s, world.accounts["romashka"])]


def test_the_plan_editor_adds_moves_sets_state_and_removes(world, steer):
    with world.session() as s:
        direction = s.get(PlanItem, steer["items"][0]).direction_id
    assert editor(world, "itemadd", direction_id=str(direction), title="Аудит прав", planned="5").status_code == 303
    added = order(world)[-1]
    assert editor(world, "itemmove", item_id=str(added), move="up").status_code == 303
    assert order(world)[-2] == added
    assert editor(world, "itemmove", item_id=str(added), move="down").status_code == 303
    assert order(world)[-1] == added
    top = order(world)[0]
    before = order(world)
    assert editor(world, "itemmove", item_id=str(top), move="up").status_code == 303 and order(world) == before
    assert editor(world, "itemstate", item_id=str(added), state="active").status_code == 303
    assert editor(world, "itemupdate", item_id=str(added), planned="7:30").status_code == 303
    assert rows(world, PlanItem, id=added)[0].planned_s == 7 * H + 30 * 60
    snapshot = written(world)
    for bad in ({"item_id": str(other_accounts_item(world)), "state": "done"}, {"item_id": str(added), "state": "x"},
                {"item_id": "abc", "state": "done"}):
        assert editor(world, "itemstate", **bad).status_code == 400
    assert editor(world, "itemadd", direction_id=str(direction), planned="5").status_code == 400  # no title, no task
    assert editor(world, "itemadd", direction_id="999999", title="x", planned="5").status_code == 400
    assert written(world) == snapshot
    assert editor(world, "itemremove", item_id=str(added)).status_code == 303
    assert added not in order(world)


def test_the_forecast_and_the_calculator_read_the_plan(world, steer):
    token = manager_token(world)
    page = world.get(f"/app/account/{world.accounts['romashka']}", token, params={"tariff": "80"})
    assert page.status_code == 200
    forecast = re.search(r'id="steer-forecast">.*?</section>', page.text, re.S).group(0)
    with world.session() as s:
        left = plan_status(s, world.accounts["romashka"]).left_s
    link = re.search(r'href="([^"]*/app/calculator[^"]*)"', forecast).group(1).replace("&amp;", "&")
    assert f"plan={left // 3600}:{left % 3600 // 60:02d}" in link
    calc = world.get(link.replace(world.url, ""))
    assert calc.status_code == 200 and "hb-recommended" in calc.text
    months = re.findall(r"<tr><td>([^<]+)</td><td class=\"n\">([^<]+)</td>", forecast)
    assert months, "no months in the forecast"
    assert "80" in re.search(r'is-active" href="[^"]*">([^<]+)</a>', forecast).group(1)
    for bad in ("abc", "0", "-1", "10000000"):
        assert world.get(f"/app/account/{world.accounts['romashka']}", token,
                         params={"tariff": bad}).status_code == 200  # ignored: the contract's tariff


# ---------------------------------------------------------------- time after a pause


def test_time_after_a_pause_is_flagged_in_the_widget(world, steer):
    from jobs import context as jobs_context
    from jobs.sync import Sync

    item_id = steer["items"][2]  # the telephony task
    token = frame_token(widget_page(world).text)
    ask_widget(world, token, kind="pause", target=f"item:{item_id}")
    assert decide(world, "accept", newest_request(world).id).status_code == 303
    task = rows(world, PlanItem, id=item_id)[0].task_id
    world.p.add_time(task, world.users["support"], 1800, utcnow() + timedelta(seconds=1), "после паузы")
    jc = jobs_context.context()
    Sync(jc.sessions, jc.rest(world.portal_a), world.portal_a).run(reconcile=True)
    shown = widget_page(world).text
    row = re.search(rf'data-hb-item="{item_id}">(.*?)</tr>', shown, re.S).group(1)
    assert "hb-flag" in row and "0:30" in page_text(row)
    body = world.get(f"/cabinet/{steer['cabinet']}.json").json()
    flagged = [i for d in body["plan"]["directions"] for i in d["items"] if i["id"] == item_id][0]
    assert flagged["after_pause_s"] == 1800 and flagged["state"] == "paused"


def test_every_new_message_is_translated():
    with open("translations/ru/LC_MESSAGES/messages.po", encoding="utf-8") as handle:
        po = handle.read()
    for msgid in ("Ask", "Send request", "Client requests", "Requests to the manager", "Forecast by month"):
        found = re.search(r'msgid "' + re.escape(msgid) + r'"\nmsgstr "([^"]*)"', po)
        assert found and found.group(1), msgid


def test_the_list_of_clients_counts_open_requests(world, steer):
    home = world.get("/app/home", manager_token(world))
    assert home.status_code == 200
    open_now = len(rows(world, ClientRequest, account_id=world.accounts["romashka"], state="open"))
    badge = re.search(rf'href="/app/account/{world.accounts["romashka"]}\?[^"]*#steer">([^<]+)</a>', home.text)
    assert badge and str(open_now) in badge.group(1)
    assert not re.search(rf'href="/app/account/{world.accounts["vector"]}\?[^"]*#steer"', home.text)  # none waiting


def test_the_forecast_table_agrees_with_each_directions_month(world, steer):
    """The manager's month-by-month table and the client's "expected" month
    say the same of every direction, at the same tariff and free hours."""
    from handlers.plan_view import forecast_table
    from ledger import calendar as cal
    from ledger.summary import summarize

    with world.session() as s:
        now = utcnow()
        summary = summarize(s, world.accounts["romashka"], now)
        first = max(0, summary.left_s)
        status = plan_status(s, world.accounts["romashka"], now, tariff_s=20 * H, first_month_s=first)
        table, _beyond = forecast_table(status, 20 * H, first, cal.local_date(now, summary.time_zone))
    said = {name: m.month for m in table for name in m.finished}
    expected = {d.name: d.finish_month for d in status.directions if d.finish_month is not None}
    assert said == expected and expected
