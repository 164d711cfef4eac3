"""Balances: the terms of PRODUCT.md rule 3, from postings.

`breakdown` is the one function that turns sums of postings into a balance;
`balance()` feeds it the period's running totals (one row, however long the
history), `balance_from_postings()` feeds it the postings themselves, and
`ledger verify` checks that both agree.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .db import utcnow
from .models import POSTING_KINDS, Period, PeriodTotals
from .postings import TOTAL_COLUMNS

# Terms shown as positive amounts although they reduce the balance.
_DEBITS = ("consumption", "expiry", "rollover_out", "overage_deducted")


@dataclass(frozen=True)
class Breakdown:
    allocation_s: int
    rollover_in_s: int
    stage_budget_s: int
    adjustment_s: int  # signed: top-ups add, corrections may take away
    consumption_s: int
    expiry_s: int
    rollover_out_s: int
    overage_billed_s: int
    overage_carried_s: int
    overage_deducted_s: int
    net_s: int
    remaining_s: int  # never negative
    overage_s: int  # never negative: an overdrawn period shows this, not a negative remainder

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def breakdown(sums: Mapping[str, int]) -> Breakdown:
    """Rule 3 from signed sums of amount_s per posting kind."""
    terms = {f"{k}_s": (-sums.get(k, 0) if k in _DEBITS else sums.get(k, 0)) for k in POSTING_KINDS}
    net = sum(sums.get(k, 0) for k in POSTING_KINDS)
    return Breakdown(**terms, net_s=net, remaining_s=max(net, 0), overage_s=max(-net, 0))


def balance_from_postings(postings: Iterable[tuple[str, int]]) -> Breakdown:
    sums: dict[str, int] = defaultdict(int)
    for kind, amount in postings:
        sums[kind] += amount
    return breakdown(sums)


@dataclass(frozen=True)
class PeriodBalance:
    account_id: int
    period_id: int
    label: str
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    terms: Breakdown

    def as_dict(self) -> dict:
        return {
            "account_id": self.account_id,
            "period_id": self.period_id,
            "period": self.label,
            "kind": self.kind,
            "status": self.status,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            **self.terms.as_dict(),
        }


def totals_sums(totals: PeriodTotals) -> dict[str, int]:
    return {kind: getattr(totals, column) for kind, column in TOTAL_COLUMNS.items()}


def period_balance(session: Session, period: Period) -> PeriodBalance:
    totals = session.get(PeriodTotals, period.id)
    assert totals is not None
    return PeriodBalance(period.account_id, period.id, period.label, period.kind, period.status,
                         period.starts_at, period.ends_at, breakdown(totals_sums(totals)))


def find_period(
    session: Session, account_id: int, at: datetime | None = None, label: str | None = None
) -> Period | None:
    """The account's period by label, or the one containing `at` (default now).
    Read-only: never creates a period."""
    stmt = select(Period).where(Period.account_id == account_id)
    if label is not None:
        stmt = stmt.where(Period.label == label)
    else:
        at = at or utcnow()
        stmt = stmt.where(
            Period.starts_at <= at, or_(Period.ends_at.is_(None), Period.ends_at > at)
        ).order_by(Period.starts_at.desc()).limit(1)
    return session.execute(stmt).scalar_one_or_none()


def balance(
    session: Session, account_id: int, at: datetime | None = None, period: str | None = None
) -> PeriodBalance | None:
    """The full breakdown of the account's period containing `at` (or named
    by `period`), from that period's running totals."""
    found = find_period(session, account_id, at, period)
    return period_balance(session, found) if found is not None else None


def history(session: Session, account_id: int) -> list[PeriodBalance]:
    periods = session.execute(
        select(Period).where(Period.account_id == account_id).order_by(Period.starts_at)
    ).scalars()
    return [period_balance(session, p) for p in periods]
