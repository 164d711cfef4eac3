"""The weekly report and the alerts as jobs (jobs/reports.py, jobs/schedule.py,
`python app.py report`), end to end: a portal in the emulator, its time
synced into the ledger (SQLite and PostgreSQL), the report delivered to a
real SMTP server (aiosmtpd) or the outbox and to the project chat (the
emulator's im.* methods), the alerts fired and delivered once.

PRODUCT.md: rules 5 and 8, "What it must do" 5 (the weekly report) and 6
(alerts). The clock is fixed wherever the code takes one (sync, close,
due_reports, check_alerts, the CLI's --now); only the report's own
"built at" is the real time, and nothing here depends on it.
"""
from __future__ import annotations

import email
import io
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email import policy
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from b24.links import task_url
from jobs import reports as rj
from jobs import schedule
from jobs.sync import Sync
from ledger import calendar as cal
from ledger.access import add_recipient
from ledger.contracts import add_cap, close_due
from ledger.models import Account, TimeEntry
from reports import render
from reports.build import build_report
from reports.mail import attachment_name, message
from reports.model import Report
from reports.models import AlertSent, ReportSettings, SentReport
from tests.live import CLIENT_ID, CLIENT_SECRET, SECRET_KEY, jobs_configured, wire_portal
from tests.smtp import free_port, smtp_server

H, M = 3600, 60
MSK = "Europe/Moscow"
WEEK = "2026-W44"  # Monday 26 October – Sunday 1 November 2026: across the October/November boundary
MONDAY = date(2026, 10, 26)
CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # when the account was set up (before every week here)
THREADS = 6


def local(tz: str, day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in `tz`, as an aware UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=cal.zone(tz)).astimezone(timezone.utc)


NOW = local(MSK, date(2026, 11, 4), 10)  # Wednesday after the week: October is over


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def smtp():
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def jobs(engine, emu, tmp_path):
    """The job functions of this process on the test's database, with the
    emulator as Bitrix24's OAuth server, and e-mail to instance/outbox."""
    config = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": SECRET_KEY,
        "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET, "B24_OAUTH_SERVER": emu.url + "/",
        "PUBLIC_URL": "http://127.0.0.1:9", "B24_RATE_PER_S": 1000.0, "B24_BURST": 100000,
        "MAIL_FROM": "Hourbook <reports@hourbook.test>", "SMTP_URL": None, "REDIS_URL": None,
    }
    with jobs_configured(config) as ctx:
        yield ctx


@dataclass
class Client:
    """One emulated client portal wired to the ledger, as a manager set it up."""

    emu: object
    p: object
    ctx: object
    portal_id: int
    account_id: int
    anna: int  # project manager (team)
    oleg: int  # developer (team)
    maria: int  # the client's own employee (not in the team)
    funnel: int  # task ids
    exchange: int
    records: dict[str, int] = field(default_factory=dict)

    def log(self, name: str, task: int, user: int, seconds: int, day: date, hour: int, minute: int = 0,
            comment: str = "") -> int:
        self.records[name] = self.p.add_time(task, user, seconds, local(self.p.time_zone, day, hour, minute),
                                             comment=comment)
        return self.records[name]

    def sync(self, now: datetime = NOW) -> None:
        Sync(self.ctx.sessions, self.ctx.rest(self.portal_id), self.portal_id, now=lambda: now).run(
            reconcile=True, full=True)

    def settings(self, **values) -> None:
        with self.ctx.sessions() as s, s.begin():
            row = s.get(ReportSettings, self.account_id)
            if row is None:
                row = ReportSettings(account_id=self.account_id, weekly=True, send_hour=9, chat_dialog="",
                                     notify_user_ids="", alert_days=5, client_alerts=True)
                s.add(row)
            for name, value in values.items():
                setattr(row, name, value)

    def recipient(self, address: str, name: str = "", alerts: bool = False) -> None:
        with self.ctx.sessions() as s, s.begin():
            add_recipient(s, s.get(Account, self.account_id), address, name, alerts=alerts, actor="test")

    def sent(self) -> list[SentReport]:
        with self.ctx.sessions() as s:
            return list(s.execute(select(SentReport).order_by(SentReport.id)).scalars())

    def alerts(self) -> list[AlertSent]:
        with self.ctx.sessions() as s:
            return list(s.execute(select(AlertSent).order_by(AlertSent.id)).scalars())

    def chat(self, method: str = "im.message.add") -> list[dict]:
        return [m for m in self.emu.messages if m["method"] == method and m["domain"] == self.p.domain]


def client_portal(emu, ctx, tz: str = MSK, domain: str = "romashka.bitrix24.test", now: datetime = NOW) -> Client:
    p = emu.add_portal(domain, time_zone=tz)
    p.rate_limit = None
    anna = p.add_user("Анна", "Петрова", time_zone=tz)
    oleg = p.add_user("Олег", "Кузнецов", time_zone=tz)
    maria = p.add_user("Мария", "Клиентова", time_zone=tz)
    p.staff += [(anna, "Анна Петрова", "project_manager"), (oleg, "Олег Кузнецов", "developer")]
    funnel = p.add_task("Настройка воронки «Продажи»", anna)
    exchange = p.add_task("Интеграция с 1С: обмен счетами", oleg)
    w = wire_portal(emu, p, ctx.sessions, now=now)
    with ctx.sessions() as s, s.begin():
        s.execute(update(Account).where(Account.id == w.client_account).values(created_at=CREATED))
    return Client(emu, p, ctx, w.portal_id, w.client_account, anna, oleg, maria, funnel, exchange)


def log_week(c: Client) -> None:
    """Records around and inside 2026-W44 (Moscow): the week's edges at
    23:30 on Sunday and 00:30 on Monday, work on both sides of the month
    boundary, and a client's employee whose time is shown, never debited."""
    c.log("sun_before", c.funnel, c.oleg, 30 * M, date(2026, 10, 25), 23, 30)  # W43
    c.log("mon_first", c.funnel, c.anna, 20 * M, date(2026, 10, 26), 0, 30, "Поставила задачу разработчикам")
    c.log("wed", c.exchange, c.oleg, 2 * H + 30 * M, date(2026, 10, 28), 11, 0, "Обмен счетами: справочники")
    c.log("client", c.funnel, c.maria, 30 * M, date(2026, 10, 30), 15, 0, "Проверила воронку")
    c.log("sat", c.exchange, c.anna, 1 * H, date(2026, 10, 31), 23, 30, "Согласовала формат")
    c.log("sun_last", c.funnel, c.oleg, 45 * M, date(2026, 11, 1), 23, 30, "Робот на стадии «Счёт»")
    c.log("mon_after", c.funnel, c.anna, 10 * M, date(2026, 11, 2), 0, 30)  # W45


IN_WEEK = ("mon_first", "wed", "client", "sat", "sun_last")


def week_entries(c: Client, monday: date = MONDAY) -> list[TimeEntry]:
    with c.ctx.sessions() as s:
        portal_tz = c.p.time_zone
        start, end = cal.week_bounds(monday, portal_tz)
        return list(s.execute(select(TimeEntry).where(
            TimeEntry.account_id == c.account_id, TimeEntry.deleted.is_(False),
            TimeEntry.work_at >= start, TimeEntry.work_at < end)).scalars())


def stored(row: SentReport) -> Report:
    return Report.from_json(row.data)


def workbook_sums(data: bytes) -> dict:
    """What the XLSX says: the work log's rows and its «Debited» total, and
    the per-task and per-person totals, all in seconds."""
    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    summary, log, by_task, by_person = book.worksheets
    rows = [r for r in log.iter_rows(min_row=2, values_only=True)]
    lines, total = rows[:-1], rows[-1]

    def seconds(value) -> int:  # openpyxl reads an "[h]:mm" number of days as a timedelta
        return round(value.total_seconds() if isinstance(value, timedelta) else value * 86400)

    return {
        "logged": [seconds(r[6]) for r in lines], "debited": [seconds(r[7]) for r in lines],
        "task_ids": [r[4] for r in lines], "notes": [r[8] or "" for r in lines],
        "debited_total": seconds(total[7]), "logged_total": seconds(total[6]),
        "tasks": {r[1]: seconds(r[3]) for r in by_task.iter_rows(min_row=2, values_only=True) if r[1]},
        "tasks_total": seconds(list(by_task.iter_rows(values_only=True))[-1][3]),
        "people": {r[0]: seconds(r[2]) for r in list(by_person.iter_rows(min_row=2, values_only=True))[:-1]},
        "people_total": seconds(list(by_person.iter_rows(values_only=True))[-1][2]),
    }


def race(n: int, work) -> list[BaseException]:
    """`work()` in n threads at once; the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            work()
        except BaseException as err:  # noqa: BLE001 (collected and asserted by the caller)
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


# ---------------------------------------------------------------- the weekly report, delivered


def test_weekly_report_reaches_smtp_and_the_project_chat_with_the_ledgers_sums(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = smtp.url
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")
    c.recipient("crm@romashka.test", "Ответственный за CRM")
    c.settings(chat_dialog="chat42", notify_user_ids=f"{c.anna}, {c.oleg}")

    outcome = rj.send_weekly(c.account_id, WEEK)

    assert outcome["mail"].startswith("smtp://127.0.0.1:") and outcome["chat"] == "sent"
    # One e-mail, to both recipients, with a text part, an HTML part and the XLSX.
    assert len(smtp.envelopes) == 1
    envelope = smtp.envelopes[0]
    assert sorted(envelope.rcpt_tos) == ["crm@romashka.test", "director@romashka.test"]
    assert envelope.mail_from == "reports@hourbook.test"
    msg = smtp.messages()[0]
    (row,) = c.sent()
    report = stored(row)
    # (The Subject's exact wording is in test_reports_build.py: Python 3.11 folds it badly.)
    assert msg["Subject"].startswith("Отчёт о часах: Клиент") and msg["Message-ID"].startswith("<weekly.")
    assert msg.get_content_type() == "multipart/mixed"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == render.text(report).replace("\r\n", "\n")
    assert "Обмен счетами" in plain.get_content() and "Обмен счетами" in html.get_content()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == attachment_name(report) and attachment.get_filename().endswith(".xlsx")
    data = attachment.get_content()
    assert data == render.xlsx(report)

    # The week is Monday 00:00 to Sunday 24:00 in Moscow: 23:30 on the Sunday
    # before and 00:30 on the Monday after are not in it.
    entries = week_entries(c)
    assert sorted(e.record_id for e in entries) == sorted(c.records[k] for k in IN_WEEK)
    assert [(x.day, x.user_id, x.task_id, x.duration_s) for x in report.lines] == [
        (date(2026, 10, 26), c.anna, c.funnel, 20 * M), (date(2026, 10, 28), c.oleg, c.exchange, 150 * M),
        (date(2026, 10, 30), c.maria, c.funnel, 30 * M), (date(2026, 10, 31), c.anna, c.exchange, 60 * M),
        (date(2026, 11, 1), c.oleg, c.funnel, 45 * M)]
    client_line = report.lines[2]
    assert not client_line.team and client_line.counted_s == 0 and report.others_s == 30 * M

    # The XLSX opens, and its sums are the ledger's.
    sums = workbook_sums(data)
    counted = sum(e.counted_s for e in entries)
    assert counted == 20 * M + 150 * M + 60 * M + 45 * M
    assert sum(sums["debited"]) == sums["debited_total"] == counted == report.week_s
    assert sum(sums["logged"]) == sums["logged_total"] == sum(e.duration_s for e in entries)
    per_task, per_person = defaultdict(int), defaultdict(int)
    names = {c.anna: "Анна Петрова", c.oleg: "Олег Кузнецов"}
    for e in entries:
        if e.counted_s:
            per_task[e.task_id] += e.counted_s
            per_person[names[e.user_id]] += e.counted_s
    assert sums["tasks"] == dict(per_task) and sums["tasks_total"] == counted
    assert sums["people"] == dict(per_person) and sums["people_total"] == counted

    # The chat: the summary in the project chat and a notification to each user named.
    (posted,) = c.chat()
    assert posted["params"]["DIALOG_ID"] == "chat42" and posted["params"]["MESSAGE"] == render.chat(report)
    notified = c.chat("im.notify.personal.add")
    assert sorted(int(m["params"]["USER_ID"]) for m in notified) == sorted([c.anna, c.oleg])
    assert all(m["params"]["MESSAGE"] == render.chat(report) for m in notified)

    # The record of it.
    assert row.key == f"weekly:{c.account_id}:{WEEK}" and row.week == WEEK and row.status == "sent"
    assert row.sent_at is not None and row.chat_sent_at is not None and row.error is None
    assert row.recipients == "director@romashka.test, crm@romashka.test"
    assert row.digest == report.digest

    # Called again (a retry, a second worker, a restart): nothing more is sent.
    again = rj.send_weekly(c.account_id, WEEK)
    assert again["mail"] == "already" and again["chat"] == "already"
    assert len(smtp.envelopes) == 1 and len(c.chat()) == 1 and len(c.sent()) == 1


def test_a_change_after_its_month_closed_is_flagged_as_a_correction(jobs, emu):
    """Rule 5: October is closed; an October record edited afterwards is
    counted in November as a correction, and the report says so."""
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()  # nobody closed October yet: its records count there
    with jobs.sessions() as s, s.begin():
        assert [p.label for p in close_due(s, NOW).closed][-1] == "2026-10"
    c.p.update_time(c.records["wed"], seconds=3 * H)
    c.sync()

    rj.send_weekly(c.account_id, WEEK)

    report = stored(c.sent()[0])
    flags = {(x.day, x.task_id, x.user_id): x for x in report.lines}
    edited = flags[(date(2026, 10, 28), c.exchange, c.oleg)]
    assert edited.correction and edited.duration_s == edited.counted_s == 3 * H
    assert [x.day for x in report.lines if x.correction] == [date(2026, 10, 28)]
    assert report.week_s == sum(e.counted_s for e in week_entries(c))
    text = render.text(report)
    assert text.count("[исправление]") == 1, text  # the one line, marked in the plain-text part
    notes = workbook_sums(render.xlsx(report))["notes"]
    assert [bool(n) for n in notes] == [False, True, True, False, False]  # the client's row: "not debited"
    assert notes[1] != notes[2]


def test_a_sent_report_renders_to_the_same_bytes_after_the_ledger_changed(jobs, emu):
    """Rule 5: what was sent is kept; changing and deleting records in the
    portal afterwards changes the ledger, not the report already sent."""
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")

    rj.send_weekly(c.account_id, WEEK)
    (row,) = c.sent()
    outbox = Path(jobs.config["INSTANCE_PATH"]) / "outbox"
    (eml,) = outbox.glob("*.eml")
    sent_bytes = eml.read_bytes()
    sent = email.message_from_bytes(sent_bytes, policy=policy.default)

    c.p.update_time(c.records["sat"], seconds=2 * H)
    c.p.delete_time(c.records["mon_first"])
    c.log("late", c.exchange, c.oleg, 40 * M, date(2026, 10, 29), 12)
    c.sync(NOW + timedelta(hours=1))
    with jobs.sessions() as s:
        fresh = build_report(s, c.account_id, MONDAY, task_url)
    assert fresh.week_s == (150 + 120 + 45 + 40) * M  # the ledger moved on

    with jobs.sessions() as s:
        again = s.get(SentReport, row.id)
        assert again.data == row.data and again.digest == row.digest
    report = stored(again)
    assert report.to_json() == row.data and report.digest == row.digest
    assert report.week_s == (20 + 150 + 60 + 45) * M
    to = [("Директор", "director@romashka.test")]
    assert bytes(message(report, row.key, to, jobs.config["MAIL_FROM"])) == sent_bytes
    assert sent.get_body(preferencelist=("html",)).get_content().rstrip("\n") == render.html(report)
    assert sent.get_body(preferencelist=("plain",)).get_content() == render.text(report)
    assert next(sent.iter_attachments()).get_content() == render.xlsx(report)

    # A resend is the stored report again: the same parts, a new record.
    rj.resend(row.id, "manager:1")
    resent = [p for p in outbox.glob("*.eml") if p != eml]
    assert len(resent) == 1
    copy = email.message_from_bytes(resent[0].read_bytes(), policy=policy.default)
    assert next(copy.iter_attachments()).get_content() == render.xlsx(report)
    assert copy.get_body(preferencelist=("html",)).get_content().rstrip("\n") == render.html(report)
    assert [r.digest for r in c.sent()] == [row.digest, row.digest]


# ---------------------------------------------------------------- once per account and week


def concurrent_weekly_sends(jobs, emu, smtp) -> tuple[Client, list[BaseException]]:
    """send_weekly for one account and week from several workers at once
    (the schedule's job, a manager's retry, a restarted worker). The SMTP
    server takes a moment to answer, as real ones do."""
    jobs.config["SMTP_URL"] = smtp.url
    smtp.delay_s = 0.3
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")
    c.settings(chat_dialog="chat42")
    return c, race(THREADS, lambda: rj.send_weekly(c.account_id, WEEK))


def test_concurrent_weekly_sends_make_one_report(jobs, emu, smtp):
    c, errors = concurrent_weekly_sends(jobs, emu, smtp)
    assert errors == []
    assert [(r.key, r.status) for r in c.sent()] == [(f"weekly:{c.account_id}:{WEEK}", "sent")]
    assert smtp.envelopes and c.chat()


def test_concurrent_weekly_sends_deliver_one_email_and_one_chat_message(jobs, emu, smtp):
    c, errors = concurrent_weekly_sends(jobs, emu, smtp)
    assert errors == []
    assert len(smtp.envelopes) == 1
    assert len(c.chat()) == 1


def test_a_chat_failure_is_retried_without_a_second_email(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = smtp.url
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")
    c.settings(chat_dialog="999999")  # no such user: im.message.add answers USER_NOT_FOUND

    with pytest.raises(RuntimeError, match="chat"):
        rj.send_weekly(c.account_id, WEEK)

    (row,) = c.sent()
    assert row.status == "failed" and row.sent_at is not None and row.chat_sent_at is None
    assert "USER_NOT_FOUND" in row.error
    assert len(smtp.envelopes) == 1 and c.chat() == []
    monday_after = local(MSK, date(2026, 11, 2), 10)
    with jobs.sessions() as s:
        assert rj.due_reports(s, monday_after) == [rj.DueReport(c.account_id, WEEK)]  # still to finish

    c.settings(chat_dialog="chat42")
    outcome = rj.send_weekly(c.account_id, WEEK)

    assert outcome["mail"] == "already" and outcome["chat"] == "sent"
    assert len(smtp.envelopes) == 1
    (posted,) = c.chat()
    (row,) = c.sent()
    assert posted["params"]["MESSAGE"] == render.chat(stored(row))
    assert row.status == "sent" and row.error is None and row.attempts == 2 and row.chat_sent_at is not None
    with jobs.sessions() as s:
        assert rj.due_reports(s, monday_after) == []


def test_a_mail_failure_is_retried_without_a_second_chat_message(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")
    c.settings(chat_dialog="chat42")

    with pytest.raises(RuntimeError, match="mail"):
        rj.send_weekly(c.account_id, WEEK)
    (row,) = c.sent()
    assert row.status == "failed" and row.sent_at is None and row.chat_sent_at is not None
    assert len(c.chat()) == 1

    jobs.config["SMTP_URL"] = smtp.url
    outcome = rj.send_weekly(c.account_id, WEEK)

    assert outcome["chat"] == "already" and outcome["mail"].startswith("smtp://")
    assert len(c.chat()) == 1 and len(smtp.envelopes) == 1
    assert c.sent()[0].status == "sent"


# ---------------------------------------------------------------- alerts


def test_each_alert_fires_once_per_period_and_kind_whatever_the_runs(jobs, emu, smtp):
    """80 %, 100 %, a cap reached, and hours about to burn: each fires once,
    however many workers check at once and however often; the chat hears of
    each once, and the client's alert e-mail goes only to recipients who
    asked for alerts."""
    jobs.config["SMTP_URL"] = smtp.url
    october = date(2026, 10, 1)
    c = client_portal(emu, jobs, now=local(MSK, october, 12))
    c.recipient("director@romashka.test", "Директор", alerts=True)
    c.recipient("accounting@romashka.test", "Бухгалтерия", alerts=False)
    c.settings(chat_dialog="chat42", alert_days=5)
    with jobs.sessions() as s, s.begin():
        cap = add_cap(s, s.get(Account, c.account_id), scope="task", ref_id=c.exchange, limit_s=2 * H, actor="test")
        cap_kind = f"cap:{cap.id}"
    for day in range(1, 15):  # 28 h on the funnel, 2 h on the exchange: 75 % of 40 h
        c.log(f"f{day}", c.funnel, c.oleg, 2 * H, date(2026, 10, day), 12)
    c.log("x1", c.exchange, c.anna, 2 * H, date(2026, 10, 15), 12)

    def check(at: datetime) -> list[BaseException]:
        c.sync(at)
        return race(THREADS, lambda: rj.check_alerts(at))

    def kinds() -> list[str]:
        return sorted(a.kind for a in c.alerts())

    # 24 October: the cap is reached; 75 % is not 80 %, and 8 days are left (more than 5).
    assert check(local(MSK, date(2026, 10, 24), 12)) == []
    assert kinds() == [cap_kind]
    # 27 October: 80 % used, 5 days left and at this pace hours would burn.
    c.log("f26", c.funnel, c.oleg, 2 * H, date(2026, 10, 26), 12)
    assert check(local(MSK, date(2026, 10, 27), 12)) == []
    assert kinds() == sorted([cap_kind, "used_80", "burn_soon"])
    # 28 October: the package is used up.
    c.log("f28", c.funnel, c.oleg, 9 * H, date(2026, 10, 28), 12)
    assert check(local(MSK, date(2026, 10, 28), 12)) == []
    # And again, by one worker, twice.
    rj.check_alerts(local(MSK, date(2026, 10, 29), 12))
    rj.check_alerts(local(MSK, date(2026, 10, 30), 12))

    alerts = c.alerts()
    assert sorted(a.kind for a in alerts) == sorted([cap_kind, "used_80", "burn_soon", "used_100"])
    assert all(a.delivered_at is not None and a.error is None for a in alerts)
    assert len({a.period_id for a in alerts}) == 1
    posted = c.chat()
    assert len(posted) == 4 and all(m["params"]["DIALOG_ID"] == "chat42" for m in posted)
    assert c.chat("im.notify.personal.add") == []
    mails = smtp.messages()
    assert len(mails) == 4
    assert all(e.rcpt_tos == ["director@romashka.test"] for e in smtp.envelopes)
    assert sorted(m.get_content().strip() for m in mails) == sorted(
        m["params"]["MESSAGE"].replace("[B]", "").replace("[/B]", "").strip() for m in posted)


def test_alert_emails_wait_for_client_alerts_and_the_chat_falls_back_to_the_admin(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = smtp.url
    c = client_portal(emu, jobs, now=local(MSK, date(2026, 10, 1), 12))
    c.recipient("director@romashka.test", "Директор", alerts=True)
    c.settings(client_alerts=False, chat_dialog="", notify_user_ids="")
    from b24.models import PortalAuth

    with jobs.sessions() as s, s.begin():
        s.get(PortalAuth, c.portal_id).auth_user_id = 1  # the admin who installed the app
    for day in range(1, 18):  # 34 h: 85 %
        c.log(f"f{day}", c.funnel, c.oleg, 2 * H, date(2026, 10, day), 12)
    at = local(MSK, date(2026, 10, 20), 12)
    c.sync(at)

    rj.check_alerts(at)

    assert [a.kind for a in c.alerts()] == ["used_80"]
    assert smtp.envelopes == [] and c.chat() == []
    (note,) = c.chat("im.notify.personal.add")
    assert int(note["params"]["USER_ID"]) == 1 and "80" in note["params"]["MESSAGE"]


# ---------------------------------------------------------------- the schedule


class Recorder:
    """A runner that only records what it was asked to queue."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, object, tuple]] = []

    def enqueue(self, func, *args, job_id=None) -> None:
        self.queued.append((job_id, func, args))


def test_reports_fall_due_on_monday_at_the_send_hour_in_each_portals_zone(jobs, emu, monkeypatch):
    moscow = client_portal(emu, jobs)
    york = client_portal(emu, jobs, tz="America/New_York", domain="newyork.bitrix24.test")
    york.settings(send_hour=8)
    monday = date(2026, 11, 9)

    def due(at: datetime) -> list[rj.DueReport]:
        with jobs.sessions() as s:
            return sorted(rj.due_reports(s, at), key=lambda d: d.account_id)

    assert due(local(MSK, monday, 8, 59)) == []
    # On Sunday the week is not over: "last week" is still the one before.
    assert {d.week for d in due(local(MSK, date(2026, 11, 8), 23, 59))} == {"2026-W44"}
    assert due(local(MSK, monday, 9)) == [rj.DueReport(moscow.account_id, "2026-W45")]
    assert due(local("America/New_York", monday, 7, 59)) == [rj.DueReport(moscow.account_id, "2026-W45")]
    both = [rj.DueReport(moscow.account_id, "2026-W45"), rj.DueReport(york.account_id, "2026-W45")]
    assert due(local("America/New_York", monday, 8)) == both

    rj.send_weekly(moscow.account_id, "2026-W45")
    assert due(local("America/New_York", monday, 8)) == [both[1]]
    rj.send_weekly(york.account_id, "2026-W45")
    assert due(local("America/New_York", monday, 8)) == []
    assert due(local(MSK, date(2026, 11, 15), 23)) == []

    # Down for three weeks: on the fourth Monday, last week's report only, once.
    back = local("America/New_York", date(2026, 11, 30), 12)
    late = [rj.DueReport(moscow.account_id, "2026-W48"), rj.DueReport(york.account_id, "2026-W48")]
    assert due(back) == late
    monkeypatch.setattr(schedule, "_last_alerts", {})
    runner = Recorder()
    queued = schedule.tick(runner, back)
    reports = [(job_id, func, args) for job_id, func, args in runner.queued if job_id.startswith("report-")]
    assert reports == [(f"report-{moscow.account_id}-2026-W48", rj.send_weekly, (moscow.account_id, "2026-W48")),
                       (f"report-{york.account_id}-2026-W48", rj.send_weekly, (york.account_id, "2026-W48"))]
    assert "alerts" in queued and set(queued) == {job_id for job_id, _, _ in runner.queued}
    for _, func, args in reports:
        func(*args)
    assert due(back) == []
    assert schedule.tick(Recorder(), back + timedelta(minutes=1)) == [
        j for j in queued if not j.startswith("report-") and j != "alerts"]
    assert sorted(r.week for r in moscow.sent()) == ["2026-W45", "2026-W45", "2026-W48", "2026-W48"]

    # A manager who turned the weekly report off gets none.
    moscow.settings(weekly=False)
    assert due(local("America/New_York", date(2026, 12, 7), 12)) == [rj.DueReport(york.account_id, "2026-W49")]


def test_the_monday_after_a_dst_change_is_due_at_the_local_send_hour(jobs, emu):
    """New York moves to summer time on Sunday 8 March 2026: the Monday
    report is due at 9:00 EDT, 13:00 UTC, no longer 14:00."""
    york = client_portal(emu, jobs, tz="America/New_York", domain="newyork.bitrix24.test",
                         now=datetime(2026, 2, 1, tzinfo=timezone.utc))
    with jobs.sessions() as s:
        assert rj.due_reports(s, datetime(2026, 3, 9, 12, 59, tzinfo=timezone.utc)) == []
        assert rj.due_reports(s, datetime(2026, 3, 9, 13, 0, tzinfo=timezone.utc)) == [
            rj.DueReport(york.account_id, "2026-W10")]


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli(jobs, monkeypatch):
    """`python app.py …` in this process, on the jobs' database and instance."""
    import app
    import commands

    monkeypatch.setenv("DATABASE_URL", jobs.config["DATABASE_URL"])
    monkeypatch.setenv("INSTANCE_PATH", jobs.config["INSTANCE_PATH"])
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("MAIL_FROM", jobs.config["MAIL_FROM"])
    for name in ("REDIS_URL", "SMTP_URL", "START_RUNNER"):
        monkeypatch.delenv(name, raising=False)
    apps = []
    real = app.create_app

    def create_app(config=None):
        apps.append(real(config))
        return apps[-1]

    monkeypatch.setattr(app, "create_app", create_app)
    yield lambda *argv: CliRunner().invoke(commands.cli, list(argv))
    for built in apps:
        built.extensions["hourbook"].engine.dispose()


def test_report_command_writes_the_files_and_sends_nothing(jobs, emu, cli, tmp_path):
    c = client_portal(emu, jobs)
    log_week(c)
    c.sync()
    c.recipient("director@romashka.test", "Директор")
    c.settings(chat_dialog="chat42")
    out = tmp_path / "preview"
    now = "2026-11-04T07:00:00+00:00"

    result = cli("--now", now, "report", "--account", str(c.account_id), "--week", WEEK, "--out", str(out))

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "report.eml", "report.html", "report.json", "report.txt", "report.xlsx"]
    report = Report.from_json((out / "report.json").read_text())
    assert report.week == WEEK and report.account_id == c.account_id
    assert report.built_at == datetime.fromisoformat(now)
    assert len(report.lines) == len(IN_WEEK) and report.week_s == sum(e.counted_s for e in week_entries(c))
    assert (out / "report.html").read_text() == render.html(report)
    assert (out / "report.txt").read_text() == render.text(report)
    assert (out / "report.xlsx").read_bytes() == render.xlsx(report)
    assert workbook_sums((out / "report.xlsx").read_bytes())["debited_total"] == report.week_s
    to = [("Директор", "director@romashka.test")]
    assert (out / "report.eml").read_bytes() == bytes(
        message(report, f"preview:{c.account_id}:{WEEK}", to, jobs.config["MAIL_FROM"]))
    # Nothing was sent, nothing recorded as sent.
    assert not (Path(jobs.config["INSTANCE_PATH"]) / "outbox").exists()
    assert emu.messages == [] and c.sent() == []


@pytest.mark.parametrize("week, says", [("2026-W60", "no such ISO week"), ("2026-47", "not an ISO week"),
                                        ("", "not an ISO week")])
def test_report_command_refuses_a_bad_week(jobs, emu, cli, tmp_path, week, says):
    c = client_portal(emu, jobs)
    out = tmp_path / "preview"
    result = cli("report", "--account", str(c.account_id), "--week", week, "--out", str(out))
    assert result.exit_code != 0
    assert says in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_report_command_refuses_an_unknown_account(jobs, emu, cli, tmp_path):
    client_portal(emu, jobs)
    out = tmp_path / "preview"
    result = cli("report", "--account", "999", "--week", WEEK, "--out", str(out))
    assert result.exit_code != 0
    assert "no account 999" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not out.exists() and emu.messages == []


def test_an_alert_whose_email_failed_is_not_posted_to_the_chat_twice(jobs, emu, smtp):
    jobs.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    c = client_portal(emu, jobs, now=local(MSK, date(2026, 10, 1), 12))
    c.recipient("director@romashka.test", "Директор", alerts=True)
    c.settings(chat_dialog="chat42")
    for day in range(1, 18):  # 34 h of 40: 85 %
        c.log(f"f{day}", c.funnel, c.oleg, 2 * H, date(2026, 10, day), 12)
    at = local(MSK, date(2026, 10, 20), 12)
    c.sync(at)

    rj.check_alerts(at)
    (alert,) = c.alerts()
    assert alert.kind == "used_80" and alert.delivered_at is None and alert.error
    assert len(c.chat()) == 1

    jobs.config["SMTP_URL"] = smtp.url
    rj.check_alerts(at + timedelta(minutes=10))

    (alert,) = c.alerts()
    assert alert.delivered_at is not None and len(smtp.envelopes) == 1
    assert len(c.chat()) == 1
