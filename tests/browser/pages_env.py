"""The world of the browser page tests (tests/browser/test_pages.py): the
demo integrator's portal in the emulator, Hourbook served over real HTTP and
installed into it through the installer, the manager's setup of
`demo.setup_contracts`, a cabinet link, one full sync — like `python app.py
demo` (and /tmp/smoke/run.py), on SQLite.

Besides the three demo clients (Ромашка: a 40 h retainer with a plan;
Вектор: stages; Соколова: upfront) it adds two:

* "burning" — ООО «Успеть до срока», a 40 h retainer with 2 h logged this
  month, whose period ends within WARN_DAYS (10) days: the month's own end
  when that is near, else a new tariff (a follow-up contract) that starts
  in five days cuts this month's period short. At this pace most of the 40 h
  burn, so the widget shows the burn warning. The app reads the real clock,
  so this is arranged around today; in the first three days of a month there
  is no pace yet (ledger.summary.MIN_PACE_S) and `burn_ready` is False.
* "over" — ООО «Перерасход», a 10 h retainer with 14 h logged this month.

Ромашка stays a "normal" account (hours left, no warning): the demo's
generated pace can overdraw its 40 h late in a month, so when fewer than 6 h
are left after the sync a manager's top-up brings the left to about 10 h.

Users: `admin` (1), `newadmin` (an administrator added to the portal who
never opened Hourbook before: the demo story's "new user"), the demo's
staff (`pm`, `support`, …; not administrators, not named managers).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

import demo
from emulators.bitrix24 import Emulator, scenario
from jobs import context as jobs_context
from jobs.sync import Sync
from ledger import calendar as cal
from ledger.access import create_cabinet_link
from ledger.contracts import add_account, adjust, set_retainer
from ledger.models import Account, Portal
from ledger.summary import MIN_PACE_S, WARN_DAYS, Summary, summarize
from tests.live import CLIENT_ID, serve_app

H = 3600
SECRET_KEY = "browser-pages-secret-key-0123456789abcdef"
WIDGET = "CRM_COMPANY_DETAIL_TAB"


@dataclass
class Env:
    emu: Any
    app: Any
    url: str  # where Hourbook is served
    p: Any  # the integrator's portal in the emulator
    portal_id: int
    accounts: dict[str, int]  # romashka, vector, sokolova, burning, over
    companies: dict[str, int]  # the same keys: CRM company ids in the emulator
    tasks: dict[str, int]  # a task of each client, to log time on
    users: dict[str, int]  # admin, newadmin, pm, support, …
    cabinet: str  # the cabinet link of Ромашка
    burn_ready: bool  # False in the first 3 days of a month: no pace, no burn warning yet

    def shell(self, user: str | int = "admin", placement: str = "DEFAULT", company: str | None = None,
              lang: str = "ru") -> str:
        """The portal page around the app frame: the app page, or the widget of a company's CRM tab."""
        user_id = self.users[user] if isinstance(user, str) else user
        options = {"ID": str(self.companies[company])} if company else None
        return self.emu.shell_url(self.p, CLIENT_ID, user_id, placement, options, lang)

    def widget(self, company: str, user: str | int = "admin", lang: str = "ru") -> str:
        return self.shell(user, WIDGET, company, lang)

    def summary(self, account: str) -> Summary:
        with self.app.extensions["hourbook"].sessions() as s:
            found = summarize(s, self.accounts[account])
        assert found is not None
        return found

    def log_time(self, account: str, seconds: int, comment: str = "работа", user: str = "support") -> int:
        """A team member logs time on the client's task, a minute ago (this month)."""
        at = max(self.month_start() + timedelta(minutes=1), datetime.now(timezone.utc) - timedelta(minutes=1))
        return self.p.add_time(self.tasks[account], self.users[user], seconds, at, comment)

    def sync(self) -> None:
        """An incremental sync, as the minute job would run it."""
        jc = jobs_context.context()
        Sync(jc.sessions, jc.rest(self.portal_id), self.portal_id).run()

    def month_start(self) -> datetime:
        tz = self.p.time_zone
        return cal.local_midnight(cal.month_start(cal.local_date(datetime.now(timezone.utc), tz)), tz)


def _moment(now: datetime, tz: str, hours_ago: float) -> datetime:
    """A moment this month (in the portal's zone), `hours_ago` before now when the month allows."""
    first = cal.local_midnight(cal.month_start(cal.local_date(now, tz)), tz)
    return min(max(first + timedelta(minutes=1), now - timedelta(hours=hours_ago)), now - timedelta(seconds=1))


@contextmanager
def build_env(tmp: Path) -> Iterator[Env]:
    saved = jobs_context._overrides, jobs_context._context
    now = datetime.now(timezone.utc)
    emu = Emulator().start(port=0)
    try:
        p = scenario.demo(emu, now=now)
        p.rate_limit = None
        tz = p.time_zone
        u = p.keys["users"]
        users = {"admin": 1, **{k: v for k, v in u.items() if k != "admin"}}
        users["newadmin"] = p.add_user("Елена", "Администраторова", admin=True, work_position="администратор портала")
        companies = {k: p.keys["companies"][k] for k in ("romashka", "vector", "sokolova")}
        companies["burning"] = p.add_company("ООО «Успеть до срока»")
        companies["over"] = p.add_company("ООО «Перерасход»")
        tasks = {"romashka": p.keys["tasks"]["romashka2"], "vector": p.keys["tasks"]["vector4"],
                 "sokolova": p.keys["tasks"]["sokolova2"]}
        tasks["burning"] = p.add_task("Консультации по CRM", u["pm"], crm=[f"CO_{companies['burning']}"], status=3)
        tasks["over"] = p.add_task("Срочная доработка", u["support"], crm=[f"CO_{companies['over']}"], status=3)
        p.add_time(tasks["burning"], u["pm"], 2 * H, _moment(now, tz, 30), "созвон по задачам")
        for i, hours_ago in enumerate((30, 20, 10)):
            p.add_time(tasks["over"], u["support"], 4 * H + 40 * 60, _moment(now, tz, hours_ago), f"доработка {i + 1}")

        with serve_app(emu, {"DATABASE_URL": f"sqlite:///{tmp / 'pages.db'}", "INSTANCE_PATH": str(tmp),
                             "SECRET_KEY": SECRET_KEY}) as (app, url):
            try:
                response = emu.install(p, CLIENT_ID)
                assert response.status_code == 200, response.text[:500]
                emu.flush_events()
                hb = app.extensions["hourbook"]
                today = cal.local_date(now, tz)
                first = cal.month_start(today)
                next_month = cal.add_months(first, 1)
                with hb.sessions() as s, s.begin():
                    portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
                    romashka, vector, sokolova = demo.setup_contracts(s, portal, p, now)
                    burning = add_account(s, portal, "ООО «Успеть до срока»", company_id=companies["burning"],
                                          actor="test", now=now)
                    set_retainer(s, burning, hours_s=40 * H, price_minor=100_000_00, starts_on=first,
                                 title="Сопровождение 40", actor="test", now=now)
                    if (next_month - today).days > WARN_DAYS:
                        # A new tariff from a date five days ahead ends this month's period then.
                        set_retainer(s, burning, hours_s=20 * H, price_minor=50_000_00,
                                     starts_on=today + timedelta(days=5), title="Сопровождение 20",
                                     actor="test", now=now)
                    over = add_account(s, portal, "ООО «Перерасход»", company_id=companies["over"], actor="test",
                                       now=now)
                    set_retainer(s, over, hours_s=10 * H, price_minor=25_000_00, starts_on=first,
                                 title="Сопровождение 10", actor="test", now=now)
                    made = create_cabinet_link(s, romashka, actor="test", label="Директор «Ромашки»", now=now)
                    link = SimpleNamespace(id=made.id, nonce=made.nonce)
                    accounts = {"romashka": romashka.id, "vector": vector.id, "sokolova": sokolova.id,
                                "burning": burning.id, "over": over.id}
                    portal_id = portal.id
                with app.test_request_context():
                    from handlers.cabinet import cabinet_url

                    cabinet = cabinet_url(link)
                jc = jobs_context.context()
                Sync(jc.sessions, jc.rest(portal_id), portal_id).run(reconcile=True, full=True)
                env = Env(emu, app, url, p, portal_id, accounts, companies, tasks, users, cabinet,
                          burn_ready=(now - cal.local_midnight(first, tz)).total_seconds() >= MIN_PACE_S + 3600)
                # Ромашка stays a normal account whatever day of the month it is.
                left = env.summary("romashka")
                if left.overage_s or left.left_s < 6 * H:
                    with hb.sessions() as s, s.begin():
                        need = 10 * H - left.left_s + left.overage_s
                        adjust(s, s.get(Account, accounts["romashka"]), need - need % 3600 + 3600,
                               reason="бонус за продление", author="test")
                yield env
            finally:
                if jobs_context._context is not None:
                    jobs_context._context[1].sessions.kw["bind"].dispose()
                app.extensions["hourbook"].readers.kw["bind"].dispose()
    finally:
        emu.stop()
        jobs_context._overrides, jobs_context._context = saved
