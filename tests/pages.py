"""A world for the page tests: the demo integrator's portal and a client's
portal in the emulator, Hourbook installed into both over real HTTP, the
manager's setup done, one full sync run; and small readers for the pages.

    world = world_fixture("sqlite", "postgresql")   # in a test module

Portal A (integrator mode, `scenario.demo`) has the three demo accounts
(retainer, staged, upfront) and three more made here: "over" (a 10 h
retainer with 12 h logged this month), "calm" (40 h, 1 h logged: at the
end of the month most of it would burn) and a company without an account.
Portal B (client mode, installed as a second portal) is one account with
a 20 h retainer, a staff member and an employee of the client.

Tests read the pages as the portal does (requests against the served URL)
and compare the numbers with `ledger.summary.summarize()` on the same
database. Every table is snapshotted around refused requests.
"""
from __future__ import annotations

import html as html_lib
import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

import b24.models  # noqa: F401  (its tables are in the metadata too)
import amocrm.models  # noqa: F401
import demo
from emulators.bitrix24 import Emulator, scenario
from jobs import context as jobs_context
from jobs.sync import Sync
from ledger import calendar as cal
from ledger.contracts import add_account, add_team_member, set_retainer
from ledger.hours import format_hours
from ledger.models import Base, Portal
from ledger.summary import Summary, summarize
from tests.conftest import pg_schema
from tests.live import CLIENT_ID, serve_app

SECRET_KEY = "pages-test-secret-key-0123456789abcdef"
OTHER_APP = "app.someone.else"
H = 3600

# Columns that a page view or a REST call may touch without any request
# writing: tokens refreshed, a cabinet link's "last opened".
VOLATILE = {
    "portal_auth": {"access_token", "refresh_token", "expires_at", "refreshed_at", "refresh_count", "updated_at",
                    "status", "dead_reason", "dead_since"},
    "sync_state": {"incremental_at", "reconcile_at", "history_at", "failures", "last_error"},
    "cabinet_links": {"last_seen_at"},
}

_schemas = itertools.count()

# On SQLite the app waits up to 30 s for a lock. Nothing here runs two
# writers at once, so a wait means a request deadlocks on itself (see
# SQLITE_SELF_LOCK); the world waits 1 s instead, so such a test fails in a
# second rather than thirty.
SQLITE_BUSY_MS = 1000

# handlers/manager.py account_action, refused form: after `s.rollback()` it
# calls _account_response(frame, account, …) with `account` loaded by the
# write session `s`; the rollback expired it, so reading account.portal_id
# re-opens `s` (BEGIN IMMEDIATE on SQLite: the write lock). When the users'
# names are not cached (_NAMES, five minutes), _portal_names() then opens a
# write transaction on the job context's engine (b24.connection.rest_for)
# and waits on the request's own lock until the busy timeout: "database is
# locked" → 500.
SQLITE_SELF_LOCK = ("SQLite: a refused manager form (400 expected) with the portal's user names not cached (first "
                    "refusal after a restart, or 5 min after the page was opened) deadlocks on its own write lock "
                    "and answers 500 'database is locked' after the busy timeout: account_action reads `account`, "
                    "expired by s.rollback(), in _account_response (re-opening the write transaction with BEGIN "
                    "IMMEDIATE) before _portal_names -> jobs.context rest_for opens another write transaction")


def xfail_on_sqlite(request: pytest.FixtureRequest, world: World, reason: str) -> None:
    if world.database == "sqlite":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def forget_portal_names() -> None:
    """Empty the manager page's five-minute cache of portal names (process-wide, keyed by portal id: worlds
    on different databases must not share it)."""
    import handlers.manager

    cache = getattr(handlers.manager, "_NAMES", None)
    if cache is not None:
        cache.clear()


def _short_busy_timeout(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _busy(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")

    engine.dispose()


# ---------------------------------------------------------------- reading pages


def page_text(markup: str) -> str:
    """The visible text of a page: tags out, entities decoded, spaces (and
    no-break spaces) collapsed."""
    markup = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    plain = html_lib.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", plain.replace("\u00a0", " ")).strip()


def big_value(markup: str) -> str:
    """The big number of the balance card (left, or the overage)."""
    found = re.search(r'class="hb-big-value[^"]*">(.*?)</div>', markup, re.S)
    assert found, "no balance on the page"
    return page_text(found.group(1))


def frame_token(markup: str) -> str:
    found = re.search(r'<meta name="hb-token" content="([^"]+)"', markup)
    assert found, "no frame token on the page"
    return found.group(1)


def field_error(markup: str, name: str, form_action: str | None = None) -> str | None:
    """The message shown beside field `name` (in the form posting to
    `form_action`, when given), or None."""
    scope = form_html(markup, form_action) if form_action else markup
    for label in re.findall(r'<label class="hb-field has-error">(.*?)</label>', scope, re.S):
        if re.search(rf'name="{re.escape(name)}"', label):
            found = re.search(r'<span class="hb-error" role="alert">(.*?)</span>', label, re.S)
            return page_text(found.group(1)) if found else ""
    return None


def form_html(markup: str, action_suffix: str) -> str:
    """The markup of the form whose action ends with `action_suffix`."""
    for found in re.finditer(r'<form\b[^>]*action="([^"]*)"[^>]*>(.*?)</form>', markup, re.S):
        if found.group(1).split("?")[0].endswith(action_suffix):
            return found.group(2)
    raise AssertionError(f"no form posting to …{action_suffix}")


def form_alert(markup: str, action_suffix: str) -> str | None:
    """The message for the whole form (not one field), if any."""
    found = re.search(r'<div class="ui-alert ui-alert-danger" role="alert"><span class="ui-alert-message">(.*?)</span>',
                      form_html(markup, action_suffix), re.S)
    return page_text(found.group(1)) if found else None


def hours(seconds: int, lang: str = "ru") -> str:
    return format_hours(seconds, lang).replace("\u00a0", " ")


def shown_balance(s: Summary, lang: str = "ru") -> str:
    """The big number a summary should show, lower-cased: what is left, or
    the overage (the demo's «Ромашка» runs over its package late in a month)."""
    if s.overage_s:
        return f"{'перерасход' if lang == 'ru' else 'overage'} {hours(s.overage_s, lang)}"
    return hours(s.left_s, lang)


# ---------------------------------------------------------------- the world


@dataclass
class World:
    database: str
    emu: Any
    app: Any
    url: str
    p: Any  # portal A in the emulator (integrator)
    pb: Any  # portal B in the emulator (client)
    portal_a: int
    portal_b: int
    accounts: dict[str, int]  # romashka, vector, sokolova, over, calm, client
    companies: dict[str, int]  # romashka, vector, sokolova, over, calm, nobody
    deals: dict[str, int]  # romashka, nobody, none (no company)
    users: dict[str, int]  # admin, pm, support, irina (portal A); b_admin, b_staff, b_employee
    other_app_token: str  # an access token the emulator issued to another application for portal A

    # -- talking to the app as the portal does

    def open(self, p: Any, user_id: int, placement: str = "DEFAULT", options: Any = None, lang: str = "ru",
             path: str | None = None, **form_changes: Any) -> requests.Response:
        """The portal opens a frame: POST of exactly what it would send
        (entry route by placement, or `path`); `form_changes` replace fields
        (None drops one)."""
        url, form = self.emu.open_frame(p, CLIENT_ID, user_id, placement, options, lang=lang)
        if path is not None:
            url = self.url + path + url[url.index("?"):]
        for key, value in form_changes.items():
            if value is None:
                form.pop(key, None)
            else:
                form[key] = value
        return requests.post(url, data=form, timeout=30, allow_redirects=False)

    def widget(self, p: Any, user_id: int, company_id: int | None = None, lang: str = "ru",
               placement: str = "CRM_COMPANY_DETAIL_TAB") -> requests.Response:
        options = {"ID": str(company_id)} if company_id is not None else None
        return self.open(p, user_id, placement, options, lang=lang)

    def token(self, p: Any | None = None, user_id: int = 1, placement: str = "DEFAULT", options: Any = None) -> str:
        """A frame token, as the page gives one after the entry POST (the
        app page by default: a plain user of an integrator's portal opens
        a CRM tab instead)."""
        response = self.open(p or self.p, user_id, placement, options)
        assert response.status_code == 200, response.text[:500]
        return frame_token(response.text)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        params = dict(kwargs.pop("params", {}) or {})
        if token is not None:
            params["t"] = token
        return requests.get(self.url + path, params=params, timeout=30, allow_redirects=False, **kwargs)

    def post(self, path: str, token: str | None, data: Any = None, **kwargs: Any) -> requests.Response:
        if isinstance(data, dict) or data is None:
            data = dict(data or {})
            if token is not None:
                data["_t"] = token
        return requests.post(self.url + path, data=data, timeout=30, allow_redirects=False, **kwargs)

    # -- reading the ledger

    def session(self) -> Session:
        return self.app.extensions["hourbook"].sessions()

    def summary(self, account_id: int, now: datetime | None = None) -> Summary:
        with self.session() as s:
            found = summarize(s, account_id, now)
        assert found is not None
        return found

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table (but the columns nothing we test may
        write), to prove a refused request changed nothing."""
        out = {}
        with self.session() as s:
            for table in Base.metadata.sorted_tables:
                skip = VOLATILE.get(table.name, set())
                columns = [c for c in table.columns if c.name not in skip]
                rows = s.execute(select(*columns)).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.snapshot().items()}

    def msg(self, message: str, lang: str = "ru", **kw: Any) -> str:
        """A message as the app says it in `lang`."""
        from flask import g
        from flask_babel import gettext

        with self.app.test_request_context("/"):
            g.lang = lang
            return gettext(message, **kw).replace("\u00a0", " ")


def _this_month_moment(now: datetime, tz: str, hours_ago: float) -> datetime:
    """A moment this month (in the portal's zone), before now."""
    first = cal.local_midnight(cal.month_start(cal.local_date(now, tz)), tz)
    moment = max(first + timedelta(minutes=1), now - timedelta(hours=hours_ago))
    return min(moment, now - timedelta(seconds=1))


def _add_portal_a_extras(p: Any, now: datetime) -> dict[str, Any]:
    """More of portal A: an overdrawn client, a calm one, a company with no
    account, deals, and this month's time of the client's own employee."""
    tz, u = p.time_zone, p.keys["users"]
    companies = {"over": p.add_company("ООО «Перерасход»"), "calm": p.add_company("ООО «Спокойствие»"),
                 "nobody": p.add_company("ООО «Новый клиент»")}
    over_task = p.add_task("Срочная доработка", u["support"], crm=[f"CO_{companies['over']}"], status=3)
    calm_task = p.add_task("Консультация", u["pm"], crm=[f"CO_{companies['calm']}"], status=3)
    for i, hours_ago in enumerate((30, 20, 10)):
        p.add_time(over_task, u["support"], 4 * H, _this_month_moment(now, tz, hours_ago), f"доработка {i}")
    p.add_time(calm_task, u["pm"], H, _this_month_moment(now, tz, 5), "созвон")
    # Ирина (the client's employee) logs time in a task of «Ромашка» this month: shown, not debited.
    p.add_time(p.keys["tasks"]["romashka2"], u["irina"], 1500, _this_month_moment(now, tz, 4), "была на созвоне")
    # Portal.add_deal has no id counter for deals in the emulator (KeyError: 'deal'): give it one.
    p._ids.setdefault("deal", 500)
    deals = {"romashka": p.add_deal("Продление сопровождения", p.keys["companies"]["romashka"]),
             "nobody": p.add_deal("Первая сделка", companies["nobody"]),
             "none": p.add_deal("Сделка без компании", 0)}
    return {"companies": companies, "deals": deals}


def _portal_b(emu: Any, now: datetime) -> tuple[Any, dict[str, int]]:
    pb = emu.add_portal("klient.bitrix24.test")
    pb.rate_limit = None
    staff = pb.add_user("Игорь", "Настройщиков", work_position="специалист")
    employee = pb.add_user("Юлия", "Сотрудникова", work_position="менеджер")
    task = pb.add_task("Настроить воронку продаж", staff, status=3)
    done = pb.add_task("Права доступа", staff, status=5)
    for i, (seconds, hours_ago) in enumerate(((2 * H, 30), (5400, 20), (1800, 6))):
        pb.add_time(task, staff, seconds, _this_month_moment(now, pb.time_zone, hours_ago), f"настройка {i}")
    pb.add_time(done, staff, 600, _this_month_moment(now, pb.time_zone, 8), "10 минут")
    pb.add_time(task, employee, 2400, _this_month_moment(now, pb.time_zone, 3), "смотрела вместе")
    return pb, {"b_admin": 1, "b_staff": staff, "b_employee": employee}


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'pages.db'}"
        return
    with pg_schema(f"hb_pages_{os.getpid()}_{next(_schemas)}", migrate=False) as url:
        yield url


@contextmanager
def build_world(kind: str, tmp: Path, config: dict[str, Any] | None = None) -> Iterator[World]:
    saved = jobs_context._overrides, jobs_context._context
    now = datetime.now(timezone.utc)
    emu = Emulator().start(port=0)
    try:
        p = scenario.demo(emu, now=now)
        p.rate_limit = None
        extras = _add_portal_a_extras(p, now)
        pb, b_users = _portal_b(emu, now)
        emu.register_app(OTHER_APP, "other-secret", "http://127.0.0.1:9")
        other_token = emu.grant_tokens(p, OTHER_APP)["access_token"]
        forget_portal_names()
        with _database(kind, tmp) as url, serve_app(emu, {
                "DATABASE_URL": url, "INSTANCE_PATH": str(tmp), "SECRET_KEY": SECRET_KEY, **(config or {})}) \
                as (app, base):
            try:
                for portal in (p, pb):
                    response = emu.install(portal, CLIENT_ID)
                    assert response.status_code == 200, response.text[:500]
                emu.flush_events()
                hb = app.extensions["hourbook"]
                tz = p.time_zone
                first = cal.month_start(cal.local_date(now, tz))
                with hb.sessions() as s, s.begin():
                    portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
                    romashka, vector, sokolova = demo.setup_contracts(s, portal, p, now)
                    over = add_account(s, portal, "ООО «Перерасход»", company_id=extras["companies"]["over"],
                                       actor="test", now=now)
                    set_retainer(s, over, hours_s=10 * H, price_minor=25_000_00, starts_on=first, actor="test",
                                 now=now)
                    calm = add_account(s, portal, "ООО «Спокойствие»", company_id=extras["companies"]["calm"],
                                       actor="test", now=now)
                    set_retainer(s, calm, hours_s=40 * H, price_minor=100_000_00, starts_on=first, actor="test",
                                 now=now)
                    portal_b = s.execute(select(Portal).where(Portal.member_id == pb.member_id)).scalar_one()
                    assert portal_b.mode == "client"
                    client = add_account(s, portal_b, "ООО «Клиент»", actor="test", now=now)
                    set_retainer(s, client, hours_s=20 * H, price_minor=50_000_00, starts_on=first, actor="test",
                                 now=now)
                    add_team_member(s, portal_b, b_users["b_staff"], name="Игорь Настройщиков", role="configurator",
                                    actor="test", now=now)
                    ids = {"romashka": romashka.id, "vector": vector.id, "sokolova": sokolova.id, "over": over.id,
                           "calm": calm.id, "client": client.id}
                    pid_a, pid_b = portal.id, portal_b.id
                jc = jobs_context.context()
                if kind == "sqlite":
                    for engine in (hb.engine, hb.readers.kw["bind"], jc.sessions.kw["bind"]):
                        _short_busy_timeout(engine)
                for pid in (pid_a, pid_b):
                    Sync(jc.sessions, jc.rest(pid), pid).run(reconcile=True, full=True)
                u = p.keys["users"]
                yield World(
                    database=kind, emu=emu, app=app, url=base, p=p, pb=pb, portal_a=pid_a, portal_b=pid_b,
                    accounts=ids,
                    companies={**{k: p.keys["companies"][k] for k in ("romashka", "vector", "sokolova")},
                               **extras["companies"]},
                    deals=extras["deals"],
                    users={"admin": 1, "pm": u["pm"], "support": u["support"], "irina": u["irina"], **b_users},
                    other_app_token=other_token,
                )
            finally:
                if jobs_context._context is not None:
                    jobs_context._context[1].sessions.kw["bind"].dispose()
                app.extensions["hourbook"].readers.kw["bind"].dispose()
    finally:
        emu.stop()
        jobs_context._overrides, jobs_context._context = saved


def world_fixture(*databases: str):
    """A module-scoped `world` fixture, once per database named."""

    @pytest.fixture(scope="module", params=databases)
    def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
        with build_world(request.param, tmp_path_factory.mktemp(f"pages-{request.param}")) as w:
            yield w

    return world
