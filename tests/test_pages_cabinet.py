"""The client's cabinet: a standalone signed link a manager creates on the
account's page (POST …/access_create), opened without any portal login;
the same numbers as the widget, as HTML and as JSON; revoked, rotated and
expired links answer the same plain 404 as any guess."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from ledger.models import AuditEvent, CabinetLink
from tests.pages import SECRET_KEY, big_value, hours, page_text, shown_balance, world_fixture

world = world_fixture("sqlite", "postgresql")

ADMIN_ACTOR = "Администратор Портала (#1)"


def create_link(w, account_key: str = "romashka", **form) -> tuple[str, int]:
    """The manager creates a link; its URL as the account's page shows it."""
    token = w.token()
    account = w.accounts[account_key]
    response = w.post(f"/app/account/{account}/access_create", token, {"label": "Директор", **form})
    assert response.status_code == 303, response.text[:300]
    page = w.get(response.headers["Location"].replace(w.url, ""))
    assert page.status_code == 200
    with w.session() as s:
        link = s.execute(select(CabinetLink).where(CabinetLink.account_id == account)
                         .order_by(CabinetLink.id.desc())).scalars().first()
    urls = re.findall(r'<div class="hb-copy">([^<]+)</div>', page.text)
    assert urls, "the account's page shows no cabinet link"
    return urls[0].replace("&amp;", "&"), link.id


def cabinet_path(url: str, w) -> str:
    assert url.startswith(w.url + "/cabinet/")
    return url[len(w.url):]


@pytest.fixture(scope="module")
def link(world):
    url, link_id = create_link(world)
    return cabinet_path(url, world), link_id


def test_creating_a_link_is_recorded_with_its_author(world, link):
    path, link_id = link
    with world.session() as s:
        row = s.get(CabinetLink, link_id)
        assert row.account_id == world.accounts["romashka"] and row.created_by == ADMIN_ACTOR
        assert row.label == "Директор" and row.expires_at is None and row.revoked_at is None
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "cabinet.create",
                                                   AuditEvent.account_id == world.accounts["romashka"])
                          .order_by(AuditEvent.id.desc())).scalars().first()
        assert event.actor == ADMIN_ACTOR and f'"link_id": {link_id}' in event.after


def test_the_cabinet_shows_the_widgets_numbers_without_portal_links(world, link):
    path, link_id = link
    response = world.get(path)
    assert response.status_code == 200
    s = world.summary(world.accounts["romashka"])
    widget = world.widget(world.p, 1, world.companies["romashka"])
    assert big_value(response.text) == big_value(widget.text)
    assert big_value(response.text).lower() == shown_balance(s)
    text = page_text(response.text)
    assert world.msg("left of %(allocated)s · used %(used)s", allocated=hours(s.allocated_s),
                     used=hours(s.used_s)) in text
    for task in s.tasks:
        assert task.title in text
    assert "data-hb-task" not in response.text and 'href="https://' not in response.text
    assert "hb-token" not in response.text  # no frame token outside the portal
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    with world.session() as session:
        assert session.get(CabinetLink, link_id).last_seen_at is not None  # the manager sees it was opened
    part = world.get(path + "/part")
    assert part.status_code == 200 and "<html" not in part.text and big_value(part.text) == big_value(response.text)


def test_the_json_has_the_summarys_integer_seconds(world, link):
    path, _ = link
    response = world.get(path + ".json")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    s = world.summary(world.accounts["romashka"])
    for key in ("allocated_s", "used_s", "left_s", "overage_s", "others_s"):
        assert type(body[key]) is int, key
        assert body[key] == getattr(s, key), key
    assert body["account"] == {"id": s.account_id, "name": s.name, "language": "ru"}
    assert body["period"]["label"] == s.balance.label and body["period"]["days_left"] == s.days_left
    assert body["period"]["allocation_s"] == 40 * 3600
    assert {t["id"]: (t["period_s"], t["total_s"]) for t in body["tasks"]} == \
        {t.task_id: (t.period_s, t.total_s) for t in s.tasks}
    assert [(d["name"], d["planned_s"], d["spent_s"]) for d in body["directions"]] == \
        [(d.name, d.planned_s, d.spent_s) for d in s.directions]
    assert [(m["period"], m["used_s"]) for m in body["history"]] == [(m.label, m.used_s) for m in s.history]
    assert all(type(t["period_s"]) is int and type(t["total_s"]) is int for t in body["tasks"])
    assert body["others_s"] > 0 and body["used_s"] + body["left_s"] - body["overage_s"] == body["allocated_s"]


def test_the_language_switch_sets_a_cookie(world, link):
    path, _ = link
    browser = requests.Session()
    ru = browser.get(world.url + path, timeout=30)
    assert '<html lang="ru">' in ru.text and "hb_lang" not in ru.headers.get("Set-Cookie", "")
    en = browser.get(world.url + path, params={"lang": "en"}, timeout=30)
    assert en.status_code == 200 and '<html lang="en">' in en.text
    s = world.summary(world.accounts["romashka"])
    assert big_value(en.text).lower() == shown_balance(s, "en")
    cookie = en.headers["Set-Cookie"]
    assert "hb_lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    again = browser.get(world.url + path, timeout=30)  # no parameter: the cookie decides
    assert '<html lang="en">' in again.text
    assert "left of" in browser.get(world.url + path + "/part", timeout=30).text
    back = browser.get(world.url + path, params={"lang": "ru"}, timeout=30)
    assert '<html lang="ru">' in back.text and "hb_lang=ru" in back.headers["Set-Cookie"]
    odd = requests.get(world.url + path, params={"lang": "de"}, timeout=30)
    assert odd.status_code == 200 and '<html lang="ru">' in odd.text and "Set-Cookie" not in odd.headers


def not_found(world, path: str) -> tuple[str, str]:
    """The page and the JSON of a refused link: both 404, both the bodies
    every other refusal gets."""
    page, data, part = world.get(path), world.get(path + ".json"), world.get(path + "/part")
    assert (page.status_code, data.status_code, part.status_code) == (404, 404, 404), path
    return page.text, data.text


@pytest.fixture(scope="module")
def plain_404(world):
    return not_found(world, "/cabinet/" + "A" * 40)


def test_a_revoked_link_is_gone(world, plain_404):
    url, link_id = create_link(world, label="на отзыв")
    path = cabinet_path(url, world)
    assert world.get(path).status_code == 200
    token = world.token()
    response = world.post(f"/app/account/{world.accounts['romashka']}/access_revoke", token,
                          {"link_id": str(link_id)})
    assert response.status_code == 303
    assert not_found(world, path) == plain_404
    with world.session() as s:
        assert s.get(CabinetLink, link_id).revoked_at is not None


def test_rotating_makes_a_new_link_and_kills_the_old(world, plain_404):
    url, link_id = create_link(world, label="на замену", valid_days="30")
    old = cabinet_path(url, world)
    token = world.token()
    response = world.post(f"/app/account/{world.accounts['romashka']}/access_rotate", token,
                          {"link_id": str(link_id)})
    assert response.status_code == 303
    assert not_found(world, old) == plain_404
    with world.session() as s:
        new = s.execute(select(CabinetLink).where(CabinetLink.account_id == world.accounts["romashka"])
                        .order_by(CabinetLink.id.desc())).scalars().first()
        assert new.id != link_id and new.label == "на замену" and new.revoked_at is None
        assert round((new.expires_at - new.created_at) / timedelta(days=1)) == 30  # same lifetime
    page = world.get(response.headers["Location"].replace(world.url, ""))
    new_url = re.findall(r'<div class="hb-copy">([^<]+)</div>', page.text)[0]
    fresh = world.get(cabinet_path(new_url, world))
    assert fresh.status_code == 200
    assert big_value(fresh.text).lower() == shown_balance(world.summary(world.accounts["romashka"]))


def test_an_expired_link_is_gone(world, plain_404, monkeypatch):
    url, link_id = create_link(world, label="на день", valid_days="1")
    path = cabinet_path(url, world)
    assert world.get(path).status_code == 200
    later = datetime.now(timezone.utc) + timedelta(days=1, minutes=1)
    monkeypatch.setattr("ledger.access.utcnow", lambda: later)  # the clock moves past its day
    assert not_found(world, path) == plain_404
    monkeypatch.undo()
    assert world.get(path).status_code == 200
    with world.session() as s, s.begin():  # or its end is set in the past
        s.get(CabinetLink, link_id).expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert not_found(world, path) == plain_404


def _forged(world, link_id: int) -> dict[str, str]:
    real = URLSafeSerializer(SECRET_KEY, salt="hourbook.cabinet")
    with world.session() as s:
        nonce = s.get(CabinetLink, link_id).nonce
    return {
        "garbage": "/cabinet/not-a-token",
        "wrong key": "/cabinet/" + URLSafeSerializer("another key", salt="hourbook.cabinet").dumps([link_id, nonce]),
        "wrong salt": "/cabinet/" + URLSafeSerializer(SECRET_KEY, salt="other").dumps([link_id, nonce]),
        "wrong nonce": "/cabinet/" + real.dumps([link_id, "0" * 32]),
        "no such link": "/cabinet/" + real.dumps([10**6, nonce]),
        "not a pair": "/cabinet/" + real.dumps({"id": link_id}),
        "a number": "/cabinet/" + real.dumps(link_id),
        "text id": "/cabinet/" + real.dumps([str(link_id), nonce]),
        "tampered": "/cabinet/" + real.dumps([link_id, nonce])[:-2] + "xx",
        "overlong": "/cabinet/" + real.dumps([link_id, nonce + "x" * 400]),
        "overlong garbage": "/cabinet/" + "x" * 5000,
        "non-ascii": "/cabinet/токен",
    }


@pytest.mark.parametrize("case", ["garbage", "wrong key", "wrong salt", "wrong nonce", "no such link", "not a pair",
                                  "a number", "text id", "tampered", "overlong", "overlong garbage",
                                  "non-ascii"])
def test_forged_links_get_the_same_plain_404(world, link, plain_404, case):
    path = _forged(world, link[1])[case]
    before = world.snapshot()
    assert not_found(world, path) == plain_404
    assert world.snapshot() == before
    assert "signature" not in plain_404[0].lower() and "expired" not in plain_404[0].lower()
