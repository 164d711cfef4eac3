"""Property tests: the ledger's invariants under any sequence of portal changes.

A stateful machine plays a retainer's life: records are logged, edited,
re-dated (into closed months too), duplicated and deleted in any order; the
clock moves and months close; managers top up. After every step:
- what is posted for each record equals its current rounded duration
  (zero when deleted or logged by someone outside the team);
- every period's running totals equal the sums of its postings, and rule 3's
  identity holds for each;
- no posting ever changed or disappeared;
- closing again writes nothing; `ledger verify` finds nothing.
It runs on SQLite and on PostgreSQL, each example on an empty database.
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.balance import balance_from_postings, breakdown, totals_sums
from ledger.contracts import adjust, close_due
from ledger.db import make_engine
from ledger.models import Period, PeriodTotals, Posting, TimeEntry
from ledger.rounding import RoundingRule, round_seconds
from ledger.verify import verify
from tests.conftest import reset_pg
from tests.helpers import CLIENT, H, STAFF, Book

OTHER_STAFF = 102
EXAMPLES = int(os.environ.get("HOURBOOK_PROPERTY_EXAMPLES", "40"))
RECORDS = st.integers(min_value=1, max_value=12)
DURATIONS = st.one_of(st.sampled_from([0, 60, 600, 900, 1200, 1800, 3600, 5400]),
                      st.integers(min_value=0, max_value=6 * H))


def make_machine(new_session):
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.s: Session = new_session()
            self.book = Book(self.s, member_id=f"p-{uuid.uuid4().hex[:8]}")
            self.model: dict[int, tuple[int, date, int, bool]] = {}  # record -> (seconds, day, user, deleted)
            self.seen: dict[int, tuple] = {}
            self.rule_: RoundingRule = RoundingRule()

        @initialize(
            hours=st.sampled_from([10, 20, 40]),
            expiry=st.sampled_from(["burn", "rollover"]),
            cap=st.one_of(st.none(), st.sampled_from([0, 5 * H, 15 * H])),
            age=st.one_of(st.none(), st.integers(1, 3)),
            overage=st.sampled_from(["bill", "deduct"]),
            rounding=st.sampled_from([("none", 0), ("up", 900), ("nearest", 600), ("down", 300)]),
        )
        def contract(self, hours, expiry, cap, age, overage, rounding):
            self.rule_ = RoundingRule(*rounding)
            self.account = self.book.retainer(
                hours, team=(STAFF, OTHER_STAFF), expiry_policy=expiry, rollover_cap_s=cap,
                rollover_max_age_months=age, overage_policy=overage,
                rounding_mode=rounding[0], rounding_step_s=rounding[1])
            self.s.commit()

        def _today(self) -> date:
            return cal.local_date(self.book.now, self.book.tz)

        @rule(record=RECORDS, seconds=DURATIONS, back=st.integers(0, 75),
              user=st.sampled_from([STAFF, STAFF, OTHER_STAFF, CLIENT]))
        def log(self, record, seconds, back, user):
            """A create or an edit, dated up to ~2.5 months back (closed months included)."""
            day = max(self._today() - timedelta(days=back), date(2026, 1, 1))
            self.book.log(record, seconds, day, user=user)
            self.model[record] = (seconds, day, user, False)
            self.s.commit()

        @rule(record=RECORDS)
        def duplicate(self, record):
            """The same state again, as a duplicated event or a re-run sync would bring."""
            if record in self.model and not self.model[record][3]:
                seconds, day, user, _ = self.model[record]
                n = self._count()
                self.book.log(record, seconds, day, user=user)
                assert self._count() == n
                self.s.commit()

        @rule(record=RECORDS)
        def delete(self, record):
            self.book.delete(record)
            if record in self.model:
                seconds, day, user, _ = self.model[record]
                self.model[record] = (seconds, day, user, True)
            self.s.commit()

        @rule(days=st.integers(1, 40), minutes=st.integers(0, 1439))
        def time_passes(self, days, minutes):
            self.book.advance_to(self.book.now + timedelta(days=days, minutes=minutes))
            self.s.commit()

        @rule()
        def close_again(self):
            n = self._count()
            close_due(self.s, self.book.now)
            assert self._count() == n
            self.s.commit()

        @rule(hours=st.integers(-3, 5).filter(bool))
        def top_up(self, hours):
            adjust(self.s, self.account, hours * H, reason="property", author="hypothesis", now=self.book.now)
            self.s.commit()

        def _count(self) -> int:
            return self.s.execute(select(func.count()).select_from(Posting)).scalar_one()

        @invariant()
        def each_record_counts_its_rounded_duration(self):
            if not self.model:
                return
            entries = {e.record_id: e for e in self.s.execute(
                select(TimeEntry).where(TimeEntry.portal_id == self.book.portal.id)).scalars()}
            posted = dict(self.s.execute(
                select(Posting.entry_id, func.sum(Posting.amount_s)).group_by(Posting.entry_id)).all())
            for record, (seconds, day, user, deleted) in self.model.items():
                expected = 0 if deleted or user == CLIENT else round_seconds(seconds, self.rule_)
                entry = entries[record]
                assert entry.counted_s == expected, (record, entry.state)
                assert -int(posted.get(entry.id) or 0) == expected, record

        @invariant()
        def totals_equal_postings_and_rule3_holds(self):
            for period, totals in self.s.execute(select(Period, PeriodTotals).join(
                    PeriodTotals, PeriodTotals.period_id == Period.id)).all():
                rows = self.s.execute(select(Posting.kind, Posting.amount_s)
                                      .where(Posting.period_id == period.id)).all()
                from_postings = balance_from_postings((k, int(a)) for k, a in rows)
                cached = breakdown(totals_sums(totals))
                assert from_postings == cached, period.label
                b = cached
                assert b.net_s == (b.allocation_s + b.rollover_in_s + b.stage_budget_s + b.adjustment_s
                                   - b.consumption_s - b.expiry_s - b.rollover_out_s + b.overage_billed_s
                                   + b.overage_carried_s - b.overage_deducted_s)
                assert b.remaining_s >= 0 and b.overage_s >= 0
                if period.status == "closed":
                    assert b.net_s == 0, period.label

        @invariant()
        def postings_never_change(self):
            rows = self.s.execute(select(Posting.id, Posting.key, Posting.kind, Posting.amount_s,
                                         Posting.period_id)).all()
            now = {r[0]: tuple(r[1:]) for r in rows}
            for pid, row in self.seen.items():
                assert now.get(pid) == row, f"posting {pid} changed"
            self.seen = now

        @invariant()
        def verify_finds_nothing(self):
            assert verify(self.s) == []

        def teardown(self):
            self.s.rollback()
            self.s.close()

    return LedgerMachine


SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=25, deadline=None,
                    suppress_health_check=list(HealthCheck))


def test_ledger_invariants_on_sqlite(sqlite_template, tmp_path):
    counter = iter(range(10**9))

    def new_session() -> Session:
        path = tmp_path / f"p{next(counter)}.db"
        shutil.copy(sqlite_template, path)
        return Session(make_engine(f"sqlite:///{path}"), expire_on_commit=False)

    run_state_machine_as_test(make_machine(new_session), settings=SETTINGS)


def test_ledger_invariants_on_postgresql(pg_engine):
    def new_session() -> Session:
        reset_pg(pg_engine)
        return Session(pg_engine, expire_on_commit=False)

    run_state_machine_as_test(make_machine(new_session), settings=SETTINGS)


@pytest.mark.parametrize("seconds", [0, 1, 599, 600, 3599, 86399])
def test_a_single_record_round_trip(book: Book, seconds):
    acc = book.retainer(40)
    book.log(1, seconds, date(2026, 1, 5))
    assert book.bal(acc).consumption_s == seconds
    book.delete(1)
    assert book.bal(acc).consumption_s == 0
