"""The implementation advisor (seed 2, issue 16): pay for a project all at
once, or in 2–5 stages? Pure functions, integers only (seconds, minor
units, whole days), beside the tariff calculator (ledger.plan).

The seed's trade-off, as numbers:
- upfront: «нужны деньги, много денег сразу», but the project does not
  stretch and the whole scope is agreed at once;
- staged: money a stage at a time and something working after each stage,
  but «проект ... может растянуться на очень долгий срок» (every stage
  waits for the next payment and for the integrator's queue), and in
  exchange «относительно легкая смена подрядчика» after any stage.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from . import calendar as cal
from .plan import MAX_PLAN_S

HOUR_S = 3600
STAGE_COUNTS = (2, 3, 4, 5)
# Between two stages the client pays and accepts and the integrator takes
# the next stage from its queue: the seed's «поставит следующий этап работ
# в очередь». Two weeks is a default the manager changes on the page.
DEFAULT_GAP_DAYS = 14
MAX_GAP_DAYS = 365
MAX_PRICE_MINOR = 10**12  # 10,000,000,000 ₽: more is a typo
MAX_PACE_S = 168 * HOUR_S  # every hour of a week
MAX_ITEMS = 300
MAX_DAYS = 100 * 366

REASON_CODES = (
    "upfront_affordable",  # the money is there: the project does not stretch
    "upfront_urgent",  # the money is there and only upfront is in time
    "staged_budget",  # no money for all at once: the fewest stages within the budget
    "staged_leave_easily",  # a new contractor: the smallest first step, within the date
    "deadline_unmet",  # nothing within the budget is in time: the fastest that is
    "no_option_fits_budget",  # even five stages ask more a month than the budget
)


@dataclass(frozen=True)
class Item:
    title: str
    planned_s: int


@dataclass(frozen=True)
class StagePlan:
    position: int
    planned_s: int
    price_minor: int
    pay_on: date  # paid before the stage begins
    starts_on: date
    ends_on: date  # the last working day
    items: tuple[str, ...]  # what works after this stage (in the scope's order; "" for a part of hours)


@dataclass(frozen=True)
class Option:
    stages_n: int  # 1 for upfront
    stages: tuple[StagePlan, ...]
    total_minor: int
    finish_on: date
    months: tuple[tuple[date, int], ...]  # (first day of a month, paid that month), months with a payment
    first_working_on: date  # when the client first has something working

    @property
    def kind(self) -> str:
        return "upfront" if self.stages_n == 1 else "staged"

    @property
    def max_month_minor(self) -> int:
        return max((m for _, m in self.months), default=0)

    @property
    def first_payment_minor(self) -> int:
        return self.stages[0].price_minor if self.stages else 0


@dataclass(frozen=True)
class Advice:
    options: tuple[Option, ...]  # upfront first, then 2..5 stages
    recommended: Option | None
    reason: str  # one of REASON_CODES
    reason_args: dict[str, int | str] = field(default_factory=dict)
    affordable: tuple[bool, ...] = ()  # per option: its largest month within the budget
    in_time: tuple[bool, ...] = ()  # per option: done by the wanted date


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if type(value) is not int:
        raise ValueError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


HOURS_ONLY_PARTS = 60  # divisible by every stage count 2-5: equal stages


def hours_only(total_s: int) -> list[Item]:
    """A scope known only by its hours, as HOURS_ONLY_PARTS equal untitled
    parts (the last takes the remainder), so that every stage count splits
    it evenly. Nothing named works after a stage, only its share of hours."""
    _check_int("the scope's hours", total_s, 1, MAX_PLAN_S)
    part = total_s // HOURS_ONLY_PARTS
    return [Item("", part)] * (HOURS_ONLY_PARTS - 1) + [Item("", total_s - part * (HOURS_ONLY_PARTS - 1))]


def split(items: Sequence[Item], n: int) -> list[list[Item]]:
    """The scope in its order cut into n stages of about equal hours: an
    item goes to the stage its middle hour falls in, so no item is split;
    then the cuts move just enough that no stage is empty (n is at most the
    number of items)."""
    total = sum(i.planned_s for i in items)
    done = 0
    stage_of = []
    for index, item in enumerate(items):
        stage_of.append(min(n - 1, (2 * done + item.planned_s) * n // (2 * total)) if total
                        else index * n // len(items))
        done += item.planned_s
    # cuts[k]: how many items lie in stages before k (cuts[0] = 0, cuts[n] = all)
    cuts = [sum(1 for s in stage_of if s < k) for k in range(n + 1)]
    for k in range(1, n):
        cuts[k] = max(cuts[k], cuts[k - 1] + 1)
    for k in range(n - 1, 0, -1):
        cuts[k] = min(cuts[k], cuts[k + 1] - 1)
    return [list(items[cuts[k]:cuts[k + 1]]) for k in range(n)]


def _work_days(planned_s: int, pace_week_s: int) -> int:
    """Calendar days for this much work at this many hours a week, at least one."""
    return max(1, -(-planned_s * 7 // pace_week_s))


def option(items: Sequence[Item], price_minor: int, pace_week_s: int, start: date, n: int,
           gap_days: int) -> Option:
    """The project paid in n stages (1: upfront). Each stage's price is the
    price's share by hours, the last one taking what rounding left, so the
    stages sum to the price exactly."""
    total_s = sum(i.planned_s for i in items)
    parts = split(items, n) if n > 1 else [list(items)]
    plans = []
    paid = 0
    day = start
    for position, part in enumerate(parts, start=1):
        hours = sum(i.planned_s for i in part)
        price = (price_minor - paid if position == len(parts)
                 else (price_minor * hours // total_s if total_s else price_minor // len(parts)))
        paid += price
        ends = day + timedelta(days=_work_days(hours, pace_week_s) - 1)
        plans.append(StagePlan(position, hours, price, day, day, ends, tuple(i.title for i in part)))
        day = ends + timedelta(days=1 + gap_days)
    months: dict[date, int] = {}
    for st in plans:
        key = cal.month_start(st.pay_on)
        months[key] = months.get(key, 0) + st.price_minor
    return Option(n, tuple(plans), price_minor, plans[-1].ends_on, tuple(sorted(months.items())),
                  plans[0].ends_on)


def advise(items: Sequence[Item], price_minor: int, pace_week_s: int, start: date, *,
           monthly_budget_minor: int | None = None, wanted_by: date | None = None,
           new_contractor: bool = False, gap_days: int = DEFAULT_GAP_DAYS) -> Advice:
    """Compare paying upfront with 2–5 stages and recommend one.

    Inputs: the scope's items in order (at least one, planned seconds each,
    0..MAX_PLAN_S in total and more than 0), the project's price in minor
    units, the pace the integrator can give in seconds of work a week, the
    start day; the client's monthly budget (None: no limit), the day it
    must be working by (None: no hurry), whether the integrator is new to
    the client, and the days lost between stages. Anything else raises
    ValueError. Stage counts above the number of items are left out (a
    stage needs something to deliver).

    The decision, in this order (the seed's terms):
    1. An option is affordable when its largest monthly payment fits the
       budget, and in time when it finishes by `wanted_by`. Budget and date
       are the client's facts; what the seed weighs comes after.
    2. A new contractor: the staged option with the most stages that is
       affordable and in time (the smallest first step to leave after:
       «может смело уходить после выполнения первого этапа»).
    3. Upfront when affordable and in time: the money is there, so the
       project does not stretch and everything is agreed at once
       ("upfront_urgent" when nothing staged is in time).
    4. Otherwise the staged option with the fewest stages that is
       affordable and in time: the shortest of the long projects.
    5. Nothing affordable in time: the fastest affordable ("deadline_unmet").
    6. Nothing affordable: none ("no_option_fits_budget"), with the smallest
       monthly payment any option asks.
    """
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError("a scope needs at least one item")
    if len(items) > MAX_ITEMS:
        raise ValueError(f"a scope holds at most {MAX_ITEMS} items")
    for item in items:
        if not isinstance(item, Item) or not isinstance(item.title, str):
            raise ValueError("scope items are Item(title, planned_s)")
        _check_int("an item's planned_s", item.planned_s, 0, MAX_PLAN_S)
    total_s = _check_int("the scope's hours", sum(i.planned_s for i in items), 1, MAX_PLAN_S)
    _check_int("price_minor", price_minor, 0, MAX_PRICE_MINOR)
    _check_int("pace_week_s", pace_week_s, 1, MAX_PACE_S)
    _check_int("gap_days", gap_days, 0, MAX_GAP_DAYS)
    if monthly_budget_minor is not None:
        _check_int("monthly_budget_minor", monthly_budget_minor, 0, MAX_PRICE_MINOR)
    if not isinstance(start, date) or (wanted_by is not None and not isinstance(wanted_by, date)):
        raise ValueError("start and wanted_by are dates")
    if type(new_contractor) is not bool:
        raise ValueError("new_contractor is True or False")
    if _work_days(total_s, pace_week_s) + gap_days * 4 > MAX_DAYS:
        raise ValueError("at this pace the project takes more than a hundred years")

    counts = (1,) + tuple(n for n in STAGE_COUNTS if n <= len(items))
    options = tuple(option(items, price_minor, pace_week_s, start, n, gap_days) for n in counts)
    affordable = tuple(monthly_budget_minor is None or o.max_month_minor <= monthly_budget_minor for o in options)
    in_time = tuple(wanted_by is None or o.finish_on <= wanted_by for o in options)
    ok = [o for o, a, t in zip(options, affordable, in_time) if a and t]
    upfront = options[0]
    staged_ok = [o for o in ok if o.stages_n > 1]

    def args(o: Option, **extra: int | str) -> dict[str, int | str]:
        return {"stages_n": o.stages_n, "total_minor": o.total_minor, "max_month_minor": o.max_month_minor,
                "first_payment_minor": o.first_payment_minor, "finish_on": o.finish_on.isoformat(),
                "days_longer": (o.finish_on - upfront.finish_on).days,
                "upfront_minor": upfront.max_month_minor, **extra}

    budget_args: dict[str, int | str] = {} if monthly_budget_minor is None else {
        "monthly_budget_minor": monthly_budget_minor}
    if new_contractor and staged_ok:
        chosen = max(staged_ok, key=lambda o: o.stages_n)
        return Advice(options, chosen, "staged_leave_easily", args(chosen, **budget_args), affordable, in_time)
    if upfront in ok:
        reason = "upfront_urgent" if not staged_ok and len(options) > 1 else "upfront_affordable"
        return Advice(options, upfront, reason, args(upfront, **budget_args), affordable, in_time)
    if staged_ok:
        chosen = min(staged_ok, key=lambda o: o.stages_n)
        return Advice(options, chosen, "staged_budget", args(chosen, **budget_args), affordable, in_time)
    within = [o for o, a in zip(options, affordable) if a]
    if within:
        chosen = min(within, key=lambda o: (o.finish_on, o.stages_n))
        assert wanted_by is not None
        return Advice(options, chosen, "deadline_unmet",
                      args(chosen, wanted_by=wanted_by.isoformat(), late_days=(chosen.finish_on - wanted_by).days,
                           **budget_args), affordable, in_time)
    assert monthly_budget_minor is not None
    least = min(options, key=lambda o: (o.max_month_minor, o.stages_n))
    return Advice(options, None, "no_option_fits_budget",
                  {"stages_n": least.stages_n, "max_month_minor": least.max_month_minor,
                   "monthly_budget_minor": monthly_budget_minor,
                   "shortfall_minor": least.max_month_minor - monthly_budget_minor}, affordable, in_time)
