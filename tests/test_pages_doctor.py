"""The portal check on the manager's page (GET /app/doctor): who may open it,
what it shows in both languages, and «Bind again» after an update dropped
the app's events and widgets. Refused requests write nothing."""
from __future__ import annotations

import pytest

from tests.live import CLIENT_ID
from tests.pages import page_text, world_fixture

world = world_fixture("sqlite")


def test_an_administrator_sees_every_check_pass_in_russian(world):
    token = world.token(world.p, world.users["admin"])
    before = world.snapshot()
    page = world.get("/app/doctor", token)
    assert page.status_code == 200, page.text[:500]
    text = page_text(page.text)
    assert "Проверка портала" in text and "На этом портале выполнено всё" in text
    for title in ("Права подключения", "Цепочка страниц в одном batch", "Привязанные события",
                  "Привязанные виджеты (места встройки)", "Даты и часовой пояс портала"):
        assert title in text
    assert "ошибка" not in text.replace("«ошибка»", "")
    assert "Привязать заново" not in text
    assert world.snapshot() == before  # the check writes nothing here either


def test_the_page_speaks_english_when_the_portal_does(world):
    response = world.open(world.p, world.users["admin"], lang="en")
    from tests.pages import frame_token

    page = world.get("/app/doctor", frame_token(response.text))
    assert page.status_code == 200
    assert "Portal check" in page.text and "Rights of the connection" in page.text


def test_a_staff_user_and_a_forged_token_are_refused(world):
    before = world.snapshot()
    staff = world.token(world.p, world.users["support"], placement="CRM_COMPANY_DETAIL_TAB",
                        options={"ID": str(world.companies["romashka"])})
    assert world.get("/app/doctor", staff).status_code == 403
    assert world.get("/app/doctor", "forged.token.value").status_code == 403
    assert world.get("/app/doctor").status_code == 403
    assert world.post("/app/doctor/rebind", staff).status_code == 403
    assert world.post("/app/doctor/rebind", "forged").status_code == 403
    assert world.snapshot() == before


def test_unbound_events_fail_and_bind_again_restores_them(world):
    token = world.token(world.p, world.users["admin"])
    world.p.drop_bindings(CLIENT_ID, events=("ONTASKUPDATE", "ONTASKDELETE"))
    try:
        text = page_text(world.get("/app/doctor", token).text)
        assert "не привязаны: ONTASKUPDATE" in text and "Привязать заново" in text
        before = world.snapshot()
        done = world.post("/app/doctor/rebind", token)
        assert done.status_code == 303 and "done=rebound" in done.headers["Location"]
        assert world.snapshot() == before  # it binds in the portal, nothing changes here
        text = page_text(world.get("/app/doctor", token, params={"done": "rebound"}).text)
        assert "События и виджеты привязаны заново" in text and "не привязаны" not in text
    finally:
        install = world.p.installs[CLIENT_ID]
        assert {b.event.upper() for b in install.bindings} >= {"ONTASKUPDATE", "ONTASKDELETE"}
