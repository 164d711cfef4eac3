"""amoCRM as the client's home (issue 17), end to end over real HTTP: the
manager's link, OAuth with the emulated amoCRM, the widget's calls with
disposable tokens, the framed page with the Bitrix24 widget's numbers, the
weekly note, disconnect and reconnect, and every refusal writing nothing.
The world: tests/amocrm_world.py."""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select

from amocrm.client import Api, Blocked, RateLimited
from amocrm.connection import StoredTokens, api_for, local_bucket
from amocrm.models import AmoConnection, AmoNote
from jobs import context as jobs_context
from tests.amocrm_world import AMO_CLIENT_ID, AMO_SECRET, amo_world_fixture, connect, connect_link
from tests.pages import big_value, page_text

amo_world = amo_world_fixture("sqlite", "postgresql")


def summary_text(markup: str) -> str:
    found = re.search(r'<main id="hb-root"[^>]*>(.*?)</main>', markup, re.S)
    assert found, markup[:500]
    return page_text(found.group(1))


def without_task_refs(text: str) -> str:
    return re.sub(r" ?#\d+", "", text)


def frame_of(aw, token=None, **call):
    answer = aw.call(token or aw.token(), **call)
    assert answer.status_code == 200, answer.text
    return requests.get(answer.json()["url"], timeout=30)


def together(n: int, work, timeout_s: float = 120) -> list[BaseException]:
    """`work` in n threads at once; what they raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    return errors


def connection(aw, key: str = "a") -> AmoConnection:
    with aw.w.session() as s:
        return s.get(AmoConnection, aw.connections[key])


# ---------------------------------------------------------------- install


def test_the_admin_connects_through_the_managers_link_and_the_tokens_are_sealed(amo_world):
    aw = amo_world
    conn = connection(aw)
    assert conn.status == "ok" and conn.amo_account_id == aw.a.id and conn.subdomain == "klient"
    assert conn.company_id == aw.companies["a_home"] and conn.base_url == aw.a.url
    box = aw.w.app.extensions["hourbook"].box
    live = [g for g in aw.amo.state.grants if g.alive and g.account_id == aw.a.id]
    assert conn.access_token != live[-1].access and box.open(conn.access_token) == live[-1].access
    assert box.open(conn.refresh_token) == live[-1].refresh
    # The picker pages through more than 250 companies with amoCRM's `page`/`limit`.
    assert any(path == "/api/v4/companies" for _, _, path in aw.amo.calls)


def test_the_company_picker_finds_by_name_and_refuses_another_accounts_company(amo_world):
    aw = amo_world
    answer = connect(aw.amo, aw.w.app, aw.a, aw.w.accounts["romashka"], aw.companies["b_home"])
    assert answer.status_code == 404  # not a company of this amoCRM account
    assert connection(aw).company_id == aw.companies["a_home"]  # the earlier choice stands


@pytest.mark.parametrize("case", ["no state", "forged state", "foreign referer", "denied", "from widget", "bad code",
                                  "expired code", "used code", "another account's code"])
def test_a_redirect_that_is_not_ours_connects_nothing(amo_world, case):
    aw = amo_world
    before = aw.w.snapshot()
    link = requests.get(connect_link(aw.w.app, aw.w.accounts["vector"]), timeout=30).text
    state = re.search(r"state=([^&\"]+)", link).group(1)
    code = aw.amo.state.issue_code(aw.a, AMO_CLIENT_ID)
    query = {"no state": {"code": code, "referer": aw.a.host},
             "forged state": {"code": code, "referer": aw.a.host, "state": state[:-3] + "abc"},
             "foreign referer": {"code": code, "referer": "evil.example.com", "state": state},
             "denied": {"error": "access_denied", "state": state},
             "from widget": {"code": code, "referer": aw.a.host, "from_widget": "1"},
             "bad code": {"code": "def502" + "0" * 40, "referer": aw.a.host, "state": state},
             "expired code": {"code": code, "referer": aw.a.host, "state": state},
             "used code": {"code": code, "referer": aw.a.host, "state": state},
             "another account's code": {"code": aw.amo.state.issue_code(aw.b, AMO_CLIENT_ID), "referer": aw.a.host,
                                        "state": state}}[case]
    if case == "expired code":  # 20 minutes passed (§1.2)
        account_id, client_id, _ = aw.amo.state.codes[code]
        aw.amo.state.codes[code] = (account_id, client_id, time.time() - 1)
    if case == "used code":  # exchanged once already (by whoever saw it)
        first = requests.post(aw.a.url + "/oauth2/access_token", json={
            "client_id": AMO_CLIENT_ID, "client_secret": AMO_SECRET, "grant_type": "authorization_code",
            "code": code, "redirect_uri": aw.url + "/amocrm/oauth"}, timeout=30)
        assert first.status_code == 200
    answer = requests.get(aw.url + "/amocrm/oauth", params=query, timeout=30, allow_redirects=False)
    assert answer.status_code in (200, 400, 403), answer.text[:300]
    assert answer.status_code != 200 or case == "from widget"
    assert aw.w.snapshot() == before


def test_one_amocrm_account_cannot_serve_two_clients(amo_world):
    aw = amo_world
    before = aw.w.snapshot()
    answer = connect(aw.amo, aw.w.app, aw.a, aw.w.accounts["vector"], None)
    assert answer.status_code == 409
    assert aw.w.snapshot() == before


# ---------------------------------------------------------------- the widget


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_card_shows_the_bitrix24_widgets_numbers_to_the_second(amo_world, lang):
    aw = amo_world
    b24 = aw.w.widget(aw.w.p, aw.w.users["admin"], aw.w.companies["romashka"], lang=lang)
    amo = frame_of(aw, lang=lang)
    assert b24.status_code == 200 and amo.status_code == 200
    assert summary_text(amo.text) == summary_text(b24.text)
    assert big_value(amo.text) == big_value(b24.text)
    assert f'<html lang="{lang}">' in amo.text
    # Tasks are not links into the integrator's Bitrix24, which the client cannot open.
    assert "data-hb-task" not in amo.text
    # Only the amoCRM account may frame the page; no cookie is set.
    assert f"frame-ancestors {aw.a.url}" in amo.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in amo.headers


@pytest.mark.parametrize("client", ["vector", "sokolova", "calm", "over"])
def test_every_kind_of_contract_shows_the_same_in_both_hosts(amo_world, client):
    """Stages (staged), one budget (upfront), a quiet retainer with its burn
    date (calm), an overage (over): each client in its own amoCRM account
    shows what the Bitrix24 widget shows."""
    aw = amo_world
    account = aw.amo.add_account(f"k-{client}", f"amoCRM {client}")
    user = aw.amo.state.add_user(account, "Админ", "ru", admin=True)
    company = aw.amo.state.add_company(account, "Интегратор")
    assert connect(aw.amo, aw.w.app, account, aw.w.accounts[client], company).status_code == 200
    amo = frame_of(aw, aw.token(account, user), entity_id=company, origin=account.url)
    b24 = aw.w.widget(aw.w.p, aw.w.users["admin"], aw.w.companies[client])
    # The scope's task numbers link into the integrator's Bitrix24, so they
    # are shown inside Bitrix24 only (as in the cabinet); every figure and
    # word beside them is the same.
    assert without_task_refs(summary_text(amo.text)) == without_task_refs(summary_text(b24.text))
    shown = {"vector": f"<h2>{aw.w.msg('Stages')}</h2>", "sokolova": "hb-big-value", "calm": "hb-balance",
             "over": "hb-big-value hb-danger"}[client]
    assert shown in amo.text


def test_the_minute_refresh_answers_with_the_ticket_and_nothing_else(amo_world):
    aw = amo_world
    page = frame_of(aw)
    ticket = re.search(r'<meta name="hb-token" content="([^"]+)"', page.text).group(1)
    part = requests.get(aw.url + "/amocrm/frame/part", headers={"X-Hourbook-Token": ticket}, timeout=30)
    assert part.status_code == 200 and page_text(part.text) == summary_text(page.text)
    for bad in ("", ticket[:-2] + "xx"):
        assert requests.get(aw.url + "/amocrm/frame/part", headers={"X-Hourbook-Token": bad},
                            timeout=30).status_code == 403


def test_a_lead_of_the_company_shows_it_and_other_cards_show_nothing(amo_world):
    aw = amo_world
    assert aw.call(aw.token(), "leads", aw.leads["a_home"]).status_code == 200
    # Opened again: the lead's company is remembered, no request spent on it (7 a second, §3).
    asked = len(aw.amo.calls)
    assert aw.call(aw.token(), "leads", aw.leads["a_home"]).status_code == 200
    assert len(aw.amo.calls) == asked
    for entity, entity_id in (("leads", aw.leads["a_other"]), ("leads", aw.leads["a_none"]),
                              ("companies", aw.companies["a_other"]), ("leads", 999_999_999)):
        answer = aw.call(aw.token(), entity, entity_id)
        assert answer.status_code == 404 and "url" not in answer.json()


def test_another_accounts_company_is_not_shown(amo_world):
    aw = amo_world
    # A's token naming B's card, and B's token naming A's: neither learns the other's hours.
    assert aw.call(aw.token(aw.a), "companies", aw.companies["b_home"]).status_code == 404
    assert aw.call(aw.token(aw.b), "companies", aw.companies["a_home"], origin=aw.b.url).status_code == 404
    own = frame_of(aw, aw.token(aw.b), entity_id=aw.companies["b_home"], origin=aw.b.url)
    assert "ООО «Клиент»" in own.text and "Ромашка" not in own.text


def _forgeries(aw):
    now = int(time.time())
    other = aw.amo.add_account("tretiy", "ООО «Третий»")  # a real amoCRM account, never connected
    aw.amo.state.add_user(other, "Кто-то", "ru")
    return {
        "none": None,
        "garbage": "not-a-jwt",
        "wrong key": aw.token(key="someone-elses-secret-0123456789abcdef"),
        "expired": aw.token(iat=now - 4000, nbf=now - 4000, exp=now - 2000),
        "not yet valid": aw.token(nbf=now + 600, iat=now + 600, exp=now + 1800),
        "too long": aw.token(exp=now + 86400),
        "other audience": aw.token(aud="https://someone-else.example"),
        "other integration": aw.token(client_uuid="00000000-0000-4000-8000-000000000000"),
        "no account": aw.token(account_id=None),
        "account as text": aw.token(account_id=str(aw.a.id)),
        "alg none": _alg_none(aw),
        "not connected": aw.token(other),
    }


def _alg_none(aw) -> str:
    import base64
    import json

    def part(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    import jwt

    claims = jwt.decode(aw.token(), options={"verify_signature": False})
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_forged_expired_and_foreign_tokens_are_refused_and_write_nothing(amo_world):
    aw = amo_world
    before = aw.w.snapshot()
    for name, token in _forgeries(aw).items():
        answer = aw.call(token)
        expected = 403 if name == "not connected" else 401
        assert answer.status_code == expected, (name, answer.status_code, answer.text)
        assert "url" not in answer.json()
    assert aw.w.snapshot() == before


def test_a_disposable_token_is_used_once(amo_world):
    aw = amo_world
    token = aw.token()
    assert aw.call(token).status_code == 200
    assert aw.call(token).status_code == 401


def test_cookies_do_not_authenticate(amo_world):
    aw = amo_world
    page = frame_of(aw)
    cookies = {"session": "x", **{k: v for k, v in page.cookies.items()}}
    answer = requests.post(aw.url + "/amocrm/widget", data={"entity": "companies", "id": aw.companies["a_home"]},
                           cookies=cookies, timeout=30)
    assert answer.status_code == 401


def test_cors_lets_the_amocrm_page_read_and_nobody_else(amo_world):
    aw = amo_world
    pre = requests.options(aw.url + "/amocrm/widget", headers={
        "Origin": aw.a.url, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-auth-token"}, timeout=30)
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == aw.a.url
    assert "X-Auth-Token" in pre.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in pre.headers
    evil = aw.call(aw.token(), origin="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in evil.headers


def test_bitrix24_frames_and_amocrm_tickets_do_not_open_each_other(amo_world):
    aw = amo_world
    page = frame_of(aw)
    ticket = re.search(r'<meta name="hb-token" content="([^"]+)"', page.text).group(1)
    romashka = aw.w.accounts["romashka"]
    # The amoCRM ticket is no Bitrix24 frame token …
    assert aw.w.get(f"/widget/{romashka}", ticket).status_code == 403
    assert aw.w.get(f"/app/account/{romashka}", ticket).status_code == 403
    # … and a Bitrix24 frame token is no amoCRM ticket.
    b24_token = aw.w.token(aw.w.p, aw.w.users["admin"])
    assert requests.get(aw.url + "/amocrm/frame", params={"t": b24_token}, timeout=30).status_code == 403
    assert requests.get(aw.url + "/amocrm/frame/part", headers={"X-Hourbook-Token": b24_token},
                        timeout=30).status_code == 403


def test_both_hosts_behind_the_interface_name_the_same_account(amo_world):
    """The host interface: Bitrix24 vouches for a portal user by the frame's
    AUTH_ID, amoCRM for an account user by the disposable token; each names
    the account its card shows: the same one."""
    from tests.live import CLIENT_ID

    aw = amo_world
    ctx = jobs_context.context()
    b24, amo = ctx.bitrix24(), ctx.amocrm()
    _url, form = aw.w.emu.open_frame(aw.w.p, CLIENT_ID, aw.w.users["pm"], "CRM_COMPANY_DETAIL_TAB",
                                     {"ID": str(aw.w.companies["romashka"])})
    portal_viewer = b24.authenticate(form["member_id"], form["AUTH_ID"])
    amo_viewer = amo.authenticate(aw.token())
    assert (portal_viewer.host, amo_viewer.host) == ("bitrix24", "amocrm")
    romashka = aw.w.accounts["romashka"]
    assert b24.account_of(portal_viewer, "company", aw.w.companies["romashka"]) == romashka
    assert amo.account_of(amo_viewer, "companies", aw.companies["a_home"]) == romashka
    assert amo.account_of(amo_viewer, "companies", aw.w.companies["romashka"]) is None  # a Bitrix24 id means nothing here


# ---------------------------------------------------------------- the API client: limits and refresh


def test_refresh_under_racing_workers_happens_once_and_all_use_its_tokens(amo_world):
    aw = amo_world
    ctx = jobs_context.context()
    integration = jobs_context.amocrm_integration(aw.w.app.config)
    before = aw.a.counts["refreshes"]
    stored_before = connection(aw).refresh_count
    aw.amo.state.expire_access(aw.a)
    aw.a.rate_limit = False
    results = []
    start = threading.Barrier(8)

    def work() -> None:
        api = api_for(ctx.sessions, aw.connections["a"], ctx.box, integration, limiter=None)
        start.wait()
        results.append(api.account()["id"])

    errors = together(8, work)
    aw.a.rate_limit = True
    assert errors == [] and results == [aw.a.id] * 8
    assert aw.a.counts["refreshes"] == before + 1
    conn = connection(aw)
    assert conn.status == "ok" and conn.refresh_count == stored_before + 1
    # Several pairs may live at once (each code exchange makes one, §1.2); ours is the newest.
    alive = [g for g in aw.amo.state.grants if g.alive and g.account_id == aw.a.id]
    assert ctx.box.open(conn.refresh_token) == alive[-1].refresh


def _refresh_in_a_process(url: str, secret_key: str, connection_id: int, config: dict, out) -> None:
    from hosts.secrets import SecretBox
    from ledger.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        integration = jobs_context.amocrm_integration(config)
        api = api_for(sessions, connection_id, SecretBox(secret_key), integration, limiter=None)
        out.put(api.account()["id"])
    except BaseException as err:  # noqa: BLE001
        out.put(repr(err))
    finally:
        engine.dispose()


def test_refresh_under_racing_processes_happens_once(amo_world):
    import multiprocessing

    aw = amo_world
    if aw.w.database != "postgresql":
        pytest.skip("processes share the PostgreSQL database (SQLite: the thread race above)")
    before = aw.a.counts["refreshes"]
    aw.amo.state.expire_access(aw.a)
    aw.a.rate_limit = False
    fork = multiprocessing.get_context("fork")
    out = fork.Queue()
    config = dict(aw.w.app.config)
    url = str(aw.w.app.config["DATABASE_URL"])
    procs = [fork.Process(target=_refresh_in_a_process,
                          args=(url, aw.w.app.config["SECRET_KEY"], aw.connections["a"], config, out))
             for _ in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    aw.a.rate_limit = True
    assert got == [aw.a.id] * 4
    assert aw.a.counts["refreshes"] == before + 1


def test_a_429_storm_is_ridden_out_with_backoff_and_the_bucket_prevents_it(amo_world):
    aw = amo_world
    ctx = jobs_context.context()
    integration = jobs_context.amocrm_integration(aw.w.app.config)
    time.sleep(1.1)
    # No bucket: 30 calls at once from 6 threads; amoCRM answers 429 beyond 7 a second.
    api = api_for(ctx.sessions, aw.connections["a"], ctx.box, integration, limiter=None, backoff_s=0.3,
                  retries_429=8)
    before = aw.a.counts["429"]

    def burst() -> None:
        for _ in range(5):
            api.company(aw.companies["a_home"])

    errors = together(6, burst)
    assert errors == [] and aw.a.counts["429"] > before and api.counts["429"] > 0
    aw.a.limited.clear()  # this storm's 429s do not count towards a block in the tests after it
    # With the bucket production builds (5 a second, one at a time): no 429 at all.
    time.sleep(1.1)
    before = aw.a.counts["429"]
    paced = api_for(ctx.sessions, aw.connections["a"], ctx.box, integration, limiter=local_bucket())
    started = time.monotonic()
    for _ in range(20):
        paced.company(aw.companies["a_home"])
    assert aw.a.counts["429"] == before and paced.counts["429"] == 0
    assert time.monotonic() - started >= 3.5  # 20 requests at 5 a second


def test_a_new_subdomain_is_followed(amo_world):
    """The account's subdomain changed (§1.5): its old address answers 404.
    The client asks where it lives now (X-Refresh-Token to the token's
    api_domain), moves the connection there and goes on; the widget's page
    is then framed by the new address only."""
    aw = amo_world
    account = aw.amo.add_account("staroe", "ООО «Старое имя»")
    user = aw.amo.state.add_user(account, "Админ", "ru", admin=True)
    company = aw.amo.state.add_company(account, "Интегратор")
    assert connect(aw.amo, aw.w.app, account, aw.w.accounts["sokolova"], company).status_code == 200
    with aw.w.session() as s:
        conn_id = s.execute(select(AmoConnection.id).where(AmoConnection.amo_account_id == account.id,
                                                           AmoConnection.status == "ok")).scalar_one()
    old = account.url
    aw.amo.rename(account, "novoe")
    aw.amo.state.expire_access(account)  # and a day passed: the refresh must go to the new address too
    api = jobs_context.context().amocrm().api(conn_id)
    assert api.company(company)["id"] == company
    assert api.base_url == account.url != old
    with aw.w.session() as s:
        moved = s.get(AmoConnection, conn_id)
        assert (moved.base_url, moved.subdomain, moved.status) == (account.url, "novoe", "ok")
    page = frame_of(aw, aw.token(account, user), entity_id=company, origin=account.url)
    assert f"frame-ancestors {account.url}" in page.headers["Content-Security-Policy"]
    assert old not in page.headers["Content-Security-Policy"]


def test_an_unpaid_account_is_refused_without_losing_the_connection(amo_world):
    from amocrm.client import AuthFailed

    aw = amo_world
    ctx = jobs_context.context()
    aw.b.paid = False
    try:
        with pytest.raises(AuthFailed) as refused:
            ctx.amocrm().api(aw.connections["b"]).account()
        assert refused.value.status == 402
        assert connection(aw, "b").status == "ok"  # paid again, it works again: nothing to reconnect
    finally:
        aw.b.paid = True
    assert ctx.amocrm().api(aw.connections["b"]).account()["id"] == aw.b.id


def test_a_storm_that_gets_the_account_blocked_stops_the_client(amo_world):
    aw = amo_world
    ctx = jobs_context.context()
    integration = jobs_context.amocrm_integration(aw.w.app.config)
    state = aw.amo.state
    saved = aw.a.blocked_until
    try:
        aw.a.blocked_until = state.clock() + 5  # amoCRM blocked the account (§3)
        api = api_for(ctx.sessions, aw.connections["a"], ctx.box, integration, limiter=None)
        with pytest.raises(Blocked):
            api.company(aw.companies["a_home"])
        # Retries give up as RateLimited rather than hammer on.
        aw.a.blocked_until = saved
        never = Api(aw.a.url, StoredTokens(ctx.sessions, aw.connections["a"], ctx.box, integration),
                    retries_429=2, backoff_s=0.01)
        aw.a.recent.extend([state.clock() + 10] * 7)  # the second is full for a while
        with pytest.raises(RateLimited):
            never.company(aw.companies["a_home"])
    finally:
        aw.a.blocked_until = saved
        aw.a.recent.clear()
        aw.a.limited.clear()


def test_idle_connections_are_refreshed_before_amocrm_forgets_them(amo_world):
    from jobs.amocrm import KEEP_FRESH, refresh_idle_connections

    aw = amo_world
    before = (aw.a.counts["refreshes"], aw.b.counts["refreshes"])
    # Nothing due yet: both were refreshed or connected lately.
    assert refresh_idle_connections()["refreshed"] == 0
    # Thirty-one days later, without a single widget call: both are refreshed once, and still work.
    later = datetime.now(timezone.utc) + KEEP_FRESH + timedelta(days=1)
    with aw.w.session() as s:
        live = len(s.execute(select(AmoConnection.id).where(AmoConnection.status.in_(("ok", "pending")))).all())
    assert live >= 2 and refresh_idle_connections(later) == {"refreshed": live, "failed": []}
    assert (aw.a.counts["refreshes"], aw.b.counts["refreshes"]) == (before[0] + 1, before[1] + 1)
    assert connection(aw).status == "ok" and frame_of(aw).status_code == 200


# ---------------------------------------------------------------- the weekly note


def test_the_weekly_summary_goes_to_the_company_card_once(amo_world):
    from jobs.reports import deliver, send_report

    aw = amo_world
    before = len(aw.amo.notes(aw.a, aw.companies["a_home"]))
    now = datetime.now(timezone.utc)
    week = f"{(now - timedelta(days=7)).isocalendar().year}-W{(now - timedelta(days=7)).isocalendar().week:02d}"
    outcome = send_report(aw.w.accounts["romashka"], week, "test")
    assert outcome["note"] == "sent", outcome
    notes = aw.amo.notes(aw.a, aw.companies["a_home"])
    assert len(notes) == before + 1 and notes[-1]["note_type"] == "common"
    text = notes[-1]["params"]["text"]
    # Plain text (a note shows BB-code as it is) and no links into the integrator's Bitrix24.
    assert "Ромашка" in text and "[B]" not in text and "[URL" not in text and "bitrix24" not in text
    # Delivered again (a retry, a second worker): no second note.
    with aw.w.session() as s:
        row = s.execute(select(AmoNote).order_by(AmoNote.id.desc())).scalars().first()
        report_id = int(s.execute(select(__import__("reports.models", fromlist=["SentReport"]).SentReport.id)
                                  .where(__import__("reports.models", fromlist=["SentReport"]).SentReport.key
                                         == row.key.removeprefix("report:"))).scalar_one())
    deliver(report_id)
    from amocrm import accounts

    ctx = jobs_context.context()
    api = ctx.amocrm().api(aw.connections["a"])
    assert accounts.post_note(ctx.sessions, api, aw.connections["a"], row.key, "again") == "already"
    assert len(aw.amo.notes(aw.a, aw.companies["a_home"])) == before + 1
    # Another client's report does not reach this card (it goes to its own amoCRM, if any).
    send_report(aw.w.accounts["vector"], week, "test")
    assert len(aw.amo.notes(aw.a, aw.companies["a_home"])) == before + 1
    assert all("Вектор" not in n["params"]["text"] for n in aw.a.notes)
    # An account that does not live in amoCRM: nothing to post.
    assert ctx.amocrm().deliver(999_999, "report:none", "text") == "not here"


def test_a_note_left_half_done_is_found_not_posted_twice(amo_world):
    from amocrm import accounts

    aw = amo_world
    ctx = jobs_context.context()
    api = ctx.amocrm().api(aw.connections["a"])
    text = "Итоги недели: проверка повтора"
    first = api.add_note(aw.companies["a_home"], text, "x")
    with ctx.sessions() as s, s.begin():  # a worker wrote the row, posted, and died before saving
        s.add(AmoNote(key="report:half-done", connection_id=aw.connections["a"], company_id=aw.companies["a_home"],
                      created_at=datetime.now(timezone.utc)))
    count = len(aw.amo.notes(aw.a, aw.companies["a_home"]))
    assert accounts.post_note(ctx.sessions, api, aw.connections["a"], "report:half-done", text) == "sent"
    assert len(aw.amo.notes(aw.a, aw.companies["a_home"])) == count
    with ctx.sessions() as s:
        assert s.execute(select(AmoNote.note_id).where(AmoNote.key == "report:half-done")).scalar_one() == first


# ---------------------------------------------------------------- disconnect and reconnect (last: they change the world)


def test_a_forged_disconnect_hook_changes_nothing(amo_world):
    aw = amo_world
    before = aw.w.snapshot()
    for params in ({"account_id": aw.a.id, "client_uuid": AMO_CLIENT_ID, "signature": "0" * 64},
                   {"account_id": aw.a.id, "client_uuid": "other", "signature": "0" * 64},
                   {"account_id": "x"}, {}):
        assert requests.get(aw.url + "/amocrm/hook", params=params, timeout=30).status_code in (400, 403)
    assert aw.w.snapshot() == before


def test_a_revoked_integration_marks_the_connection_dead_and_the_link_mends_it(amo_world):
    """The admin turned the integration off in amoCRM and the hook never
    came: the next call's refresh is refused (401, OAuthProblemJson), the
    connection is marked dead, visibly; the manager's link connects again."""
    from amocrm.client import AuthFailed

    aw = amo_world
    ctx = jobs_context.context()
    aw.amo.state.revoke(aw.b, AMO_CLIENT_ID)
    with pytest.raises(AuthFailed):
        ctx.amocrm().api(aw.connections["b"]).account()
    dead = connection(aw, "b")
    assert dead.status == "dead" and "401" in dead.dead_reason
    w = aw.w
    page = w.get(f"/app/account/{w.accounts['client']}", w.token(w.pb, w.users["b_admin"]))
    assert w.msg("needs reconnecting") in page_text(page.text)
    done = connect(aw.amo, w.app, aw.b, w.accounts["client"], aw.companies["b_home"])
    assert done.status_code == 200
    mended = connection(aw, "b")
    assert mended.id == dead.id and mended.status == "ok" and mended.dead_reason is None
    assert ctx.amocrm().api(aw.connections["b"]).account()["id"] == aw.b.id


def test_zz_disconnect_keeps_history_and_reconnect_works_again(amo_world):
    aw = amo_world
    page = frame_of(aw)
    ticket = re.search(r'<meta name="hb-token" content="([^"]+)"', page.text).group(1)
    with aw.w.session() as s:
        notes_before = s.execute(select(AmoNote)).scalars().all()
    assert aw.amo.disconnect(aw.a, AMO_CLIENT_ID) == 200  # amoCRM calls our hook, signed
    conn = connection(aw)
    assert conn.status == "disconnected" and conn.access_token is None and conn.refresh_token is None
    assert conn.disconnected_at is not None
    # The widget and an open page stop at once; what was sent stays.
    assert aw.call(aw.token()).status_code == 403
    assert requests.get(aw.url + "/amocrm/frame/part", headers={"X-Hourbook-Token": ticket},
                        timeout=30).status_code == 403
    with aw.w.session() as s:
        assert len(s.execute(select(AmoNote)).scalars().all()) == len(notes_before)
    # The admin connects again through the manager's link: a new connection, the old row kept.
    done = connect(aw.amo, aw.w.app, aw.a, aw.w.accounts["romashka"], aw.companies["a_home"])
    assert done.status_code == 200
    with aw.w.session() as s:
        rows = s.execute(select(AmoConnection).where(AmoConnection.amo_account_id == aw.a.id)
                         .order_by(AmoConnection.id)).scalars().all()
    assert [r.status for r in rows] == ["disconnected", "ok"]
    aw.connections["a"] = rows[-1].id
    assert frame_of(aw).status_code == 200


def test_zz_the_manager_disconnects_from_the_app_page(amo_world):
    aw = amo_world
    w = aw.w
    token = w.token(w.p, w.users["admin"])
    romashka = w.accounts["romashka"]
    page = w.get(f"/app/account/{romashka}", token)
    assert page.status_code == 200 and 'id="amocrm"' in page.text and "/amocrm/connect/" in page.text
    assert f'name="connection_id" value="{aw.connections["a"]}"' in page.text
    form = {"connection_id": str(aw.connections["a"])}
    # Another client's connection is not this page's to end: a clear 400, nothing written.
    before = w.snapshot()
    foreign = {"connection_id": str(aw.connections["b"])}
    assert w.post(f"/app/account/{romashka}/amocrm_disconnect", token, foreign).status_code == 400
    assert w.snapshot() == before
    answer = w.post(f"/app/account/{romashka}/amocrm_disconnect", token, form)
    assert answer.status_code == 303
    assert connection(aw).status == "disconnected" and connection(aw, "b").status == "ok"
    assert aw.call(aw.token()).status_code == 403
    # Nothing left to disconnect: a clear 400, nothing written.
    before = w.snapshot()
    assert w.post(f"/app/account/{romashka}/amocrm_disconnect", token, form).status_code == 400
    assert w.snapshot() == before
