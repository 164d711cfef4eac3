"""Periods: where postings live, when they open, and how they close.

A retainer's period is a calendar month in the portal's time zone; month
periods of an account are created in order, from the contract's start, so
there is never a gap before a closed month. A staged contract's period is its
current stage; an upfront project is one period. Closing burns or carries
what is left and settles an overage (PRODUCT.md rule 4); it is idempotent
and freezes the period (rule 5).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import calendar as cal
from .db import among, dialect_insert
from .memo import memo
from .models import Account, Contract, ContractTerm, Period, PeriodTotals, Portal, Posting, Stage
from .postings import NewPosting, lock_open_period, post


class NotDue(Exception):
    """A month cannot close before its end in the portal's time zone."""


FUTURE = "future"  # sentinel: the date lies in a month that has not begun


def contract_at(session: Session, account_id: int, day: date) -> Contract | None:
    """The contract running on `day`: the latest started, on or before it,
    not ended by it. An account has a handful of contracts: they are read
    once per transaction (every change to them goes through contracts.py,
    which forgets the memo) and chosen here."""
    cache = memo(session)
    key = ("contracts-of", account_id)
    if key not in cache:
        cache[key] = list(session.execute(
            select(Contract).where(Contract.account_id == account_id)
            .order_by(Contract.starts_on.desc(), Contract.id.desc())
        ).scalars())
    for contract in cache[key]:
        if contract.starts_on <= day and (contract.ends_on is None or contract.ends_on > day):
            return contract
    return None


def remember_contracts(session: Session, account_ids: list[int]) -> None:
    """Read the contracts of many accounts at once (`contract_at`'s memo)."""
    cache = memo(session)
    wanted = [a for a in set(account_ids) if ("contracts-of", a) not in cache]
    if not wanted:
        return
    found: dict[int, list[Contract]] = {a: [] for a in wanted}
    for contract in session.execute(
        select(Contract).where(among(session, Contract.account_id, wanted))
        .order_by(Contract.starts_on.desc(), Contract.id.desc())
    ).scalars():
        found[contract.account_id].append(contract)
    for account_id, contracts in found.items():
        cache[("contracts-of", account_id)] = contracts


def remember_months(session: Session, pairs: set[tuple[int, str]]) -> None:
    """Read many month periods at once (`ensure_month`'s memo): (account, label)
    pairs. One query asks for every label of every account named, a little
    more than the pairs (a page's records fall in a few months)."""
    cache = memo(session)
    wanted = {p for p in pairs if ("month", *p) not in cache}
    if not wanted:
        return
    for period in session.execute(
        select(Period).where(among(session, Period.account_id, sorted({a for a, _ in wanted})),
                             among(session, Period.label, sorted({label for _, label in wanted})))
    ).scalars():
        if (period.account_id, period.label) in wanted:
            cache[("month", period.account_id, period.label)] = period


def term_for(session: Session, contract_id: int, day: date) -> ContractTerm | None:
    stmt = (
        select(ContractTerm)
        .where(ContractTerm.contract_id == contract_id, ContractTerm.effective_on <= day)
        .order_by(ContractTerm.effective_on.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def _create_period(session: Session, values: dict) -> tuple[Period, bool]:
    """Insert a period (and its zero totals) unless its label exists; a racing
    transaction that created it first wins and we read its row."""
    stmt = (
        dialect_insert(session, Period.__table__)
        .values(**values, status="open")
        .on_conflict_do_nothing(index_elements=["account_id", "label"])
        .returning(Period.__table__.c.id)
    )
    row = session.execute(stmt).first()
    created = row is not None
    period = session.execute(
        select(Period).where(Period.account_id == values["account_id"], Period.label == values["label"])
    ).scalar_one()
    if created:
        session.add(PeriodTotals(period_id=period.id, account_id=period.account_id))
        session.flush()
    return period, created


def _month_values(account: Account, contract: Contract, first: date, tz: str) -> dict:
    start, end = cal.month_bounds(first, tz)
    contract_start = cal.local_midnight(contract.starts_on, tz)
    if contract.ends_on is not None:
        end = min(end, cal.local_midnight(contract.ends_on, tz))
    return dict(
        account_id=account.id,
        contract_id=contract.id,
        kind="month",
        label=cal.month_label(first),
        starts_at=max(start, contract_start),
        ends_at=end,
    )


def ensure_month(
    session: Session, portal: Portal, account: Account, contract: Contract, first: date, now: datetime
) -> Period:
    """The month period starting on `first`, creating it and every missing
    month before it (each with its allocation) so months stay contiguous."""
    label = cal.month_label(first)
    cache = memo(session)
    key = ("month", account.id, label)
    existing = cache.get(key) or session.execute(
        select(Period).where(Period.account_id == account.id, Period.label == label)
    ).scalar_one_or_none()
    if existing is not None:
        cache[key] = existing
        return existing
    latest = session.execute(
        select(Period)
        .where(Period.account_id == account.id, Period.contract_id == contract.id, Period.kind == "month")
        .order_by(Period.starts_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    cursor = (
        cal.add_months(cal.parse_month(latest.label), 1)
        if latest is not None
        else cal.month_start(contract.starts_on)
    )
    period = None
    while cursor <= first:
        period, created = _create_period(session, _month_values(account, contract, cursor, portal.time_zone))
        if created:
            _post_allocation(session, portal, account, contract, period, cursor, now)
        cursor = cal.add_months(cursor, 1)
    assert period is not None and period.label == label
    return period


def _post_allocation(
    session: Session, portal: Portal, account: Account, contract: Contract, period: Period,
    first: date, now: datetime,
) -> None:
    term = term_for(session, contract.id, max(first, contract.starts_on))
    if term is not None and term.hours_s > 0:
        post(session, NewPosting(
            key=f"alloc:{period.id}", portal_id=portal.id, account_id=account.id,
            period_id=period.id, kind="allocation", amount_s=term.hours_s, origin_period_id=period.id,
        ), now)


def open_stage_period(
    session: Session, portal: Portal, account: Account, contract: Contract, stage: Stage,
    starts_at: datetime, now: datetime,
) -> Period:
    period, created = _create_period(session, dict(
        account_id=account.id, contract_id=contract.id, stage_id=stage.id, kind="stage",
        label=f"stage:{stage.id}", starts_at=starts_at, ends_at=None,
    ))
    if created and stage.budget_s > 0:
        post(session, NewPosting(
            key=f"stage:{stage.id}", portal_id=portal.id, account_id=account.id,
            period_id=period.id, kind="stage_budget", amount_s=stage.budget_s,
            origin_period_id=period.id,
        ), now)
    return period


def open_project_period(
    session: Session, portal: Portal, account: Account, contract: Contract, now: datetime
) -> Period:
    period, created = _create_period(session, dict(
        account_id=account.id, contract_id=contract.id, kind="project",
        label=f"project:{contract.id}",
        starts_at=cal.local_midnight(contract.starts_on, portal.time_zone), ends_at=None,
    ))
    if created:
        _post_allocation(session, portal, account, contract, period, contract.starts_on, now)
    return period


def first_period(session: Session, portal: Portal, account: Account, contract: Contract, now: datetime) -> Period | None:
    """The opening period of a contract (opened if needed)."""
    cache = memo(session)
    key = ("first", contract.id)
    if cache.get(key) is None:
        cache[key] = _first_period(session, portal, account, contract, now)
    return cache[key]


def _first_period(session: Session, portal: Portal, account: Account, contract: Contract, now: datetime) -> Period | None:
    if contract.kind == "upfront":
        return open_project_period(session, portal, account, contract, now)
    if contract.kind == "staged":
        stage = session.execute(
            select(Stage).where(Stage.contract_id == contract.id).order_by(Stage.position).limit(1)
        ).scalar_one_or_none()
        if stage is None:
            return None
        return open_stage_period(
            session, portal, account, contract, stage,
            cal.local_midnight(contract.starts_on, portal.time_zone), now,
        )
    return ensure_month(session, portal, account, contract, cal.month_start(contract.starts_on), now)


def period_for(
    session: Session, portal: Portal, account: Account, at: datetime, now: datetime
) -> Period | str | None:
    """The period an instant belongs to by date: None without a contract,
    FUTURE for a retainer month that has not begun yet."""
    day = cal.local_date(at, portal.time_zone)
    contract = contract_at(session, account.id, day)
    if contract is None:
        return None
    if contract.kind == "retainer":
        first = cal.month_start(day)
        if first > cal.month_start(cal.local_date(now, portal.time_zone)):
            return FUTURE
        return ensure_month(session, portal, account, contract, first, now)
    opening = first_period(session, portal, account, contract, now)
    if opening is None:
        return None
    # A stage or project contract has few periods: read once per transaction
    # (stages open and end only through contracts.py, which forgets the memo).
    cache = memo(session)
    key = ("contract-periods", contract.id)
    if key not in cache:
        cache[key] = list(session.execute(
            select(Period).where(Period.contract_id == contract.id).order_by(Period.starts_at.desc(), Period.id)
        ).scalars())
    bound = max(at, opening.starts_at)
    for period in cache[key]:
        if period.starts_at <= bound and (period.ends_at is None or period.ends_at > at):
            return period
    return None


def current_open(session: Session, portal: Portal, account: Account, now: datetime) -> Period | None:
    """Where a correction goes: the open period containing now, else the
    account's latest open period."""
    found = period_for(session, portal, account, now, now)
    if isinstance(found, Period) and found.status == "open":
        return found
    return session.execute(
        select(Period)
        .where(Period.account_id == account.id, Period.status == "open")
        .order_by(Period.starts_at.desc())
        .limit(1)
    ).scalar_one_or_none()


# ---------------------------------------------------------------- closing


@dataclass(frozen=True)
class Lot:
    origin_period_id: int
    origin_starts_at: datetime
    amount_s: int


@dataclass
class ClosePlan:
    period_id: int
    label: str
    postings: list[NewPosting] = field(default_factory=list)
    burned_s: int = 0
    carried_s: int = 0
    overage_s: int = 0
    already_closed: bool = False


def _lots(session: Session, period: Period, totals: PeriodTotals) -> tuple[list[Lot], int]:
    """What the period holds, oldest hours first, and what was taken from it.

    Carried-in hours keep the period they were allocated in, so the oldest
    are consumed first and burn first (PRODUCT.md rule 4)."""
    carried = session.execute(
        select(Posting.origin_period_id, Period.starts_at, Posting.amount_s)
        .join(Period, Period.id == Posting.origin_period_id)
        .where(Posting.period_id == period.id, Posting.kind == "rollover_in")
        .order_by(Period.starts_at, Posting.id)
    ).all()
    lots: dict[int, Lot] = {}
    for origin_id, starts_at, amount in carried:
        prev = lots.get(origin_id)
        lots[origin_id] = Lot(origin_id, starts_at, (prev.amount_s if prev else 0) + amount)
    own = totals.allocation_s + totals.stage_budget_s + totals.adjustment_s
    debit = -(totals.consumption_s + totals.overage_deducted_s)
    if own < 0:
        debit, own = debit - own, 0
    if debit < 0:
        own, debit = own - debit, 0
    ordered = sorted(lots.values(), key=lambda lot: lot.origin_starts_at)
    ordered.append(Lot(period.id, period.starts_at, own))
    return [lot for lot in ordered if lot.amount_s > 0], debit


def plan_close(
    session: Session, portal: Portal, account: Account, period: Period, next_period: Period | None
) -> ClosePlan:
    totals = session.get(PeriodTotals, period.id)
    contract = session.get(Contract, period.contract_id)
    assert totals is not None and contract is not None
    plan = ClosePlan(period.id, period.label)
    lots, debit = _lots(session, period, totals)
    remaining: list[Lot] = []
    for lot in lots:  # consume oldest first
        take = min(lot.amount_s, debit)
        debit -= take
        if lot.amount_s - take > 0:
            remaining.append(Lot(lot.origin_period_id, lot.origin_starts_at, lot.amount_s - take))

    def emit(kind: str, amount: int, suffix: str, target: Period, origin: int | None) -> None:
        plan.postings.append(NewPosting(
            key=f"close:{period.id}:{kind}:{suffix}", portal_id=portal.id, account_id=account.id,
            period_id=target.id, kind=kind, amount_s=amount, origin_period_id=origin,
        ))

    overage = debit
    if overage > 0:
        plan.overage_s = overage
        if contract.overage_policy == "deduct" and next_period is not None:
            emit("overage_carried", overage, "all", period, period.id)
            emit("overage_deducted", -overage, "all", next_period, period.id)
        else:  # billed, or nowhere to deduct from
            emit("overage_billed", overage, "all", period, period.id)

    keep: dict[int, int] = {}
    if contract.expiry_policy == "rollover" and next_period is not None:
        next_month = cal.local_date(next_period.starts_at, portal.time_zone)
        cap_left = contract.rollover_cap_s
        for lot in reversed(remaining):  # newest kept first, so the oldest burn first
            amount = lot.amount_s
            max_age = contract.rollover_max_age_months
            if max_age is not None and period.kind == "month":
                origin_month = cal.local_date(lot.origin_starts_at, portal.time_zone)
                if cal.months_between(origin_month, next_month) > max_age:
                    amount = 0
            if cap_left is not None:
                amount = min(amount, cap_left)
                cap_left -= amount
            if amount > 0:
                keep[lot.origin_period_id] = amount
    for lot in remaining:
        kept = keep.get(lot.origin_period_id, 0)
        burned = lot.amount_s - kept
        if kept:
            plan.carried_s += kept
            emit("rollover_out", -kept, str(lot.origin_period_id), period, lot.origin_period_id)
            assert next_period is not None
            emit("rollover_in", kept, str(lot.origin_period_id), next_period, lot.origin_period_id)
        if burned:
            plan.burned_s += burned
            emit("expiry", -burned, str(lot.origin_period_id), period, lot.origin_period_id)
    return plan


def next_period_of(session: Session, portal: Portal, account: Account, period: Period, now: datetime) -> Period | None:
    """Where carried hours and deducted overage go after `period` closes."""
    if period.kind == "stage":
        return session.execute(
            select(Period)
            .where(Period.contract_id == period.contract_id, Period.kind == "stage",
                   Period.starts_at >= period.starts_at, Period.id != period.id)
            .order_by(Period.starts_at)
            .limit(1)
        ).scalar_one_or_none()
    if period.ends_at is None:
        return None
    found = period_for(session, portal, account, period.ends_at, max(now, period.ends_at))
    return found if isinstance(found, Period) and found.status == "open" else None


def close_period(session: Session, period_id: int, now: datetime) -> ClosePlan:
    """Close one period: idempotent, and a closed period is never touched again."""
    period = lock_open_period(session, period_id, exclusive=True)
    if period.status == "closed":
        return ClosePlan(period.id, period.label, already_closed=True)
    if period.ends_at is None or now < period.ends_at:
        raise NotDue(f"period {period.label} ends at {period.ends_at}, now is {now}")
    account = session.get(Account, period.account_id)
    assert account is not None
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    nxt = next_period_of(session, portal, account, period, now)
    plan = plan_close(session, portal, account, period, nxt)
    for posting in plan.postings:
        post(session, posting, now)
    period.status = "closed"
    period.closed_at = now
    session.flush()
    return plan


def due_periods(session: Session, now: datetime) -> list[int]:
    """Open periods whose end has passed, oldest first (rollover needs order)."""
    return list(session.execute(
        select(Period.id)
        .join(Account, Account.id == Period.account_id)
        .join(Portal, Portal.id == Account.portal_id)
        .where(Period.status == "open", Period.ends_at.is_not(None), Period.ends_at <= now,
               Portal.active.is_(True))
        .order_by(Period.starts_at, Period.id)
    ).scalars())


__all__ = [
    "FUTURE", "NotDue", "ClosePlan", "close_period", "contract_at", "current_open", "due_periods",
    "ensure_month", "first_period", "next_period_of", "open_stage_period",
    "open_project_period", "period_for", "plan_close", "term_for",
]
