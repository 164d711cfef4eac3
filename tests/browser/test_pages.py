"""Hourbook's pages in a real browser, opened the way a portal opens them:
through the emulator's portal shell (emulators/bitrix24/SHELL.md), which POSTs the
frame fields into the iframe and answers the SDK's postMessage protocol.

One world for the module (tests/browser/pages_env.py): the demo
integrator's portal with Hourbook installed, set up and synced, on SQLite.

* the CRM company tab widget of a normal, a burning, an overdrawn and a
  staged client, in Russian and English, 1280 and 390 px wide: the frame is
  sized to its content by resizeWindow, nothing overflows, the key numbers;
* the minute refresh of the widget (playwright's clock), without a reload;
* the client's cabinet link and its language switch;
* the demo story end to end (a new administrator: widget, manager's page,
  cabinet link, tariff calculator, "set this tariff", an adjustment, the
  widget again; a bad value refused beside its field);
* a staff user who is not a manager: the 403 page, a widget without settings;
* the weight of the widget page as the browser loads it.

Screenshots go to tests/artifacts/<name>.png.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from flask import g
from flask_babel import gettext, ngettext
from playwright.sync_api import Frame, Page, Response, expect
from sqlalchemy import func, select

from handlers.manager import money
from ledger import calendar as cal
from ledger import plan
from ledger.hours import format_hours
from ledger.models import Adjustment, Contract
from ledger.periods import term_for

from .conftest import shot
from .pages_env import H, Env, build_env

PAGE_BUDGET = 150_000  # bytes: the widget page with everything it loads
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Latin words a Russian page may show: names, not English text.
LATIN_OK = {"Hourbook", "CRM", "Bitrix24", "Bitrix", "ID", "UTC", "h", "m"}


# ---------------------------------------------------------------- the world and helpers


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with build_env(tmp_path_factory.mktemp("browser-pages")) as world:
        yield world


def msg(env: Env, text: str, lang: str, **kw) -> str:
    """A message as the app says it in `lang` (its own catalogs)."""
    with env.app.test_request_context("/"):
        g.lang = lang
        return clean(gettext(text, **kw))


def nmsg(env: Env, one: str, many: str, n: int, lang: str) -> str:
    with env.app.test_request_context("/"):
        g.lang = lang
        return clean(ngettext(one, many, n))


def day(env: Env, value, lang: str, fmt: str = "d MMMM") -> str:
    from handlers.i18n import day as day_filter

    with env.app.test_request_context("/"):
        g.lang = lang
        return clean(day_filter(value, fmt))


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def hours(seconds: int, lang: str) -> str:
    return clean(format_hours(seconds, lang))


def app_frame(page: Page, env: Env) -> Frame:
    """The iframe the app runs in (the shell's #app-frame), once it shows our page."""
    page.frame_locator("#app-frame").locator(".hb-frame-root").wait_for()
    for frame in page.frames:
        if frame.url.startswith(env.url):
            return frame
    raise AssertionError(f"no app frame among {[f.url for f in page.frames]}")


def text_of(frame: Frame, selector: str = "body") -> str:
    return clean(frame.locator(selector).first.inner_text())


def fitted(page: Page, frame: Frame, timeout_s: float = 10.0) -> dict:
    """Wait until the shell has sized the iframe to the frame's content by
    resizeWindow and nothing scrolls inside it; return the measurements."""
    deadline = time.monotonic() + timeout_s
    while True:
        m = {
            "iframe": page.evaluate("document.getElementById('app-frame').clientHeight"),
            "sent": page.evaluate("""(() => {
                const r = (window.__b24messages || []).filter(m => m.command === 'resizeWindow');
                return r.length ? r[r.length - 1].params.height : null; })()"""),
            "content": frame.evaluate(
                "Math.ceil(document.querySelector('.hb-frame-root').getBoundingClientRect().height)"),
            "scroll": frame.evaluate("document.documentElement.scrollHeight"),
            "inner": frame.evaluate("window.innerHeight"),
        }
        ok = (m["sent"] is not None and m["iframe"] == m["sent"] and abs(m["sent"] - (m["content"] + 16)) <= 1
              and m["scroll"] <= m["iframe"] + 2)
        if ok:
            return m
        if time.monotonic() > deadline:
            raise AssertionError(f"the frame is not fitted to its content: {m}")
        page.wait_for_timeout(100)


def overflow(frame_or_page) -> list[str]:
    """Visible elements sticking out to the right of the document (clipped by
    overflow-x: hidden, or making a horizontal scrollbar)."""
    return frame_or_page.evaluate("""() => {
        const width = document.documentElement.clientWidth, out = [];
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.height > 0 && r.right > width + 1) {
                const cls = typeof el.className === 'string' ? el.className.trim() : '';
                const name = el.tagName.toLowerCase() + (cls ? '.' + cls.split(/\\s+/).join('.') : '');
                out.push(`${name} right=${Math.round(r.right)} > ${width}: ${(el.innerText || '').slice(0, 40)}`);
            }
        }
        return out.slice(0, 10);
    }""")


def horizontal_scroll(frame_or_page) -> bool:
    return frame_or_page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def latin_words(text: str) -> list[str]:
    """English words on a Russian page (names like CRM and Hourbook allowed)."""
    return sorted({w for w in re.findall(r"[A-Za-z][A-Za-z'’-]+", text) if w not in LATIN_OK})


def drop_status_line(page: Page, js_errors: list[str], status: int) -> None:
    """A page answered with an HTTP error status on purpose; Chromium may log
    that itself as a console error ("Failed to load resource: … status of
    403"), which is no JavaScript error. Take out at most that one line;
    anything else stays in `js_errors`."""
    page.wait_for_timeout(200)
    found = [e for e in js_errors if f"the server responded with a status of {status}" in e]
    assert len(found) <= 1, js_errors
    for line in found:
        js_errors.remove(line)


def big_value(frame: Frame) -> str:
    return text_of(frame, ".hb-big-value")


def open_shell(page: Page, env: Env, url: str) -> Frame:
    page.goto(url)
    frame = app_frame(page, env)
    fitted(page, frame)
    return frame


# ---------------------------------------------------------------- 1. the widget in a CRM company tab

CASES = {"normal": "romashka", "burning": "burning", "overdrawn": "over", "staged": "vector"}


WIDGET_CASES = [
    pytest.param(case, viewport, lang, id=f"{case}-{viewport['width']}-{lang}")
    for case in CASES for viewport in (DESKTOP, PHONE) for lang in ("ru", "en")
]


@pytest.mark.parametrize("case, viewport, lang", WIDGET_CASES)
def test_widget(env: Env, page: Page, js_errors: list[str], viewport: dict, case: str, lang: str):
    account = CASES[case]
    if case == "burning" and not env.burn_ready:
        pytest.skip("the first 3 days of a month: no pace yet, so no burn warning (ledger.summary.MIN_PACE_S)")
    s = env.summary(account)
    frame = open_shell(page, env, env.widget(account, lang=lang))
    size = fitted(page, frame)
    name = f"widget-{case}-{lang}-{viewport['width']}"
    shot(page, name)

    assert size["scroll"] <= size["iframe"] + 2  # no scrollbar inside the frame

    body = text_of(frame)
    assert frame.evaluate("document.documentElement.lang") == lang
    assert text_of(frame, ".hb-title") == s.name
    allocated = hours(s.allocated_s, lang)
    if case == "overdrawn":
        assert s.overage_s > 0
        assert big_value(frame) == msg(env, "Overage %(hours)s", lang, hours=hours(s.overage_s, lang))
        assert msg(env, "The package is used up; further work is counted as overage.", lang) in body
        assert frame.locator(".hb-balance.is-over").count() == 1
        assert frame.locator(".ui-progressbar-danger").count() == 1
    else:
        assert s.overage_s == 0 and s.left_s > 0
        assert big_value(frame) == hours(s.left_s, lang)
        assert msg(env, "left of %(allocated)s · used %(used)s", lang, allocated=allocated,
                   used=hours(s.used_s, lang)) in body
    warning = frame.locator(".ui-alert-warning")
    if case == "burning":
        assert s.warn_burn and s.days_left is not None and s.days_left <= 10
        expect(warning).to_be_visible()
        assert text_of(frame, ".ui-alert-warning") == msg(
            env, "At this pace %(hours)s will burn on %(date)s.", lang, hours=hours(s.forecast.burn_s, lang),
            date=day(env, s.period_last_day, lang))
        assert nmsg(env, "%(num)d day left", "%(num)d days left", s.days_left, lang) in body
        assert frame.locator(".ui-progressbar-warning").count() == 1
    else:
        assert warning.count() == 0, f"{name}: an unexpected warning: {text_of(frame, '.ui-alert-warning')}"
    if case == "normal":
        assert frame.locator(".hb-balance.is-over, .hb-balance.is-warn, .hb-big-value.hb-danger").count() == 0
        assert msg(env, "Development plan", lang) in body  # Ромашка's 160 h plan
        assert msg(env, "By month", lang) in body
    if case == "staged":
        rows = frame.locator(".hb-table").first.locator("tbody tr")
        assert rows.count() == 3
        current = frame.locator("tr.is-current")
        assert current.count() == 1
        assert "2. Настройка CRM" in clean(current.inner_text())
        assert msg(env, "current", lang) in clean(current.locator(".hb-badge").first.inner_text())
        assert [s_.state for s_ in s.stages] == ["done", "current", "next"]
        assert rows.nth(0).locator(".hb-icon").count() == 1  # done: a check mark
        assert msg(env, "Implementation in stages", lang) in body
    # The administrator sees the way to the account's settings.
    expect(frame.get_by_role("link", name=msg(env, "Settings of this account", lang))).to_be_visible()
    if lang == "ru":
        assert latin_words(body) == [], f"{name}: English on a Russian page"
    else:
        assert "осталось" not in body and "Задачи" not in body
    assert js_errors == []
    # The shell page at desktop width never scrolls sideways; the frame's content fits its width.
    if viewport["width"] >= 1280:
        assert not horizontal_scroll(page), f"{name}: the portal page scrolls sideways"
    assert overflow(frame) == [], f"{name}: content sticks out of the frame"
    assert not horizontal_scroll(frame), f"{name}: the frame scrolls sideways"


def test_widget_page_weight(env: Env, page: Page, js_errors: list[str]):
    """Everything the browser loads for the widget frame (its document and
    each subresource, bodies as sent) stays under 150 KB."""
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r) if r.url.startswith(env.url) else None)
    frame = open_shell(page, env, env.widget("romashka"))
    page.wait_for_load_state("networkidle")
    sizes = {}
    for r in responses:
        path = r.url[len(env.url):].split("?")[0]
        body = r.body() if r.status < 300 else b""
        sizes[path] = sizes.get(path, 0) + len(body)
    total = sum(sizes.values())
    print(f"\nwidget page weight: {total} bytes ({total / 1024:.1f} KiB)")
    for path, size in sorted(sizes.items(), key=lambda x: -x[1]):
        print(f"  {size:>7}  {path}")
    assert "/widget" in sizes and any(p.endswith(".css") for p in sizes) and any(p.endswith(".js") for p in sizes)
    assert all(r.status == 200 for r in responses), [(r.url, r.status) for r in responses]
    assert frame.url.startswith(env.url + "/widget")
    assert total < PAGE_BUDGET, sizes
    assert js_errors == []


# ---------------------------------------------------------------- 2. the minute refresh


def test_minute_refresh(env: Env, page: Page, js_errors: list[str]):
    """The summary is re-fetched every minute with the frame token in a
    header and replaced in place: new numbers, same document, frame refitted."""
    parts: list[dict] = []
    page.on("request", lambda r: parts.append({"url": r.url, "headers": r.headers})
            if "/part" in r.url else None)
    page.clock.install()
    frame = open_shell(page, env, env.widget("sokolova"))
    before = env.summary("sokolova")
    assert big_value(frame) == hours(before.left_s, "ru")
    token = frame.evaluate("document.querySelector('meta[name=hb-token]').content")
    frame.evaluate("window.__hbMarker = 'same document'")
    rows_before = frame.locator(".hb-table tbody tr").count()

    env.log_time("sokolova", 2 * H + 30 * 60, "срочная правка по звонку")
    env.sync()
    after = env.summary("sokolova")
    assert before.left_s - after.left_s == 2 * H + 30 * 60

    page.clock.fast_forward(30_000)
    page.wait_for_timeout(300)
    assert parts == [] and big_value(frame) == hours(before.left_s, "ru")  # not yet: the minute is not up
    page.clock.fast_forward(31_000)
    expect(page.frame_locator("#app-frame").locator(".hb-big-value")).to_have_text(hours(after.left_s, "ru"))
    assert frame.evaluate("window.__hbMarker") == "same document"
    assert len(parts) == 1 and parts[0]["url"] == f"{env.url}/widget/{env.accounts['sokolova']}/part"
    assert parts[0]["headers"].get("x-hourbook-token") == token
    assert "срочная правка" not in text_of(frame)  # comments are not shown, only tasks
    assert frame.locator(".hb-table tbody tr").count() >= rows_before
    fitted(page, frame)
    shot(page, "widget-refreshed-ru-1280")
    assert js_errors == []


# ---------------------------------------------------------------- 3. the cabinet link


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_cabinet(env: Env, page: Page, js_errors: list[str], viewport: dict):
    s = env.summary("romashka")
    page.goto(env.cabinet)
    name = f"cabinet-ru-{viewport['width']}"
    shot(page, name)
    body = clean(page.locator("body").inner_text())
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert clean(page.locator(".hb-big-value").inner_text()) == hours(s.left_s, "ru")
    assert msg(env, "This page is a private link from your CRM integrator. Do not share it.", "ru") in body
    assert page.locator("a[data-hb-task]").count() == 0  # no links into the portal for the client
    assert latin_words(body) == ["English"], f"{name}: English on a Russian page"  # the switch itself
    assert not horizontal_scroll(page) and overflow(page) == [], name
    assert page.locator("meta[name=hb-token]").count() == 0

    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"\?lang=en$"))
    shot(page, f"cabinet-en-{viewport['width']}")
    body = clean(page.locator("body").inner_text())
    assert page.evaluate("document.documentElement.lang") == "en"
    assert clean(page.locator(".hb-big-value").inner_text()) == hours(s.left_s, "en")
    assert msg(env, "left of %(allocated)s · used %(used)s", "en", allocated=hours(s.allocated_s, "en"),
               used=hours(s.used_s, "en")) in body
    assert "осталось" not in body
    assert not horizontal_scroll(page) and overflow(page) == []
    # The choice is remembered (a first-party cookie) without the query string …
    page.goto(env.cabinet)
    assert page.evaluate("document.documentElement.lang") == "en"
    # … and the switch goes back.
    page.get_by_role("link", name="Русский").click()
    page.wait_for_url(re.compile(r"\?lang=ru$"))
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert js_errors == []


# ---------------------------------------------------------------- 4. the demo story


def test_demo_story(env: Env, page: Page, js_errors: list[str]):
    """A new administrator: the widget, the manager's page, the cabinet link,
    the tariff calculator (160 h at 2500 ₽, wanted in 4 months), "set this
    tariff", an adjustment of +5 h, and the widget again: 5 h more left.
    A bad value is refused beside its field and saves nothing."""
    ru = "ru"
    ui = page.frame_locator("#app-frame")
    romashka = env.accounts["romashka"]

    # 1. The widget on the CRM card.
    frame = open_shell(page, env, env.widget("romashka", "newadmin"))
    start = env.summary("romashka")
    assert big_value(frame) == hours(start.left_s, ru)
    shot(page, "story-1-widget")

    # 2. The app page from the portal's menu: the manager's list of clients.
    frame = open_shell(page, env, env.shell("newadmin"))
    expect(ui.locator("h1")).to_have_text(msg(env, "Retainer hours", ru))
    clients = ui.locator("#accounts tbody tr")
    assert clients.count() == len(env.accounts)
    assert "Елена Администраторова" in clean(page.locator("body").inner_text())  # the shell's top bar
    fitted(page, frame)
    shot(page, "story-2-manager")

    # 3. The client's account page, and the cabinet link shown there.
    ui.get_by_role("link", name="ООО «Ромашка»").click()
    expect(ui.locator("h1")).to_have_text("ООО «Ромашка»")
    fitted(page, frame)
    shot(page, "story-3-account")
    cabinet = clean(ui.locator("#access .hb-copy").first.inner_text())
    assert cabinet == env.cabinet
    client = page.context.new_page()
    client.goto(cabinet)
    assert clean(client.locator(".hb-big-value").inner_text()) == hours(start.left_s, ru)
    shot(client, "story-4-cabinet")
    client.close()

    # 4. The tariff calculator for this client: 160 h at 2500 ₽, wanted in 4 months.
    ui.locator("nav.hb-nav").get_by_role("link", name=msg(env, "Tariff calculator", ru)).click()
    expect(ui.locator("h1")).to_have_text(msg(env, "Tariff calculator", ru))
    ui.locator("input[name=plan]").fill("160")
    ui.locator("input[name=price]").fill("2500")
    ui.locator("input[name=months]").fill("4")
    ui.get_by_role("button", name=msg(env, "Calculate", ru)).click()
    expect(ui.locator("#result")).to_be_visible()
    fitted(page, frame)
    shot(page, "story-5-calculator")
    want = plan.recommend(160 * H, 2500_00, months_wanted=4)
    assert want.recommended is not None
    best = ui.locator("tr.hb-recommended")
    assert best.count() == 1
    assert clean(best.locator("td").first.inner_text()).startswith(msg(env, "%(h)d h", ru, h=want.recommended.tariff_h))
    assert msg(env, "Recommended:", ru) in text_of(frame, "#result .ui-alert-success")
    assert str(want.recommended.months) == clean(best.locator("td").nth(1).inner_text())

    # 5. "Set for ООО «Ромашка»" on the recommended package.
    best.get_by_role("button", name=msg(env, "Set for %(name)s", ru, name="ООО «Ромашка»")).click()
    expect(ui.locator("h1")).to_have_text("ООО «Ромашка»")
    expect(ui.locator(".ui-alert-success").first).to_have_text(msg(env, "Saved.", ru))
    fitted(page, frame)
    shot(page, "story-6-tariff-set")
    # From the next month the tariff is the chosen one (Ромашка's 40 h at 100 000 ₽ is already it,
    # so no new term appears); the change is in the account's log under the new admin's name.
    next_month = cal.add_months(cal.month_start(cal.local_date(datetime.now(timezone.utc), env.p.time_zone)), 1)
    with env.app.extensions["hourbook"].sessions() as s:
        contract = s.execute(select(Contract).where(Contract.account_id == romashka, Contract.ends_on.is_(None))
                             ).scalar_one()
        term = term_for(s, contract.id, next_month)
        assert (term.hours_s, term.price_minor) == \
            (want.recommended.tariff_h * H, want.recommended.monthly_price_minor)
        adjustments = s.execute(select(func.count()).select_from(Adjustment)
                                .where(Adjustment.account_id == romashka)).scalar_one()
    terms_table = clean(ui.locator("#contract table").first.locator("tbody tr").last.inner_text())
    assert f"{want.recommended.tariff_h} ч" in terms_table
    assert clean(money(want.recommended.monthly_price_minor)) in terms_table
    last_change = clean(ui.locator("#audit tbody tr").first.inner_text())
    assert "contract.update" in last_change and f"Елена Администраторова (#{env.users['newadmin']})" in last_change
    assert env.summary("romashka").left_s == start.left_s  # a new tariff applies from the next month

    # 6. A bad value: the message beside the field, nothing saved.
    form = ui.locator("#adjust form")
    form.locator("input[name=amount]").fill("abc")
    form.locator("input[name=reason]").fill("проверка")
    form.get_by_role("button", name=msg(env, "Add adjustment", ru)).click()
    drop_status_line(page, js_errors, 400)
    error = ui.locator("#adjust label.hb-field.has-error:has(input[name=amount]) .hb-error")
    expect(error).to_have_text(msg(env, "Hours as 40, 1.5, 1:30 or 2h 15m.", ru))
    expect(ui.locator(".ui-alert-danger").first).to_have_text(
        msg(env, "Nothing was saved: check the fields marked below.", ru))
    assert ui.locator("#adjust input[name=amount]").input_value() == "abc"  # what was typed stays
    fitted(page, frame)
    shot(page, "story-7-bad-value")
    with env.app.extensions["hourbook"].sessions() as s:
        assert s.execute(select(func.count()).select_from(Adjustment)
                         .where(Adjustment.account_id == romashka)).scalar_one() == adjustments
    assert env.summary("romashka").left_s == start.left_s

    # 7. +5 h with a reason.
    form = ui.locator("#adjust form")
    form.locator("input[name=amount]").fill("+5")
    form.locator("input[name=reason]").fill("подарок к продлению договора")
    form.get_by_role("button", name=msg(env, "Add adjustment", ru)).click()
    expect(ui.locator(".ui-alert-success").first).to_have_text(msg(env, "Saved.", ru))
    expect(ui.locator("#adjust table")).to_contain_text("подарок к продлению договора")
    fitted(page, frame)
    shot(page, "story-8-adjusted")

    # 8. The widget again: exactly 5 h more left.
    frame = open_shell(page, env, env.widget("romashka", "newadmin"))
    end = env.summary("romashka")
    assert end.left_s == start.left_s + 5 * H
    assert big_value(frame) == hours(start.left_s + 5 * H, ru)
    assert f"{msg(env, 'Adjustments', ru)} +{hours(end.balance.terms.adjustment_s, ru)}" in text_of(frame, ".hb-terms")
    shot(page, "story-9-widget-again")
    assert js_errors == []


def test_field_error_is_red(env: Env, page: Page, js_errors: list[str]):
    """The message beside a refused field is in the danger colour, not the hint's grey."""
    frame = open_shell(page, env, env.shell("admin"))
    ui = page.frame_locator("#app-frame")
    ui.get_by_role("link", name="ООО «Перерасход»").click()
    expect(ui.locator("h1")).to_have_text("ООО «Перерасход»")
    form = ui.locator("#adjust form")
    form.locator("input[name=amount]").fill("abc")
    form.locator("input[name=reason]").fill("проверка цвета")
    form.get_by_role("button", name=msg(env, "Add adjustment", "ru")).click()
    drop_status_line(page, js_errors, 400)
    error = ui.locator("#adjust .hb-error")
    expect(error).to_be_visible()
    fitted(page, frame)
    colours = frame.evaluate("""() => {
        const probe = (cls) => { const el = document.createElement('span'); el.className = cls;
            document.body.appendChild(el); const c = getComputedStyle(el).color; el.remove(); return c; };
        return {error: getComputedStyle(document.querySelector('#adjust .hb-error')).color,
                danger: probe('hb-danger'), muted: probe('hb-muted')};
    }""")
    assert js_errors == []
    assert colours["error"] == colours["danger"] != colours["muted"], colours


def test_finishing_a_stage_on_a_future_day_is_refused_beside_the_date(env: Env, page: Page, js_errors: list[str]):
    """The stage form's date ("next stage from") refused in place, after the
    confirmation the portal's frame shows (window.confirm, accepted)."""
    frame = open_shell(page, env, env.shell("admin"))
    page.on("dialog", lambda dialog: dialog.accept())
    ui = page.frame_locator("#app-frame")
    ui.get_by_role("link", name="АО «Вектор»").click()
    expect(ui.locator("h1")).to_have_text("АО «Вектор»")
    form = ui.locator("form[action*='/contract_advance']")
    form.locator("input[name=next_from]").fill("2999-01-01")
    form.get_by_role("button", name=msg(env, "Finish the current stage", "ru")).click()
    drop_status_line(page, js_errors, 400)
    error = ui.locator("form[action*='/contract_advance'] .hb-error")
    expect(error).to_have_text(msg(env, "a stage cannot end in the future", "ru"))
    fitted(page, frame)
    error.scroll_into_view_if_needed()
    shot(page, "manager-stage-refused", full_page=False)
    assert js_errors == []


# ---------------------------------------------------------------- 5. a staff user who is not a manager


def test_staff_user_gets_403_and_no_settings(env: Env, page: Page, js_errors: list[str]):
    page.goto(env.shell("pm"))
    frame = app_frame(page, env)
    fitted(page, frame)
    shot(page, "nonadmin-403")
    assert text_of(frame, ".ui-alert-danger") == msg(
        env, "This page is for portal administrators and the managers they name. "
        "Ask your administrator if you need it.", "ru")
    assert frame.locator("form, .hb-nav").count() == 0
    drop_status_line(page, js_errors, 403)

    frame = open_shell(page, env, env.widget("romashka", "pm"))
    shot(page, "nonadmin-widget")
    assert big_value(frame) == hours(env.summary("romashka").left_s, "ru")
    assert frame.get_by_role("link", name=msg(env, "Settings of this account", "ru")).count() == 0
    assert frame.locator(".hb-foot").count() == 0 and frame.locator("a[href*='/app/']").count() == 0
    assert js_errors == []
