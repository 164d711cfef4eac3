"""The tariff calculator (ledger.plan): the seed's arithmetic and the recommendation."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.plan import (
    ISSUE_CODES,
    LIMIT_CODES,
    MAX_PLAN_S,
    REASON_CODES,
    TARIFFS_H,
    AssessedOption,
    Recommendation,
    TariffOption,
    meetings_needed,
    recommend,
    tariff_options,
)

H = 3600
PRICE = 2_500_00  # 2 500 ₽ an hour, in kopecks


def by_tariff(rec: Recommendation) -> dict[int, AssessedOption]:
    return {a.option.tariff_h: a for a in rec.options}


# --- the arithmetic: (plan h, tariff h, months, monthly ₽, total ₽, spare h) ---------------

OPTIONS = [
    # the seed: 160 h = 2 × 80, 4 × 40, 8 × 20 (and 120 h takes 2 months, 80 h spare)
    (160, 80, 2, 200_000, 400_000, 0),
    (160, 40, 4, 100_000, 400_000, 0),
    (160, 20, 8, 50_000, 400_000, 0),
    (160, 120, 2, 300_000, 600_000, 80),
    # 7 h: one month of 20 h, 13 h spare would burn
    (7, 20, 1, 50_000, 50_000, 13),
    (7, 120, 1, 300_000, 300_000, 113),
    # 1000 h
    (1000, 20, 50, 50_000, 2_500_000, 0),
    (1000, 40, 25, 100_000, 2_500_000, 0),
    (1000, 80, 13, 200_000, 2_600_000, 40),
    (1000, 120, 9, 300_000, 2_700_000, 80),
    # 0 h: nothing to buy
    (0, 20, 0, 50_000, 0, 0),
    (0, 120, 0, 300_000, 0, 0),
]


@pytest.mark.parametrize("plan_h,tariff_h,months,monthly_rub,total_rub,spare_h", OPTIONS)
def test_options_table(plan_h, tariff_h, months, monthly_rub, total_rub, spare_h):
    rec = recommend(plan_h * H, PRICE)
    o = by_tariff(rec)[tariff_h].option
    assert (o.months, o.monthly_price_minor, o.total_price_minor, o.spare_s) == \
        (months, monthly_rub * 100, total_rub * 100, spare_h * H)
    assert o.bought_s == months * tariff_h * H
    assert by_tariff(rec)[tariff_h].spare_would_burn == (spare_h > 0)
    assert o in tariff_options(plan_h * H, PRICE)  # the same arithmetic as before


def test_options_keep_tariff_order_and_types():
    rec = recommend(160 * H, PRICE, tariffs_h=(120, 20, 80))
    assert [a.option.tariff_h for a in rec.options] == [120, 20, 80]
    assert all(isinstance(a.option, TariffOption) for a in rec.options)
    assert isinstance(rec.options, tuple)


def test_tariff_options_unchanged():
    assert tariff_options(160 * H, PRICE)[1] == TariffOption(40, 4, 160 * H, 0, 100_000_00, 400_000_00)
    assert [o.tariff_h for o in tariff_options(1, 1)] == list(TARIFFS_H)


# --- the contact rule ---------------------------------------------------------------------

CONTACT = [  # (tariff h, plan h, meetings a month)
    (20, 160, 1),  # monthly
    (40, 160, 2),  # every two weeks
    (80, 160, 4),  # weekly (the seed's weekly call)
    (120, 160, 6),  # more than weekly
    (10, 160, 1),
    (200, 1000, 10),
    (21, 160, 2),  # a started 20 h counts
    (120, 7, 1),  # only 7 h of work: one contact
    (120, 30, 2),
    (20, 0, 0),  # nothing to do, nothing to discuss
]


@pytest.mark.parametrize("tariff_h,plan_h,meetings", CONTACT)
def test_meetings_needed(tariff_h, plan_h, meetings):
    assert meetings_needed(tariff_h, plan_h * H) == meetings


# --- the recommendation -------------------------------------------------------------------
# (name, plan h, kwargs, recommended tariff h or None, months or None, reason, expected reason_args subset)

CASES = [
    ("seed, no limits: no spare, fewest months", 160, {}, 80, 2, "least_spare",
     {"spare_s": 0, "allowed_count": 4, "excluded_by": "none", "meetings_needed": 4}),
    ("nothing needed", 0, {}, None, None, "nothing_needed", {}),
    ("nothing needed even with a tiny budget", 0, {"monthly_budget_minor": 0}, None, None, "nothing_needed", {}),
    ("7 h: one month of 20 h", 7, {}, 20, 1, "least_spare", {"spare_s": 13 * H}),
    ("1000 h, no limits: 40 h × 25 (no spare, fewer months than 20 h)", 1000, {}, 40, 25, "least_spare",
     {"spare_s": 0}),
    ("1000 h within a year: 120 h × 9 is the only one", 1000, {"months_wanted": 12}, 120, 9, "urgency_met",
     {"months_wanted": 12, "spare_s": 80 * H}),
    ("1000 h within 6 months: no tariff can", 1000, {"months_wanted": 6}, 120, 9, "urgency_unmet",
     {"months_wanted": 6, "limited_by": "tariffs"}),
    ("budget below the smallest tariff", 160, {"monthly_budget_minor": 49_999_00}, None, None,
     "no_tariff_fits_budget",
     {"tariff_h": 20, "monthly_price_minor": 50_000_00, "monthly_budget_minor": 49_999_00, "shortfall_minor": 1_00}),
    ("zero budget", 160, {"monthly_budget_minor": 0}, None, None, "no_tariff_fits_budget",
     {"shortfall_minor": 50_000_00}),
    ("budget exactly 40 h's price fits it", 160, {"monthly_budget_minor": 100_000_00}, 40, 4, "least_spare",
     {"allowed_count": 2, "excluded_by": "budget", "monthly_price_minor": 100_000_00}),
    ("budget exactly 20 h's price: «выбора нет»", 160, {"monthly_budget_minor": 50_000_00}, 20, 8, "least_spare",
     {"allowed_count": 1, "excluded_by": "budget"}),
    ("budget one kopeck below 40 h's price", 160, {"monthly_budget_minor": 99_999_99}, 20, 8, "least_spare",
     {"allowed_count": 1}),
    ("urgency met: within 4 months, no spare, the smaller payment", 160, {"months_wanted": 4}, 40, 4, "urgency_met",
     {"months_wanted": 4}),
    ("urgency met: within 3 months only 80/120, 80 burns less", 160, {"months_wanted": 3}, 80, 2, "urgency_met", {}),
    ("urgency in 1 month: no tariff can, fastest 2 months, 80 h burns less than 120 h", 160,
     {"months_wanted": 1}, 80, 2, "urgency_unmet", {"limited_by": "tariffs", "spare_s": 0}),
    ("urgency in 2 months but budget fits 40 h: fastest allowed", 160,
     {"months_wanted": 2, "monthly_budget_minor": 100_000_00}, 40, 4, "urgency_unmet",
     {"limited_by": "budget", "months_wanted": 2}),
    ("urgency in 2 months but contact only twice a month", 160,
     {"months_wanted": 2, "meetings_per_month": 2}, 40, 4, "urgency_unmet",
     {"limited_by": "contact", "excluded_by": "contact"}),
    ("urgency in 2 months, 120 h over budget and needing too much contact", 160,
     {"months_wanted": 2, "monthly_budget_minor": 299_999_99, "meetings_per_month": 4}, 80, 2, "urgency_met",
     {"excluded_by": "budget_and_contact", "allowed_count": 3}),
    ("1000 h within 9 months, 120 h needs weekly+ contact", 1000,
     {"months_wanted": 9, "meetings_per_month": 4}, 80, 13, "urgency_unmet",
     {"limited_by": "contact", "spare_s": 40 * H}),
    ("urgency in 2 months, budget for 80 h, contact for 40 h", 160,
     {"months_wanted": 2, "monthly_budget_minor": 200_000_00, "meetings_per_month": 2}, 40, 4, "urgency_unmet",
     {"limited_by": "budget_and_contact", "excluded_by": "budget_and_contact"}),
    ("contact: once a month means 20 h", 160, {"meetings_per_month": 1}, 20, 8, "least_spare",
     {"allowed_count": 1, "excluded_by": "contact", "meetings_needed": 1}),
    ("contact: weekly allows 80 h", 160, {"meetings_per_month": 4}, 80, 2, "least_spare",
     {"allowed_count": 3, "excluded_by": "contact"}),
    ("contact: small plan needs one contact on any tariff", 7, {"meetings_per_month": 1}, 20, 1, "least_spare",
     {"allowed_count": 4, "excluded_by": "none"}),
    ("custom tariffs: 40/80 with one contact a month", 160, {"meetings_per_month": 1, "tariffs_h": (40, 80)},
     None, None, "no_tariff_fits_contact",
     {"tariff_h": 40, "meetings_needed": 2, "meetings_per_month": 1, "excluded_by": "contact"}),
    ("custom tariffs: budget before contact", 160,
     {"meetings_per_month": 1, "monthly_budget_minor": 0, "tariffs_h": (40, 80)}, None, None,
     "no_tariff_fits_budget", {"tariff_h": 40}),
    ("custom tariffs: a 10 h tariff for 7 h", 7, {"tariffs_h": (10, 20, 40)}, 10, 1, "least_spare",
     {"spare_s": 3 * H}),
    ("custom tariffs: a 200 h tariff in a hurry", 1000, {"months_wanted": 5, "tariffs_h": (20, 200)}, 200, 5,
     "urgency_met", {"meetings_needed": 10}),
    ("custom tariffs: a single tariff", 30, {"tariffs_h": (25,)}, 25, 2, "least_spare",
     {"spare_s": 20 * H, "allowed_count": 1}),
    ("least spare beats speed: 100 h", 100, {}, 20, 5, "least_spare", {"spare_s": 0}),
    ("spare tie broken by fewer months: 120 h", 120, {}, 120, 1, "least_spare", {"spare_s": 0}),
    ("free hours: any budget fits", 160, {"monthly_budget_minor": 0, "hour_price": 0}, 80, 2, "least_spare",
     {"total_price_minor": 0, "excluded_by": "none"}),
    ("fractional plan: 7 h 30 min", 7.5, {}, 20, 1, "least_spare", {"spare_s": 12 * H + 1800}),
]


@pytest.mark.parametrize("name,plan_h,kwargs,tariff_h,months,reason,args", CASES, ids=[c[0] for c in CASES])
def test_recommend_table(name, plan_h, kwargs, tariff_h, months, reason, args):
    kwargs = dict(kwargs)
    price = kwargs.pop("hour_price", PRICE)
    rec = recommend(int(plan_h * H), price, **kwargs)
    assert rec.reason == reason
    assert rec.reason in REASON_CODES
    if tariff_h is None:
        assert rec.recommended is None
    else:
        assert rec.recommended is not None
        assert (rec.recommended.tariff_h, rec.recommended.months) == (tariff_h, months)
        assert rec.reason_args["tariff_h"] == tariff_h and rec.reason_args["months"] == months
        assert rec.recommended in [a.option for a in rec.options]
    for key, value in args.items():
        assert rec.reason_args[key] == value, key
    assert all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in rec.reason_args.values())
    for code in ("excluded_by", "limited_by"):
        if code in rec.reason_args:
            assert rec.reason_args[code] in LIMIT_CODES


FLAGS = [  # (plan h, kwargs, tariff h, issues)
    (160, {}, 80, ()),
    (160, {}, 120, ("spare_would_burn",)),
    (160, {"monthly_budget_minor": 100_000_00}, 80, ("over_budget",)),
    (160, {"monthly_budget_minor": 100_000_00}, 40, ()),
    (160, {"meetings_per_month": 2}, 80, ("needs_more_contact",)),
    (160, {"months_wanted": 3}, 40, ("too_slow",)),
    (160, {"months_wanted": 1, "monthly_budget_minor": 1, "meetings_per_month": 1}, 120,
     ("over_budget", "needs_more_contact", "too_slow", "spare_would_burn")),
    (0, {"months_wanted": 1, "monthly_budget_minor": 0, "meetings_per_month": 1}, 120, ()),
]


@pytest.mark.parametrize("plan_h,kwargs,tariff_h,issues", FLAGS)
def test_option_flags(plan_h, kwargs, tariff_h, issues):
    a = by_tariff(recommend(plan_h * H, PRICE, **kwargs))[tariff_h]
    assert a.issues == issues
    assert set(a.issues) <= set(ISSUE_CODES)
    assert a.allowed == ("over_budget" not in issues and "needs_more_contact" not in issues)
    assert a.meets_urgency == ("too_slow" not in issues)


BAD = [  # (args, kwargs, words in the message)
    ((-1, PRICE), {}, "plan_s"),
    ((1.5, PRICE), {}, "int"),
    (("160", PRICE), {}, "int"),
    ((True, PRICE), {}, "int"),
    ((None, PRICE), {}, "int"),
    ((MAX_PLAN_S + 1, PRICE), {}, "at most"),
    ((H, -1), {}, "hour_price_minor"),
    ((H, 2500.0), {}, "int"),
    ((H, 10**12), {}, "at most"),
    ((H, PRICE), {"months_wanted": 0}, "months_wanted"),
    ((H, PRICE), {"months_wanted": -3}, "months_wanted"),
    ((H, PRICE), {"months_wanted": 2.0}, "int"),
    ((H, PRICE), {"months_wanted": 10**6}, "at most"),
    ((H, PRICE), {"monthly_budget_minor": -1}, "monthly_budget_minor"),
    ((H, PRICE), {"monthly_budget_minor": 10**15}, "at most"),
    ((H, PRICE), {"meetings_per_month": 0}, "meetings_per_month"),
    ((H, PRICE), {"meetings_per_month": -1}, "meetings_per_month"),
    ((H, PRICE), {"meetings_per_month": 10**6}, "at most"),
    ((H, PRICE), {"tariffs_h": ()}, "at least one"),
    ((H, PRICE), {"tariffs_h": (20, 0)}, "tariff"),
    ((H, PRICE), {"tariffs_h": (20, -40)}, "tariff"),
    ((H, PRICE), {"tariffs_h": (20, 40.0)}, "int"),
    ((H, PRICE), {"tariffs_h": (20, 20)}, "duplicate"),
    ((H, PRICE), {"tariffs_h": (20, 745)}, "at most"),
    ((H, PRICE), {"tariffs_h": 20}, "tuple or list"),
    ((H, PRICE), {"tariffs_h": tuple(range(1, 30))}, "at most"),
]


@pytest.mark.parametrize("args,kwargs,words", BAD)
def test_bad_inputs(args, kwargs, words):
    with pytest.raises(ValueError, match=words):
        recommend(*args, **kwargs)


def test_only_keywords_after_price():
    with pytest.raises(TypeError):
        recommend(H, PRICE, 3)  # type: ignore[misc]


def test_tariff_options_rejects_a_zero_tariff():
    with pytest.raises(ValueError):
        tariff_options(H, PRICE, (0,))


def test_max_plan_is_accepted():
    rec = recommend(MAX_PLAN_S, PRICE)
    assert rec.recommended is not None and rec.recommended.months * rec.recommended.tariff_h * H >= MAX_PLAN_S


def test_recommendation_is_frozen():
    rec = recommend(160 * H, PRICE)
    with pytest.raises(AttributeError):
        rec.reason = "x"  # type: ignore[misc]


# --- the property -------------------------------------------------------------------------

tariff_lists = st.one_of(
    st.just(TARIFFS_H),
    st.lists(st.integers(1, 744), min_size=1, max_size=6, unique=True).map(tuple),
)
optional = lambda s: st.none() | s  # noqa: E731


@settings(max_examples=400, deadline=None)
@given(
    plan_s=st.one_of(st.integers(0, 2000 * H), st.integers(0, MAX_PLAN_S)),
    price=st.integers(0, 10_000_00),
    months_wanted=optional(st.integers(1, 60)),
    budget=optional(st.integers(0, 2_000_000_00)),
    meetings=optional(st.integers(1, 12)),
    tariffs=tariff_lists,
)
def test_recommendation_property(plan_s, price, months_wanted, budget, meetings, tariffs):
    rec = recommend(plan_s, price, months_wanted=months_wanted, monthly_budget_minor=budget,
                    meetings_per_month=meetings, tariffs_h=tariffs)
    assert rec.reason in REASON_CODES
    assert [a.option.tariff_h for a in rec.options] == list(tariffs)
    allowed = [a for a in rec.options if a.allowed]

    if plan_s == 0:
        assert rec.recommended is None and rec.reason == "nothing_needed"
        return
    if rec.recommended is None:
        assert rec.reason in ("no_tariff_fits_budget", "no_tariff_fits_contact")
        assert not allowed  # nothing is held back when something fits
        return

    chosen = next(a for a in rec.options if a.option == rec.recommended)
    o = chosen.option
    # the hard limits
    assert budget is None or o.monthly_price_minor <= budget
    assert meetings is None or meetings_needed(o.tariff_h, plan_s) <= meetings
    assert chosen.allowed
    # the plan fits in what is bought
    assert o.months * o.tariff_h * H >= plan_s and o.spare_s == o.months * o.tariff_h * H - plan_s
    assert (o.months - 1) * o.tariff_h * H < plan_s  # and no month more than needed
    fast_enough = [a for a in allowed if a.meets_urgency]
    if fast_enough:
        assert chosen.meets_urgency
        assert rec.reason == ("least_spare" if months_wanted is None else "urgency_met")
        # no other allowed option meeting the urgency burns fewer hours (or, on a tie, finishes
        # sooner when no pace was named / costs less a month when one was)
        for a in fast_enough:
            if months_wanted is None:
                assert (a.option.spare_s, a.option.months) >= (o.spare_s, o.months)
            else:
                assert (a.option.spare_s, a.option.monthly_price_minor) >= (o.spare_s, o.monthly_price_minor)
    else:
        assert rec.reason == "urgency_unmet"
        assert all(a.option.months >= o.months for a in allowed)  # the fastest allowed
        assert rec.reason_args["limited_by"] in LIMIT_CODES
