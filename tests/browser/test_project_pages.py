"""Implementation projects in a real browser (issue 16), the demo's two
project clients as the portal shows them: «Вектор» (staged, its setup stage
six days late) and «Соколова» (paid upfront, one setting three days late).
The scope and the timeline in the CRM tab widget and the client's cabinet,
the manager's project section, and the advisor beside the tariff
calculator; Russian and English, 1280 and 390 px wide. Screenshots go to
tests/artifacts/project-*.png."""
from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from ledger.access import create_cabinet_link
from ledger.models import Account

from .conftest import ARTIFACTS, shot
from .pages_env import Env, build_env
from .test_pages import DESKTOP, PHONE, clean, fitted, horizontal_scroll, latin_words, msg, open_shell, overflow

VIEWS = [pytest.param(case, viewport, lang, id=f"{case}-{viewport['width']}-{lang}")
         for case in ("vector", "sokolova") for viewport in (DESKTOP, PHONE) for lang in ("ru", "en")]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with build_env(tmp_path_factory.mktemp("browser-projects")) as world:
        yield world


def fits(frame, name: str, lang: str, page: Page | None = None) -> None:
    body = clean(frame.locator("body").inner_text())
    if lang == "ru":
        # names, not English text: a task «Импорт клиентов из Excel», the cabinet's language switch
        assert [w for w in latin_words(body) if w not in ("Excel", "English")] == [], \
            f"{name}: English on a Russian page"
    assert overflow(frame) == [], f"{name}: content sticks out"
    assert not horizontal_scroll(frame), f"{name}: the frame scrolls sideways"


@pytest.mark.parametrize("case, viewport, lang", VIEWS)
def test_the_scope_and_the_timeline_in_the_widget(env: Env, page: Page, js_errors: list[str], viewport: dict,
                                                  case: str, lang: str):
    frame = open_shell(page, env, env.widget(case, lang=lang))
    section = frame.locator("#project-scope")
    expect(section).to_be_visible()
    expect(section.locator("svg.hb-timeline:visible")).to_be_visible()
    text = clean(section.inner_text())
    if case == "vector":
        late = msg(env, "stage «%(name)s»", lang, name="Настройка CRM")
        assert (late[:1].upper() + late[1:]) in text
        assert ("опаздывает на 6 дней" if lang == "ru" else "is 6 days late") in text
        assert section.locator(".hb-stage").count() == 3
    else:
        assert ("«Открытые линии и чат на сайте» опаздывает на 3 дня" if lang == "ru"
                else "«Открытые линии и чат на сайте» is 3 days late") in text
        assert section.locator(".hb-scope tbody tr").count() == 7
    name = f"project-{case}-{lang}-{viewport['width']}"
    shot(page, name)
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(ARTIFACTS / f"{name}-scope.png"))
    fits(frame, name, lang)
    assert js_errors == []


def test_the_minute_refresh_renews_the_scope(env: Env, page: Page, js_errors: list[str]):
    """The scope is inside what the widget re-fetches every minute (<main
    data-hb-refresh>, GET /widget/<id>/part): after a minute it is the
    server's fresh copy, once, not a stale one beside it."""
    page.clock.install()
    frame = open_shell(page, env, env.widget("vector", lang="ru"))
    expect(frame.locator("#hb-root #project-scope")).to_be_visible()
    frame.locator("#project-scope").evaluate("el => el.setAttribute('data-stale', '1')")
    page.clock.run_for(61_000)
    expect(frame.locator("#project-scope[data-stale]")).to_have_count(0)
    expect(frame.locator("#project-scope")).to_have_count(1)
    expect(frame.locator("#hb-root #project-scope svg.hb-timeline:visible")).to_be_visible()
    assert js_errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_scope_in_the_cabinet(env: Env, page: Page, js_errors: list[str], viewport: dict):
    with env.app.extensions["hourbook"].sessions() as s, s.begin():
        made = create_cabinet_link(s, s.get(Account, env.accounts["vector"]), actor="test", label="Вектор")
        link = SimpleNamespace(id=made.id, nonce=made.nonce)
    with env.app.test_request_context():
        from handlers.cabinet import cabinet_url

        url = cabinet_url(link)
    for lang in ("ru", "en"):
        page.goto(url + f"?lang={lang}")
        expect(page.locator("#project-scope svg.hb-timeline:visible")).to_be_visible()
        shot(page, f"project-cabinet-{lang}-{viewport['width']}")
        fits(page, f"cabinet {lang}", lang)
    assert js_errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_advisor_and_the_managers_project_section(env: Env, page: Page, js_errors: list[str], viewport: dict,
                                                      lang: str):
    ui = page.frame_locator("#app-frame")
    frame = open_shell(page, env, env.shell(lang=lang))
    ui.get_by_role("link", name="АО «Вектор»").click()
    expect(ui.locator("#project")).to_be_visible()
    fitted(page, frame)
    ui.locator("#project").screenshot(path=str(ARTIFACTS / f"project-manage-{lang}-{viewport['width']}.png"))
    # the rest of the manager's page is not this section's: its words and overflow are checked by test_pages
    section = clean(ui.locator("#project").inner_text())
    if lang == "ru":
        assert [w for w in latin_words(section) if w not in ("XLSX", "JSON", "CRM")] == []
    assert ui.locator("#project").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    ui.locator("#project").get_by_role("link", name=msg(env, "Upfront or in stages?", lang)).click()
    expect(ui.locator("h1")).to_have_text(msg(env, "Upfront or in stages?", lang))
    ui.locator("input[name=pace]").fill("10")
    ui.locator("input[name=budget]").fill("120000")
    ui.get_by_role("button", name=msg(env, "Compare", lang)).click()
    expect(ui.locator("#result .ui-alert-success")).to_be_visible()
    assert ui.locator("#result tbody tr.hb-recommended").count() == 1
    assert ui.locator("#result > .hb-table tbody tr").count() == 5
    fitted(page, frame)
    shot(page, f"project-advisor-{lang}-{viewport['width']}")
    for f in page.frames:
        if f.url.startswith(env.url):
            fits(f, f"advisor {lang}", lang)
    assert js_errors == []
