"""One or more named tests for each rule of PRODUCT.md ("Rules the ledger keeps")."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger import calendar as cal
from ledger.contracts import add_team_member, adjust, set_retainer
from ledger.entries import EntrySnapshot, apply_entry
from ledger.verify import verify
from tests.helpers import CLIENT, H, STAFF, Book

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


# Rule 1: every second logged by a team member is counted exactly once.

def test_rule1_same_snapshot_twice_writes_nothing(book: Book):
    acc = book.retainer()
    first = book.log(1, 1800, date(2026, 1, 5))
    n = book.count_postings()
    again = book.log(1, 1800, date(2026, 1, 5))
    assert first.written == 1 and again.written == 0
    assert book.count_postings() == n
    assert book.bal(acc).consumption_s == 1800


def test_rule1_reordered_snapshots_of_different_records_give_the_same_ledger(book: Book):
    acc = book.retainer()
    for record in (3, 1, 2):
        book.log(record, record * 600, date(2026, 1, 5 + record))
    assert book.bal(acc).consumption_s == 3600
    assert verify(book.s) == []


def test_rule1_only_team_members_are_debited(book: Book):
    acc = book.retainer(team=(STAFF,))
    book.log(1, 3600, date(2026, 1, 5), user=STAFF)
    result = book.log(2, 1800, date(2026, 1, 5), user=CLIENT)
    assert result.state == "not_team" and result.written == 0
    assert book.bal(acc).consumption_s == 3600


def test_rule1_a_member_added_later_has_their_earlier_time_debited(book: Book):
    acc = book.retainer(team=())
    book.log(1, 3600, date(2026, 1, 5), user=STAFF)
    assert book.bal(acc).consumption_s == 0
    add_team_member(book.s, book.portal, STAFF, account=acc, now=book.now)
    assert book.bal(acc).consumption_s == 3600


# Rule 2: after a reconcile, consumption per entry equals its current duration.

def test_rule2_an_edit_posts_the_difference(book: Book):
    acc = book.retainer()
    book.log(1, 3600, date(2026, 1, 5))
    book.log(1, 5400, date(2026, 1, 5))
    book.log(1, 1200, date(2026, 1, 5))
    assert book.bal(acc).consumption_s == 1200
    amounts = [p.amount_s for p in book.postings(kind="consumption")]
    assert amounts == [-3600, -1800, 4200]


def test_rule2_a_deletion_posts_zero(book: Book):
    acc = book.retainer()
    book.log(1, 3600, date(2026, 1, 5))
    result = book.delete(1)
    assert result.state == "deleted"
    assert book.bal(acc).consumption_s == 0
    assert book.delete(1).written == 0


def test_rule2_deleting_an_unknown_record_writes_nothing(book: Book):
    book.retainer()
    assert book.delete(999).entry_id is None
    assert book.count_postings() == 1  # the allocation


def test_rule2_a_redated_entry_moves_between_open_months(book: Book):
    acc = book.retainer()
    book.now = book.at(date(2026, 1, 31), 22)
    book.log(1, 3600, date(2026, 1, 30))
    book.now = book.at(date(2026, 2, 1), 0, 1)  # before the close runs: January is still open
    book.log(1, 3600, date(2026, 2, 1))
    assert book.bal(acc, "2026-01").consumption_s == 0
    assert book.bal(acc, "2026-02").consumption_s == 3600
    assert verify(book.s) == []


# Rule 3: the balance identity; an overdrawn account shows its overage.

def test_rule3_balance_is_the_sum_of_its_terms(book: Book):
    acc = book.retainer(40)
    book.log(1, 10 * H, date(2026, 1, 5))
    adjust(book.s, acc, 2 * H, reason="top-up", author="manager", now=book.now)
    b = book.bal(acc)
    assert b.net_s == b.allocation_s + b.rollover_in_s + b.stage_budget_s + b.adjustment_s \
        - b.consumption_s - b.expiry_s
    assert (b.allocation_s, b.adjustment_s, b.consumption_s, b.remaining_s) == (40 * H, 2 * H, 10 * H, 32 * H)


def test_rule3_overdrawn_shows_overage_never_negative_remaining(book: Book):
    acc = book.retainer(20)
    book.log(1, 23 * H, date(2026, 1, 5))
    b = book.bal(acc)
    assert b.remaining_s == 0 and b.overage_s == 3 * H and b.net_s == -3 * H


# Rule 4: closing burns (default) or rolls over; overage billed or deducted; idempotent.

def test_rule4_close_burns_what_is_left_by_default(book: Book):
    acc = book.retainer(40)
    book.log(1, 30 * H, date(2026, 1, 5))
    book.next_month(FEB)
    jan = book.bal(acc, "2026-01")
    assert jan.expiry_s == 10 * H and jan.remaining_s == 0
    assert book.bal(acc, "2026-02").rollover_in_s == 0
    assert book.period(acc, "2026-01").status == "closed"


def test_rule4_close_happens_at_the_end_in_the_portals_zone(session):
    book = Book(session, tz="Asia/Vladivostok")
    acc = book.retainer(40)
    end = cal.local_midnight(FEB, "Asia/Vladivostok")
    book.advance_to(end - timedelta(seconds=1))
    assert book.period(acc, "2026-01").status == "open"
    book.advance_to(end)
    assert book.period(acc, "2026-01").status == "closed"


def test_rule4_rollover_respects_the_cap(book: Book):
    acc = book.retainer(40, expiry_policy="rollover", rollover_cap_s=5 * H)
    book.log(1, 30 * H, date(2026, 1, 5))
    book.next_month(FEB)
    assert book.bal(acc, "2026-01").expiry_s == 5 * H
    assert book.bal(acc, "2026-01").rollover_out_s == 5 * H
    assert book.bal(acc, "2026-02").rollover_in_s == 5 * H
    assert book.bal(acc, "2026-02").remaining_s == 45 * H


def test_rule4_rolled_hours_are_used_first_and_burn_at_their_maximum_age(book: Book):
    acc = book.retainer(40, expiry_policy="rollover", rollover_max_age_months=1)
    book.log(1, 30 * H, date(2026, 1, 5))   # 10 h left in January
    book.next_month(FEB)
    book.now = book.at(date(2026, 2, 10))
    book.log(2, 35 * H, date(2026, 2, 5))   # uses January's 10 h first, then 25 of February's 40
    book.next_month(MAR)
    feb = book.bal(acc, "2026-02")
    assert feb.expiry_s == 0                 # January's hours were used, nothing of them burns
    assert feb.rollover_out_s == 15 * H      # February's remaining 15 h carry on
    book.next_month(date(2026, 4, 1))        # nothing used in March
    mar = book.bal(acc, "2026-03")
    # February's 15 h reach their maximum age (1 month) and burn; March's own 40 h carry.
    assert mar.expiry_s == 15 * H and mar.rollover_out_s == 40 * H


def test_rule4_oldest_rollover_burns_first_under_the_cap(book: Book):
    acc = book.retainer(10, expiry_policy="rollover", rollover_cap_s=12 * H)
    book.next_month(FEB)                     # January: 10 h unused, all carried
    book.next_month(MAR)                     # February holds 10 (Jan) + 10 (Feb) = 20; cap 12
    feb_close = [p for p in book.postings(kind="expiry")]
    jan_period = book.period(acc, "2026-01")
    feb_period = book.period(acc, "2026-02")
    burned = {p.origin_period_id: -p.amount_s for p in feb_close if p.period_id == feb_period.id}
    assert burned == {jan_period.id: 8 * H}  # January's (older) hours burn first
    assert book.bal(acc, "2026-03").rollover_in_s == 12 * H


def test_rule4_overage_billed(book: Book):
    acc = book.retainer(20, overage_policy="bill")
    book.log(1, 23 * H, date(2026, 1, 5))
    book.next_month(FEB)
    jan = book.bal(acc, "2026-01")
    assert jan.overage_billed_s == 3 * H and jan.net_s == 0
    assert book.bal(acc, "2026-02").remaining_s == 20 * H


def test_rule4_overage_deducted_from_next_period(book: Book):
    acc = book.retainer(20, overage_policy="deduct")
    book.log(1, 23 * H, date(2026, 1, 5))
    book.next_month(FEB)
    assert book.bal(acc, "2026-01").overage_carried_s == 3 * H
    feb = book.bal(acc, "2026-02")
    assert feb.overage_deducted_s == 3 * H and feb.remaining_s == 17 * H


def test_rule4_closing_twice_equals_closing_once(book: Book):
    acc = book.retainer(40)
    book.log(1, 30 * H, date(2026, 1, 5))
    book.next_month(FEB)
    n = book.count_postings()
    book.next_month(FEB)
    book.advance_to(book.now + timedelta(hours=1))
    assert book.count_postings() == n
    assert book.bal(acc, "2026-01").expiry_s == 10 * H


def test_rule4_months_missed_while_down_close_in_order(book: Book):
    acc = book.retainer(10, expiry_policy="rollover")
    book.next_month(date(2026, 4, 1))        # the app was down for three month ends
    assert [book.period(acc, m).status for m in ("2026-01", "2026-02", "2026-03")] == ["closed"] * 3
    assert book.bal(acc, "2026-04").rollover_in_s == 30 * H
    assert verify(book.s) == []


# Rule 5: a closed period is frozen; changes become corrections in the open period.

def test_rule5_edit_in_closed_period_is_a_correction_naming_the_original(book: Book):
    acc = book.retainer(40)
    book.log(1, 3600, date(2026, 1, 20))
    book.next_month(FEB)
    jan_before = book.bal(acc, "2026-01")
    book.now = book.at(date(2026, 2, 3))
    book.log(1, 5400, date(2026, 1, 20))
    assert book.bal(acc, "2026-01") == jan_before
    feb = book.bal(acc, "2026-02")
    assert feb.consumption_s == 1800
    correction = book.postings(kind="consumption")[-1]
    assert correction.period_id == book.period(acc, "2026-02").id
    assert correction.origin_period_id == book.period(acc, "2026-01").id
    assert correction.entry_version == 2
    assert verify(book.s) == []


def test_rule5_delete_in_closed_period_gives_hours_back_in_the_open_one(book: Book):
    acc = book.retainer(40)
    book.log(1, 2 * H, date(2026, 1, 20))
    book.next_month(FEB)
    book.delete(1)
    assert book.bal(acc, "2026-02").consumption_s == -2 * H
    assert book.bal(acc, "2026-02").remaining_s == 42 * H
    assert verify(book.s) == []


def test_rule5_backdated_entry_into_a_closed_month_counts_now(book: Book):
    acc = book.retainer(40)
    book.next_month(FEB)
    result = book.log(7, 1800, date(2026, 1, 15))  # logged late, dated in closed January
    assert result.state == "counted"
    assert book.bal(acc, "2026-01").consumption_s == 0
    assert book.bal(acc, "2026-02").consumption_s == 1800


def test_rule5_a_closed_period_refuses_postings(book: Book):
    from ledger.postings import NewPosting, PeriodClosed, lock_open_period

    acc = book.retainer(40)
    book.next_month(FEB)
    jan = book.period(acc, "2026-01")
    with pytest.raises(PeriodClosed):
        lock_open_period(book.s, jan.id)
    assert NewPosting  # the database refusal is tested in test_append_only


# Rule 6: no rounding unless the contract asks.

def test_rule6_ten_minutes_is_ten_minutes(book: Book):
    acc = book.retainer(40)
    book.log(1, 600, date(2026, 1, 5))
    assert book.bal(acc).consumption_s == 600


def test_rule6_rounding_up_to_fifteen_minutes_per_entry(book: Book):
    acc = book.retainer(40, rounding_mode="up", rounding_step_s=900)
    book.log(1, 600, date(2026, 1, 5))
    book.log(2, 901, date(2026, 1, 5))
    assert book.bal(acc).consumption_s == 900 + 1800


# Rule 7: tariff change from the next period; top-up inside a period is an adjustment.

def test_rule7_tariff_change_takes_effect_next_period(book: Book):
    acc = book.retainer(40)
    book.now = book.at(date(2026, 1, 15))
    set_retainer(book.s, acc, hours_s=80 * H, now=book.now)
    assert book.bal(acc, "2026-01").allocation_s == 40 * H
    book.next_month(FEB)
    assert book.bal(acc, "2026-02").allocation_s == 80 * H


def test_rule7_top_up_is_an_adjustment_with_author_and_reason(book: Book):
    acc = book.retainer(40)
    adjust(book.s, acc, 10 * H, reason="extra package", author="Мария", now=book.now)
    posting = book.postings(kind="adjustment")[0]
    assert (posting.amount_s, posting.author, posting.reason) == (10 * H, "Мария", "extra package")
    assert book.bal(acc).remaining_s == 50 * H


def test_rule7_adjustment_without_reason_is_refused(book: Book):
    from ledger.contracts import LedgerError

    acc = book.retainer(40)
    n = book.count_postings()
    with pytest.raises(LedgerError):
        adjust(book.s, acc, H, reason="  ", author="manager", now=book.now)
    assert book.count_postings() == n


# Rule 8: the portal's time zone decides the month of a record.

def test_rule8_month_of_a_record_is_decided_in_the_portals_zone(session):
    book = Book(session, tz="Europe/Moscow")
    acc = book.retainer(40)
    book.now = book.at(date(2026, 2, 1), 1)
    # 31 Jan 22:30 UTC is already 1 Feb 01:30 in Moscow.
    from datetime import datetime, timezone

    snap = EntrySnapshot(book.portal.id, 1, 1, STAFF, 600, datetime(2026, 1, 31, 22, 30, tzinfo=timezone.utc))
    apply_entry(book.s, snap, book.now)
    assert book.bal(acc, "2026-02").consumption_s == 600
    assert book.bal(acc, "2026-01").consumption_s == 0


@pytest.mark.parametrize("tz,first_instant_utc,month", [
    # New York falls back on 1 Nov 2026: local midnight is 04:00 UTC (EDT)
    ("America/New_York", "2026-11-01T04:00:00+00:00", "2026-11"),
    ("America/New_York", "2026-11-01T03:59:59+00:00", "2026-10"),
    # Berlin's last October Sunday: the month still ends at 23:00 UTC (CET)
    ("Europe/Berlin", "2026-10-31T23:00:00+00:00", "2026-11"),
    ("Europe/Berlin", "2026-10-31T22:59:59+00:00", "2026-10"),
    # Berlin springs forward on 29 March; 1 April starts at 22:00 UTC (CEST)
    ("Europe/Berlin", "2026-03-31T22:00:00+00:00", "2026-04"),
])
def test_rule8_month_boundaries_across_dst(session, tz, first_instant_utc, month):
    from datetime import datetime

    book = Book(session, tz=tz)
    acc = book.retainer(40, start=date(2026, 1, 1))
    book.now = datetime.fromisoformat("2026-11-05T12:00:00+00:00")
    snap = EntrySnapshot(book.portal.id, 1, 1, STAFF, 600, datetime.fromisoformat(first_instant_utc))
    apply_entry(book.s, snap, book.now)  # no close has run: every month is still open
    assert book.bal(acc, month).consumption_s == 600


def test_rule8_close_runs_at_local_midnight_across_dst(session):
    book = Book(session, tz="America/New_York")
    acc = book.retainer(40, start=date(2026, 10, 1))
    from datetime import datetime

    book.advance_to(datetime.fromisoformat("2026-11-01T03:59:59+00:00"))
    assert book.period(acc, "2026-10").status == "open"
    book.advance_to(datetime.fromisoformat("2026-11-01T04:00:00+00:00"))
    assert book.period(acc, "2026-10").status == "closed"
