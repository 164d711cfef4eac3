"""One seed, one story: the portal, the app, the faults, the checks.

The story (what people do in the portal and on the manager's page) comes
only from `random.Random(seed)`; the faults (the emulator's failed, slow and
lost calls and events) from the emulator's own generator seeded alike; the
instants from a clock the simulation moves (ledger/clock.py and the
emulator's clock, together). So a seed replays the same story with the
same faults; what it must end in is checked by `check()`.
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from emulators.bitrix24 import Emulator, Faults
from emulators.bitrix24 import clock as emu_clock
from b24.models import PortalAuth
from jobs import context as jobs_context
from jobs import schedule
from jobs.reports import attached_acts
from ledger import calendar as cal
from ledger import clock
from ledger.access import add_recipient, recipients
from ledger.balance import balance_from_postings, breakdown, totals_sums
from ledger.contracts import Policies, add_account, add_team_member, adjust, set_mode, set_retainer
from ledger.models import Account, Period, PeriodTotals, Portal, Posting, TimeEntry
from ledger.rounding import RoundingRule, round_seconds
from ledger.verify import verify
from reports.mail import message
from reports.model import Report
from reports.models import ReportSettings, SentReport
from tests.live import CLIENT_ID, CLIENT_SECRET, SECRET_KEY

ZONES = ("Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Vladivostok", "Europe/Kaliningrad")
TARIFFS_H = (20, 40, 80, 120)
SENDER = "hourbook@sim.test"

# What happens in a step, with its weight. Logging time is what people do most.
ACTIONS = {"log": 30, "edit": 8, "redate": 6, "delete": 6, "touch": 5, "add_task": 4, "move_task": 5,
           "delete_task": 1, "tariff": 2, "top_up": 2, "expire_tokens": 3, "restart": 1, "kill": 4}


FAST = {"timeout_s": 0.25, "retries": 3, "backoff_s": (0.002, 0.005, 0.01)}
CALM = {"backoff_s": (0.01, 0.02, 0.05)}


class Killed(BaseException):
    """The job's process dies here, as with SIGKILL: no `except Exception`
    runs, no retry; an open transaction is rolled back by the database."""


@dataclass
class KillSwitch:
    """Armed with n, the n-th REST call from now kills its job: before the
    request leaves, or after the portal has done the work and answered."""

    armed: int | None = None
    after: bool = False
    kills: int = 0
    # While faults are injected a hung call is given up fast and retried at
    # once; the final sync gets the production timeouts, only quicker backoff.
    rest_options: dict = field(default_factory=lambda: dict(FAST))

    def arm(self, rng: random.Random) -> None:
        self.armed, self.after = rng.randint(1, 12), rng.random() < 0.5


class KillableSession(requests.Session):
    def __init__(self, switch: KillSwitch) -> None:
        super().__init__()
        self.switch = switch
        self.trust_env = False  # no proxy lookups in the environment: a millisecond a call, here

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        sw = self.switch
        if sw.armed is not None:
            sw.armed -= 1
            if sw.armed <= 0:
                sw.armed, sw.kills = None, sw.kills + 1
                if sw.after:
                    super().post(*args, **kwargs)
                raise Killed()
        return super().post(*args, **kwargs)


@contextmanager
def killable_jobs(switch: KillSwitch) -> Iterator[None]:
    """Jobs build their REST gateway through JobContext.rest: here it gives
    up on a hung call fast, retries at once, and can be killed."""
    original = jobs_context.JobContext.rest

    def rest(self, portal_id: int, **options: Any):
        return original(self, portal_id, http=KillableSession(switch), **{**switch.rest_options, **options})

    jobs_context.JobContext.rest = rest  # type: ignore[method-assign]
    try:
        yield
    finally:
        jobs_context.JobContext.rest = original  # type: ignore[method-assign]


class SimClock:
    """The app's and the portal's clocks, moved together."""

    def set(self, at: datetime) -> None:
        delta = at - datetime.now(timezone.utc)
        clock.offset = delta
        emu_clock.offset_s = delta.total_seconds()

    def now(self) -> datetime:
        return clock.now()

    @staticmethod
    def reset() -> None:
        clock.offset = timedelta(0)
        emu_clock.offset_s = 0.0


class AppServer:
    """The app behind a real HTTP server; `boot()` again is a restart: a new
    process's app over the same database, whatever was queued in memory lost."""

    def __init__(self) -> None:
        self.app: Any = None
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _wsgi(self, environ, start_response):
        app = self.app
        if app is None:  # between two lives of the app: what a portal meets during a restart
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"restarting"]
        return app(environ, start_response)

    def boot(self, config: dict[str, Any]) -> Any:
        from app import create_app

        self.shutdown_app()
        self.app = create_app(config)
        return self.app

    @property
    def hb(self) -> Any:
        return self.app.extensions["hourbook"]

    def shutdown_app(self) -> None:
        if self.app is None:
            return
        hb = self.hb
        hb.engine.dispose()
        hb.readers.kw["bind"].dispose()
        if jobs_context._context is not None:
            jobs_context._context[1].sessions.kw["bind"].dispose()
            jobs_context._context = None
        self.app = None

    def stop(self) -> None:
        self.shutdown_app()
        self._server.shutdown()


@dataclass
class Outcome:
    seed: int
    steps: int = 0
    records: int = 0
    postings: int = 0
    kills: int = 0
    restarts: int = 0
    events_sent: int = 0
    events_dropped: int = 0
    rest_failures: int = 0
    reports: int = 0
    closed: int = 0
    digest: str = ""
    story: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"seed {self.seed}: {self.steps} steps, {self.records} records, {self.postings} postings, "
                f"{self.closed} periods closed, {self.reports} reports, {self.kills} jobs killed, "
                f"{self.restarts} restarts, {self.events_sent} events sent / {self.events_dropped} dropped, "
                f"{self.rest_failures} REST calls failed or late; ledger {self.digest[:12]}")


# ---------------------------------------------------------------- the world


class World:
    def __init__(self, seed: int, emu: Emulator, server: AppServer, database_url: str, instance: Path,
                 months: int | None = None) -> None:
        self.seed, self.emu, self.server = seed, emu, server
        self.rng = random.Random(seed)
        rng = self.rng
        self.database_url, self.instance = database_url, instance
        self.out = Outcome(seed)
        self.sim = SimClock()
        self.switch = KillSwitch()
        self.tz = rng.choice(ZONES)
        self.mode = rng.choice(("client", "integrator"))
        self.months = months or (3 if rng.random() < 0.25 else 2)
        self.rounding = rng.random() < 0.25
        self.faults = dict(fail_calls=0.05, timeout_calls=rng.choice((0.0, 0.005, 0.01)), timeout_sleep_s=0.3,
                           drop_events=rng.choice((0.0, 0.1, 0.3)), duplicate_events=rng.choice((0.0, 0.1, 0.3)),
                           reorder_events=rng.random() < 0.5, reorder_window_s=3600.0, seed=seed)
        self.snapshot: dict[int, tuple] = {}
        self.accounts: dict[str, int] = {}          # "client" or "co:<company id>" / "g:<group id>" -> account
        self.portal_id = 0

    # -------------------------------------------------------- helpers

    def say(self, text: str) -> None:
        self.out.story.append(f"{self.at:%Y-%m-%d %H:%M} {text}")

    def config(self) -> dict[str, Any]:
        return {"DATABASE_URL": self.database_url, "INSTANCE_PATH": str(self.instance), "SECRET_KEY": SECRET_KEY,
                "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET, "B24_OAUTH_SERVER": self.emu.url + "/",
                "PUBLIC_URL": self.server.url, "START_RUNNER": False, "REDIS_URL": None, "SMTP_URL": None,
                "MAIL_FROM": SENDER, "B24_RATE_PER_S": 100000.0, "B24_BURST": 1000000}

    @property
    def hb(self) -> Any:
        return self.server.hb

    @property
    def db(self) -> Any:
        """The ledger's sessions (sessionmaker)."""
        return self.hb.sessions

    def tx(self):
        return self.db.begin()

    def drain(self) -> None:
        """Work every queued job; a killed one is gone (the schedule brings it back)."""
        while True:
            try:
                self.hb.runner.drain()
                return
            except Killed:
                self.out.kills += 1

    def deliver_events(self) -> None:
        self.emu.flush_events(timeout=30)

    # -------------------------------------------------------- how the app runs (in this process)
    # ScaleOut (tests/simulation/processes.py) runs the same story against
    # gunicorn and rq workers by overriding these.

    def boot(self) -> None:
        if CLIENT_ID not in self.emu.apps:
            self.emu.register_app(CLIENT_ID, CLIENT_SECRET, self.server.url)
        self.server.boot(self.config())
        schedule._last_alerts.clear()

    def restart(self) -> None:
        self.boot()
        self.say("app restarts (queued jobs lost)")

    def tick(self) -> None:
        schedule.tick(self.hb.runner, self.sim.now())
        self.drain()

    def final_sync(self) -> None:
        self.hb.jobs.sync_portal(self.portal_id, True, True)

    def job_failures(self) -> list[tuple[str, str]]:
        return self.hb.runner.failed

    def compare_mail(self, key: str, again: bytes) -> list[str]:
        sent = self.instance / "outbox" / f"{key.replace(':', '-')}.eml"
        if not sent.exists() or sent.read_bytes() != again:
            return [f"report {key}: the e-mail sent is not reproducible"]
        return []

    # -------------------------------------------------------- setup

    def start_clock(self) -> None:
        """The story starts on the contracts' first day and runs to about now."""
        first = cal.add_months(cal.month_start(cal.local_date(datetime.now(timezone.utc), self.tz)), -self.months)
        self.starts_on = first
        self.at = cal.local_midnight(first, self.tz) + timedelta(hours=9, minutes=self.rng.randint(0, 59), seconds=17)
        self.end = self.at + timedelta(days=31 * self.months - 3)
        self.sim.set(self.at)

    def advance(self) -> None:
        rng = self.rng
        if rng.random() < 0.2:  # minutes later: the incremental sync, not the nightly one
            self.at += timedelta(minutes=rng.randint(2, 50), seconds=rng.randint(0, 59))
        else:
            self.at += timedelta(hours=rng.randint(96, 216), minutes=rng.randint(0, 59))
        self.sim.set(self.at)

    def going(self) -> bool:
        return self.at < self.end

    def setup(self) -> None:
        rng = self.rng
        self.start_clock()
        self.emu.faults = Faults(seed=self.seed)  # installed on a calm day; the faults begin after
        self.boot()
        p = self.p = self.emu.add_portal(f"sim{self.seed}.bitrix24.test", time_zone=self.tz)
        p.rate_limit = None  # the portal's own 503s are the Faults' business
        self.staff = [p.add_user(n, "Сотрудник") for n in ("Анна", "Борис", "Вера")]
        self.outsider = p.add_user("Гость", "Подрядчик")  # logs time but is not on the team
        self.companies = [p.add_company(f"Клиент {i}") for i in range(3)]
        self.groups = [p.add_group(f"Проект {i}", members=self.staff) for i in range(3)]
        self.tasks: list[int] = []
        for _ in range(rng.randint(3, 6)):
            self._new_task()
        response = self.emu.install(p, CLIENT_ID)
        assert response.status_code == 200, response.text[:500]
        with self.db() as s:
            portal = s.execute(select(Portal).where(Portal.member_id == p.member_id)).scalar_one()
            self.portal_id = portal.id
        self._contracts()
        self.emu.faults = Faults(**self.faults)
        self.deliver_events()
        self.drain()  # the installer's first full sync
        self.say(f"installed: {self.mode} mode, {self.tz}, {self.months} months, rounding {self.rounding}, "
                 f"faults {self.faults}")

    def _policies(self) -> Policies:
        rng = self.rng
        rollover = rng.random() < 0.4
        return Policies(expiry_policy="rollover" if rollover else "burn",
                        rollover_cap_s=rng.choice((None, 10 * 3600)) if rollover else None,
                        rollover_max_age_months=rng.choice((None, 1, 2)) if rollover else None,
                        overage_policy=rng.choice(("bill", "deduct")),
                        rounding_mode="up" if self.rounding else "none", rounding_step_s=900 if self.rounding else 0)

    def _contracts(self) -> None:
        rng = self.rng
        with self.tx() as s:
            portal = s.get(Portal, self.portal_id)
            if portal.mode != self.mode:
                set_mode(s, portal, self.mode, "manager")
            if self.mode == "client":
                owners = {"client": dict()}
            else:  # the third company and workgroup are the integrator's own: not counted
                owners = {f"co:{c}": dict(company_id=c, group_ids=(g,))
                          for c, g in zip(self.companies[:2], self.groups[:2])}
            weekly = rng.random() < 0.5  # the Monday report in half the stories (rendering is its cost)
            for key, binding in owners.items():
                account = add_account(s, portal, f"Клиент {key}", **binding, now=self.at)
                set_retainer(s, account, hours_s=rng.choice(TARIFFS_H) * 3600, starts_on=self.starts_on,
                             policies=self._policies(), now=self.at)
                add_recipient(s, account, f"client{account.id}@example.test", "Клиент", alerts=True,
                              actor="sim", now=self.at)
                # The Monday report goes to the first account's client, if at all.
                s.add(ReportSettings(account_id=account.id, weekly=weekly and not self.accounts,
                                     send_hour=rng.randint(0, 23),
                                     chat_dialog=rng.choice(("", "chat7")), notify_user_ids="", alert_days=5,
                                     client_alerts=True))
                self.accounts[key] = account.id
                if binding:
                    self.accounts[f"g:{binding['group_ids'][0]}"] = account.id
            for user in self.staff:
                add_team_member(s, portal, user, name=f"user {user}", role="specialist", now=self.at)

    def _new_task(self) -> int:
        rng, p = self.rng, self.p
        live = [t for t in self.tasks if t in p.tasks]
        if live and rng.random() < 0.2:  # a subtask: counted where its parent is
            tid = p.add_task("Подзадача", rng.choice(self.staff), parent_id=rng.choice(live))
        else:
            where = rng.randrange(3)
            crm = [f"CO_{self.companies[where]}"] if rng.random() < 0.6 else []
            group = self.groups[where] if not crm or rng.random() < 0.3 else 0
            tid = p.add_task(f"Задача {len(self.tasks) + 1}", rng.choice(self.staff), group_id=group, crm=crm)
        self.tasks.append(tid)
        return tid

    # -------------------------------------------------------- the story

    def worked_at(self, back: bool) -> datetime:
        """When the work was done: lately, or (back-dated) any time since the contract began."""
        rng = self.rng
        if back:
            first = cal.local_midnight(self.starts_on, self.tz)
            span = int((self.at - first).total_seconds())
            return first + timedelta(seconds=rng.randrange(max(span, 1)))
        first = cal.local_midnight(self.starts_on, self.tz)
        return max(first, self.at - timedelta(seconds=rng.randrange(36 * 3600)))

    def act(self, action: str) -> None:
        rng, p = self.rng, self.p
        records = sorted(p.time)
        live_tasks = [t for t in self.tasks if t in p.tasks]
        if action == "log" and live_tasks:
            task = rng.choice(live_tasks)
            user = self.outsider if rng.random() < 0.1 else rng.choice(self.staff)
            seconds = rng.choice((rng.randint(1, 600), rng.randint(600, 4 * 3600)))
            record = p.add_time(task, user, seconds, self.worked_at(back=rng.random() < 0.15))
            self.say(f"log #{record} {seconds}s on task {task} by user {user}")
            if rng.random() < 0.5:
                p.update_task(task, status=rng.choice((2, 3)))  # people touch the task as they log: an event
        elif action == "edit" and records:
            record, seconds = rng.choice(records), rng.randint(0, 5 * 3600)
            p.update_time(record, seconds=seconds)
            self.say(f"edit #{record} to {seconds}s")
        elif action == "redate" and records:
            record = rng.choice(records)
            p.update_time(record, created_date=self.worked_at(back=True))
            self.say(f"re-date #{record}")
        elif action == "delete" and records:
            record = rng.choice(records)
            p.delete_time(record)
            self.say(f"delete #{record}")
        elif action == "touch" and live_tasks:
            p.update_task(rng.choice(live_tasks), title=f"Задача {rng.randint(1, 99)}")
        elif action == "add_task":
            self.say(f"new task {self._new_task()}")
        elif action == "move_task" and live_tasks:
            task, where = rng.choice(live_tasks), rng.randrange(3)
            if rng.random() < 0.5:
                p.update_task(task, uf_crm_task=[f"CO_{self.companies[where]}"])
            else:
                p.update_task(task, group_id=self.groups[where], uf_crm_task=[])
            self.say(f"move task {task} to #{where}")
        elif action == "delete_task" and len(live_tasks) > 2:
            task = rng.choice(live_tasks)
            p.delete_task(task)
            self.say(f"delete task {task}")
        elif action == "tariff":
            account, hours = rng.choice(sorted(set(self.accounts.values()))), rng.choice(TARIFFS_H)
            with self.tx() as s:
                set_retainer(s, s.get(Account, account), hours_s=hours * 3600, actor="manager", now=self.sim.now())
            self.say(f"tariff of account {account}: {hours} h from next month")
        elif action == "top_up":
            account = rng.choice(sorted(set(self.accounts.values())))
            with self.tx() as s:
                adjust(s, s.get(Account, account), 5 * 3600, reason="доплата", author="manager",
                       now=self.sim.now())
            self.say(f"top-up of account {account}: +5 h")
        elif action == "expire_tokens":
            self.emu.expire_tokens(p)
            self.say("tokens expire")
        elif action == "restart":
            self.restart()
            self.out.restarts += 1
        elif action == "kill":
            self.switch.arm(rng)
            self.say(f"a job will die at its REST call {self.switch.armed} ({'after' if self.switch.after else 'before'})")

    def step(self) -> None:
        rng = self.rng
        self.advance()
        names, weights = zip(*ACTIONS.items())
        for action in rng.choices(names, weights, k=rng.randint(0, 7)):
            self.act(action)
        if rng.random() < 0.6:  # otherwise the events wait (delayed, then maybe shuffled)
            self.deliver_events()
            self.drain()
        if rng.random() < 0.7:  # the schedule's tick: syncs, period close, reports, alerts
            self.tick()
        self.out.steps += 1
        self.remember_postings()

    def run(self) -> Outcome:
        with killable_jobs(self.switch):
            self.setup()
            while self.going():
                self.step()
            self.finish()
        return self.out

    def finish(self) -> None:
        """The portal behaves again; the last events arrive; a full sync and
        a tick run; then everything is checked."""
        self.out.rest_failures = sum(self.emu.faults.injected.values())
        self.emu.faults = Faults(seed=self.seed)
        self.switch.armed, self.switch.rest_options = None, dict(CALM)
        self.deliver_events()
        self.drain()
        self.final_sync()
        self.tick()
        self.remember_postings()
        self.out.kills = self.switch.kills
        self.out.events_sent = sum(1 for e in self.emu.events_sent if e["domain"] == self.p.domain)
        self.out.events_dropped = sum(1 for e in self.emu.events_dropped
                                      if e["payload"]["auth"].get("domain") == self.p.domain)
        self.out.problems += self.check()

    # -------------------------------------------------------- checks

    def remember_postings(self) -> None:
        """No posting is ever changed or removed: each snapshot holds the last."""
        with self.db() as s:
            now = {p.id: (p.period_id, p.kind, p.amount_s, p.entry_id, p.key, p.created_at)
                   for p in s.execute(select(Posting)).scalars()}
        for pid, row in self.snapshot.items():
            if now.get(pid) != row:
                self.out.problems.append(f"posting {pid} changed: {row} -> {now.get(pid)}")
        self.snapshot = now

    def expected_account(self, task_id: int) -> int | None:
        if self.mode == "client":
            return self.accounts["client"]
        seen: set[int] = set()
        while task_id and task_id not in seen and task_id in self.p.tasks:
            seen.add(task_id)
            task = self.p.tasks[task_id]
            for ref in task.crm:
                if ref.startswith("CO_") and f"co:{ref[3:]}" in self.accounts:
                    return self.accounts[f"co:{ref[3:]}"]
            if f"g:{task.group_id}" in self.accounts:
                return self.accounts[f"g:{task.group_id}"]
            task_id = task.parent_id
        return None

    def check(self) -> list[str]:
        problems: list[str] = []
        truth = {int(r["ID"]): r for r in self.p.records()}
        rule = RoundingRule("up", 900) if self.rounding else None
        with self.db() as s:
            entries = {e.record_id: e for e in s.execute(
                select(TimeEntry).where(TimeEntry.portal_id == self.portal_id)).scalars()}
            posted = dict(s.execute(select(Posting.entry_id, func.sum(Posting.amount_s))
                                    .where(Posting.kind == "consumption", Posting.entry_id.is_not(None))
                                    .group_by(Posting.entry_id)).all())
            # Rules 1 and 2: every record mirrored, and consumed once, to the second.
            live = {rid for rid, e in entries.items() if not e.deleted}
            if live != set(truth):
                problems.append(f"mirror: missing {sorted(set(truth) - live)[:10]}, "
                                f"extra {sorted(live - set(truth))[:10]}")
            for rid, e in entries.items():
                consumed = -int(posted.get(e.id, 0) or 0)
                record = truth.get(rid)
                if record is None:
                    want, account = 0, e.account_id
                else:
                    account = self.expected_account(int(record["TASK_ID"]))
                    seconds = int(record["SECONDS"])
                    counted = int(record["USER_ID"]) in self.staff and account is not None
                    want = (round_seconds(seconds, rule) if rule else seconds) if counted else 0
                    worked = datetime.fromisoformat(record["CREATED_DATE"]).astimezone(timezone.utc)
                    if (e.duration_s, e.work_at) != (seconds, worked):
                        problems.append(f"record {rid}: ours {e.duration_s}s at {e.work_at}, "
                                        f"portal {seconds}s at {worked}")
                if consumed != want or e.counted_s != want or e.account_id != account:
                    problems.append(f"record {rid}: consumed {consumed}s, counts {e.counted_s}s on account "
                                    f"{e.account_id}; the portal says {want}s on account {account}")
            # Rule 3 for every period: the identity, from the postings themselves.
            periods = s.execute(select(Period).join(Account, Account.id == Period.account_id)
                                .where(Account.portal_id == self.portal_id)).scalars().all()
            for period in periods:
                rows = s.execute(select(Posting.kind, Posting.amount_s)
                                 .where(Posting.period_id == period.id)).all()
                terms = balance_from_postings(rows)
                cached = breakdown(totals_sums(s.get(PeriodTotals, period.id)))
                identity = (terms.allocation_s + terms.rollover_in_s + terms.stage_budget_s + terms.adjustment_s
                            - terms.consumption_s - terms.expiry_s - terms.rollover_out_s
                            + terms.overage_billed_s + terms.overage_carried_s - terms.overage_deducted_s)
                if terms != cached or identity != terms.net_s or terms.remaining_s - terms.overage_s != terms.net_s:
                    problems.append(f"rule 3, period {period.label} of account {period.account_id}: {terms}")
                if period.status == "closed" and terms.net_s != 0:
                    problems.append(f"closed period {period.label} of account {period.account_id} holds "
                                    f"{terms.net_s}s")
            problems += [f"verify: {p}" for p in verify(s)]
            auth = s.get(PortalAuth, self.portal_id)
            if auth.status != "ok":
                problems.append(f"portal connection {auth.status}: {auth.dead_reason}")
            problems += self._reports(s)
            self.out.records = len(truth)
            self.out.postings = s.execute(select(func.count()).select_from(Posting)).scalar_one()
            self.out.closed = sum(1 for p in periods if p.status == "closed")
            self.out.digest = self.ledger_digest(s, periods)
        unexpected = [f for f in self.job_failures() if not f[1].startswith(("Transient(", "RuntimeError('chat"))]
        problems += [f"job {key} failed: {err}" for key, err in unexpected]
        return problems

    def _reports(self, s) -> list[str]:
        """Every report sent is still reproducible: its e-mail, rendered
        again from the stored data, is the very bytes that went out; each
        account and week has one weekly report."""
        problems = []
        rows = s.execute(select(SentReport).join(Account, Account.id == SentReport.account_id)
                         .where(Account.portal_id == self.portal_id)).scalars().all()
        self.out.reports = len(rows)
        for row in rows:
            report = Report.from_json(row.data)
            if report.digest != row.digest:
                problems.append(f"report {row.key}: stored data does not match its digest")
            if row.sent_at is None:
                problems.append(f"report {row.key}: never sent ({row.status}: {row.error})")
                continue
            to = [(r.name, r.email) for r in recipients(s, row.account_id)]
            # With the monthly acts it carried, as they were kept (issue 15).
            problems += self.compare_mail(row.key, bytes(message(report, row.key, to, SENDER,
                                                                 attached_acts(s, report))))
        weeks = [(r.account_id, r.week) for r in rows if r.key.startswith("weekly:")]
        if len(weeks) != len(set(weeks)):
            problems.append(f"a weekly report made twice: {sorted(weeks)}")
        return problems

    def ledger_digest(self, s, periods: list[Period]) -> str:
        """The ledger's end state as numbers only (no ids that depend on timing)."""
        entries = sorted((e.record_id, e.duration_s, e.counted_s, e.deleted) for e in s.execute(
            select(TimeEntry).where(TimeEntry.portal_id == self.portal_id)).scalars())
        balances = sorted((p.label, p.status, *breakdown(totals_sums(s.get(PeriodTotals, p.id))).as_dict().values())
                          for p in periods)
        return hashlib.sha256(json.dumps([entries, balances], default=str).encode()).hexdigest()


def simulate(seed: int, emu: Emulator, server: AppServer, database_url: str, instance: Path,
             months: int | None = None) -> Outcome:
    """Play seed `seed` to its end and check it; the clocks are put back after."""
    world = World(seed, emu, server, database_url, instance, months)
    try:
        return world.run()
    finally:
        SimClock.reset()
        emu.faults = Faults()
        server.shutdown_app()

