"""The widget inside the emulated amoCRM card, in Chromium: the card page
loads the archive's script.js the way amoCRM does, the widget asks Hourbook
with a disposable token, frames the page and sizes it; the frame shows the
Bitrix24 widget's numbers. Russian and English, desktop and phone.

Screenshots: tests/artifacts/amocrm-card-<lang>-<desktop|phone>.png and
amocrm-lead-ru-desktop.png."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.amocrm_world import AmoWorld, build_amo_world
from tests.browser.conftest import shot
from tests.test_amocrm import without_task_refs
from tests.pages import page_text

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def aw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmoWorld]:
    with build_amo_world("sqlite", tmp_path_factory.mktemp("amo-browser")) as world:
        yield world


def _summary(markup: str) -> str:
    found = re.search(r'<main id="hb-root"[^>]*>(.*?)</main>', markup, re.S)
    assert found
    return page_text(found.group(1))


def _open(browser, aw: AmoWorld, viewport: dict, lang: str, entity: str, entity_id: int, js_errors: list[str]):
    context = browser.new_context(viewport=viewport, locale="ru-RU" if lang == "ru" else "en-US")
    page = context.new_page()
    page.on("pageerror", lambda err: js_errors.append(f"pageerror: {err.message}"))
    page.on("console", lambda msg: js_errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.set_default_timeout(15_000)
    user = aw.users["a_user" if lang == "en" else "a_admin"]
    page.goto(aw.amo.card_url(aw.a, entity, entity_id, user, lang))
    page.wait_for_selector("body[data-widget-state=ready]")
    return context, page


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_company_card_shows_the_clients_hours(browser, aw, lang, size):
    errors: list[str] = []
    context, page = _open(browser, aw, DESKTOP if size == "desktop" else PHONE, lang, "companies",
                          aw.companies["a_home"], errors)
    try:
        frame_el = page.wait_for_selector("iframe[data-hourbook-frame]")
        frame = frame_el.content_frame()
        frame.wait_for_selector(".hb-big-value")
        # The frame was sized to its content by the page's postMessage.
        page.wait_for_function(
            "() => { const f = document.querySelector('iframe[data-hourbook-frame]');"
            " return f && f.style.height !== '480px'; }")
        inner = frame.evaluate("() => document.documentElement.scrollHeight")
        outer = frame_el.bounding_box()["height"]
        assert abs(outer - inner) <= 24, (outer, inner)
        # The same numbers as the Bitrix24 widget for the same account, to the second.
        b24 = aw.w.widget(aw.w.p, aw.w.users["admin"], aw.w.companies["romashka"], lang=lang)
        # the scope's task numbers link into the integrator's Bitrix24: shown there only
        assert without_task_refs(page_text(frame.inner_html("#hb-root"))) == without_task_refs(_summary(b24.text))
        # In the client's language, and no cookie anywhere.
        assert frame.evaluate("() => document.documentElement.lang") == lang
        assert context.cookies(aw.url) == []
        caption = page.inner_text(".card-widgets__widget__caption")
        assert caption == ("Hourbook: часы сопровождения" if lang == "ru" else "Hourbook: retainer hours")
        shot(page, f"amocrm-card-{lang}-{size}")
        assert errors == []
    finally:
        context.close()


def test_a_lead_card_of_the_company_shows_it_and_another_card_says_so(browser, aw):
    errors: list[str] = []
    context, page = _open(browser, aw, DESKTOP, "ru", "leads", aw.leads["a_home"], errors)
    try:
        page.wait_for_selector("iframe[data-hourbook-frame]").content_frame().wait_for_selector(".hb-big-value")
        page.wait_for_timeout(300)
        shot(page, "amocrm-lead-ru-desktop")
        page.goto(aw.amo.card_url(aw.a, "companies", aw.companies["a_other"], aw.users["a_admin"], "ru"))
        page.wait_for_function("() => { const m = document.querySelector('.hourbook-message');"
                               " return m && m.textContent !== 'Загружаем часы…'; }")
        assert page.inner_text(".hourbook-message") == "Эта карточка не связана с Hourbook."
        assert page.query_selector("iframe[data-hourbook-frame]") is None
        assert errors == [] or all("404" in e for e in errors)  # the refused call is logged by the browser
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_admins_connect_pages_and_the_managers_panel(browser, aw, size):
    """What the client's amoCRM admin sees along the manager's link, and the
    manager's amoCRM panel: screenshots, no page wider than the screen."""
    from tests.amocrm_world import connect_link

    viewport = DESKTOP if size == "desktop" else PHONE
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(err.message))
    try:
        page.goto(connect_link(aw.w.app, aw.w.accounts["sokolova"]))
        assert "ИП Соколова" in page.inner_text("h1")
        shot(page, f"amocrm-connect-ru-{size}")
        consent = page.get_attribute("[data-hb-consent]", "href")
        assert consent.startswith(aw.amo.consent_url)
        # The emulated amoCRM consent page: the admin allows, for an account of their own.
        new = aw.amo.add_account("sokolova", "ИП Соколова (amoCRM)")
        aw.amo.state.add_user(new, "Соколова", "ru", admin=True)
        aw.amo.state.add_company(new, "Наш интегратор")
        for n in range(12):
            aw.amo.state.add_company(new, f"Покупатель №{n + 1}")
        page.goto(consent)
        page.click(f"form:has(input[name=account_id][value='{new.id}']) button")
        page.wait_for_selector("input[name=company_id]")
        shot(page, f"amocrm-company-ru-{size}")
        page.check("input[name=company_id] >> nth=0")
        page.click("button[type=submit] >> text=Показывать часы в этой карточке")
        page.wait_for_selector("[data-hb-message]")
        shot(page, f"amocrm-connected-ru-{size}")
        assert "Готово" in page.inner_text("[data-hb-message]")
        # The manager's account page, its amoCRM panel.
        w = aw.w
        token = w.token(w.p, w.users["admin"])
        page.goto(f"{w.url}/app/account/{w.accounts['sokolova']}?t={token}")
        panel = page.wait_for_selector("#amocrm")
        panel.scroll_into_view_if_needed()
        assert "подключён" in panel.inner_text()
        panel.screenshot(path=str(shot(page, f"amocrm-manager-ru-{size}", full_page=False)))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], width
        assert errors == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def staged(aw: AmoWorld) -> tuple:
    """«Вектор» (an implementation in stages) in an amoCRM account of its own."""
    from tests.amocrm_world import connect

    account = aw.amo.add_account("vektor", "АО «Вектор»")
    user = aw.amo.state.add_user(account, "Директор", "ru", admin=True)
    company = aw.amo.state.add_company(account, "Интегратор")
    assert connect(aw.amo, aw.w.app, account, aw.w.accounts["vector"], company).status_code == 200
    return account, user, company


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_staged_client_shows_its_stages(browser, aw, staged, size):
    account, user, company = staged
    errors: list[str] = []
    context = browser.new_context(viewport=DESKTOP if size == "desktop" else PHONE, locale="ru-RU")
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(err.message))
    try:
        page.goto(aw.amo.card_url(account, "companies", company, user, "ru"))
        frame = page.wait_for_selector("iframe[data-hourbook-frame]").content_frame()
        frame.wait_for_selector(".hb-big-value")
        page.wait_for_timeout(300)
        assert "Этапы" in frame.inner_text("#hb-root")
        b24 = aw.w.widget(aw.w.p, aw.w.users["admin"], aw.w.companies["vector"])
        # the scope's task numbers link into the integrator's Bitrix24: shown there only
        assert without_task_refs(page_text(frame.inner_html("#hb-root"))) == without_task_refs(_summary(b24.text))
        shot(page, f"amocrm-card-staged-ru-{size}")
        assert errors == []
    finally:
        context.close()
