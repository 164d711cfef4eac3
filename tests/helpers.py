"""A small test vocabulary over the ledger: a portal with a clock."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.balance import Breakdown, balance, find_period
from ledger.contracts import (
    Policies,
    add_account,
    add_team_member,
    close_due,
    create_portal,
    set_retainer,
)
from ledger.entries import EntryDeleted, EntrySnapshot, apply_entry
from ledger.models import Account, Posting

H = 3600
STAFF = 101
CLIENT = 201


class Book:
    def __init__(self, session: Session, tz: str = "Europe/Moscow", mode: str = "client",
                 member_id: str = "test-portal") -> None:
        self.s = session
        self.tz = tz
        self.portal = create_portal(session, member_id, f"{member_id}.bitrix24.ru", tz, mode)
        self.now = self.at(date(2026, 1, 5), 10)

    def at(self, day: date, hour: int = 12, minute: int = 0) -> datetime:
        """A local wall-clock time in the portal's zone, as an aware instant."""
        return datetime.combine(day, time(hour, minute), tzinfo=cal.zone(self.tz)).astimezone(timezone.utc)

    def retainer(self, hours: int = 40, start: date = date(2026, 1, 1), name: str = "Client",
                 team: tuple[int, ...] = (STAFF,), **policy) -> Account:
        account = add_account(self.s, self.portal, name, now=self.now)
        set_retainer(self.s, account, hours_s=hours * H, starts_on=start, policies=Policies(**policy), now=self.now)
        for user in team:
            add_team_member(self.s, self.portal, user, account=account, now=self.now)
        return account

    def log(self, record: int, seconds: int, day: date, user: int = STAFF, task: int = 1,
            hour: int = 12, comment: str = "") -> object:
        return apply_entry(self.s, EntrySnapshot(self.portal.id, record, task, user, seconds,
                                                 self.at(day, hour), comment), self.now)

    def delete(self, record: int) -> object:
        return apply_entry(self.s, EntryDeleted(self.portal.id, record), self.now)

    def advance_to(self, when: datetime) -> None:
        """Move the clock and run the periodic close, as the scheduler would."""
        self.now = when
        close_due(self.s, when)

    def next_month(self, first: date) -> None:
        self.advance_to(cal.local_midnight(first, self.tz) + timedelta(minutes=5))

    def bal(self, account: Account, label: str | None = None) -> Breakdown:
        b = balance(self.s, account.id, self.now, label)
        assert b is not None, f"no period {label}"
        return b.terms

    def period(self, account: Account, label: str):
        return find_period(self.s, account.id, label=label)

    def postings(self, **where) -> list[Posting]:
        stmt = select(Posting).order_by(Posting.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(Posting, k) == v)
        return list(self.s.execute(stmt).scalars())

    def count_postings(self) -> int:
        return self.s.execute(select(func.count()).select_from(Posting)).scalar_one()
