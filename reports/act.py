"""The monthly act of work done (акт выполненных работ): at a month's close,
what the client bought, what was done (tasks with the hours the ledger
debited, rounded as the contract says), what burned, what carried over,
and the price.

The act is made from the postings of one closed month. A closed month is
frozen (PRODUCT.md rule 5: its postings never change), so the act says the
same whenever it is made; a change that arrives later is posted into the
open month and shows in that month's act as a correction line naming the
month the work was dated in. The act is kept as canonical JSON with its
row (`reports.models.MonthlyAct`), like a sent report, and rendered from
there (reports.act_render), so a downloaded act is the same bytes a year
later.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.db import dialect_insert, utcnow
from ledger.models import Account, Contract, ContractTerm, Period, Portal, Posting, Task, TimeEntry

from .model import Canonical
from .models import MonthlyAct

SCHEMA = 1
BACKFILL_BATCH = 200  # acts made per run of `make_missing`: a long history is caught up over a few runs


class NotClosed(Exception):
    """An act is made for a closed month only: an open one still changes."""


@dataclass(frozen=True)
class ActTask:
    task_id: int
    task: str
    counted_s: int  # what the ledger debited in the month (each entry rounded as the contract says)


@dataclass(frozen=True)
class ActCorrection:
    """A change to work dated in an earlier, closed month, counted in this
    one (rule 5): + more time than was counted then, − less."""

    origin: str  # the month the work was dated in, "2026-10"
    task_id: int
    task: str
    counted_s: int


@dataclass(frozen=True)
class Act(Canonical):
    schema: int
    number: str  # "12-2026-11": the account and the month
    account_id: int
    account: str
    language: str  # "ru" or "en": the account's
    portal: str
    time_zone: str
    contract_id: int
    contract: str  # the contract's title ("" when none was given)
    contract_since: date
    period: str  # "2026-11"
    first_day: date
    last_day: date
    closed_at: datetime  # the month's close: the act's own date, so its files are the same bytes every time
    rounding: str  # none, up, down, nearest
    rounding_step_s: int
    package_s: int  # the month's allocation
    rollover_in_s: int
    adjustment_s: int
    deducted_s: int  # an earlier month's overage taken from this one (negative or 0)
    used_s: int  # consumption: the tasks' hours plus the corrections
    burned_s: int
    carried_s: int
    overage_s: int  # used beyond what the month held
    overage_billed: bool  # billed (True) or deducted from the next month
    price_minor: int
    currency: str
    tasks: tuple[ActTask, ...] = ()
    corrections: tuple[ActCorrection, ...] = ()

    @property
    def tasks_s(self) -> int:
        return sum(t.counted_s for t in self.tasks)

    @property
    def corrections_s(self) -> int:
        return sum(c.counted_s for c in self.corrections)

    @property
    def available_s(self) -> int:
        return self.package_s + self.rollover_in_s + self.adjustment_s + self.deducted_s

    # ---------------------------------------------------------------- keeping it

    @classmethod
    def from_json(cls, text: str) -> Act:
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"act schema {data.get('schema')} is not {SCHEMA}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = data.get(f.name)
            if f.name == "tasks":
                values[f.name] = tuple(ActTask(**x) for x in raw or ())
            elif f.name == "corrections":
                values[f.name] = tuple(ActCorrection(**x) for x in raw or ())
            elif f.name in ("contract_since", "first_day", "last_day"):
                values[f.name] = date.fromisoformat(raw)
            elif f.name == "closed_at":
                values[f.name] = datetime.fromisoformat(raw)
            else:
                values[f.name] = raw
        return cls(**values)


# ---------------------------------------------------------------- building


def build_act(session: Session, period_id: int) -> Act:
    """The act of a closed month, from its postings."""
    period = session.get(Period, period_id)
    if period is None or period.kind != "month":
        raise LookupError(f"no month period {period_id}")
    if period.status != "closed" or period.closed_at is None:
        raise NotClosed(f"{period.label} is not closed")
    account = session.get(Account, period.account_id)
    contract = session.get(Contract, period.contract_id)
    assert account is not None and contract is not None
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    tz = portal.time_zone
    first = cal.parse_month(period.label)

    sums: dict[str, int] = defaultdict(int)
    own: dict[int, int] = defaultdict(int)  # task → debited seconds of work dated in this month
    fixes: dict[tuple[int, int], int] = defaultdict(int)  # (origin period, task) → seconds
    rows = session.execute(
        select(Posting.kind, Posting.amount_s, Posting.origin_period_id, TimeEntry.task_id)
        .outerjoin(TimeEntry, TimeEntry.id == Posting.entry_id)
        .where(Posting.period_id == period.id).order_by(Posting.id)
    ).all()
    for kind, amount, origin_id, task_id in rows:
        sums[kind] += amount
        if kind == "consumption":
            if origin_id in (None, period.id):
                own[task_id] -= amount
            else:
                fixes[(origin_id, task_id)] -= amount
    task_ids = set(own) | {t for _, t in fixes}
    titles = {t.task_id: t.title for t in session.execute(select(Task).where(
        Task.portal_id == portal.id, Task.task_id.in_(task_ids or {0}))).scalars()}
    origins = {p.id: p.label for p in session.execute(select(Period).where(
        Period.id.in_({o for o, _ in fixes} or {0}))).scalars()}

    def title(task_id: int) -> str:
        return titles.get(task_id) or f"#{task_id}"

    tasks = tuple(sorted((ActTask(t, title(t), s) for t, s in own.items() if s),
                         key=lambda x: (-x.counted_s, x.task_id)))
    corrections = tuple(sorted((ActCorrection(origins.get(o, "?"), t, title(t), s)
                                for (o, t), s in fixes.items() if s),
                               key=lambda x: (x.origin, x.task_id)))
    term = session.execute(select(ContractTerm).where(
        ContractTerm.contract_id == contract.id, ContractTerm.effective_on <= max(first, contract.starts_on))
        .order_by(ContractTerm.effective_on.desc()).limit(1)).scalar_one_or_none()
    overage = sums["overage_billed"] + sums["overage_carried"]
    last_day = cal.local_date(period.ends_at, tz) - timedelta(days=1) if period.ends_at else first
    return Act(
        schema=SCHEMA, number=f"{account.id}-{period.label}", account_id=account.id, account=account.name,
        language=account.language if account.language in ("ru", "en") else "ru", portal=portal.domain,
        time_zone=tz, contract_id=contract.id, contract=contract.title or "", contract_since=contract.starts_on,
        period=period.label, first_day=cal.local_date(period.starts_at, tz), last_day=last_day,
        closed_at=period.closed_at.replace(microsecond=0),
        rounding=contract.rounding_mode, rounding_step_s=contract.rounding_step_s,
        package_s=sums["allocation"], rollover_in_s=sums["rollover_in"], adjustment_s=sums["adjustment"],
        deducted_s=sums["overage_deducted"], used_s=-sums["consumption"], burned_s=-sums["expiry"],
        carried_s=-sums["rollover_out"], overage_s=overage, overage_billed=sums["overage_billed"] > 0,
        price_minor=term.price_minor if term else 0, currency=contract.currency,
        tasks=tasks, corrections=corrections,
    )


# ---------------------------------------------------------------- keeping it


def make_act(session: Session, period_id: int, made_by: str = "close", now: datetime | None = None) -> MonthlyAct:
    """The act of a closed month: made and kept by the first caller, the
    same row for every later one (a second worker, a backfill, the CLI)."""
    found = session.execute(select(MonthlyAct).where(MonthlyAct.period_id == period_id)).scalar_one_or_none()
    if found is not None:
        return found
    act = build_act(session, period_id)
    # A racing worker that inserted first wins; both read its row.
    session.execute(
        dialect_insert(session, MonthlyAct.__table__)
        .values(account_id=act.account_id, period_id=period_id, period=act.period, data=act.to_json(),
                digest=act.digest, made_at=now or utcnow(), made_by=made_by[:255], report_id=None)
        .on_conflict_do_nothing(index_elements=["period_id"]))
    return session.execute(select(MonthlyAct).where(MonthlyAct.period_id == period_id)).scalar_one()


def missing(session: Session, account_id: int | None = None, limit: int = BACKFILL_BATCH) -> list[int]:
    """Closed months without their act, oldest first."""
    stmt = (select(Period.id).outerjoin(MonthlyAct, MonthlyAct.period_id == Period.id)
            .where(Period.kind == "month", Period.status == "closed", MonthlyAct.id.is_(None)))
    if account_id is not None:
        stmt = stmt.where(Period.account_id == account_id)
    return list(session.execute(stmt.order_by(Period.starts_at, Period.id).limit(limit)).scalars())


def make_missing(session: Session, account_id: int | None = None, made_by: str = "close",
                 limit: int = BACKFILL_BATCH) -> list[MonthlyAct]:
    """Make the acts of closed months that have none: after a close, and
    on demand for months closed before acts existed."""
    return [make_act(session, period_id, made_by) for period_id in missing(session, account_id, limit)]


def acts_of(session: Session, account_id: int) -> list[MonthlyAct]:
    """An account's acts, newest month first."""
    return list(session.execute(select(MonthlyAct).where(MonthlyAct.account_id == account_id)
                                .order_by(MonthlyAct.period.desc())).scalars())


def stored(row: MonthlyAct) -> Act:
    return Act.from_json(row.data)


__all__ = ["SCHEMA", "Act", "ActTask", "ActCorrection", "NotClosed", "build_act", "make_act", "make_missing",
           "missing", "acts_of", "stored"]
