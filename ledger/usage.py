"""Where the hours went: per direction of the development plan, per task,
and against caps. Read from what each entry counts now (which `verify`
proves equal to its postings), by the period the work was done in."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Cap, Direction, Task, TimeEntry


@dataclass(frozen=True)
class DirectionUsage:
    direction_id: int
    name: str
    planned_s: int
    spent_s: int  # over the whole plan
    period_s: int  # in the period asked for (0 without one)


@dataclass(frozen=True)
class CapUsage:
    cap_id: int
    scope: str
    ref_id: int
    limit_s: int
    used_s: int

    @property
    def reached(self) -> bool:
        return self.used_s >= self.limit_s


def task_matches(direction: Direction, task: Task | None, task_id: int) -> bool:
    """A task belongs to a direction by its workgroup, a tag, or its parent
    task (the parent itself included)."""
    value = direction.match_value.strip()
    if direction.match_kind == "parent":
        return value.isdecimal() and (task_id == int(value) or (task is not None and task.parent_id == int(value)))
    if task is None:
        return False
    if direction.match_kind == "group":
        return value.isdecimal() and task.group_id == int(value)
    tags = {t.strip().casefold() for t in (task.tags or "").splitlines() if t.strip()}
    return value.casefold() in tags


def _counted(session: Session, account_id: int) -> list[tuple[int, int | None, int]]:
    """(task_id, origin period, counted seconds) of the account's counted
    entries, summed per task and period by the database: a page reads a
    few dozen rows however long the account's history."""
    return [(t, p, int(s)) for t, p, s in session.execute(
        select(TimeEntry.task_id, TimeEntry.period_id, func.sum(TimeEntry.counted_s))
        .where(TimeEntry.account_id == account_id, TimeEntry.counted_s > 0)
        .group_by(TimeEntry.task_id, TimeEntry.period_id)
    ).all()]


def mirrored_tasks(session: Session, portal_id: int, task_ids: set[int]) -> dict[int, Task]:
    """Our mirror of these tasks of the portal, by task number."""
    if not task_ids:
        return {}
    return {t.task_id: t for t in session.execute(
        select(Task).where(Task.portal_id == portal_id, Task.task_id.in_(task_ids))).scalars()}


def direction_usage(session: Session, portal_id: int, account_id: int, period_id: int | None = None) -> list[DirectionUsage]:
    directions = list(session.execute(select(Direction).where(Direction.account_id == account_id)
                                      .order_by(Direction.position, Direction.id)).scalars())
    rows = _counted(session, account_id)
    tasks = mirrored_tasks(session, portal_id, {t for t, _, _ in rows})
    result = []
    for d in directions:
        matched = {task_id for task_id in {t for t, _, _ in rows} if task_matches(d, tasks.get(task_id), task_id)}
        spent = period = 0
        for task_id, origin, seconds in rows:
            if task_id in matched:
                spent += seconds
                if period_id is not None and origin == period_id:
                    period += seconds
        result.append(DirectionUsage(d.id, d.name, d.planned_s, spent, period))
    return result


def cap_usage(session: Session, portal_id: int, account_id: int, period_id: int | None) -> list[CapUsage]:
    """Each cap with what it has used: in `period_id` for per-period caps, in
    all periods for total caps."""
    caps = list(session.execute(select(Cap).where(Cap.account_id == account_id).order_by(Cap.id)).scalars())
    if not caps:
        return []
    rows = _counted(session, account_id)
    directions = {d.id: d for d in session.execute(select(Direction).where(Direction.account_id == account_id)).scalars()}
    tasks = mirrored_tasks(session, portal_id, {t for t, _, _ in rows})
    result = []
    for cap in caps:
        used = 0
        for task_id, origin, seconds in rows:
            if cap.per == "period" and origin != period_id:
                continue
            if cap.scope == "task":
                hit = task_id == cap.ref_id
            else:
                direction = directions.get(cap.ref_id)
                hit = direction is not None and task_matches(direction, tasks.get(task_id), task_id)
            if hit:
                used += seconds
        result.append(CapUsage(cap.id, cap.scope, cap.ref_id, cap.limit_s, used))
    return result


def task_usage(session: Session, account_id: int, period_id: int) -> dict[int, int]:
    """Counted seconds per task for work done in the period."""
    totals: dict[int, int] = defaultdict(int)
    for task_id, origin, seconds in _counted(session, account_id):
        if origin == period_id:
            totals[task_id] += seconds
    return dict(totals)
