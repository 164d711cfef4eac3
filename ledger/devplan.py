"""The development plan («план развития»): directions, each with concrete
tasks and planned hours, in the client's order of priority.

A plan item is a portal task or a planned item not yet created in the
portal. Its `position` is the client's priority over the whole account's
plan (1 first). Nothing here moves hours: the plan says what is wanted and
in which order; the ledger says what was spent.

Three parts:
- settings (`add_item`, `update_item`, `remove_item`, `reorder`,
  `set_item_state`), audited like every other setting;
- `forecast_months`, pure and integer-only: at a tariff and pace, in which
  month each item is done;
- `plan_status`, read-only: each direction and item with planned, spent,
  left, status, priority and the expected finish month.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import calendar as cal
from .contracts import LedgerError, _row, audit
from .db import utcnow
from .entries import task_may_count_for
from .models import PLAN_ITEM_STATES, Account, Direction, PlanItem, Portal, Task, TimeEntry
from .plan import MAX_PLAN_S, Recommendation, recommend
from .usage import mirrored_tasks, task_matches

MAX_TITLE = 500
MAX_ITEMS = 500  # a plan is read at the weekly call; beyond this it is a backlog, not a plan
MAX_FORECAST_MONTHS = 1200  # as plan.MAX_MONTHS_WANTED: a hundred years
ITEM_FIELDS = ("id", "direction_id", "task_id", "title", "planned_s", "position", "state", "paused_at")


# ---------------------------------------------------------------- settings


def _direction_of(session: Session, account: Account, direction_id: object) -> Direction:
    direction = session.get(Direction, direction_id) if type(direction_id) is int else None
    if direction is None or direction.account_id != account.id:
        raise LedgerError("no such direction for this account")
    return direction


def _check_item(task_id: object, title: object, planned_s: object) -> tuple[int | None, str]:
    if task_id is not None and (type(task_id) is not int or task_id <= 0):
        raise LedgerError("a task is given by its number")
    if not isinstance(title, str):
        raise LedgerError("a plan item needs a task or a title")
    title = title.strip()
    if len(title) > MAX_TITLE:
        raise LedgerError("a title is at most %(n)s characters", n=MAX_TITLE)
    if task_id is None and not title:
        raise LedgerError("a plan item needs a task or a title")
    if type(planned_s) is not int or planned_s < 0:
        raise LedgerError("planned hours must not be negative")
    if planned_s > MAX_PLAN_S:
        raise LedgerError("a plan item holds at most %(hours)s hours", hours=MAX_PLAN_S // 3600)
    return task_id, title


def _task_in_plan(session: Session, account: Account, task_id: int | None, but: int | None = None) -> None:
    """A task is in one account's plan once, and never in another account's
    plan when our mirror places it there. A task not mirrored yet (created
    in the portal a minute ago) is taken on the manager's word."""
    if task_id is None:
        return
    if not task_may_count_for(session, account, task_id):
        raise LedgerError("no such task for this account")
    found = session.execute(select(PlanItem.id).where(
        PlanItem.account_id == account.id, PlanItem.task_id == task_id)).scalar_one_or_none()
    if found is not None and found != but:
        raise LedgerError("task %(task_id)s is already in the plan", task_id=task_id)


def items(session: Session, account_id: int) -> list[PlanItem]:
    """The account's plan items in the client's order."""
    return list(session.execute(select(PlanItem).where(PlanItem.account_id == account_id)
                                .order_by(PlanItem.position, PlanItem.id)).scalars())


def add_item(session: Session, account: Account, *, direction_id: int, planned_s: int, task_id: int | None = None,
             title: str = "", actor: str, now: datetime | None = None) -> PlanItem:
    """A new item at the end of the plan (the lowest priority)."""
    direction = _direction_of(session, account, direction_id)
    task_id, title = _check_item(task_id, title, planned_s)
    _task_in_plan(session, account, task_id)
    count, last = session.execute(select(func.count(), func.max(PlanItem.position))
                                  .where(PlanItem.account_id == account.id)).one()
    if count >= MAX_ITEMS:
        raise LedgerError("a plan holds at most %(n)s items", n=MAX_ITEMS)
    item = PlanItem(account_id=account.id, direction_id=direction.id, task_id=task_id, title=title,
                    planned_s=planned_s, position=(last or 0) + 1, state="planned", created_at=now or utcnow())
    session.add(item)
    session.flush()
    audit(session, actor, "plan.add", portal_id=account.portal_id, account_id=account.id,
          after=_row(item, *ITEM_FIELDS), now=now)
    return item


def update_item(session: Session, item: PlanItem, *, direction_id: int, planned_s: int, task_id: int | None,
                title: str, actor: str, now: datetime | None = None) -> None:
    account = session.get(Account, item.account_id)
    assert account is not None
    direction = _direction_of(session, account, direction_id)
    task_id, title = _check_item(task_id, title, planned_s)
    _task_in_plan(session, account, task_id, but=item.id)
    before = _row(item, *ITEM_FIELDS)
    item.direction_id, item.task_id, item.title, item.planned_s = direction.id, task_id, title, planned_s
    session.flush()
    audit(session, actor, "plan.update", portal_id=account.portal_id, account_id=account.id,
          before=before, after=_row(item, *ITEM_FIELDS), now=now)


def remove_item(session: Session, item: PlanItem, *, actor: str, now: datetime | None = None) -> None:
    """The item leaves the plan; the hours spent on its task stay where they
    were counted, and requests that named it keep its number."""
    account = session.get(Account, item.account_id)
    assert account is not None
    audit(session, actor, "plan.remove", portal_id=account.portal_id, account_id=account.id,
          before=_row(item, *ITEM_FIELDS), now=now)
    session.delete(item)
    session.flush()
    _renumber(items(session, account.id))


def _renumber(ordered: Sequence[PlanItem]) -> None:
    """Positions 1..n in the given order. The order is the point; gaps left by
    a removal would only make `first` arithmetic harder to read."""
    for n, item in enumerate(ordered, start=1):
        if item.position != n:
            item.position = n


def reorder(session: Session, account: Account, item_ids: Sequence[int], *, actor: str,
            now: datetime | None = None) -> None:
    """The client's order: `item_ids` names every item of the plan exactly once."""
    current = items(session, account.id)
    by_id = {i.id: i for i in current}
    if sorted(item_ids) != sorted(by_id) or len(set(item_ids)) != len(item_ids):
        raise LedgerError("a new order names every item of the plan once")
    before = [i.id for i in current]
    if list(item_ids) == before:
        return
    _renumber([by_id[i] for i in item_ids])
    session.flush()
    audit(session, actor, "plan.reorder", portal_id=account.portal_id, account_id=account.id,
          before={"order": before}, after={"order": list(item_ids)}, now=now)


def move_first(session: Session, account: Account, item_ids: Sequence[int], *, actor: str,
               now: datetime | None = None) -> None:
    """«Сделать в первую очередь»: these items go to the top, keeping their
    own order; the rest keep theirs below them."""
    current = items(session, account.id)
    wanted = set(item_ids)
    top = [i for i in current if i.id in wanted]
    if len(top) != len(wanted):
        raise LedgerError("no such plan item for this account")
    reorder(session, account, [i.id for i in top] + [i.id for i in current if i.id not in wanted],
            actor=actor, now=now)


def set_item_state(session: Session, item: PlanItem, state: str, *, actor: str, now: datetime | None = None) -> None:
    """planned → active → done, and paused from any but done. Pausing keeps
    the moment: time logged on the task after it is flagged
    (`paused_work`). Setting the same state again changes nothing."""
    now = now or utcnow()
    if state not in PLAN_ITEM_STATES:
        raise LedgerError("a plan item is planned, active, paused or done")
    if item.state == state:
        return
    if state == "paused" and item.state == "done":
        raise LedgerError("a finished item cannot be paused")
    account = session.get(Account, item.account_id)
    assert account is not None
    before = _row(item, "id", "state", "paused_at")
    item.state = state
    # The portal keeps a record's time to the second: the pause is kept at
    # the same precision, so time logged in the very second of the pause
    # is time after it (paused_work), not a microsecond before.
    item.paused_at = now.replace(microsecond=0) if state == "paused" else None
    session.flush()
    audit(session, actor, "plan.state", portal_id=account.portal_id, account_id=account.id,
          before=before, after=_row(item, "id", "state", "paused_at"), now=now)


# ---------------------------------------------------------------- the forecast (pure)


@dataclass(frozen=True)
class ForecastItem:
    key: int
    planned_s: int
    spent_s: int
    paused: bool = False


@dataclass(frozen=True)
class ItemFinish:
    key: int
    left_s: int  # planned − spent, never below zero
    month: int | None  # 0 = this month, 1 = next…; None while paused or beyond the horizon


@dataclass(frozen=True)
class MonthForecast:
    items: tuple[ItemFinish, ...]  # in priority order
    months: tuple[tuple[tuple[int, int], ...], ...]  # per month: (key, seconds of it worked that month)
    scheduled_s: int  # what `months` holds
    beyond_s: int  # unpaused hours left beyond the horizon (MAX_FORECAST_MONTHS)


def forecast_months(items: Sequence[ForecastItem], tariff_s: int, first_month_s: int | None = None) -> MonthForecast:
    """At this tariff and pace, which items are done in which month.

    The pace: each month's hours go to the plan's items in priority order,
    the first item's remaining hours first (the team works down the
    client's list). `first_month_s` is what is still free this month
    (default a whole tariff). A paused item gets no hours and no month; an
    item with nothing left is done in month 0. Integers only: seconds in,
    month indexes out. Totals are conserved: scheduled_s + beyond_s is
    every unpaused item's left hours. The months stop at a horizon of
    MAX_FORECAST_MONTHS, so a one-second tariff cannot make a page build a
    billion months.
    """
    if type(tariff_s) is not int or tariff_s <= 0:
        raise ValueError("a tariff is a positive number of seconds a month")
    first = tariff_s if first_month_s is None else first_month_s
    if type(first) is not int or first < 0:
        raise ValueError("the hours free this month are a non-negative number of seconds")
    finishes: list[ItemFinish] = []
    months: list[list[tuple[int, int]]] = []
    month, free, scheduled, beyond = 0, first, 0, 0
    for item in items:
        if type(item.planned_s) is not int or type(item.spent_s) is not int or item.planned_s < 0 \
                or item.spent_s < 0:
            raise ValueError("planned and spent are non-negative numbers of seconds")
        left = max(0, item.planned_s - item.spent_s)
        if item.paused:
            finishes.append(ItemFinish(item.key, left, None))
            continue
        need = left
        while need > 0 and month < MAX_FORECAST_MONTHS:
            if free == 0:
                month, free = month + 1, tariff_s
                continue
            while len(months) <= month:
                months.append([])
            take = min(need, free)
            months[month].append((item.key, take))
            need, free, scheduled = need - take, free - take, scheduled + take
        beyond += need
        finishes.append(ItemFinish(item.key, left, None if need else (month if left else 0)))
    return MonthForecast(tuple(finishes), tuple(tuple(m) for m in months), scheduled, beyond)


def month_of(start: date, index: int | None) -> date | None:
    """The first day of the month `index` months after `start`'s month."""
    return None if index is None else cal.add_months(cal.month_start(start), index)


# ---------------------------------------------------------------- what the views read


@dataclass(frozen=True)
class ItemStatus:
    item_id: int
    direction_id: int
    task_id: int | None
    title: str
    priority: int  # 1 first
    state: str  # planned, active, paused, done
    planned_s: int
    spent_s: int
    left_s: int
    over_s: int  # spent beyond the plan
    status: str  # "done", "paused", "over", "in_progress", "not_started"
    paused_at: datetime | None
    finish_month: date | None  # first day of the expected month; None unknown or paused


@dataclass(frozen=True)
class DirectionStatus:
    direction_id: int
    name: str
    priority: int  # the best priority of its items; directions without items come last
    planned_s: int
    spent_s: int
    left_s: int
    status: str
    finish_month: date | None
    items: tuple[ItemStatus, ...]


@dataclass(frozen=True)
class PlanStatus:
    account_id: int
    planned_s: int
    spent_s: int
    left_s: int  # what the plan still needs: feeds the tariff calculator
    tariff_s: int | None
    directions: tuple[DirectionStatus, ...]


def _counted_per_task(session: Session, account: Account) -> dict[int, int]:
    """Counted seconds of the account, per task, summed by the database."""
    return {t: int(s) for t, s in session.execute(
        select(TimeEntry.task_id, func.sum(TimeEntry.counted_s))
        .where(TimeEntry.account_id == account.id, TimeEntry.counted_s > 0)
        .group_by(TimeEntry.task_id)).all()}


def _with_subtasks(session: Session, account: Account, task_ids: Sequence[int]) -> dict[int, set[int]]:
    """Each task with its subtasks (in our task mirror, any depth), as
    direction usage counts a parent task's subtasks."""
    from .entries import MAX_PARENTS

    children: dict[int, list[int]] = {}
    for task_id, parent_id in session.execute(select(Task.task_id, Task.parent_id).where(
            Task.portal_id == account.portal_id, Task.parent_id.is_not(None))).all():
        children.setdefault(parent_id, []).append(task_id)
    result = {}
    for root in task_ids:
        seen, frontier = {root}, [root]
        for _ in range(MAX_PARENTS):
            frontier = [c for t in frontier for c in children.get(t, ()) if c not in seen]
            if not frontier:
                break
            seen.update(frontier)
        result[root] = seen
    return result


def _direction_spent(direction: Direction, counted: dict[int, int], mirror: dict[int, Task],
                     item_tasks: set[int]) -> int:
    """A direction's spent hours: the tasks its rule matches (workgroup, tag,
    parent) and the plan's own tasks under it, each counted once: a task
    the manager put in the direction belongs to it even when the rule does
    not pick it up."""
    tasks = {t for t in counted if task_matches(direction, mirror.get(t), t)} | item_tasks
    return sum(counted.get(t, 0) for t in tasks)


def _item_status(item: PlanItem, spent: int, finish: date | None) -> ItemStatus:
    left = max(0, item.planned_s - spent)
    if item.state == "done":
        status = "done"
    elif item.state == "paused":
        status = "paused"
    elif spent > item.planned_s:
        status = "over"
    elif spent > 0 or item.state == "active":
        status = "in_progress"
    else:
        status = "not_started"
    return ItemStatus(item.id, item.direction_id, item.task_id, item.title, item.position, item.state,
                      item.planned_s, spent, 0 if item.state == "done" else left, max(0, spent - item.planned_s),
                      status, item.paused_at, None if item.state in ("done", "paused") else finish)


def plan_status(session: Session, account_id: int, now: datetime | None = None, *, tariff_s: int | None = None,
                first_month_s: int | None = None) -> PlanStatus | None:
    """The plan with what the ledger says was spent. With `tariff_s` (the
    chosen tariff's seconds a month), each item and direction carries its
    expected finish month. Read-only: works on a read-only session.

    A direction's planned hours are its items' when it has items, else its
    own `planned_s` (a direction planned before its tasks are listed); its
    spent hours are those of every task its rule matches and of the plan's
    tasks under it, listed or not, each once."""
    now = now or utcnow()
    account = session.get(Account, account_id)
    if account is None:
        return None
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    plan = items(session, account.id)
    counted = _counted_per_task(session, account)
    closure = _with_subtasks(session, account, [i.task_id for i in plan if i.task_id is not None])
    item_spent = {i.id: sum(counted.get(t, 0) for t in closure[i.task_id]) if i.task_id is not None else 0
                  for i in plan}
    finish: dict[int, date | None] = {}
    if tariff_s is not None:
        result = forecast_months([ForecastItem(i.id, 0 if i.state == "done" else i.planned_s, item_spent[i.id],
                                               i.state == "paused") for i in plan], tariff_s, first_month_s)
        today = cal.local_date(now, portal.time_zone)
        finish = {f.key: month_of(today, f.month) for f in result.items}
    statuses = [_item_status(i, item_spent[i.id], finish.get(i.id)) for i in plan]
    mirror = mirrored_tasks(session, account.portal_id, set(counted))
    directions = []
    for d in session.execute(select(Direction).where(Direction.account_id == account.id)
                             .order_by(Direction.position, Direction.id)).scalars():
        own = tuple(s for s in statuses if s.direction_id == d.id)
        planned = sum(s.planned_s for s in own) if own else d.planned_s
        used = _direction_spent(d, counted, mirror, set().union(*(closure[s.task_id] for s in own
                                                                   if s.task_id is not None)))
        if own:
            left = sum(s.left_s for s in own)
            if all(s.status == "done" for s in own):
                status = "done"
            elif all(s.status in ("done", "paused") for s in own):
                status = "paused"
            elif used > planned:
                status = "over"
            else:
                status = "in_progress" if used > 0 or any(s.state == "active" for s in own) else "not_started"
            months = [s.finish_month for s in own if s.status not in ("done", "paused")]
            done_by = None if not months or None in months else max(m for m in months if m is not None)
            priority = min(s.priority for s in own)
        else:
            left = max(0, planned - used)
            status = "over" if used > planned else ("in_progress" if used else "not_started")
            done_by, priority = None, len(plan) + d.position
        directions.append(DirectionStatus(d.id, d.name, priority, planned, used, left, status, done_by, own))
    directions.sort(key=lambda x: (x.priority, x.direction_id))
    return PlanStatus(account.id, sum(x.planned_s for x in directions), sum(x.spent_s for x in directions),
                      sum(x.left_s for x in directions), tariff_s, tuple(directions))


def recommend_for_plan(session: Session, account_id: int, hour_price_minor: int, **kwargs: object) -> Recommendation:
    """The tariff calculator fed with what the plan still needs (its left
    hours: spent hours are already paid for)."""
    status = plan_status(session, account_id)
    if status is None:
        raise LedgerError("no such account")
    return recommend(min(status.left_s, MAX_PLAN_S), hour_price_minor, **kwargs)  # type: ignore[arg-type]
