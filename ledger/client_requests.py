"""The client's requests: at the weekly call, in the widget or the cabinet,
the client asks to pause a task, resume it, give it more or fewer hours
(a cap), do it first, or asks a question about a report line.

A request changes nothing by itself. A manager accepts it (which applies
it: a cap row, the plan's order, an item's pause, an answer) or declines
it with a reason; every decision is in the change log. Hours never move
here: no function of this module writes a posting — a top-up or a
correction is the manager's own adjustment, with its reason.

Accepting is a conditional state transition (open → accepted) done in the
same transaction as what it applies, so a request accepted twice — a
double click, two managers, two web processes — applies once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .calendar import local_date
from .contracts import LedgerError, _row, add_cap, audit
from .db import utcnow
from .devplan import items as plan_items
from .entries import account_for_task
from .devplan import move_first, set_item_state
from .models import (
    REQUEST_KINDS,
    REQUEST_SOURCES,
    Account,
    Cap,
    ClientRequest,
    Direction,
    Period,
    PlanItem,
    Portal,
    Task,
    TimeEntry,
)
from .plan import MAX_PLAN_S

MAX_TEXT = 2000
MAX_AUTHOR = 255
MAX_SOURCE_REF = 64
# Open requests an account may have at once: a page that loops cannot fill
# the table, and a real client never has more waiting for the weekly call.
MAX_OPEN = 200
REQUEST_FIELDS = ("id", "kind", "item_id", "direction_id", "task_id", "entry_id", "cap_s", "text", "author",
                  "source", "source_ref", "state")
# Which targets each kind may name. A task in a pause, resume or do-first
# request is the plan item holding it; a cap watches a task or a direction.
TARGETS = {
    "pause": ("item", "direction", "task"),
    "resume": ("item", "direction", "task"),
    "first": ("item", "direction", "task"),
    "cap": ("direction", "task", "item"),
    "question": ("entry", "task", "direction", "item"),
}


# ---------------------------------------------------------------- checks


def _text(value: object, *, required: bool, message: str) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LedgerError(message)
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise LedgerError("a text is at most %(n)s characters", n=MAX_TEXT)
    if required and not value:
        raise LedgerError(message)
    return value


def _item(session: Session, account: Account, item_id: object) -> PlanItem:
    item = session.get(PlanItem, item_id) if type(item_id) is int else None
    if item is None or item.account_id != account.id:
        raise LedgerError("no such plan item for this account")
    return item


def _direction(session: Session, account: Account, direction_id: object) -> Direction:
    direction = session.get(Direction, direction_id) if type(direction_id) is int else None
    if direction is None or direction.account_id != account.id:
        raise LedgerError("no such direction for this account")
    return direction


def _task_of_account(session: Session, account: Account, task_id: object) -> int:
    """A task is the account's when its plan lists it, when its time counts
    for the account, or when our mirror of the portal has it and places it
    there (the portal's one account, or by CRM company or workgroup in an
    integrator's portal). Another account's task is refused."""
    if type(task_id) is not int or task_id <= 0:
        raise LedgerError("no such task for this account")
    if session.execute(select(PlanItem.id).where(PlanItem.account_id == account.id,
                                                 PlanItem.task_id == task_id)).first():
        return task_id
    if session.execute(select(TimeEntry.id).where(TimeEntry.account_id == account.id, TimeEntry.portal_id
                                                  == account.portal_id, TimeEntry.task_id == task_id).limit(1)).first():
        return task_id
    portal = session.get(Portal, account.portal_id)
    if portal is not None and session.execute(select(Task.id).where(
            Task.portal_id == portal.id, Task.task_id == task_id)).first():
        owner = account_for_task(session, portal, task_id)
        if owner is not None and owner.id == account.id:
            return task_id
    raise LedgerError("no such task for this account")


def _item_of_task(session: Session, account: Account, task_id: int) -> PlanItem:
    item = session.execute(select(PlanItem).where(PlanItem.account_id == account.id,
                                                  PlanItem.task_id == task_id)).scalar_one_or_none()
    if item is None:
        raise LedgerError("task %(task_id)s is not in the plan", task_id=task_id)
    return item


def _entry(session: Session, account: Account, entry_id: object) -> TimeEntry:
    entry = session.get(TimeEntry, entry_id) if type(entry_id) is int else None
    if entry is None or entry.account_id != account.id:
        raise LedgerError("no such report line for this account")
    period = session.get(Period, entry.period_id) if entry.period_id is not None else None
    if period is not None and period.status == "closed":
        # A closed period is frozen and its reports are already sent; a
        # question about it goes to the manager by other means, not here.
        raise LedgerError("a line of a closed period cannot be questioned here")
    return entry


# ---------------------------------------------------------------- opening


def open_request(session: Session, account: Account, kind: str, *, author: str, source: str,
                 source_ref: str = "", item_id: int | None = None, direction_id: int | None = None,
                 task_id: int | None = None, entry_id: int | None = None, cap_s: int | None = None,
                 text: str = "", now: datetime | None = None) -> ClientRequest:
    """Keep a client's request: who, when, what. Refused whole, with nothing
    written, when anything is wrong."""
    now = now or utcnow()
    if kind not in REQUEST_KINDS:
        raise LedgerError("unknown request kind")
    if source not in REQUEST_SOURCES:
        raise LedgerError("unknown request source")
    author = author.strip() if isinstance(author, str) else ""
    if not author or len(author) > MAX_AUTHOR:
        raise LedgerError("a request needs its author")
    if not isinstance(source_ref, str) or len(source_ref) > MAX_SOURCE_REF:
        raise LedgerError("a request needs its author")
    text = _text(text, required=kind == "question", message="a question needs its text")
    given = {name: value for name, value in (("item", item_id), ("direction", direction_id), ("task", task_id),
                                             ("entry", entry_id)) if value is not None}
    if len(given) != 1:
        raise LedgerError("a request names one task, direction or report line")
    (target, _), = given.items()
    if target not in TARGETS[kind]:
        raise LedgerError("this request cannot name that")
    if kind == "cap":
        if type(cap_s) is not int or cap_s <= 0 or cap_s > MAX_PLAN_S:
            raise LedgerError("a cap needs a positive number of hours")
    elif cap_s is not None:
        raise LedgerError("only a cap request names hours")
    if target == "item":
        item = _item(session, account, item_id)
        if kind == "cap":
            if item.task_id is None:
                raise LedgerError("a planned item not yet in the portal has no time to cap")
            task_id, item_id = item.task_id, None  # a cap watches the task itself
    elif target == "direction":
        _direction(session, account, direction_id)
    elif target == "task":
        assert task_id is not None
        _task_of_account(session, account, task_id)
        if kind in ("pause", "resume", "first"):
            item_id = _item_of_task(session, account, task_id).id
    else:
        _entry(session, account, entry_id)
    open_n = session.execute(select(func.count()).select_from(ClientRequest).where(
        ClientRequest.account_id == account.id, ClientRequest.state == "open")).scalar_one()
    if open_n >= MAX_OPEN:
        raise LedgerError("too many requests are waiting; the manager answers them first")
    request = ClientRequest(account_id=account.id, kind=kind, item_id=item_id, direction_id=direction_id,
                            task_id=task_id, entry_id=entry_id, cap_s=cap_s, text=text, author=author,
                            source=source, source_ref=source_ref, created_at=now, state="open")
    session.add(request)
    session.flush()
    audit(session, author, "request.open", portal_id=account.portal_id, account_id=account.id,
          after=_row(request, *REQUEST_FIELDS), now=now)
    return request


# ---------------------------------------------------------------- deciding


def _targets(session: Session, account: Account, request: ClientRequest) -> list[PlanItem]:
    """The plan items a pause, resume or do-first request speaks of, now."""
    if request.item_id is not None:
        item = session.get(PlanItem, request.item_id)
        if item is None or item.account_id != account.id:
            raise LedgerError("the plan item is no longer in the plan")
        return [item]
    direction = session.get(Direction, request.direction_id)
    if direction is None or direction.account_id != account.id:
        raise LedgerError("the direction is no longer in the plan")
    return [i for i in plan_items(session, account.id) if i.direction_id == direction.id]


def _set_cap(session: Session, account: Account, scope: str, ref_id: int, limit_s: int, actor: str,
             now: datetime) -> dict:
    """«More or fewer hours»: the per-period cap on that task or direction
    becomes the asked limit; a new one when none watched it."""
    cap = session.execute(select(Cap).where(Cap.account_id == account.id, Cap.scope == scope, Cap.ref_id == ref_id,
                                            Cap.per == "period").order_by(Cap.id).limit(1)).scalar_one_or_none()
    if cap is None:
        cap = add_cap(session, account, scope=scope, ref_id=ref_id, limit_s=limit_s, actor=actor, now=now)
        return {"cap_id": cap.id, "limit_s": limit_s, "was_s": None}
    was = cap.limit_s
    if was != limit_s:
        cap.limit_s = limit_s
        session.flush()
        audit(session, actor, "cap.update", portal_id=account.portal_id, account_id=account.id,
              before={"id": cap.id, "limit_s": was}, after={"id": cap.id, "limit_s": limit_s}, now=now)
    return {"cap_id": cap.id, "limit_s": limit_s, "was_s": was}


def _apply(session: Session, account: Account, request: ClientRequest, actor: str, answer: str,
           now: datetime) -> dict:
    """What accepting does, by kind; returns what changed, for the log."""
    if request.kind == "cap":
        assert request.cap_s is not None
        if request.direction_id is not None:
            _direction(session, account, request.direction_id)
            return _set_cap(session, account, "direction", request.direction_id, request.cap_s, actor, now)
        assert request.task_id is not None
        return _set_cap(session, account, "task", request.task_id, request.cap_s, actor, now)
    if request.kind == "question":
        request.answer = answer
        return {"answer": answer}
    targets = _targets(session, account, request)
    if request.kind == "first":
        move_first(session, account, [i.id for i in targets], actor=actor, now=now)
        if request.direction_id is not None:
            _direction_first(session, account, request.direction_id, actor, now)
        return {"first": [i.id for i in targets]}
    changed = []
    for item in targets:
        if request.kind == "pause" and item.state not in ("paused", "done"):
            set_item_state(session, item, "paused", actor=actor, now=now)
            changed.append(item.id)
        elif request.kind == "resume" and item.state == "paused":
            set_item_state(session, item, "active", actor=actor, now=now)
            changed.append(item.id)
    return {request.kind: changed}


def _direction_first(session: Session, account: Account, direction_id: int, actor: str, now: datetime) -> None:
    directions = list(session.execute(select(Direction).where(Direction.account_id == account.id)
                                      .order_by(Direction.position, Direction.id)).scalars())
    before = [d.id for d in directions]
    ordered = [d for d in directions if d.id == direction_id] + [d for d in directions if d.id != direction_id]
    for n, d in enumerate(ordered, start=1):
        d.position = n
    if [d.id for d in ordered] != before:
        audit(session, actor, "direction.reorder", portal_id=account.portal_id, account_id=account.id,
              before={"order": before}, after={"order": [d.id for d in ordered]}, now=now)


def _transition(session: Session, request: ClientRequest, state: str, actor: str, now: datetime,
                reason: str | None) -> bool:
    """open → `state`, only if still open: the database decides who wins
    (PostgreSQL re-checks the WHERE after a concurrent writer commits;
    SQLite's writers queue behind BEGIN IMMEDIATE). True when this call won."""
    won = session.execute(
        update(ClientRequest).where(ClientRequest.id == request.id, ClientRequest.state == "open")
        .values(state=state, decided_by=actor, decided_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.refresh(request)
    return won


def _account(session: Session, request: ClientRequest) -> Account:
    account = session.get(Account, request.account_id)
    assert account is not None
    return account


def _decide(session: Session, request: ClientRequest, state: str, actor: object, *, now: datetime | None,
            reason: str | None, apply: Callable[[Account], dict], loser: str) -> bool:
    """open → `state` and what that does, in one savepoint. True when this
    call decided it, False when it was already in `state` (decided once,
    by whoever won); `loser` when it was decided the other way. Refused
    whole, with nothing written."""
    now = now or utcnow()
    actor = actor.strip() if isinstance(actor, str) else ""
    if not actor or len(actor) > MAX_AUTHOR:
        raise LedgerError("a decision needs its author")
    account = _account(session, request)
    savepoint = session.begin_nested()
    try:
        if not _transition(session, request, state, actor, now, reason):
            if request.state == state:
                savepoint.commit()
                return False
            raise LedgerError(loser)
        changed = apply(account)
        audit(session, actor, f"request.{'accept' if state == 'accepted' else 'decline'}",
              portal_id=account.portal_id, account_id=account.id, before=_row(request, *REQUEST_FIELDS[:-1]),
              after={"state": state, **changed}, now=now)
        session.flush()
        savepoint.commit()
    except BaseException:
        savepoint.rollback()
        session.expire(request)
        raise
    return True


def accept(session: Session, request: ClientRequest, *, actor: str, answer: str = "",
           now: datetime | None = None) -> bool:
    """Accept and apply. Returns True when this call applied it, False when
    it had already been accepted (applied once, by whoever won). A declined
    request cannot be accepted."""
    now = now or utcnow()
    answer = _text(answer, required=request.kind == "question", message="a question needs an answer")
    return _decide(session, request, "accepted", actor, now=now, reason=None,
                   apply=lambda account: _apply(session, account, request, str(actor).strip(), answer, now),
                   loser="the request was already declined")


def decline(session: Session, request: ClientRequest, *, actor: str, reason: str,
            now: datetime | None = None) -> bool:
    """Decline with a reason the client will read. Returns True when this
    call declined it, False when it was already declined."""
    reason = _text(reason, required=True, message="a declined request needs a reason")
    return _decide(session, request, "declined", actor, now=now, reason=reason,
                   apply=lambda account: {"reason": reason}, loser="the request was already accepted")


# ---------------------------------------------------------------- what the views read


@dataclass(frozen=True)
class RequestView:
    request_id: int
    kind: str
    item_id: int | None
    direction_id: int | None
    task_id: int | None
    entry_id: int | None
    cap_s: int | None
    text: str
    author: str
    source: str
    created_at: datetime
    state: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    answer: str | None


def requests_of(session: Session, account_id: int, state: str | None = None) -> list[RequestView]:
    """The account's requests, newest first, with their state: what the
    client sees in the widget and the cabinet, and the manager's queue."""
    stmt = select(ClientRequest).where(ClientRequest.account_id == account_id)
    if state is not None:
        stmt = stmt.where(ClientRequest.state == state)
    return [RequestView(r.id, r.kind, r.item_id, r.direction_id, r.task_id, r.entry_id, r.cap_s, r.text, r.author,
                        r.source, r.created_at, r.state, r.decided_by, r.decided_at, r.reason, r.answer)
            for r in session.execute(stmt.order_by(ClientRequest.created_at.desc(),
                                                   ClientRequest.id.desc())).scalars()]


@dataclass(frozen=True)
class PausedWork:
    """Time logged on a paused item's task (or a subtask) after the pause."""
    item_id: int
    task_id: int
    entry_id: int
    record_id: int
    user_id: int
    work_at: datetime
    duration_s: int
    counted_s: int
    paused_at: datetime


def paused_work(session: Session, account_id: int) -> list[PausedWork]:
    """Entries of the account logged on a paused item's task or its
    subtasks at or after the pause, for the report and the widget to flag.
    Flagged, not refused: the time still counts (rule 1); whether it should
    is the manager's adjustment to make."""
    from .tasks import with_subtasks

    account = session.get(Account, account_id)
    if account is None:
        return []
    found = []
    for item in session.execute(select(PlanItem).where(
            PlanItem.account_id == account_id, PlanItem.state == "paused", PlanItem.task_id.is_not(None))
            .order_by(PlanItem.position, PlanItem.id)).scalars():
        assert item.task_id is not None and item.paused_at is not None
        tasks = with_subtasks(session, account.portal_id, item.task_id)
        for e in session.execute(select(TimeEntry).where(
                TimeEntry.account_id == account_id, TimeEntry.portal_id == account.portal_id,
                TimeEntry.task_id.in_(tasks), TimeEntry.work_at >= item.paused_at, TimeEntry.deleted.is_(False))
                .order_by(TimeEntry.work_at, TimeEntry.id)).scalars():
            found.append(PausedWork(item.id, e.task_id, e.id, e.record_id, e.user_id, e.work_at, e.duration_s,
                                    e.counted_s, item.paused_at))
    return found


def target_title(session: Session, account_id: int, *, item_id: int | None = None, direction_id: int | None = None,
                 task_id: int | None = None, entry_id: int | None = None) -> str:
    """What a request speaks of, in words: the plan item's title or its
    task's, the direction's name, the task's title, or a report line as
    «date · task». Empty when it is gone (a request is history)."""
    account = session.get(Account, account_id)
    if account is None:
        return ""

    def task_title(number: int) -> str:
        found = session.execute(select(Task.title).where(Task.portal_id == account.portal_id,
                                                         Task.task_id == number)).scalar_one_or_none()
        return found or f"#{number}"

    if item_id is not None:
        item = session.get(PlanItem, item_id)
        if item is None or item.account_id != account_id:
            return ""
        return item.title or (task_title(item.task_id) if item.task_id is not None else "")
    if direction_id is not None:
        direction = session.get(Direction, direction_id)
        return direction.name if direction is not None and direction.account_id == account_id else ""
    if task_id is not None:
        return task_title(task_id)
    if entry_id is not None:
        entry = session.get(TimeEntry, entry_id)
        if entry is None or entry.account_id != account_id:
            return ""
        portal = session.get(Portal, account.portal_id)
        day = local_date(entry.work_at, portal.time_zone if portal is not None else "UTC")
        return f"{day.isoformat()} · {task_title(entry.task_id)}"
    return ""
