"""Tariffs for a development plan, and which one to recommend.

The seed (section «От чего зависит стоимость «Сопровождения»»): the
tariffs are 20, 40, 80 and 120 hours a month; a plan of 160 h becomes
2 months × 80 h, 4 × 40 or 8 × 20; hours not used by the end of a month
burn. Which tariff to take depends on three factors: how often the client
can be in contact (more hours → more often: set tasks, accept work, adjust
priorities), how urgent the result is (faster → more hours a month) and the
monthly budget (sometimes fixed in advance: «выбора нет», the tariff that
fits the monthly payment is the only choice).

`tariff_options` is the arithmetic; `recommend` is the calculator. Both are
pure and integer-only: durations in seconds, money in minor units (kopecks).
No user-facing text lives here: `recommend` returns machine codes, the page
translates them (Russian first). The codes are listed in `recommend`'s
docstring and in REASON_CODES, ISSUE_CODES and LIMIT_CODES, so the page's
tests can check that every code has a translation.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

TARIFFS_H = (20, 40, 80, 120)

HOUR_S = 3600
# The contact rule: one contact (a call or a meeting where tasks are set,
# work is accepted and priorities adjusted) per started 20 h of work in a
# month. See `meetings_needed`.
HOURS_PER_MEETING = 20

# Beyond these an input is a typo, not a plan: ValueError.
MAX_PLAN_S = 100_000 * HOUR_S  # 100,000 h, about fifty person-years
MAX_TARIFF_H = 744  # the hours in a 31-day month: a monthly tariff cannot hold more
MAX_TARIFFS = 20
MAX_HOUR_PRICE_MINOR = 100_000_000  # 1,000,000 ₽ an hour
MAX_MONTHLY_BUDGET_MINOR = 10**12  # 10,000,000,000 ₽ a month
MAX_MONTHS_WANTED = 1200  # a hundred years: "no hurry" needs no bigger number
MAX_MEETINGS_PER_MONTH = 1000

REASON_CODES = (
    "nothing_needed",
    "no_tariff_fits_budget",
    "no_tariff_fits_contact",
    "least_spare",
    "urgency_met",
    "urgency_unmet",
)
ISSUE_CODES = ("over_budget", "needs_more_contact", "too_slow", "spare_would_burn")
LIMIT_CODES = ("none", "budget", "contact", "budget_and_contact", "tariffs")


@dataclass(frozen=True)
class TariffOption:
    tariff_h: int
    months: int
    bought_s: int  # hours paid for over those months
    spare_s: int  # bought but not needed by the plan (would burn if unused)
    monthly_price_minor: int
    total_price_minor: int


def tariff_options(plan_s: int, hour_price_minor: int, tariffs_h: tuple[int, ...] = TARIFFS_H) -> list[TariffOption]:
    if type(plan_s) is not int or plan_s < 0:
        raise ValueError("a plan is a non-negative number of seconds")
    for tariff_h in tariffs_h:
        if type(tariff_h) is not int or tariff_h <= 0:
            raise ValueError(f"a tariff is a positive whole number of hours a month, not {tariff_h!r}")
    options = []
    for tariff_h in tariffs_h:
        per_month_s = tariff_h * HOUR_S
        months = -(-plan_s // per_month_s) if plan_s else 0
        monthly = tariff_h * hour_price_minor
        options.append(TariffOption(tariff_h, months, months * per_month_s, months * per_month_s - plan_s,
                                    monthly, monthly * months))
    return options


def meetings_needed(tariff_h: int, plan_s: int) -> int:
    """Contacts a month the client must give for this tariff and plan.

    The rule: one contact per started HOURS_PER_MEETING (20) hours of work
    in the busiest month, i.e. ceil(min(tariff, plan) / 20 h). With the
    seed's tariffs, for any plan of at least that many hours:

        20 h → 1 a month, 40 h → 2 (every two weeks), 80 h → 4 (weekly,
        the seed's weekly call), 120 h → 6 (more than weekly);
        custom: 10 h → 1, 200 h → 10.

    Why: the seed says the more hours are spent on the work, the more often
    the client must be in contact to set tasks, accept work and adjust
    priorities, and that a month's hours burn if the client does not set
    tasks. So contact grows in proportion to the hours worked. The anchor
    is the seed's own cadence: the agency holds a weekly call, and weekly
    contact (4 a month) is what keeps its 80 h tariff busy, i.e. one
    contact per 20 h; 20 h, the smallest tariff, is then one contact a
    month, the least any client on the service gives. It counts the hours
    actually worked, not the tariff's size: a 7 h plan on a 120 h tariff
    is 7 h of work and needs one contact (the spare hours are flagged
    separately). A plan of 0 h needs none.
    """
    work_s = min(tariff_h * HOUR_S, plan_s)
    per_meeting_s = HOURS_PER_MEETING * HOUR_S
    return -(-work_s // per_meeting_s)


@dataclass(frozen=True)
class AssessedOption:
    """One tariff for the plan, with why it is or is not suitable.

    `over_budget` and `needs_more_contact` are hard limits (the option is
    not `allowed`); `too_slow` and `spare_would_burn` are drawbacks the
    decision weighs. All flags are False when the plan is 0 h (nothing is
    bought) and when the corresponding input was not given.
    """
    option: TariffOption
    meetings_needed: int
    over_budget: bool  # monthly price > monthly_budget_minor
    needs_more_contact: bool  # meetings_needed > meetings_per_month
    too_slow: bool  # months > months_wanted
    spare_would_burn: bool  # spare_s > 0: bought hours the plan does not need

    @property
    def allowed(self) -> bool:
        """Within the hard limits (budget and contact)."""
        return not (self.over_budget or self.needs_more_contact)

    @property
    def meets_urgency(self) -> bool:
        return not self.too_slow

    @property
    def issues(self) -> tuple[str, ...]:
        """The flags that are set, as ISSUE_CODES, in ISSUE_CODES order."""
        return tuple(code for code in ISSUE_CODES if getattr(self, code))


@dataclass(frozen=True)
class Recommendation:
    options: tuple[AssessedOption, ...]  # in the order of tariffs_h
    recommended: TariffOption | None
    reason: str  # one of REASON_CODES
    reason_args: dict[str, int | str] = field(default_factory=dict)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if type(value) is not int:
        raise ValueError(f"{name} must be an int, not {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    if value > high:
        raise ValueError(f"{name} must be at most {high}, got {value}")
    return value


def _check_tariffs(tariffs_h: object) -> tuple[int, ...]:
    if not isinstance(tariffs_h, (tuple, list)):
        raise ValueError(f"tariffs_h must be a tuple or list of hours, not {type(tariffs_h).__name__}")
    if not tariffs_h:
        raise ValueError("tariffs_h must name at least one tariff")
    if len(tariffs_h) > MAX_TARIFFS:
        raise ValueError(f"tariffs_h may name at most {MAX_TARIFFS} tariffs, got {len(tariffs_h)}")
    for tariff_h in tariffs_h:
        _check_int("a tariff (hours a month)", tariff_h, 1, MAX_TARIFF_H)
    if len(set(tariffs_h)) != len(tariffs_h):
        raise ValueError(f"tariffs_h has a duplicate tariff: {list(tariffs_h)}")
    return tuple(tariffs_h)


def _limits(items: Sequence[AssessedOption]) -> str:
    """Which hard limits exclude any of `items`: a LIMIT_CODES value."""
    budget = any(a.over_budget for a in items)
    contact = any(a.needs_more_contact for a in items)
    if budget and contact:
        return "budget_and_contact"
    return "budget" if budget else "contact" if contact else "none"


def recommend(plan_s: int, hour_price_minor: int, *, months_wanted: int | None = None,
              monthly_budget_minor: int | None = None, meetings_per_month: int | None = None,
              tariffs_h: Sequence[int] = TARIFFS_H) -> Recommendation:
    """Assess every tariff for a plan of `plan_s` seconds and pick one.

    Inputs (ints only; bool is not an int here): plan_s ≥ 0 and at most
    MAX_PLAN_S (100,000 h); hour_price_minor ≥ 0; months_wanted ≥ 1 (the
    plan should be done within that many months), monthly_budget_minor ≥ 0
    (the most the client can pay a month), meetings_per_month ≥ 1 (how many
    contacts a month the client can give), each None when the client
    states no limit; tariffs_h: 1..20 distinct tariffs of 1..744 h a month,
    in any order (custom lists such as (10, 200) work the same way).
    Anything else raises ValueError with a message saying what is wrong.

    The decision, in this order:

    1. A plan of 0 h needs nothing: no tariff is recommended.
    2. The budget is a hard limit: a tariff whose monthly payment exceeds
       monthly_budget_minor is out. The seed: when spending is approved in
       advance «выбора нет» — only the tariff that fits the monthly payment
       can be taken. A price equal to the budget fits.
    3. Contact is a hard limit: a tariff needing more contacts a month than
       meetings_per_month is out (the rule: `meetings_needed`, one contact
       per started 20 h of work a month). Without contact the hours are
       not used and burn (the seed's warning), so a tariff the client
       cannot keep busy is money lost, not a slower plan.
       Budget comes before contact only in what is reported when nothing
       fits: a budget below every tariff is reported as that, whatever the
       contact.
    4. Among the allowed tariffs, those that finish within months_wanted
       (all of them when it is None): the one with the fewest spare hours
       (bought but not needed by the plan, they burn unless new tasks are
       added). On a tie: without months_wanted the fewer months (the sooner
       done); with months_wanted the smaller monthly payment — the client
       said that pace is enough, so a bigger package would only cost more a
       month and need more meetings (160 h within 4 months: 4 × 40, not
       2 × 80). Urgency is a wish, budget and contact are facts, so urgency
       only chooses among what the facts allow; spare hours are money paid
       for nothing, so they decide next.
    5. When no allowed tariff finishes within months_wanted, the fastest
       allowed one (fewest months, then fewest spare hours) is recommended
       and the reason says the wish is not met and what prevents it.
    6. When no tariff fits the budget, or none within the budget fits the
       contact, nothing is recommended and the reason says by how much.

    Reason codes (REASON_CODES) and their reason_args:

    - "nothing_needed": the plan is 0 h, nothing to buy. Args: {}.
    - "no_tariff_fits_budget": every tariff's monthly price is above the
      budget; nothing recommended. Args: tariff_h, monthly_price_minor (the
      cheapest tariff's), monthly_budget_minor, shortfall_minor (price −
      budget).
    - "no_tariff_fits_contact": some tariffs fit the budget but each of
      them needs more contacts a month than the client can give; nothing
      recommended. Args: tariff_h and meetings_needed (the least demanding
      tariff within the budget), meetings_per_month, excluded_by.
    - "least_spare": no months_wanted; recommended the allowed tariff with
      the fewest spare hours, ties to fewer months.
    - "urgency_met": recommended the allowed tariff that finishes within
      months_wanted with the fewest spare hours, ties to fewer months.
      Extra args: months_wanted.
    - "urgency_unmet": no allowed tariff finishes within months_wanted;
      recommended the fastest allowed one. Extra args: months_wanted,
      limited_by: "tariffs" (even the largest tariff needs more months),
      or "budget" / "contact" / "budget_and_contact" (a tariff fast enough
      exists but these limits exclude it).

    The three recommending codes carry: tariff_h, months,
    monthly_price_minor, total_price_minor, spare_s, meetings_needed (of
    the recommended tariff), allowed_count (how many tariffs pass budget
    and contact; 1 is the seed's «выбора нет») and excluded_by: "none",
    "budget", "contact" or "budget_and_contact" — which limits excluded any
    tariff at all, so the page can say "within your budget".

    Per-option flags (AssessedOption, ISSUE_CODES): "over_budget",
    "needs_more_contact", "too_slow", "spare_would_burn".
    """
    _check_int("plan_s (the plan, in seconds)", plan_s, 0, MAX_PLAN_S)
    _check_int("hour_price_minor (the price of an hour, in kopecks)", hour_price_minor, 0, MAX_HOUR_PRICE_MINOR)
    if months_wanted is not None:
        _check_int("months_wanted", months_wanted, 1, MAX_MONTHS_WANTED)
    if monthly_budget_minor is not None:
        _check_int("monthly_budget_minor (kopecks a month)", monthly_budget_minor, 0, MAX_MONTHLY_BUDGET_MINOR)
    if meetings_per_month is not None:
        _check_int("meetings_per_month", meetings_per_month, 1, MAX_MEETINGS_PER_MONTH)
    tariffs = _check_tariffs(tariffs_h)

    needed = plan_s > 0
    assessed = []
    for option in tariff_options(plan_s, hour_price_minor, tariffs):
        meetings = meetings_needed(option.tariff_h, plan_s)
        assessed.append(AssessedOption(
            option=option,
            meetings_needed=meetings,
            over_budget=needed and monthly_budget_minor is not None
            and option.monthly_price_minor > monthly_budget_minor,
            needs_more_contact=needed and meetings_per_month is not None and meetings > meetings_per_month,
            too_slow=needed and months_wanted is not None and option.months > months_wanted,
            spare_would_burn=option.spare_s > 0,
        ))
    options = tuple(assessed)

    if not needed:
        return Recommendation(options, None, "nothing_needed", {})

    in_budget = [a for a in options if not a.over_budget]
    if not in_budget:
        cheapest = min(options, key=lambda a: (a.option.monthly_price_minor, a.option.tariff_h))
        assert monthly_budget_minor is not None
        return Recommendation(options, None, "no_tariff_fits_budget", {
            "tariff_h": cheapest.option.tariff_h,
            "monthly_price_minor": cheapest.option.monthly_price_minor,
            "monthly_budget_minor": monthly_budget_minor,
            "shortfall_minor": cheapest.option.monthly_price_minor - monthly_budget_minor,
        })

    allowed = [a for a in options if a.allowed]
    if not allowed:
        easiest = min(in_budget, key=lambda a: (a.meetings_needed, a.option.tariff_h))
        assert meetings_per_month is not None
        return Recommendation(options, None, "no_tariff_fits_contact", {
            "tariff_h": easiest.option.tariff_h,
            "meetings_needed": easiest.meetings_needed,
            "meetings_per_month": meetings_per_month,
            "excluded_by": _limits(options),
        })

    fast_enough = [a for a in allowed if a.meets_urgency]
    if fast_enough:
        if months_wanted is None:
            chosen = min(fast_enough, key=lambda a: (a.option.spare_s, a.option.months))
        else:
            # The client named a pace: among tariffs that keep it, the smaller
            # monthly payment (and fewer meetings) wins a tie in burned hours.
            chosen = min(fast_enough, key=lambda a: (a.option.spare_s, a.option.monthly_price_minor,
                                                     a.option.months))
        reason = "least_spare" if months_wanted is None else "urgency_met"
        extra: dict[str, int | str] = {} if months_wanted is None else {"months_wanted": months_wanted}
    else:
        assert months_wanted is not None
        chosen = min(allowed, key=lambda a: (a.option.months, a.option.spare_s))
        reason = "urgency_unmet"
        fast_any = [a for a in options if a.meets_urgency]
        extra = {"months_wanted": months_wanted, "limited_by": _limits(fast_any) if fast_any else "tariffs"}

    option = chosen.option
    args: dict[str, int | str] = {
        "tariff_h": option.tariff_h,
        "months": option.months,
        "monthly_price_minor": option.monthly_price_minor,
        "total_price_minor": option.total_price_minor,
        "spare_s": option.spare_s,
        "meetings_needed": chosen.meetings_needed,
        "allowed_count": len(allowed),
        "excluded_by": _limits(options),
        **extra,
    }
    return Recommendation(options, option, reason, args)
