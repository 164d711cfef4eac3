"""The CRM widget as the portal opens it: POST /widget for a company or deal
tab, the page's own links (GET /widget/<id>, /part), the language, the
headers that let only the portal frame it. Every number is compared with
the ledger's own summary of the same database."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger import calendar as cal
from ledger.hours import format_hm
from ledger.models import AuditEvent, Portal, TimeEntry
from tests.pages import H, big_value, frame_token, hours, page_text, shown_balance, world_fixture

world = world_fixture("sqlite", "postgresql")

ADMIN_ACTOR = "Администратор Портала (#1)"


def balance_line(w, s, lang: str = "ru") -> str:
    return w.msg("left of %(allocated)s · used %(used)s", lang, allocated=hours(s.allocated_s, lang),
                 used=hours(s.used_s, lang))


def assert_shows_summary(w, markup: str, s, lang: str = "ru") -> None:
    """The balance card says what summarize() says, to the minute."""
    text = page_text(markup)
    assert s.name in text
    if s.overage_s:
        word = "перерасход" if lang == "ru" else "overage"
        assert big_value(markup).lower() == f"{word} {hours(s.overage_s, lang)}"
    else:
        assert big_value(markup) == hours(s.left_s, lang)
        assert balance_line(w, s, lang) in text
    assert f'aria-valuenow="{s.used_permille}"' in markup
    for task in s.tasks:
        row = re.search(rf'data-hb-task="{task.task_id}">[^<]*</a></td>\s*<td class="n">([^<]*)</td>'
                        rf'<td class="n hb-wide">([^<]*)</td>', markup)
        assert row, f"task {task.task_id} missing"
        minutes = task.period_s // 60, task.total_s // 60
        assert row.groups() == tuple(f"{m // 60}:{m % 60:02d}" for m in minutes)


def others_line(markup: str) -> str | None:
    """The hours of the line about time the client's own people logged
    (shown, never debited), or None without one."""
    card = re.search(r'<section class="hb-card hb-balance.*?</section>', markup, re.S)
    for line in re.findall(r'<p class="hb-line hb-muted">(.*?)</p>', card.group(0) if card else "", re.S):
        text = page_text(line)
        if "сотрудник" in text.lower() or "employee" in text.lower():
            found = re.search(r"(\d+ ч \d+ мин|\d+ ч|\d+ мин|\d+ h \d+ min|\d+ h|\d+ min)", text)
            return found.group(1) if found else ""
    return None


# ---------------------------------------------------------------- company tabs


@pytest.mark.parametrize("key", ["romashka", "vector", "sokolova"])
def test_company_tab_shows_the_accounts_numbers(world, key):
    response = world.widget(world.p, 1, world.companies[key])
    assert response.status_code == 200
    s = world.summary(world.accounts[key])
    assert_shows_summary(world, response.text, s)
    text = page_text(response.text)
    card = page_text(re.search(r'<section class="hb-card hb-balance.*?</section>', response.text, re.S).group(0))
    if key == "romashka":
        assert s.contract_kind == "retainer" and s.balance.terms.allocation_s == 40 * H
        assert world.msg("Package") in card and hours(40 * H) in card
        if not s.overage_s:  # (late in a month the demo's «Ромашка» runs over its 40 h)
            assert world.msg("Unused hours burn on %(date)s", date="").strip() in card
            assert f"{s.period_last_day.day} " in card  # the burn date
    elif key == "vector":
        assert s.contract_kind == "staged" and len(s.stages) == 3
        assert world.msg("Implementation in stages") in text
        current = [st for st in s.stages if st.state == "current"]
        assert len(current) == 1
        marked = re.findall(r'<tr class="is-current">(.*?)</tr>', response.text, re.S)
        assert len(marked) == 1
        assert current[0].name in marked[0] and world.msg("current") in page_text(marked[0])
        for st in s.stages:
            row = re.search(rf"{st.position}\. {re.escape(st.name)}.*?</tr>", response.text, re.S)
            assert row, st.name
            cells = page_text(row.group(0))
            for seconds in (st.budget_s, st.spent_s):  # as hours ("20 ч") or as a clock ("20:00")
                assert hours(seconds) in cells or format_hm(seconds) in cells, (st.name, seconds, cells)
    else:
        assert s.contract_kind == "upfront"
        assert world.msg("Project, paid upfront") in text
    assert ("перерасход" in card.lower()) == bool(s.overage_s)


def test_widget_links_carry_the_same_view(world):
    first = world.widget(world.p, 1, world.companies["sokolova"])
    token = frame_token(first.text)
    again = world.get(f"/widget/{world.accounts['sokolova']}", token)
    assert again.status_code == 200
    assert big_value(again.text) == big_value(first.text)
    manage = re.search(r'<p class="hb-foot"><a href="([^"]+)"', first.text)
    assert manage and f"/app/account/{world.accounts['sokolova']}?" in manage.group(1)  # an admin may manage
    staff = world.widget(world.p, world.users["pm"], world.companies["sokolova"])
    assert staff.status_code == 200 and 'class="hb-foot"' not in staff.text  # a plain user may not


def test_part_returns_the_fragment_for_the_minute_refresh(world):
    account = world.accounts["romashka"]
    token = world.token()
    response = world.get(f"/widget/{account}/part", token)
    assert response.status_code == 200
    assert "<html" not in response.text and "<header class=\"hb-head\">" in response.text
    assert_shows_summary(world, response.text, world.summary(account))
    by_header = world.get(f"/widget/{account}/part", headers={"X-Hourbook-Token": token})
    assert by_header.status_code == 200 and big_value(by_header.text) == big_value(response.text)
    assert "frame-ancestors https://integrator.bitrix24.test" in response.headers["Content-Security-Policy"]


# ---------------------------------------------------------------- deal tabs


def test_deal_tab_shows_the_account_of_the_deals_company(world):
    response = world.widget(world.p, 1, world.deals["romashka"], placement="CRM_DEAL_DETAIL_TAB")
    assert response.status_code == 200
    assert_shows_summary(world, response.text, world.summary(world.accounts["romashka"]))
    # A plain user reads the deal with their own rights in the emulator too.
    staff = world.widget(world.p, world.users["pm"], world.deals["romashka"], placement="CRM_DEAL_DETAIL_TAB")
    assert staff.status_code == 200 and big_value(staff.text) == big_value(response.text)


@pytest.mark.parametrize("deal", ["nobody", "none"])
def test_deal_without_an_account_shows_no_retainer_yet(world, deal):
    response = world.widget(world.p, 1, world.deals[deal], placement="CRM_DEAL_DETAIL_TAB")
    assert response.status_code == 200
    assert world.msg("This company has no retainer in Hourbook yet.") in page_text(response.text)
    assert "hb-big-value" not in response.text


# ---------------------------------------------------------------- no account yet


def test_company_without_an_account(world):
    company = world.companies["nobody"]
    admin = world.widget(world.p, 1, company)
    assert admin.status_code == 200
    text = page_text(admin.text)
    assert world.msg("This company has no retainer in Hourbook yet.") in text
    link = re.search(r'<a class="ui-btn[^"]*" href="([^"]+)">([^<]+)</a>', admin.text)
    assert link and link.group(2) == world.msg("Set up an account")
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/app/home?") and f"company={company}" in href
    setup = world.get(href)
    assert setup.status_code == 200
    # The add-a-client form has the company chosen.
    assert re.search(rf'<option value="{company}" selected>', setup.text) or \
        re.search(rf'name="company_id" value="{company}"', setup.text)
    staff = world.widget(world.p, world.users["pm"], company)
    assert staff.status_code == 200
    assert world.msg("This company has no retainer in Hourbook yet.") in page_text(staff.text)
    assert world.msg("Set up an account") not in page_text(staff.text)


# ---------------------------------------------------------------- a client's own portal


@pytest.mark.parametrize("placement, options", [
    ("CRM_COMPANY_DETAIL_TAB", {"ID": "7"}),
    ("CRM_COMPANY_DETAIL_TAB", {"ID": "123456"}),
    ("CRM_DEAL_DETAIL_TAB", {"ID": "3"}),
    ("CRM_COMPANY_DETAIL_TAB", None),
])
def test_client_portal_shows_its_one_account_on_any_card(world, placement, options):
    s = world.summary(world.accounts["client"])
    response = world.open(world.pb, world.users["b_employee"], placement, options)
    assert response.status_code == 200
    assert_shows_summary(world, response.text, s)
    # The scenario's numbers: 2 h + 1 h 30 min + 30 min + 10 min by the team of a 20 h package.
    assert (s.allocated_s, s.used_s, s.left_s) == (20 * H, 4 * H + 600, 16 * H - 600)


def test_client_portal_app_page_for_a_plain_user_is_the_clients_view(world):
    response = world.open(world.pb, world.users["b_employee"])
    assert response.status_code == 200
    assert_shows_summary(world, response.text, world.summary(world.accounts["client"]))
    assert "/app/account/" not in response.text


def test_switching_a_portal_to_integrator_mode_and_back(world):
    s_before = world.summary(world.accounts["client"])
    token = world.token(world.pb, 1)
    refused = world.post("/app/portal/mode", token, {"mode": "both"})
    assert refused.status_code == 400
    response = world.post("/app/portal/mode", token, {"mode": "integrator"})
    assert response.status_code == 303
    with world.session() as s:
        assert s.get(Portal, world.portal_b).mode == "integrator"
        event = s.execute(select(AuditEvent).where(AuditEvent.portal_id == world.portal_b,
                                                   AuditEvent.action == "portal.mode")
                          .order_by(AuditEvent.id.desc())).scalars().first()
        assert event.actor == ADMIN_ACTOR and '"integrator"' in event.after
    card = world.open(world.pb, world.users["b_employee"], "CRM_COMPANY_DETAIL_TAB", {"ID": "7"})
    assert card.status_code == 200
    assert world.msg("This company has no retainer in Hourbook yet.") in page_text(card.text)
    assert world.post("/app/portal/mode", token, {"mode": "client"}).status_code == 303
    card = world.open(world.pb, world.users["b_employee"], "CRM_COMPANY_DETAIL_TAB", {"ID": "7"})
    assert card.status_code == 200
    s_after = world.summary(world.accounts["client"])
    assert (s_after.allocated_s, s_after.used_s, s_after.left_s, s_after.others_s) == \
        (s_before.allocated_s, s_before.used_s, s_before.left_s, s_before.others_s)
    assert_shows_summary(world, card.text, s_after)


# ---------------------------------------------------------------- language


def test_russian_by_default_english_when_the_portal_says_so(world):
    account = world.accounts["romashka"]
    s = world.summary(account)
    ru = world.widget(world.p, 1, world.companies["romashka"])
    assert '<html lang="ru">' in ru.text and "осталось из" in ru.text
    en = world.widget(world.p, 1, world.companies["romashka"], lang="en")
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert big_value(en.text).lower() == shown_balance(s, "en") and " h" in big_value(en.text)
    assert balance_line(world, s, "en") in page_text(en.text) and "осталось" not in en.text
    # The language travels in the frame token to the page's own links.
    follow = world.get(f"/widget/{account}/part", frame_token(en.text))
    assert follow.status_code == 200 and balance_line(world, s, "en") in page_text(follow.text)
    for lang, expected in (("ua", "ru"), ("de", "en"), ("EN", "en")):
        other = world.widget(world.p, 1, world.companies["romashka"], lang=lang)
        assert f'<html lang="{expected}">' in other.text, lang


# ---------------------------------------------------------------- overage, burn warning, others' time


def test_an_overdrawn_account_shows_its_overage_never_a_negative_remainder(world):
    s = world.summary(world.accounts["over"])
    assert (s.allocated_s, s.used_s, s.left_s, s.overage_s) == (10 * H, 12 * H, 0, 2 * H)
    response = world.widget(world.p, 1, world.companies["over"])
    assert response.status_code == 200
    assert big_value(response.text).lower() == "перерасход 2 ч"
    card = re.search(r'<section class="hb-card hb-balance is-over">.*?</section>', response.text, re.S)
    assert card, "the balance card is not marked overdrawn"
    text = page_text(card.group(0))
    assert world.msg("Used %(used)s of %(allocated)s", used="12 ч", allocated="10 ч") in text
    assert not re.search(r"[−-]\s*\d", text), text  # no negative number anywhere on the card
    assert world.msg("The package is used up; further work is counted as overage.") in text
    assert 'aria-valuenow="1000"' in card.group(0)


def test_hours_about_to_burn_are_warned_about(world, monkeypatch):
    """Late in the month with most of the package left, the widget warns
    how much will burn and when. The clock is moved to two days before the
    month's end (or left where it is, if that is later)."""
    tz = world.p.time_zone
    now = world.summary(world.accounts["calm"]).now
    today = cal.local_date(now, tz)
    last_day = cal.add_months(cal.month_start(today), 1) - timedelta(days=1)
    late = max(now, cal.local_midnight(last_day - timedelta(days=2), tz) + timedelta(hours=12))
    monkeypatch.setattr("handlers.views.utcnow", lambda: late)
    s = world.summary(world.accounts["calm"], late)
    assert s.warn_burn and s.forecast.kind == "left" and s.forecast.burn_s > 30 * H
    response = world.widget(world.p, 1, world.companies["calm"])
    assert response.status_code == 200
    alert = re.search(r'<div class="ui-alert ui-alert-warning">(.*?)</div>', response.text, re.S)
    assert alert, "no burn warning"
    text = page_text(alert.group(1))
    assert text.startswith(f"При текущем темпе {hours(s.forecast.burn_s)} сгорят {last_day.day} ")
    assert 'class="hb-card hb-balance is-warn"' in response.text
    quiet = world.widget(world.p, 1, world.companies["over"])
    assert "ui-alert-warning" not in quiet.text  # an overdrawn account has nothing left to burn


def test_the_clients_own_employees_time_is_shown_apart(world):
    account = world.accounts["romashka"]
    s = world.summary(account)
    with world.session() as session:
        team, others, debited = session.execute(
            select(func.coalesce(func.sum(TimeEntry.counted_s), 0),
                   func.coalesce(func.sum(TimeEntry.duration_s).filter(TimeEntry.state == "not_team"), 0),
                   func.coalesce(func.sum(TimeEntry.counted_s).filter(TimeEntry.state == "not_team"), 0))
            .where(TimeEntry.account_id == account, TimeEntry.period_id == s.balance.period_id,
                   TimeEntry.deleted.is_(False))).one()
    assert others == s.others_s >= 1500 and debited == 0
    assert s.used_s == team  # only the team's time is debited
    response = world.widget(world.p, 1, world.companies["romashka"])
    assert others_line(response.text) == hours(s.others_s)
    client = world.open(world.pb, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "1"})
    assert others_line(client.text) == "40 мин"  # Юлия's 40 minutes, apart from the 4 h 10 min debited


# ---------------------------------------------------------------- headers


def test_only_the_portal_may_frame_the_widget(world):
    token = world.token()
    for response in (world.widget(world.p, 1, world.companies["romashka"]),
                     world.get(f"/widget/{world.accounts['romashka']}", token),
                     world.get(f"/widget/{world.accounts['romashka']}/part", token),
                     world.get("/app/home", token)):
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1).split()
        assert "https://integrator.bitrix24.test" in ancestors
        assert world.emu.url in ancestors  # the REST base's origin (the emulator serves the portal)
        assert "*" not in ancestors and "'none'" not in ancestors
        assert response.headers.get("X-Frame-Options", "").upper() not in ("DENY", "SAMEORIGIN")
    client = world.open(world.pb, 1, "CRM_COMPANY_DETAIL_TAB", {"ID": "1"})
    ancestors = re.search(r"frame-ancestors ([^;]+)", client.headers["Content-Security-Policy"]).group(1).split()
    assert "https://klient.bitrix24.test" in ancestors and "https://integrator.bitrix24.test" not in ancestors


# ---------------------------------------------------------------- renewing the frame token


def test_a_page_left_open_renews_its_token_with_a_fresh_auth_id(world):
    token = world.token(world.p, world.users["pm"], "CRM_COMPANY_DETAIL_TAB", {"ID": str(world.companies["romashka"])})
    _, fresh = world.emu.open_frame(world.p, "app.hourbook.test", world.users["pm"], "DEFAULT")
    response = world.post("/frame/renew", None, fresh, headers={"X-Hourbook-Token": token})
    assert response.status_code == 200
    body = response.json()
    assert body["max_age_s"] == 3600 and body["token"]  # (the same second signs the same token)
    assert world.get(f"/widget/{world.accounts['romashka']}/part", body["token"]).status_code == 200
    _, someone_else = world.emu.open_frame(world.p, "app.hourbook.test", 1, "DEFAULT")
    refused = world.post("/frame/renew", None, someone_else, headers={"X-Hourbook-Token": token})
    assert refused.status_code == 403 and refused.json()["error"] == "another user"
