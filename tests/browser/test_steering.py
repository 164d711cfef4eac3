"""The client steers, in a real browser (issue 15): each request kind sent
from the widget (inside the emulator's portal frame, no cookies) and from
the cabinet link, in Russian and English, on a phone and a desktop; the
manager accepting a pause on the app page and the client seeing it.

The world is tests/browser/pages_env.py with «Ромашка»'s plan and requests
of the demo (demo.setup_steering). Screenshots: tests/artifacts/steer-*.png.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from playwright.sync_api import Frame, Page
from sqlalchemy import select

import demo
from jobs import context as jobs_context
from jobs.sync import Sync
from ledger.db import utcnow
from ledger.devplan import set_item_state
from ledger.models import Account, ClientRequest, PlanItem

from .conftest import shot
from .pages_env import Env, build_env
from .test_pages import DESKTOP, PHONE, app_frame, clean, fitted, horizontal_scroll, latin_words, msg, overflow

SIZES = {"phone": PHONE, "desktop": DESKTOP}
# (kind, what it is about: the plan item's index in demo.PLAN, or "line" for a report line, or "direction")
KINDS = [("pause", 4), ("resume", 1), ("cap", 2), ("first", 6), ("question", 3), ("question", "line"),
         ("first", "direction")]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with build_env(tmp_path_factory.mktemp("browser-steer")) as world:
        with world.app.extensions["hourbook"].sessions() as s, s.begin():
            romashka = s.get(Account, world.accounts["romashka"])
            ids = demo.setup_steering(s, romashka, world.p, utcnow())
            set_item_state(s, s.get(PlanItem, ids[1]), "paused", actor="test")  # something to resume
        world.items = ids  # type: ignore[attr-defined]
        yield world


def requests_now(env: Env) -> list[ClientRequest]:
    with env.app.extensions["hourbook"].sessions() as s:
        found = list(s.execute(select(ClientRequest).order_by(ClientRequest.id)).scalars())
        s.expunge_all()
        return found


def ask(env: Env, where, kind: str, about, lang: str) -> str:
    """Open the "Ask" form, choose the kind, fill it in and send it; returns the comment sent."""
    ask.count += 1  # type: ignore[attr-defined]
    text = f"Проверка №{ask.count}: {'по-русски' if lang == 'ru' else 'на английской странице'}"  # type: ignore[attr-defined]
    if about == "line":
        where.locator("details.hb-ask-line > summary").click()
        form = where.locator("details.hb-ask-line form")
        form.locator("select[name=target]").select_option(index=0)
    else:
        if about == "direction":
            with env.app.extensions["hourbook"].sessions() as s:
                direction = s.get(PlanItem, env.items[0]).direction_id  # type: ignore[attr-defined]
            box = where.locator(f'.hb-dir-head:has(input[name=target][value="direction:{direction}"]) details.hb-ask')
        else:
            box = where.locator(f'tr[data-hb-item="{env.items[about]}"] details.hb-ask')  # type: ignore[attr-defined]
        box.locator("summary").click()
        form = box.locator("form")
        form.locator(f'input[name=kind][value="{kind}"]').check()
        if kind == "cap":
            assert form.locator("input[name=hours]").is_visible()
            form.locator("input[name=hours]").fill("6,5")
        else:
            assert not form.locator("input[name=hours]").is_visible()  # only a cap asks for hours
    form.locator("textarea[name=text]").fill(text)
    if form.locator("input[name=name]").count():
        form.locator("input[name=name]").fill("Ирина")
    form.locator("button[type=submit]").click()
    return text


ask.count = 0  # type: ignore[attr-defined]


def check_sent(env: Env, where, kind: str, lang: str, text: str, source: str) -> ClientRequest:
    where.locator(".ui-alert-success").first.wait_for()
    made = requests_now(env)[-1]
    assert (made.kind, made.source, made.state, made.text) == (kind, source, "open", text)
    if kind == "cap":
        assert made.cap_s == 6 * 3600 + 30 * 60
    line = where.locator(f'li[data-hb-request="{made.id}"]')
    assert msg(env, "waiting for the manager", lang) in clean(line.inner_text())
    assert text in clean(line.inner_text())
    return made


def sticking_out(frame, selector: str) -> list[str]:
    """Visible elements of a section reaching past its right edge."""
    return frame.evaluate("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect(), out = [];
        for (const el of document.querySelectorAll(selector + ' *')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.height > 0 && r.right > box.right + 1) out.push(el.tagName + ' ' + (el.innerText || '').slice(0, 40));
        }
        return out.slice(0, 10);
    }""", selector)


def no_english_in_russian(body: str, lang: str) -> None:
    if lang == "ru":
        allowed = {"UTC", "English"}
        assert [w for w in latin_words(body) if w not in allowed] == [], "English on a Russian page"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("kind,about", KINDS, ids=[f"{k}-{a}" for k, a in KINDS])
@pytest.mark.parametrize("place", ["widget", "cabinet"])
def test_each_request_from_the_widget_and_the_cabinet(env: Env, page: Page, js_errors: list[str], place: str,
                                                      kind: str, about, lang: str, size: str):
    """The widget inside the portal's frame (its frame token, no cookies), the
    cabinet as a first-party page (its signed form token)."""
    page.set_viewport_size(SIZES[size])
    if place == "widget":
        page.goto(env.widget("romashka", lang=lang))
        where = app_frame(page, env)
        fitted(page, where)
    else:
        page.goto(f"{env.cabinet}?lang={lang}")
        where = page
    made = check_sent(env, where, kind, lang, ask(env, where, kind, about, lang), place)
    if place == "widget":
        fitted(page, where)  # the page after the post is sized to its content too
    else:
        assert made.author.startswith("Ирина")
    where.locator("#requests").scroll_into_view_if_needed()
    name = f"steer-{place}-{kind}-{about}-{lang}-{size}"
    shot(page, name)
    assert not horizontal_scroll(where) and overflow(where) == [], name
    no_english_in_russian(clean(where.locator("body").inner_text()), lang)
    assert js_errors == []


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_refused_request_says_why_beside_the_form(env: Env, page: Page, js_errors: list[str], lang: str,
                                                    size: str):
    page.set_viewport_size(SIZES[size])
    page.goto(f"{env.cabinet}?lang={lang}")
    before = len(requests_now(env))
    box = page.locator(f'tr[data-hb-item="{env.items[2]}"] details.hb-ask')  # type: ignore[attr-defined]
    box.locator("summary").click()
    box.locator('input[name=kind][value="cap"]').check()
    box.locator("input[name=hours]").fill("много")
    box.locator("button[type=submit]").click()
    page.locator(".ui-alert-danger").first.wait_for()
    assert len(requests_now(env)) == before
    reopened = page.locator(f'tr[data-hb-item="{env.items[2]}"] details.hb-ask[open]')  # type: ignore[attr-defined]
    assert reopened.count() == 1 and reopened.locator("input[name=hours]").input_value() == "много"
    reopened.scroll_into_view_if_needed()
    shot(page, f"steer-cabinet-refused-{lang}-{size}", full_page=False)
    drop_400(page, js_errors)


def drop_400(page: Page, js_errors: list[str]) -> None:
    page.wait_for_timeout(200)
    for line in [e for e in js_errors if "status of 400" in e][:1]:
        js_errors.remove(line)
    assert js_errors == []


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_manager_accepts_a_pause_and_the_client_sees_it(env: Env, page: Page, js_errors: list[str], lang: str,
                                                            size: str):
    """The demo story: the client asks to pause a task in the widget; the
    manager sees it in the queue of the app page and accepts it; the
    widget shows the task paused and the request accepted; time logged on
    it after the pause is flagged there."""
    page.set_viewport_size(SIZES[size])
    item = env.items[5]  # type: ignore[attr-defined]  (a task of the portal: «Робот: просроченные сделки»)
    with env.app.extensions["hourbook"].sessions() as s, s.begin():
        found = s.get(PlanItem, item)
        if found.state == "paused":
            set_item_state(s, found, "planned", actor="test")
    page.goto(env.widget("romashka", lang=lang))
    frame = app_frame(page, env)
    made = check_sent(env, frame, "pause", lang, ask(env, frame, "pause", 5, lang), "widget")

    page.goto(env.shell(lang=lang))
    frame = app_frame(page, env)
    frame.locator(f'a[href*="/app/account/{env.accounts["romashka"]}"]').first.click()
    queue = frame.locator("#steer")
    queue.wait_for()
    request = queue.locator(f'li[data-hb-request="{made.id}"]')
    request.scroll_into_view_if_needed()
    shot(page, f"steer-manager-queue-{lang}-{size}", full_page=False)
    request.locator("form[action$='steer_accept'] button").click()
    frame.locator(".ui-alert-success").first.wait_for()
    assert frame.locator(f'#steer li[data-hb-request="{made.id}"]').count() == 0
    frame.locator("#steer-plan").scroll_into_view_if_needed()
    shot(page, f"steer-manager-plan-{lang}-{size}", full_page=False)
    frame.locator("#steer-forecast").scroll_into_view_if_needed()
    shot(page, f"steer-manager-forecast-{lang}-{size}", full_page=False)
    for section in ("#steer", "#steer-plan", "#steer-forecast"):  # (the page's older sections are not ours)
        assert sticking_out(frame, section) == [], section

    # Someone of the team logs half an hour on the paused task: the widget flags it.
    with env.app.extensions["hourbook"].sessions() as s:
        task_id = s.get(PlanItem, item).task_id
    env.p.add_time(task_id, env.users["support"], 1800, datetime.now(timezone.utc), "после паузы")
    jc = jobs_context.context()
    Sync(jc.sessions, jc.rest(env.portal_id), env.portal_id).run(reconcile=True)  # the entry is in, whatever the minute
    page.goto(env.widget("romashka", lang=lang))
    frame = app_frame(page, env)
    row = frame.locator(f'tr[data-hb-item="{item}"]')
    assert msg(env, "paused", lang) in clean(row.inner_text())
    assert row.locator(".hb-flag").count() == 1 and "0:30" in clean(row.locator(".hb-flag").inner_text())
    line = frame.locator(f'li[data-hb-request="{made.id}"]')
    assert msg(env, "accepted", lang) in clean(line.inner_text())
    row.scroll_into_view_if_needed()
    shot(page, f"steer-widget-after-accept-{lang}-{size}", full_page=False)
    assert js_errors == []
    assert re.search(r"#\d+", made.author)  # the widget's user, as the frame names them
