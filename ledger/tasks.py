"""Our mirror of portal tasks: only what decides where their time counts
(company, workgroup, parent, tags) and what people see (title, status)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import utcnow
from .entries import MAX_PARENTS, reapply_task
from .models import Task

PLACEMENT_FIELDS = ("company_id", "group_id", "parent_id", "tags")


def upsert_task(session: Session, portal_id: int, task_id: int, *, title: str = "", status: int = 2,
                group_id: int | None = None, parent_id: int | None = None, company_id: int | None = None,
                responsible_id: int | None = None, tags: tuple[str, ...] = (),
                time_spent_s: int | None = None, now: datetime | None = None) -> bool:
    """Insert or update a task; when its company, group, parent or tags
    changed, its entries are re-derived (their hours may move to another
    account or direction). Returns whether that happened."""
    now = now or utcnow()
    values = dict(title=title[:500], status=status, group_id=group_id, parent_id=parent_id,
                  company_id=company_id, responsible_id=responsible_id, tags="\n".join(tags),
                  time_spent_s=time_spent_s)
    task = session.execute(
        select(Task).where(Task.portal_id == portal_id, Task.task_id == task_id)
    ).scalar_one_or_none()
    if task is None:
        session.add(Task(portal_id=portal_id, task_id=task_id, updated_at=now, **values))
        session.flush()
        moved = True  # entries logged before we knew the task may now find their account
    else:
        moved = any(getattr(task, f) != values[f] for f in PLACEMENT_FIELDS)
        if any(getattr(task, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(task, k, v)
            task.updated_at = now
    if moved:
        # Subtasks with no company or workgroup of their own count where this
        # task does: their entries move with it.
        reapply_task(session, portal_id, *with_subtasks(session, portal_id, task_id), now=now)
    return moved


def with_subtasks(session: Session, portal_id: int, task_id: int) -> list[int]:
    """The task and its subtasks in our mirror, as deep as placement looks up."""
    found, frontier = [task_id], [task_id]
    for _ in range(MAX_PARENTS):
        frontier = [t for t in session.execute(select(Task.task_id).where(
            Task.portal_id == portal_id, Task.parent_id.in_(frontier))).scalars() if t not in found]
        if not frontier:
            break
        found += frontier
    return found
