"""What a client sees about one account, in one read: the current period's
hours (allocated, used, left or overdrawn), when they burn and what would
burn at the current pace, the tasks worked on, the directions of the plan,
the months before and, for projects, the stages.

Everything is integer seconds and dates in the portal's time zone; the
pages and reports format it. Read-only: it never opens a period (a page
view must not write), so it works on a read-only session.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from . import calendar as cal
from .balance import PeriodBalance, find_period, period_balance
from .db import utcnow
from .models import Account, Contract, Period, PeriodTotals, Portal, Stage, Task, TeamMember, TimeEntry
from .postings import TOTAL_COLUMNS
from .usage import DirectionUsage, direction_usage

# Bitrix24 task statuses: 4 "supposedly completed" (waiting for the creator's
# check) and 5 "completed" are work done; the rest is in progress or waiting.
DONE_STATUSES = (4, 5)
# Before this much of the period has passed, a pace says little: the first
# morning of a month with one hour logged would "burn" thirty.
MIN_PACE_S = 3 * 86400
# The warning about burning hours shows in the last days of a period only;
# earlier the forecast line says the same thing quietly.
WARN_DAYS = 10
HISTORY_PERIODS = 12
MAX_FORECAST_S = 10 * 366 * 86400


@dataclass(frozen=True)
class TaskLine:
    task_id: int
    title: str
    done: bool
    period_s: int  # counted in this period
    total_s: int  # counted in every period
    responsible_id: int | None
    last_work_at: datetime | None


@dataclass(frozen=True)
class MonthLine:
    period_id: int
    label: str
    kind: str
    status: str
    position: int | None  # the stage's number, for a stage
    allocated_s: int  # allocation + stage budget + carried in + adjustments − overage deducted
    used_s: int
    burned_s: int
    carried_s: int
    overage_s: int


@dataclass(frozen=True)
class StageLine:
    stage_id: int
    position: int
    name: str
    budget_s: int
    spent_s: int
    price_minor: int
    paid: bool
    state: str  # "done", "current", "next"


@dataclass(frozen=True)
class Forecast:
    """At the pace of the period so far (seconds used per second elapsed).

    kind: "early" (too soon to tell), "idle" (nothing used yet), "left" (at
    period end `left_s` remain, of which `burn_s` would burn and `carry_s`
    carry over), "runs_out" (the hours end on `runs_out_on`, before the
    period does), "overdrawn" (already used more than allocated), "open_end"
    (a project without an end date; `runs_out_on` when the pace says so)."""

    kind: str
    runs_out_on: date | None = None
    left_s: int = 0
    burn_s: int = 0
    carry_s: int = 0


@dataclass(frozen=True)
class Summary:
    account_id: int
    name: str
    language: str
    time_zone: str
    now: datetime
    contract_kind: str | None
    currency: str | None
    balance: PeriodBalance | None
    allocated_s: int
    used_s: int
    left_s: int
    overage_s: int
    period_first_day: date | None
    period_last_day: date | None  # the burn date of a month; None for projects
    days_left: int | None  # counting today
    expiry_policy: str | None
    forecast: Forecast
    warn_burn: bool
    tasks: list[TaskLine] = field(default_factory=list)
    directions: list[DirectionUsage] = field(default_factory=list)
    history: list[MonthLine] = field(default_factory=list)
    stages: list[StageLine] = field(default_factory=list)
    others_s: int = 0  # logged by people outside the team this period: shown, never debited
    others_users: int = 0

    @property
    def used_permille(self) -> int:
        """Used share of the allocation in thousandths, for bars; 1000 at or above full."""
        if self.allocated_s <= 0:
            return 1000 if self.used_s > 0 else 0
        return min(1000, self.used_s * 1000 // self.allocated_s)

    def as_dict(self) -> dict:
        """The cabinet's JSON: integer seconds, ISO dates."""
        def iso(value: date | datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "account": {"id": self.account_id, "name": self.name, "language": self.language},
            "time_zone": self.time_zone,
            "generated_at": iso(self.now),
            "contract": self.contract_kind,
            "period": None if self.balance is None else {
                "label": self.balance.label, "kind": self.balance.kind, "status": self.balance.status,
                "first_day": iso(self.period_first_day), "last_day": iso(self.period_last_day),
                "days_left": self.days_left, "expiry_policy": self.expiry_policy,
                **self.balance.terms.as_dict(),
            },
            "allocated_s": self.allocated_s, "used_s": self.used_s, "left_s": self.left_s,
            "overage_s": self.overage_s,
            "forecast": {"kind": self.forecast.kind, "runs_out_on": iso(self.forecast.runs_out_on),
                         "left_s": self.forecast.left_s, "burn_s": self.forecast.burn_s,
                         "carry_s": self.forecast.carry_s, "warning": self.warn_burn},
            "tasks": [{"id": t.task_id, "title": t.title, "done": t.done, "period_s": t.period_s,
                       "total_s": t.total_s} for t in self.tasks],
            "directions": [{"id": d.direction_id, "name": d.name, "planned_s": d.planned_s, "spent_s": d.spent_s,
                            "period_s": d.period_s} for d in self.directions],
            "history": [{"period": m.label, "status": m.status, "allocated_s": m.allocated_s, "used_s": m.used_s,
                         "burned_s": m.burned_s, "carried_s": m.carried_s, "overage_s": m.overage_s}
                        for m in self.history],
            "stages": [{"id": s.stage_id, "position": s.position, "name": s.name, "budget_s": s.budget_s,
                        "spent_s": s.spent_s, "paid": s.paid, "state": s.state} for s in self.stages],
            "others_s": self.others_s,
        }


def _shown_period(session: Session, account_id: int, now: datetime) -> Period | None:
    """The period containing now; else the latest open one (a project
    stage); else the latest of all (a finished contract)."""
    found = find_period(session, account_id, now)
    if found is not None:
        return found
    for condition in (Period.status == "open", None):
        stmt = select(Period).where(Period.account_id == account_id)
        if condition is not None:
            stmt = stmt.where(condition)
        found = session.execute(stmt.order_by(Period.starts_at.desc()).limit(1)).scalar_one_or_none()
        if found is not None:
            return found
    return None


def forecast(used_s: int, allocated_s: int, starts_at: datetime, ends_at: datetime | None, now: datetime,
             tz: str, carry_cap_s: int | None = None, rollover: bool = False) -> Forecast:
    """Project the period's use to its end at the pace so far, in integers."""
    if used_s > allocated_s:
        return Forecast("overdrawn")
    elapsed_s = int((min(now, ends_at or now) - starts_at).total_seconds())
    if used_s <= 0:
        # Nothing used, or less than nothing: corrections for a closed month
        # (a record deleted there) give hours back in this one. No pace.
        left_s = allocated_s - used_s
        return Forecast("idle" if ends_at is None or elapsed_s >= MIN_PACE_S else "early",
                        left_s=left_s, burn_s=0 if rollover else left_s)
    if elapsed_s < MIN_PACE_S:
        return Forecast("early")
    # The allocation is used up at this pace after elapsed × allocated / used.
    out_after_s = elapsed_s * allocated_s // used_s
    if ends_at is None:
        if out_after_s > MAX_FORECAST_S:
            return Forecast("open_end")  # a pace this slow names no date worth showing
        return Forecast("open_end", runs_out_on=cal.local_date(starts_at + timedelta(seconds=out_after_s), tz))
    total_s = int((ends_at - starts_at).total_seconds())
    if out_after_s < total_s:
        return Forecast("runs_out", runs_out_on=cal.local_date(starts_at + timedelta(seconds=out_after_s), tz))
    left_s = allocated_s - used_s * total_s // elapsed_s
    carry_s = 0
    if rollover:
        carry_s = left_s if carry_cap_s is None else min(left_s, carry_cap_s)
    return Forecast("left", left_s=left_s, burn_s=left_s - carry_s, carry_s=carry_s)


def _month_line(period: Period, totals: PeriodTotals, position: int | None = None) -> MonthLine:
    t = {kind: getattr(totals, column) for kind, column in TOTAL_COLUMNS.items()}
    allocated = (t["allocation"] + t["stage_budget"] + t["rollover_in"] + t["adjustment"]
                 + t["overage_deducted"])  # overage_deducted is stored negative
    overage = t["overage_billed"] + t["overage_carried"]
    return MonthLine(period.id, period.label, period.kind, period.status, position, allocated, -t["consumption"],
                     -t["expiry"], -t["rollover_out"], overage)


def _history(session: Session, account_id: int) -> list[MonthLine]:
    rows = session.execute(
        select(Period, PeriodTotals, Stage.position).join(PeriodTotals, PeriodTotals.period_id == Period.id)
        .outerjoin(Stage, Stage.id == Period.stage_id)
        .where(Period.account_id == account_id).order_by(Period.starts_at.desc()).limit(HISTORY_PERIODS)
    ).all()
    return [_month_line(p, t, position) for p, t, position in reversed(rows)]


def _tasks(session: Session, account: Account, period_id: int | None) -> list[TaskLine]:
    """Tasks with time counted this period, and tasks still open that had
    time counted before (in progress, though nobody logged this month)."""
    per_task: dict[int, list[int]] = {}
    last: dict[int, datetime] = {}
    this_period = func.sum(case((TimeEntry.period_id == period_id, TimeEntry.counted_s), else_=0)) \
        if period_id is not None else literal(0)
    for task_id, period_s, total_s, work_at in session.execute(
        select(TimeEntry.task_id, this_period, func.sum(TimeEntry.counted_s), func.max(TimeEntry.work_at))
        .where(TimeEntry.account_id == account.id, TimeEntry.counted_s > 0)
        .group_by(TimeEntry.task_id)
    ).all():
        per_task[task_id] = [int(period_s or 0), int(total_s)]
        last[task_id] = work_at
    if not per_task:
        return []
    meta = {t.task_id: t for t in session.execute(select(Task).where(
        Task.portal_id == account.portal_id, Task.task_id.in_(list(per_task)))).scalars()}
    lines = []
    for task_id, (period_s, total_s) in per_task.items():
        task = meta.get(task_id)
        done = task is not None and task.status in DONE_STATUSES
        if period_s == 0 and done:
            continue  # finished in an earlier period: history, not this month's list
        lines.append(TaskLine(task_id, task.title if task and task.title else f"#{task_id}", done, period_s,
                              total_s, task.responsible_id if task else None, last.get(task_id)))
    # In progress first, then done; most time this period first.
    lines.sort(key=lambda t: (t.done, -t.period_s, -t.total_s, t.task_id))
    return lines


def _stages(session: Session, contract: Contract) -> list[StageLine]:
    """Each stage with the work done in it: counted by the stage the work
    was dated in, so a record synced after its stage closed (posted into
    the current stage as a correction, rule 5) still shows where it was done."""
    rows = session.execute(
        select(Stage, Period).outerjoin(Period, Period.stage_id == Stage.id)
        .where(Stage.contract_id == contract.id).order_by(Stage.position)
    ).all()
    period_ids = [p.id for _, p in rows if p is not None]
    spent: dict[int, int] = {}
    if period_ids:
        spent = {pid: int(total) for pid, total in session.execute(
            select(TimeEntry.period_id, func.sum(TimeEntry.counted_s))
            .where(TimeEntry.period_id.in_(period_ids)).group_by(TimeEntry.period_id)).all()}
    lines = []
    for stage, period in rows:
        state = "next" if period is None else ("current" if period.status == "open" else "done")
        lines.append(StageLine(stage.id, stage.position, stage.name, stage.budget_s,
                               spent.get(period.id, 0) if period is not None else 0, stage.price_minor,
                               stage.paid, state))
    return lines


def _others(session: Session, account_id: int, period_id: int) -> tuple[int, int]:
    row = session.execute(
        select(func.coalesce(func.sum(TimeEntry.duration_s), 0), func.count(func.distinct(TimeEntry.user_id)))
        .where(TimeEntry.account_id == account_id, TimeEntry.period_id == period_id,
               TimeEntry.state == "not_team")
    ).one()
    return int(row[0]), int(row[1])


def summarize(session: Session, account_id: int, now: datetime | None = None) -> Summary | None:
    """The account's summary now, or None for an unknown account."""
    now = now or utcnow()
    account = session.get(Account, account_id)
    if account is None:
        return None
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    tz = portal.time_zone
    period = _shown_period(session, account.id, now)
    directions = direction_usage(session, account.portal_id, account.id, period.id if period else None)
    history = _history(session, account.id)
    tasks = _tasks(session, account, period.id if period else None)
    if period is None:
        return Summary(account.id, account.name, account.language, tz, now, None, None, None, 0, 0, 0, 0,
                       None, None, None, None, Forecast("early"), False, tasks, directions, history)
    contract = session.get(Contract, period.contract_id)
    assert contract is not None
    current = period_balance(session, period)
    terms = current.terms
    allocated = (terms.allocation_s + terms.stage_budget_s + terms.rollover_in_s + terms.adjustment_s
                 - terms.overage_deducted_s)
    used = terms.consumption_s
    first_day = cal.local_date(period.starts_at, tz)
    last_day = cal.local_date(period.ends_at - timedelta(microseconds=1), tz) if period.ends_at else None
    days_left = None
    if last_day is not None:
        days_left = max(0, (last_day - cal.local_date(now, tz)).days + 1)
    if period.status == "open":
        outlook = forecast(used, allocated, period.starts_at, period.ends_at, now, tz,
                           contract.rollover_cap_s, contract.expiry_policy == "rollover")
    else:
        outlook = Forecast("overdrawn" if terms.overage_s else "left", left_s=0)
    warn = (outlook.kind == "left" and outlook.burn_s > 0 and days_left is not None and days_left <= WARN_DAYS)
    stages = _stages(session, contract) if contract.kind == "staged" else []
    others_s, others_users = _others(session, account.id, period.id)
    return Summary(
        account.id, account.name, account.language, tz, now, contract.kind, contract.currency, current,
        allocated, used, terms.remaining_s, terms.overage_s, first_day,
        last_day if period.kind == "month" else None, days_left if period.kind == "month" else None,
        contract.expiry_policy, outlook, warn, tasks, directions, history, stages, others_s, others_users,
    )


def team_names(session: Session, portal_id: int) -> dict[int, str]:
    """User id → the name the manager gave the team member (for reports and lists)."""
    return {m.user_id: m.name for m in session.execute(
        select(TeamMember).where(TeamMember.portal_id == portal_id)).scalars() if m.name}
