"""The ledger's tables.

Durations are integer seconds (`*_s`), money is integer minor units
(`*_minor`), instants are UTC. Postings are append-only: the migration adds
triggers that make the database itself refuse UPDATE and DELETE on them.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime, utcnow

PORTAL_MODES = ("client", "integrator")
CONTRACT_KINDS = ("retainer", "staged", "upfront")
EXPIRY_POLICIES = ("burn", "rollover")
OVERAGE_POLICIES = ("bill", "deduct")
ROUNDING_MODES = ("none", "up", "down", "nearest")
PERIOD_KINDS = ("month", "stage", "project")
BINDING_KINDS = ("company", "group")
MATCH_KINDS = ("group", "tag", "parent")
CAP_SCOPES = ("task", "direction")
# A stalled project (issue 16): this many days without work on the current
# stage, or waiting for the payment or for the client's acceptance. A week is
# the seed's rhythm (the weekly call): a second week of silence is worth a
# word. Each account may set its own, within the range.
STALL_DAYS = 7
STALL_DAYS_RANGE = (1, 90)

# Every kind of posting, and the sign it may carry. The balance of a period is
# the plain sum of amount_s over its postings; these kinds are the terms of
# PRODUCT.md rule 3 plus what a period close writes.
POSTING_KINDS = (
    "allocation",        # + the retainer's hours for a month, or an upfront budget
    "stage_budget",      # + a stage's budget when the stage opens
    "rollover_in",       # + hours carried from an earlier period (origin = where they were allocated)
    "adjustment",        # ± a manager's top-up or correction, with author and reason
    "consumption",       # - time logged by a team member (corrections may be +)
    "expiry",            # - hours burned at close
    "rollover_out",      # - hours carried out at close (mirrors rollover_in of the next period)
    "overage_billed",    # + an overdrawn period settled by billing the client
    "overage_carried",   # + an overdrawn period settled by deducting from the next one
    "overage_deducted",  # - the deduction, in the next period
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Portal(Base):
    __tablename__ = "portals"
    __table_args__ = (CheckConstraint(_in("mode", PORTAL_MODES), name="portal_mode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    mode: Mapped[str] = mapped_column(String(16), default="client")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An implementation project counts as stalled after this many days
    # (ledger.projects.set_stall_days keeps it within STALL_DAYS_RANGE).
    stall_days: Mapped[int] = mapped_column(Integer, default=STALL_DAYS, server_default=str(STALL_DAYS))


class AccountBinding(Base):
    """How tasks find their account in an integrator's portal: by the task's
    CRM company binding, or by its workgroup."""

    __tablename__ = "account_bindings"
    __table_args__ = (
        UniqueConstraint("portal_id", "kind", "ref_id"),
        CheckConstraint(_in("kind", BINDING_KINDS), name="binding_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(BigInteger)


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint(_in("kind", CONTRACT_KINDS), name="contract_kind"),
        CheckConstraint(_in("expiry_policy", EXPIRY_POLICIES), name="contract_expiry"),
        CheckConstraint(_in("overage_policy", OVERAGE_POLICIES), name="contract_overage"),
        CheckConstraint(_in("rounding_mode", ROUNDING_MODES), name="contract_rounding"),
        CheckConstraint("rounding_step_s >= 0", name="contract_rounding_step"),
        CheckConstraint("rollover_cap_s IS NULL OR rollover_cap_s >= 0", name="contract_cap"),
        CheckConstraint(
            "rollover_max_age_months IS NULL OR rollover_max_age_months >= 1", name="contract_age"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # exclusive
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    expiry_policy: Mapped[str] = mapped_column(String(16), default="burn")
    rollover_cap_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rollover_max_age_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    overage_policy: Mapped[str] = mapped_column(String(16), default="bill")
    rounding_mode: Mapped[str] = mapped_column(String(16), default="none")
    rounding_step_s: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContractTerm(Base):
    """Hours and price of a retainer from one period on (a tariff change adds a
    row effective from the next period), or the budget of an upfront project."""

    __tablename__ = "contract_terms"
    __table_args__ = (
        UniqueConstraint("contract_id", "effective_on"),
        CheckConstraint("hours_s >= 0", name="term_hours"),
        CheckConstraint("price_minor >= 0", name="term_price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    effective_on: Mapped[date] = mapped_column(Date)
    hours_s: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An upfront project's one payment (issue 16): when it is due and when it came.
    pay_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Stage(Base):
    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("contract_id", "position"),
        CheckConstraint("budget_s >= 0", name="stage_budget"),
        CheckConstraint("price_minor >= 0", name="stage_price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    budget_s: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Issue 16: when the stage's work is due, when its payment is due, and
    # when the client accepted it (set once: accepting twice changes nothing).
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    pay_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Period(Base):
    """A month of a retainer, a stage of a staged contract, or the whole of an
    upfront project. Postings belong to exactly one period; a closed period is
    frozen (a trigger refuses postings into it)."""

    __tablename__ = "periods"
    __table_args__ = (
        UniqueConstraint("account_id", "label"),
        CheckConstraint(_in("kind", PERIOD_KINDS), name="period_kind"),
        CheckConstraint(_in("status", ("open", "closed")), name="period_status"),
        Index("ix_periods_account_start", "account_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))  # "2026-11", "stage:12", "project:3"
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # exclusive
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Task(Base):
    """What the ledger needs to know of a portal task: where it belongs."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("portal_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    task_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[int] = mapped_column(Integer, default=2)
    group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    company_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    responsible_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tags: Mapped[str] = mapped_column(Text, default="")  # one tag per line
    time_spent_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    """A staff user whose time is debited: for one account, or for every
    account of the portal when account_id is NULL."""

    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_portal_user", "portal_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(64), default="specialist")
    active_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    active_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # inclusive


class Direction(Base):
    __tablename__ = "directions"
    __table_args__ = (
        CheckConstraint(_in("match_kind", MATCH_KINDS), name="direction_match"),
        CheckConstraint("planned_s >= 0", name="direction_planned"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    planned_s: Mapped[int] = mapped_column(BigInteger, default=0)
    match_kind: Mapped[str] = mapped_column(String(16))
    match_value: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Cap(Base):
    __tablename__ = "caps"
    __table_args__ = (
        CheckConstraint(_in("scope", CAP_SCOPES), name="cap_scope"),
        CheckConstraint(_in("per", ("period", "total")), name="cap_per"),
        CheckConstraint("limit_s > 0", name="cap_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(BigInteger)  # task_id, or directions.id
    limit_s: Mapped[int] = mapped_column(BigInteger)
    per: Mapped[str] = mapped_column(String(8), default="period")


class TimeEntry(Base):
    """Our mirror of one portal elapsed-time record.

    `version` grows on every observed change of the record. `state`,
    `account_id`, `period_id` and `counted_s` are what the last apply derived
    from it; `post_seq` numbers the apply runs that wrote postings, so that
    their keys never repeat.
    """

    __tablename__ = "time_entries"
    __table_args__ = (
        UniqueConstraint("portal_id", "record_id"),
        CheckConstraint("duration_s >= 0", name="entry_duration"),
        Index("ix_entries_account_period", "account_id", "period_id"),
        Index("ix_entries_portal_task", "portal_id", "task_id"),
        Index("ix_entries_state", "state"),  # the close job re-derives 'future' entries
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    record_id: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[int] = mapped_column(BigInteger)
    work_at: Mapped[datetime] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    post_seq: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="new")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"), nullable=True)
    counted_s: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Adjustment(Base):
    __tablename__ = "adjustments"
    __table_args__ = (CheckConstraint("amount_s <> 0", name="adjustment_nonzero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    amount_s: Mapped[int] = mapped_column(BigInteger)
    author: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Posting(Base):
    """One append-only movement of hours. Never updated, never deleted."""

    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint(_in("kind", POSTING_KINDS), name="posting_kind"),
        CheckConstraint("amount_s <> 0", name="posting_nonzero"),
        CheckConstraint(
            "kind <> 'consumption' OR (entry_id IS NOT NULL AND entry_version IS NOT NULL)",
            name="posting_consumption_source",
        ),
        CheckConstraint(
            "kind <> 'adjustment' OR (adjustment_id IS NOT NULL AND author IS NOT NULL"
            " AND reason IS NOT NULL)",
            name="posting_adjustment_source",
        ),
        Index("ix_postings_entry", "entry_id"),
        Index("ix_postings_period", "period_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    kind: Mapped[str] = mapped_column(String(24))
    amount_s: Mapped[int] = mapped_column(BigInteger)
    # The period the hours belong to by date: differs from period_id for a
    # correction posted into the open period, and for carried hours.
    origin_period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("time_entries.id"), nullable=True)
    entry_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("adjustments.id"), nullable=True)
    author: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeriodTotals(Base):
    """Running sums of amount_s per posting kind for one period, written in the
    same transaction as each posting. A cache: `ledger verify` rebuilds it from
    the postings and reports any difference."""

    __tablename__ = "period_totals"

    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    allocation_s: Mapped[int] = mapped_column(BigInteger, default=0)
    stage_budget_s: Mapped[int] = mapped_column(BigInteger, default=0)
    rollover_in_s: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustment_s: Mapped[int] = mapped_column(BigInteger, default=0)
    consumption_s: Mapped[int] = mapped_column(BigInteger, default=0)
    expiry_s: Mapped[int] = mapped_column(BigInteger, default=0)
    rollover_out_s: Mapped[int] = mapped_column(BigInteger, default=0)
    overage_billed_s: Mapped[int] = mapped_column(BigInteger, default=0)
    overage_carried_s: Mapped[int] = mapped_column(BigInteger, default=0)
    overage_deducted_s: Mapped[int] = mapped_column(BigInteger, default=0)
    postings_n: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEvent(Base):
    """Who changed what setting, when, before and after (JSON text)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int | None] = mapped_column(ForeignKey("portals.id"), nullable=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[str] = mapped_column(Text, default="{}")
    after: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---------------------------------------------------------------- who sees what


class Manager(Base):
    """A portal user an administrator named as a manager: they get the
    manager's page like the administrators do. Removing one deletes the row
    (access is a setting, not history); the audit keeps who did it."""

    __tablename__ = "managers"
    __table_args__ = (UniqueConstraint("portal_id", "user_id", name="uq_manager_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255), default="")
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CabinetLink(Base):
    """A standalone link to one account's cabinet. The URL carries the row id
    and `nonce`, signed with the app's key; rotating revokes this row and
    makes a new one, so an old link stops working at once."""

    __tablename__ = "cabinet_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReportRecipient(Base):
    """Who receives an account's weekly report and, when `alerts` is set,
    the alerts meant for the client."""

    __tablename__ = "report_recipients"
    __table_args__ = (UniqueConstraint("account_id", "email", name="uq_recipient_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    alerts: Mapped[bool] = mapped_column(Boolean, default=False)


# ---------------------------------------------------------------- the client steers (issue 15)

PLAN_ITEM_STATES = ("planned", "active", "paused", "done")
REQUEST_KINDS = ("pause", "resume", "cap", "first", "question")
REQUEST_STATES = ("open", "accepted", "declined")
REQUEST_SOURCES = ("widget", "cabinet", "manager")


class PlanItem(Base):
    """One concrete task of the development plan: a portal task (`task_id`)
    or a planned item not yet created in the portal (`title` only), with
    planned hours, under a direction. `position` is the client's priority
    across the whole account's plan (1 first); the forecast fills months in
    that order."""

    __tablename__ = "plan_items"
    __table_args__ = (
        CheckConstraint(_in("state", PLAN_ITEM_STATES), name="plan_item_state"),
        CheckConstraint("planned_s >= 0", name="plan_item_planned"),
        CheckConstraint("task_id IS NOT NULL OR title <> ''", name="plan_item_named"),
        CheckConstraint("state <> 'paused' OR paused_at IS NOT NULL", name="plan_item_paused_at"),
        UniqueConstraint("account_id", "task_id", name="uq_plan_item_task"),
        Index("ix_plan_items_account_position", "account_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    direction_id: Mapped[int] = mapped_column(ForeignKey("directions.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the portal's task number
    title: Mapped[str] = mapped_column(String(500), default="")
    planned_s: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="planned")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClientRequest(Base):
    """A client's wish about a task, a direction or a plan item, or a question
    about a report line. It changes nothing until a manager accepts it, and
    then only settings (caps, priorities, pauses), never hours: no posting
    names a request.

    The targets are plain numbers, not foreign keys: a request is history and
    outlives the plan item or direction it spoke of."""

    __tablename__ = "client_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="request_kind"),
        CheckConstraint(_in("state", REQUEST_STATES), name="request_state"),
        CheckConstraint(_in("source", REQUEST_SOURCES), name="request_source"),
        CheckConstraint("cap_s IS NULL OR cap_s > 0", name="request_cap"),
        CheckConstraint("kind <> 'cap' OR cap_s IS NOT NULL", name="request_cap_given"),
        CheckConstraint("state = 'open' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)",
                        name="request_decided"),
        Index("ix_client_requests_account_state", "account_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    direction_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    item_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    task_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # a report line (time_entries.id)
    cap_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(64), default="")  # widget user id, cabinet link id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why declined
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # a question's answer
    # The one chat message per request (jobs/steering.py): sent once, taken
    # for a while by the worker sending it, as a weekly report is.
    chat_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# ---------------------------------------------------------------- implementation projects (issue 16)

SCOPE_KINDS = ("setting", "integration", "widget", "training", "instruction")


class ScopeItem(Base):
    """One deliverable of an implementation project: a setting, an
    integration, a widget, a training session or an instruction, with planned
    hours, a due date and, in a staged project, the stage it belongs to.
    Done and accepted are instants set by the manager; "in progress" is read
    from the time logged on its tasks."""

    __tablename__ = "scope_items"
    __table_args__ = (
        CheckConstraint(_in("kind", SCOPE_KINDS), name="scope_item_kind"),
        CheckConstraint("planned_s >= 0", name="scope_item_planned"),
        CheckConstraint("accepted_at IS NULL OR done_at IS NOT NULL", name="scope_item_accepted_done"),
        Index("ix_scope_items_account_position", "account_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    planned_s: Mapped[int] = mapped_column(BigInteger, default=0)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScopeTask(Base):
    """A portal task whose time counts against a scope item: one item per
    task within an account."""

    __tablename__ = "scope_tasks"
    __table_args__ = (UniqueConstraint("account_id", "task_id", name="uq_scope_task"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("scope_items.id"), index=True)
    task_id: Mapped[int] = mapped_column(BigInteger)
