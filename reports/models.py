"""What Hourbook keeps about reports and alerts: each account's report
settings, every report built (with the data it was built from, so it
renders the same forever), and every alert fired (once per account,
period and kind, held by a unique key however many workers race)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.db import Base, UTCDateTime, utcnow


class ReportSettings(Base):
    __tablename__ = "report_settings"
    __table_args__ = (
        CheckConstraint("send_hour >= 0 AND send_hour <= 23", name="report_hour"),
        CheckConstraint("alert_days >= 1 AND alert_days <= 28", name="report_alert_days"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    weekly: Mapped[bool] = mapped_column(Boolean, default=True)  # the Monday report is sent
    send_hour: Mapped[int] = mapped_column(Integer, default=9)  # in the portal's zone
    chat_dialog: Mapped[str] = mapped_column(String(64), default="")  # "chat42": the project chat
    notify_user_ids: Mapped[str] = mapped_column(String(255), default="")  # "1,7": im.notify to these users
    alert_days: Mapped[int] = mapped_column(Integer, default=5)  # warn this many days before hours burn
    client_alerts: Mapped[bool] = mapped_column(Boolean, default=True)  # also e-mail recipients marked for alerts


class SentReport(Base):
    """One report built for an account: the weekly one (its `key` makes it
    once per account and week) or one asked for from the manager's page."""

    __tablename__ = "sent_reports"
    __table_args__ = (
        CheckConstraint("status IN ('built', 'sent', 'failed')", name="report_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # "weekly:<account>:<week>" or "manual:<random>"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    week: Mapped[str] = mapped_column(String(10))
    data: Mapped[str] = mapped_column(Text)  # reports.model.Report as canonical JSON
    digest: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(255), default="schedule")
    status: Mapped[str] = mapped_column(String(8), default="built")
    recipients: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    chat_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A worker delivering it holds this until done (or until it passes, if
    # the worker died): a second worker finds it taken and sends nothing.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertSent(Base):
    """An alert that fired. The unique (account, period, kind) is what makes
    it fire once: the first insert wins, every other worker sees it taken."""

    __tablename__ = "alerts_sent"
    __table_args__ = (UniqueConstraint("account_id", "period_id", "kind", name="uq_alert_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    kind: Mapped[str] = mapped_column(String(32))  # used_80, used_100, burn_soon, cap:<id>
    detail: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # chat and e-mail both done
    chat_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mail_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    value_s: Mapped[int] = mapped_column(BigInteger, default=0)


def settings_of(session: Session, account_id: int) -> ReportSettings:
    """The account's report settings (defaults until the manager changes them)."""
    found = session.get(ReportSettings, account_id)
    return found if found is not None else ReportSettings(account_id=account_id, weekly=True, send_hour=9,
                                                          chat_dialog="", notify_user_ids="", alert_days=5,
                                                          client_alerts=True)


class MonthlyAct(Base):
    """The act of work done for one closed month (акт выполненных работ),
    kept with the data it was made from (reports.act.Act as canonical
    JSON): a closed month is frozen, so its act never changes, and a later
    correction shows in the next month's act. One per period: the unique
    key holds it however many workers close the month at once."""

    __tablename__ = "monthly_acts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), unique=True)
    period: Mapped[str] = mapped_column(String(16))  # "2026-11"
    data: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    made_by: Mapped[str] = mapped_column(String(255), default="close")  # close, backfill, cli, demo
    # The report that carried it to the client (the first one built after
    # it was made); NULL until then.
    report_id: Mapped[int | None] = mapped_column(ForeignKey("sent_reports.id"), nullable=True)


class CallNote(Base):
    """A note the manager took at the weekly call. It goes into the next
    report built for the account, which names it (`report_id`): once
    reported it is not reported again."""

    __tablename__ = "call_notes"
    __table_args__ = (CheckConstraint("text <> ''", name="call_note_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    call_on: Mapped[date] = mapped_column(Date)  # the day of the call, in the portal's zone
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("sent_reports.id"), nullable=True)
