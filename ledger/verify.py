"""`ledger verify`: rebuild what is cached and check what must hold.

Each check is a plain function returning a list of problems; nothing raises
halfway, so one run reports everything that is wrong.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .balance import totals_sums
from .db import sum_s
from .models import Period, PeriodTotals, Posting, TimeEntry
from .postings import TOTAL_COLUMNS


@dataclass(frozen=True)
class Problem:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


def check_totals(session: Session) -> list[Problem]:
    """Running totals equal the sums of the postings they summarize."""
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[int, int] = defaultdict(int)
    for period_id, kind, amount, n in session.execute(
        select(Posting.period_id, Posting.kind, sum_s(Posting.amount_s), func.count())
        .group_by(Posting.period_id, Posting.kind)
    ):
        sums[period_id][kind] = int(amount)
        counts[period_id] += int(n)
    problems = []
    seen = set()
    for totals in session.execute(select(PeriodTotals)).scalars():
        seen.add(totals.period_id)
        cached = totals_sums(totals)
        for kind in TOTAL_COLUMNS:
            real = sums[totals.period_id].get(kind, 0)
            if cached[kind] != real:
                problems.append(Problem("totals", f"period {totals.period_id}",
                                        f"{kind}: cached {cached[kind]}, postings {real}"))
        if totals.postings_n != counts.get(totals.period_id, 0):
            problems.append(Problem("totals", f"period {totals.period_id}",
                                    f"count: cached {totals.postings_n}, postings {counts.get(totals.period_id, 0)}"))
    for period_id in set(sums) - seen:
        problems.append(Problem("totals", f"period {period_id}", "postings without a totals row"))
    return problems


def check_closed_periods(session: Session) -> list[Problem]:
    """A closed period nets to zero (everything burned, carried or settled)
    and received nothing after it closed."""
    problems = []
    for period in session.execute(select(Period).where(Period.status == "closed")).scalars():
        totals = session.get(PeriodTotals, period.id)
        net = sum(totals_sums(totals).values()) if totals else 0
        if net != 0:
            problems.append(Problem("closed", period.label, f"closed with a balance of {net} s"))
        late = session.execute(
            select(func.count()).select_from(Posting)
            .where(Posting.period_id == period.id, Posting.created_at > period.closed_at)
        ).scalar_one()
        if late:
            problems.append(Problem("closed", period.label, f"{late} postings after close"))
    return problems


def check_entries(session: Session) -> list[Problem]:
    """Rule 2: what is posted for each entry equals what it counts now."""
    posted = dict(session.execute(
        select(Posting.entry_id, sum_s(Posting.amount_s))
        .where(Posting.entry_id.is_not(None))
        .group_by(Posting.entry_id)
    ).all())
    problems = []
    for entry_id, record_id, counted, state in session.execute(
        select(TimeEntry.id, TimeEntry.record_id, TimeEntry.counted_s, TimeEntry.state)
    ):
        if state == "unplaced":
            problems.append(Problem("entries", f"record {record_id}", "correction has no open period to go to"))
            continue
        have = -int(posted.get(entry_id, 0) or 0)
        if have != counted:
            problems.append(Problem("entries", f"record {record_id}", f"counts {counted} s, posted {have} s"))
    return problems


CHECKS = (check_totals, check_closed_periods, check_entries)


def verify(session: Session) -> list[Problem]:
    problems: list[Problem] = []
    for check in CHECKS:
        problems.extend(check(session))
    return problems
