"""The portal check in a real browser, inside the emulated portal: the
administrator opens the app page, follows «Проверка портала», sees every row;
in English too, and on a phone. Screenshots: tests/artifacts/doctor-*.png."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import shot
from .pages_env import Env, build_env
from .test_pages import app_frame, clean, fitted


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with build_env(tmp_path_factory.mktemp("browser-doctor")) as world:
        yield world


@pytest.mark.parametrize("lang, link, title, ok", [
    ("ru", "Проверка портала", "Права подключения", "в порядке"),
    ("en", "Portal check", "Rights of the connection", "pass"),
])
def test_the_administrator_checks_the_portal(page: Page, env: Env, js_errors, lang, link, title, ok):
    page.goto(env.shell("admin", lang=lang))
    ui = page.frame_locator("#app-frame")
    app_frame(page, env)
    ui.get_by_role("link", name=link).click()
    expect(ui.locator("h1")).to_have_text(link)
    rows = ui.locator("table.hb-doctor tbody tr")
    expect(rows.first).to_contain_text(title)
    frame = app_frame(page, env)
    fitted(page, frame)
    text = clean(frame.locator("table.hb-doctor").inner_text())
    assert text.count(ok) >= 7, text
    shot(page, f"doctor-{lang}")
    assert js_errors == []


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_the_check_reads_on_a_phone(page: Page, env: Env, viewport):
    page.goto(env.shell("admin"))
    ui = page.frame_locator("#app-frame")
    app_frame(page, env)
    ui.get_by_role("link", name="Проверка портала").click()
    expect(ui.locator("table.hb-doctor")).to_be_visible()
    frame = app_frame(page, env)
    width = frame.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 2, width
    shot(page, "doctor-phone")


def test_unbound_events_show_the_fix_and_bind_again_restores_them(page: Page, env: Env, js_errors):
    """Last in the module: it drops the app's bindings of the shared portal,
    and «Привязать заново» binds them again."""
    from tests.live import CLIENT_ID

    env.p.drop_bindings(CLIENT_ID, events=("ONTASKUPDATE",))
    page.goto(env.shell("admin"))
    ui = page.frame_locator("#app-frame")
    app_frame(page, env)
    ui.get_by_role("link", name="Проверка портала").click()
    expect(ui.locator("#overall")).to_contain_text("ошибка")
    fix = ui.locator("tr.hb-doctor-fix.is-fail").first
    expect(fix).to_contain_text("Привязать заново")
    expect(ui.locator("table.hb-doctor")).to_contain_text("не привязаны: ONTASKUPDATE")
    frame = app_frame(page, env)
    fitted(page, frame)
    shot(page, "doctor-fail-ru")
    ui.get_by_role("button", name="Привязать заново").click()
    expect(ui.locator(".ui-alert-success").first).to_contain_text("События и виджеты привязаны заново")
    expect(ui.locator("table.hb-doctor")).not_to_contain_text("не привязаны")
    assert {b.event.upper() for b in env.p.installs[CLIENT_ID].bindings} >= {"ONTASKUPDATE"}
    assert js_errors == []
