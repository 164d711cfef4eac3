"""The implementation advisor (ledger.advisor): upfront or 2–5 stages, from
the client's budget, date and trust in the contractor. Table-driven cases
in the seed's terms, and properties over any scope, price and pace, as for
the tariff calculator (tests/test_plan.py)."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.advisor import (
    DEFAULT_GAP_DAYS,
    REASON_CODES,
    Item,
    advise,
    hours_only,
    option,
    split,
)

H = 3600
START = date(2026, 12, 7)  # a Monday
# The seed's project: a CRM of 80 h, 200 000 ₽, 10 h a week of the integrator's time.
SCOPE = [Item("Воронки и стадии", 20 * H), Item("Телефония", 10 * H), Item("Чат на сайте", 10 * H),
         Item("Интеграция с 1С", 30 * H), Item("Обучение отдела продаж", 8 * H), Item("Инструкция", 2 * H)]
PRICE = 200_000_00

# (budget ₽ a month or None, wanted by or None, new contractor, expected stages or None, reason)
TABLE = [
    # the money is there, no hurry: «деньги интегратору отданы», the project does not stretch
    (None, None, False, 1, "upfront_affordable"),
    (200_000, None, False, 1, "upfront_affordable"),
    # «нужны деньги, много денег сразу»: 100 000 a month → the fewest stages within it
    (100_000, None, False, 2, "staged_budget"),
    (80_000, None, False, 4, "staged_budget"),
    # even five stages ask 75 000 in one month
    (50_000, None, False, None, "no_option_fits_budget"),
    # urgent: only upfront finishes by the end of January (8 weeks of work, no waits)
    (None, date(2027, 1, 31), False, 1, "upfront_urgent"),
    # urgent and no money: the fastest affordable, late
    (100_000, date(2027, 1, 31), False, 2, "deadline_unmet"),
    # a contractor the client does not know yet: leave after a small first stage
    (None, None, True, 5, "staged_leave_easily"),
    (None, date(2027, 2, 28), True, 3, "staged_leave_easily"),
    # new, but only upfront is in time
    (None, date(2027, 1, 31), True, 1, "upfront_urgent"),
]


@pytest.mark.parametrize("budget,wanted,new,expected,reason", TABLE)
def test_advisor_table(budget, wanted, new, expected, reason):
    advice = advise(SCOPE, PRICE, 10 * H, START, monthly_budget_minor=None if budget is None else budget * 100,
                    wanted_by=wanted, new_contractor=new)
    assert advice.reason == reason
    assert (advice.recommended.stages_n if advice.recommended else None) == expected
    assert [o.stages_n for o in advice.options] == [1, 2, 3, 4, 5]


def test_the_options_in_numbers():
    advice = advise(SCOPE, PRICE, 10 * H, START)
    upfront, two = advice.options[0], advice.options[1]
    assert upfront.months == ((date(2026, 12, 1), PRICE),) and upfront.finish_on == date(2027, 1, 31)
    assert upfront.first_working_on == upfront.finish_on  # everything at the end
    assert [(s.planned_s, s.price_minor, s.items) for s in two.stages] == [
        (40 * H, 100_000_00, ("Воронки и стадии", "Телефония", "Чат на сайте")),
        (40 * H, 100_000_00, ("Интеграция с 1С", "Обучение отдела продаж", "Инструкция"))]
    # 40 h at 10 h a week is 28 days; two weeks to pay, accept and get into the queue
    assert two.stages[0].ends_on == date(2027, 1, 3) and two.stages[1].starts_on == date(2027, 1, 18)
    assert two.first_working_on == date(2027, 1, 3)  # the funnel and the phones a month earlier
    assert (two.finish_on - upfront.finish_on).days == DEFAULT_GAP_DAYS
    assert advice.reason_args["days_longer"] == 0


def test_fewer_items_than_stages_leave_those_counts_out():
    advice = advise([Item("Воронки", 10 * H), Item("Обучение", 2 * H)], 30_000_00, 5 * H, START)
    assert [o.stages_n for o in advice.options] == [1, 2]


@pytest.mark.parametrize("kwargs", [
    {"items": []}, {"items": [Item("x", 0)]}, {"items": [Item("x", -1)]}, {"items": [Item("x", 1.5)]},
    {"items": "abc"}, {"price_minor": -1}, {"price_minor": 1.0}, {"pace_week_s": 0}, {"pace_week_s": True},
    {"monthly_budget_minor": -5}, {"gap_days": -1}, {"wanted_by": "2027-01-01"}, {"new_contractor": 1},
    {"items": [Item("x", 1)], "pace_week_s": 1, "gap_days": 365 * 30},
])
def test_advisor_refuses_what_is_not_a_project(kwargs):
    args = {"items": SCOPE, "price_minor": PRICE, "pace_week_s": 10 * H, "start": START, **kwargs}
    with pytest.raises(ValueError):
        advise(args.pop("items"), args.pop("price_minor"), args.pop("pace_week_s"), args.pop("start"), **args)


items_st = st.lists(st.integers(0, 200 * H).map(lambda s: Item("i", s)), min_size=1, max_size=12).filter(
    lambda items: sum(i.planned_s for i in items) > 0)


@settings(max_examples=200, deadline=None)
@given(items=items_st, price=st.integers(0, 10**10), pace=st.integers(H, 60 * H),
       budget=st.none() | st.integers(0, 10**10), wanted=st.none() | st.integers(0, 800),
       new=st.booleans(), gap=st.integers(0, 60))
def test_advisor_properties(items, price, pace, budget, wanted, new, gap):
    wanted_by = None if wanted is None else date.fromordinal(START.toordinal() + wanted)
    advice = advise(items, price, pace, START, monthly_budget_minor=budget, wanted_by=wanted_by,
                    new_contractor=new, gap_days=gap)
    assert advice.reason in REASON_CODES
    upfront = advice.options[0]
    for o in advice.options:
        # every option costs the price, holds every hour and every item once, in order
        assert sum(s.price_minor for s in o.stages) == o.total_minor == price
        assert sum(m for _, m in o.months) == price
        assert sum(s.planned_s for s in o.stages) == sum(i.planned_s for i in items)
        assert sum(len(s.items) for s in o.stages) == len(items) and all(s.items for s in o.stages)
        assert all(s.price_minor >= 0 and s.starts_on <= s.ends_on for s in o.stages)
        # stages follow one another; staged never finishes before upfront, nor asks more in a month
        assert all(a.ends_on < b.starts_on for a, b in zip(o.stages, o.stages[1:]))
        assert o.finish_on >= upfront.finish_on and o.max_month_minor <= upfront.max_month_minor
        assert o.first_working_on <= upfront.first_working_on
    chosen = advice.recommended
    affordable = [o for o, a in zip(advice.options, advice.affordable) if a]
    if chosen is None:
        assert not affordable and advice.reason == "no_option_fits_budget"
    else:
        # never over the budget while something fits it; in time whenever something affordable is
        assert chosen in affordable
        if any(a and t for a, t in zip(advice.affordable, advice.in_time)):
            assert advice.in_time[advice.options.index(chosen)]
        if not new and advice.affordable[0] and advice.in_time[0]:
            assert chosen.stages_n == 1  # money there and time allows: no stretching
    assert advise(items, price, pace, START, monthly_budget_minor=budget, wanted_by=wanted_by,
                  new_contractor=new, gap_days=gap) == advice  # pure


@settings(max_examples=100, deadline=None)
@given(items=items_st, n=st.integers(2, 5))
def test_split_keeps_order_and_never_empties_a_stage(items, n):
    if n > len(items):
        return
    stages = split(items, n)
    assert [i for s in stages for i in s] == list(items) and all(stages)
    assert option(items, 0, H, START, n, 0).stages_n == n


def test_a_scope_of_hours_only_splits_into_equal_stages():
    advice = advise(hours_only(80 * H + 7), PRICE, 10 * H, START)
    assert [o.stages_n for o in advice.options] == [1, 2, 3, 4, 5]
    for o in advice.options:
        sizes = [s.planned_s for s in o.stages]
        assert sum(sizes) == 80 * H + 7 and max(sizes) - min(sizes) <= 7
