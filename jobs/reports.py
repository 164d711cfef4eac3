"""Jobs for the weekly report and the alerts: plain functions of ids.

A weekly report is once per account and week: its row's unique key is
taken before anything is sent, so a second worker, a retry or a restart
finds it and only finishes what the first left undone (the e-mail, the
chat message), from the same stored data. An alert is once per account,
period and kind the same way.
"""
from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from b24.links import task_url
from ledger import calendar as cal
from ledger import clock
from ledger.access import recipients
from ledger.models import Account, Contract, Period, Portal, Stage
from ledger.summary import summarize
from ledger.usage import cap_usage
from ledger.projects import stall_alerts
from reports import agenda
from reports import alerts as alert_texts
from reports.act import Act
from reports.act import stored as stored_act
from reports import render
from reports.build import build_report, previous_week, span, week_label
from reports.mail import Mailer, message
from reports.model import Report
from reports.models import AlertSent, MonthlyAct, ReportSettings, SentReport, settings_of

from .context import context

log = logging.getLogger("hourbook.reports")


def mailer() -> Mailer:
    config = context().config
    outbox = Path(config["INSTANCE_PATH"]) / "outbox"
    return Mailer(config.get("SMTP_URL"), outbox, config.get("MAIL_FROM") or "hourbook@localhost")


@contextmanager
def _tx() -> Iterator[Session]:
    with context().sessions() as s, s.begin():
        yield s


# ---------------------------------------------------------------- delivering once

CLAIM = timedelta(minutes=10)  # longer than any delivery; a dead worker's claim lapses


def _take(model: Any, row_id: int, undone: Any) -> bool:
    """Take a report or an alert for delivery: one conditional UPDATE, so of
    workers racing for the same row exactly one gets it."""
    now = clock.now()
    with _tx() as s:
        taken = s.execute(
            update(model).where(model.id == row_id, undone,
                                or_(model.claimed_until.is_(None), model.claimed_until < now))
            .values(claimed_until=now + CLAIM)
        ).rowcount
    return taken == 1


def _release(model: Any, row_id: int) -> None:
    with _tx() as s:
        s.execute(update(model).where(model.id == row_id).values(claimed_until=None))


# ---------------------------------------------------------------- reports


def _claim(account_id: int, week: str, key: str, requested_by: str, monday: date,
           last_day: date | None = None) -> int:
    """The sent report's row for `key`: made (and the report built) by the
    first caller; every later caller gets the same row back."""
    with _tx() as s:
        found = s.execute(select(SentReport.id).where(SentReport.key == key)).scalar_one_or_none()
        if found is not None:
            return found
    with _tx() as s:
        report = build_report(s, account_id, monday, task_url, last_day=last_day, label=week)
        row = SentReport(key=key, account_id=account_id, week=week, data=report.to_json(), digest=report.digest,
                         built_at=report.built_at, requested_by=requested_by, status="built")
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            row = None
        if row is not None:
            # The call's notes and the acts made since the last report go
            # with this one, and with no later one.
            agenda.mark_carried(s, row.id, [n.note_id for n in report.notes], [a.act_id for a in report.acts])
            return row.id
    with _tx() as s:  # another worker made it first
        return s.execute(select(SentReport.id).where(SentReport.key == key)).scalar_one()


def deliver(report_id: int) -> dict:
    """Send what a stored report has not sent yet: the e-mail to the
    account's recipients, the summary to the project chat. A worker that
    finds the report taken by another sends nothing."""
    if not _take(SentReport, report_id, SentReport.status != "sent"):
        with _tx() as s:
            row = s.get(SentReport, report_id)
            if row is None:
                raise LookupError(f"no report {report_id}")
            state = "already" if row.status == "sent" else "in progress"
        return {"report_id": report_id, "mail": state, "chat": state}
    try:
        return _deliver(report_id)
    finally:
        _release(SentReport, report_id)


def _deliver(report_id: int) -> dict:
    ctx = context()
    with _tx() as s:
        row = s.get(SentReport, report_id)
        if row is None:
            raise LookupError(f"no report {report_id}")
        account = s.get(Account, row.account_id)
        assert account is not None
        opts = settings_of(s, account.id)
        to = [(r.name, r.email) for r in recipients(s, account.id)]
        report = Report.from_json(row.data)
        acts = attached_acts(s, report)
        key, done_mail, done_chat = row.key, row.sent_at is not None, row.chat_sent_at is not None
        portal_id = account.portal_id
        row.attempts += 1
    outcome: dict = {"report_id": report_id, "mail": "already" if done_mail else None,
                     "chat": "already" if done_chat else None}
    errors = []
    if not done_mail:
        if to:
            try:
                where = mailer().send(message(report, key, to, mailer().sender, acts), key.replace(":", "-"))
                outcome["mail"] = where
                with _tx() as s:
                    row = s.get(SentReport, report_id)
                    row.sent_at, row.recipients = clock.now(), ", ".join(e for _, e in to)
            except OSError as err:
                errors.append(f"mail: {err}")
        else:
            outcome["mail"] = "no recipients"
            with _tx() as s:
                s.get(SentReport, report_id).sent_at = clock.now()
    if not done_chat:
        if opts.chat_dialog or opts.notify_user_ids:
            try:
                post_to_chat(ctx, portal_id, opts, render.chat(report))
                outcome["chat"] = "sent"
                with _tx() as s:
                    s.get(SentReport, report_id).chat_sent_at = clock.now()
            except Exception as err:  # noqa: BLE001  (recorded, retried by the runner)
                errors.append(f"chat: {err}")
        else:
            outcome["chat"] = "no chat"
    with _tx() as s:
        row = s.get(SentReport, report_id)
        row.status = "failed" if errors else "sent"
        row.error = "; ".join(errors)[:1000] or None
    if errors:
        raise RuntimeError("; ".join(errors))  # the runner retries; what was sent stays sent
    return outcome


def attached_acts(s: Session, report: Report) -> list[Act]:
    """The monthly acts a report carries, as they were kept."""
    rows = {a.id: a for a in s.execute(select(MonthlyAct).where(
        MonthlyAct.id.in_([a.act_id for a in report.acts] or [0]))).scalars()}
    return [stored_act(rows[a.act_id]) for a in report.acts if a.act_id in rows]


def post_to_chat(ctx, portal_id: int, opts: ReportSettings, text: str) -> None:
    rest = ctx.rest(portal_id)
    if opts.chat_dialog:
        rest.call("im.message.add", {"DIALOG_ID": opts.chat_dialog, "MESSAGE": text})
    for user in (u.strip() for u in opts.notify_user_ids.split(",")):
        if user.isdecimal():
            rest.call("im.notify.personal.add", {"USER_ID": int(user), "MESSAGE": text})


def send_weekly(account_id: int, week: str | None = None) -> dict:
    """The Monday report of `account_id` for `week` (default: last week in
    the portal's zone). Once per account and week."""
    with _tx() as s:
        account = s.get(Account, account_id)
        if account is None:
            raise LookupError(f"no account {account_id}")
        portal = s.get(Portal, account.portal_id)
        assert portal is not None
        monday = cal.parse_week(week) if week else previous_week(clock.now(), portal.time_zone)
    label = week_label(monday)
    report_id = _claim(account_id, label, f"weekly:{account_id}:{label}", "schedule", monday)
    return deliver(report_id)


def send_report(account_id: int, week: str, requested_by: str) -> dict:
    """A report asked for from the manager's page, for a week (2026-W47) or
    a month (2026-11): built now, sent now."""
    first, last = span(week)
    report_id = _claim(account_id, week, f"manual:{secrets.token_hex(8)}", requested_by, first, last)
    return deliver(report_id)


def resend(report_id: int, requested_by: str) -> dict:
    """The same stored report, sent again as it was (a new record of sending)."""
    with _tx() as s:
        old = s.get(SentReport, report_id)
        if old is None:
            raise LookupError(f"no report {report_id}")
        copy = SentReport(key=f"resend:{report_id}:{secrets.token_hex(6)}", account_id=old.account_id,
                          week=old.week, data=old.data, digest=old.digest, built_at=old.built_at,
                          requested_by=requested_by, status="built")
        s.add(copy)
        s.flush()
        copy_id = copy.id
    return deliver(copy_id)


@dataclass(frozen=True)
class DueReport:
    account_id: int
    week: str


def due_reports(session: Session, now: datetime) -> list[DueReport]:
    """Weekly reports whose Monday hour has passed in their portal's zone and
    that were not made yet: last week's only, so an app down for a month
    catches up once, not four times."""
    due = []
    for account, portal in session.execute(
        select(Account, Portal).join(Portal, Portal.id == Account.portal_id)
        .where(Account.active.is_(True), Portal.active.is_(True))
    ).all():
        opts = settings_of(session, account.id)
        if not opts.weekly:
            continue
        this_monday = cal.week_of(now, portal.time_zone)
        send_at = cal.local_midnight(this_monday, portal.time_zone) + timedelta(hours=opts.send_hour)
        if now < send_at:
            continue
        monday = this_monday - timedelta(days=7)
        first = session.execute(select(func.min(Contract.starts_on)).where(
            Contract.account_id == account.id)).scalar_one_or_none()
        if first is None or first > monday + timedelta(days=6):
            continue  # no contract had begun by that Sunday: nothing to report on
        label = week_label(monday)
        key = f"weekly:{account.id}:{label}"
        made = session.execute(select(SentReport.status).where(SentReport.key == key)).scalar_one_or_none()
        if made != "sent":
            due.append(DueReport(account.id, label))
    return due


# ---------------------------------------------------------------- alerts


ALERT_KINDS = ("used_80", "used_100", "burn_soon", "cap", "stall")


def _fire(account_id: int, period_id: int, kind: str, detail: dict, value_s: int) -> int | None:
    """Record the alert unless it already fired; the id when this call fired it."""
    with context().sessions() as s:
        try:
            with s.begin():
                row = AlertSent(account_id=account_id, period_id=period_id, kind=kind,
                                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True), value_s=value_s)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            return None


def alerts_due(session: Session, account: Account, now: datetime) -> list[tuple[int, str, dict, int]]:
    """(period, kind, detail, seconds) of every alert the account's open period calls for now."""
    summary = summarize(session, account.id, now)
    if summary is None or summary.balance is None or summary.balance.status != "open":
        return []
    period_id = summary.balance.period_id
    found = []
    if summary.allocated_s > 0:
        if summary.used_s * 100 >= summary.allocated_s * 80:
            found.append((period_id, "used_80", {"used_s": summary.used_s, "allocated_s": summary.allocated_s},
                          summary.used_s))
        if summary.used_s >= summary.allocated_s:
            found.append((period_id, "used_100", {"used_s": summary.used_s, "allocated_s": summary.allocated_s},
                          summary.used_s))
    opts = settings_of(session, account.id)
    f = summary.forecast
    if (summary.days_left is not None and summary.days_left <= opts.alert_days and f.kind == "left"
            and f.burn_s > 0):
        found.append((period_id, "burn_soon", {"burn_s": f.burn_s, "last_day": summary.period_last_day.isoformat()
                                               if summary.period_last_day else None}, f.burn_s))
    for cap in cap_usage(session, account.portal_id, account.id, period_id):
        if cap.reached:
            found.append((period_id, f"cap:{cap.cap_id}", {"scope": cap.scope, "ref_id": cap.ref_id,
                                                           "limit_s": cap.limit_s, "used_s": cap.used_s},
                          cap.used_s))
    found += [(a.period_id, a.kind, a.detail, 0) for a in stall_alerts(session, account.id, now)]  # issue 16
    return found


def check_alerts(now: datetime | None = None) -> dict:
    """Fire every alert that is due and has not fired; deliver what fired."""
    now = now or clock.now()
    with context().sessions() as s:
        accounts = list(s.execute(select(Account.id).join(Portal, Portal.id == Account.portal_id).where(
            Account.active.is_(True), Portal.active.is_(True))).scalars())
    fired = []
    for account_id in accounts:
        with context().sessions() as s:
            account = s.get(Account, account_id)
            due = alerts_due(s, account, now)
        for period_id, kind, detail, value_s in due:
            alert_id = _fire(account_id, period_id, kind, detail, value_s)
            if alert_id is not None:
                fired.append(alert_id)
    pending = deliver_alerts()
    return {"fired": fired, "delivered": pending}


def deliver_alerts() -> list[int]:
    """Deliver alerts that fired and were not delivered: the chat message and
    the client's e-mail each once. An alert is taken by one worker at a time
    (`_take`); what failed is tried again on the next check, what was sent
    is not sent again (the alert itself never fires twice)."""
    with context().sessions() as s:
        pending = list(s.execute(select(AlertSent.id).where(AlertSent.delivered_at.is_(None))).scalars())
    done = []
    for alert_id in pending:
        if not _take(AlertSent, alert_id, AlertSent.delivered_at.is_(None)):
            continue
        try:
            if _deliver_alert(alert_id):
                done.append(alert_id)
        finally:
            _release(AlertSent, alert_id)
    return done


def _deliver_alert(alert_id: int) -> bool:
    ctx = context()
    with _tx() as s:
        alert = s.get(AlertSent, alert_id)
        account = s.get(Account, alert.account_id)
        period = s.get(Period, alert.period_id)
        opts = settings_of(s, alert.account_id)
        to = [(r.name, r.email) for r in recipients(s, alert.account_id) if r.alerts] if opts.client_alerts else []
        stage = s.get(Stage, period.stage_id) if period.stage_id else None
        when = alert_texts.period_name(period.kind, period.label, stage.name if stage else None, account.language)
        text = alert_texts.text(account.name, account.language, when, alert.kind, json.loads(alert.detail))
        portal_id, language, name = account.portal_id, account.language, account.name
        chat_done, mail_done = alert.chat_sent_at is not None, alert.mail_sent_at is not None or not to
    try:
        if not chat_done:
            if opts.chat_dialog or opts.notify_user_ids:
                post_to_chat(ctx, portal_id, opts, text)
            else:
                notify_admin(ctx, portal_id, text)
            with _tx() as s:
                s.get(AlertSent, alert_id).chat_sent_at = clock.now()
        if not mail_done:
            mailer().send(alert_texts.message(text, name, language, to, mailer().sender), f"alert-{alert_id}")
            with _tx() as s:
                s.get(AlertSent, alert_id).mail_sent_at = clock.now()
    except Exception as err:  # noqa: BLE001  (kept on the alert, tried again on the next check)
        with _tx() as s:
            s.get(AlertSent, alert_id).error = f"{type(err).__name__}: {err}"[:500]
        log.warning("alert %s not delivered: %s", alert_id, err)
        return False
    with _tx() as s:
        alert = s.get(AlertSent, alert_id)
        alert.delivered_at, alert.error = clock.now(), None
    return True


def notify_admin(ctx, portal_id: int, text: str) -> None:
    """Without a chat set up, the manager who installed the app hears of it."""
    from b24.models import PortalAuth

    with ctx.sessions() as s:
        auth = s.get(PortalAuth, portal_id)
        user_id = auth.auth_user_id if auth else None
    if user_id:
        ctx.rest(portal_id).call("im.notify.personal.add", {"USER_ID": user_id, "MESSAGE": text})
