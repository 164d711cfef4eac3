"""Implementation projects (seed 2, issue 16): what was bought, what is done,
what is late, what was paid, what waits.

A staged or upfront contract has a scope: items (settings, integrations,
widgets, training sessions, instructions) with planned hours, a due date
and, in a staged project, their stage; an item's linked portal tasks carry
the time spent on it. A staged project has a payment schedule (a stage's
price, the day it is due, paid or not); an upfront project has one payment.

Three parts:
- settings (`add_item`, `link_task`, `set_item_state`, `set_stage_dates`,
  `record_payment`, `accept_stage`, `set_stall_days`), audited like every other setting;
  none of them moves hours: the ledger's postings say what was spent;
- `lateness` and `stalls_of`, pure, in whole days of the portal's calendar
  (local dates, so a DST night or a month end never shifts a day);
- `project_status`, read-only: the whole project as the pages, the alerts
  and the handover package read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import calendar as cal
from .contracts import LedgerError, _row, advance_stage, audit
from .db import utcnow
from .entries import task_may_count_for
from .models import (
    SCOPE_KINDS,
    STALL_DAYS,
    STALL_DAYS_RANGE,
    Account,
    Contract,
    ContractTerm,
    Period,
    Portal,
    ScopeItem,
    ScopeTask,
    Stage,
    Task,
    TimeEntry,
)
from .plan import MAX_PLAN_S

MAX_TITLE = 500
MAX_ITEMS = 300  # a project's scope is read by a person; beyond this it is a backlog
MAX_TASKS_PER_ITEM = 50
# A projection at the current pace needs a few days of work to mean anything
# (as ledger.summary.MIN_PACE_S for the hours forecast).
MIN_PACE_DAYS = 3
# Projections further than this are "not at this pace", not a date.
MAX_PROJECTION_DAYS = 3660
STALL_KINDS = ("no_work", "payment", "client")
ITEM_FIELDS = ("id", "stage_id", "kind", "title", "planned_s", "due_on", "position", "done_at", "accepted_at")


# ---------------------------------------------------------------- pure: lateness and stalls


@dataclass(frozen=True)
class Lateness:
    """How late something is, in whole local days.

    kind: "missed" (the due date passed and it is not done), "projected"
    (not due yet, but at the pace so far it ends `days` after the due date,
    on `finish_on`), "was" (done `days` after its due date)."""

    kind: str
    days: int
    due_on: date
    finish_on: date | None = None


def lateness(due_on: date | None, today: date, *, finished_on: date | None = None,
             started_on: date | None = None, planned_s: int = 0, spent_s: int = 0) -> Lateness | None:
    """None when on time (or when there is no due date to be late for).

    The pace is the work done per calendar day since `started_on`; the rest
    of the plan at that pace gives the finish date. Before MIN_PACE_DAYS, or
    with nothing spent, there is no pace and no projection (a project that
    has done nothing is "stalled", which `stalls_of` says)."""
    if due_on is None:
        return None
    if finished_on is not None:
        days = (finished_on - due_on).days
        return Lateness("was", days, due_on, finished_on) if days > 0 else None
    if today > due_on:
        return Lateness("missed", (today - due_on).days, due_on)
    if started_on is None or spent_s <= 0 or planned_s <= spent_s:
        return None
    elapsed = (today - started_on).days
    if elapsed < MIN_PACE_DAYS:
        return None
    # Days still needed = rest of the plan × elapsed days / spent, rounded up.
    needed = -(-(planned_s - spent_s) * elapsed // spent_s)
    if needed > MAX_PROJECTION_DAYS:
        needed = MAX_PROJECTION_DAYS
    finish_on = date.fromordinal(today.toordinal() + needed)
    days = (finish_on - due_on).days
    return Lateness("projected", days, due_on, finish_on) if days > 0 else None


@dataclass(frozen=True)
class Stall:
    """The current stage waits: `kind` in STALL_KINDS, since `since` (a
    local date), `days` long."""

    kind: str
    since: date
    days: int


def stalls_of(today: date, *, started_on: date, last_work_on: date | None, paid: bool, priced: bool,
              pay_due_on: date | None, items_done_on: date | None, accepted: bool,
              days: int = STALL_DAYS) -> list[Stall]:
    """What the current stage waits for, at least `days` long.

    - "payment": a priced stage not paid `days` after its payment was due
      (or after it began, with no due date): the seed's «у заказчика не
      будет денег продолжать проект». While a stage is unpaid, no work is
      not the integrator's silence, so "no_work" is not said for it.
    - "client": every item of the stage is done and the client has not
      accepted it for `days` (`items_done_on`: when the last one was done).
    - "no_work": nothing logged on the stage for `days` (since its last
      work, or since it began): «интегратор ... поставит следующий этап
      работ в очередь»."""
    if accepted:
        return []
    found = []
    waits_for_money = priced and not paid
    if waits_for_money:
        since = pay_due_on or started_on
        if (today - since).days >= days:
            found.append(Stall("payment", since, (today - since).days))
    if items_done_on is not None and (today - items_done_on).days >= days:
        found.append(Stall("client", items_done_on, (today - items_done_on).days))
    elif not waits_for_money:
        since = max(last_work_on or started_on, started_on)
        if (today - since).days >= days:
            found.append(Stall("no_work", since, (today - since).days))
    return found


# ---------------------------------------------------------------- settings


def project_contract(session: Session, account: Account) -> Contract | None:
    """The account's latest contract when it is a project (staged or
    upfront); None for a retainer or no contract."""
    contract = session.execute(select(Contract).where(Contract.account_id == account.id)
                               .order_by(Contract.starts_on.desc(), Contract.id.desc()).limit(1)
                               ).scalar_one_or_none()
    return contract if contract is not None and contract.kind in ("staged", "upfront") else None


def _contract(session: Session, account: Account) -> Contract:
    contract = project_contract(session, account)
    if contract is None:
        raise LedgerError("the account has no implementation project")
    return contract


def _stage_of(session: Session, account: Account, stage_id: object) -> Stage:
    """A stage of the account's own project, or a refusal: a stage number
    from another account's form is never touched."""
    stage = session.get(Stage, stage_id) if type(stage_id) is int else None
    contract = session.get(Contract, stage.contract_id) if stage is not None else None
    if stage is None or contract is None or contract.account_id != account.id:
        raise LedgerError("no such stage for this account")
    return stage


def item_of(session: Session, account: Account, item_id: object) -> ScopeItem:
    item = session.get(ScopeItem, item_id) if type(item_id) is int else None
    if item is None or item.account_id != account.id:
        raise LedgerError("no such scope item for this account")
    return item


def _check_task(session: Session, account: Account, task_id: object) -> int:
    """A task counts against one item of one account; a task our mirror
    places in another account is refused (as a plan item's, ledger.devplan)."""
    if type(task_id) is not int or task_id <= 0 or task_id > 2**53:
        raise LedgerError("a task is given by its number")
    if not task_may_count_for(session, account, task_id):
        raise LedgerError("no such task for this account")
    if session.execute(select(ScopeTask.id).where(ScopeTask.account_id == account.id,
                                                  ScopeTask.task_id == task_id)).first():
        raise LedgerError("task %(task_id)s already counts for a scope item", task_id=task_id)
    return task_id


def add_item(session: Session, account: Account, *, kind: str, title: str, planned_s: int,
             due_on: date | None = None, stage_id: int | None = None, task_ids: tuple[int, ...] = (),
             actor: str, now: datetime | None = None) -> ScopeItem:
    """A new scope item at the end of the list. In a staged project it
    names its stage; an upfront project has none."""
    now = now or utcnow()
    contract = _contract(session, account)
    if kind not in SCOPE_KINDS:
        raise LedgerError("a scope item is a setting, an integration, a widget, a training or an instruction")
    title = title.strip() if isinstance(title, str) else ""
    if not title:
        raise LedgerError("a scope item needs a title")
    if len(title) > MAX_TITLE:
        raise LedgerError("a title is at most %(n)s characters", n=MAX_TITLE)
    if type(planned_s) is not int or planned_s < 0 or planned_s > MAX_PLAN_S:
        raise LedgerError("planned hours must not be negative")
    if due_on is not None and not isinstance(due_on, date):
        raise LedgerError("a due date is a date")
    if contract.kind == "staged":
        stage = _stage_of(session, account, stage_id)
        if stage.contract_id != contract.id:
            raise LedgerError("no such stage for this account")
    elif stage_id is not None:
        raise LedgerError("an upfront project has no stages")
    if len(task_ids) > MAX_TASKS_PER_ITEM:
        raise LedgerError("a scope item links at most %(n)s tasks", n=MAX_TASKS_PER_ITEM)
    if len(set(task_ids)) != len(task_ids):
        raise LedgerError("a task is linked once")
    count, last = session.execute(select(func.count(), func.max(ScopeItem.position))
                                  .where(ScopeItem.account_id == account.id)).one()
    if count >= MAX_ITEMS:
        raise LedgerError("a scope holds at most %(n)s items", n=MAX_ITEMS)
    checked = [_check_task(session, account, t) for t in task_ids]
    item = ScopeItem(account_id=account.id, contract_id=contract.id, stage_id=stage_id, kind=kind, title=title,
                     planned_s=planned_s, due_on=due_on, position=(last or 0) + 1, created_at=now)
    session.add(item)
    session.flush()
    for task_id in checked:
        session.add(ScopeTask(account_id=account.id, item_id=item.id, task_id=task_id))
    session.flush()
    audit(session, actor, "scope.add", portal_id=account.portal_id, account_id=account.id,
          after={**_row(item, *ITEM_FIELDS), "task_ids": checked}, now=now)
    return item


def link_task(session: Session, account: Account, item_id: int, task_id: int, *, actor: str,
              now: datetime | None = None) -> None:
    """The task's time counts against the item from now on (and all it had)."""
    item = item_of(session, account, item_id)
    n = session.execute(select(func.count()).select_from(ScopeTask).where(ScopeTask.item_id == item.id)).scalar_one()
    if n >= MAX_TASKS_PER_ITEM:
        raise LedgerError("a scope item links at most %(n)s tasks", n=MAX_TASKS_PER_ITEM)
    _check_task(session, account, task_id)
    session.add(ScopeTask(account_id=account.id, item_id=item.id, task_id=task_id))
    session.flush()
    audit(session, actor, "scope.link", portal_id=account.portal_id, account_id=account.id,
          after={"item_id": item.id, "task_id": task_id}, now=now)


ITEM_STATES = ("open", "done", "accepted")


def set_item_state(session: Session, account: Account, item_id: int, state: str, *, actor: str,
                   now: datetime | None = None) -> bool:
    """Mark an item done, accepted by the client, or open again. Returns
    whether anything changed: the same mark twice keeps the first instant."""
    now = now or utcnow()
    item = item_of(session, account, item_id)
    if state not in ITEM_STATES:
        raise LedgerError("an item is open, done or accepted")
    before = _row(item, "done_at", "accepted_at")
    if state == "open":
        item.done_at = item.accepted_at = None
    elif state == "done":
        item.done_at = item.done_at or now
        item.accepted_at = None
    else:
        item.done_at = item.done_at or now
        item.accepted_at = item.accepted_at or now
    after = _row(item, "done_at", "accepted_at")
    if after == before:
        return False
    session.flush()
    audit(session, actor, "scope.state", portal_id=account.portal_id, account_id=account.id,
          before={"item_id": item.id, **before}, after={"item_id": item.id, **after}, now=now)
    return True


def remove_item(session: Session, account: Account, item_id: int, *, actor: str,
                now: datetime | None = None) -> None:
    """The item and its task links go; the hours stay where they were counted."""
    item = item_of(session, account, item_id)
    tasks = [t.task_id for t in session.execute(select(ScopeTask).where(ScopeTask.item_id == item.id)).scalars()]
    for link in session.execute(select(ScopeTask).where(ScopeTask.item_id == item.id)).scalars():
        session.delete(link)
    audit(session, actor, "scope.remove", portal_id=account.portal_id, account_id=account.id,
          before={**_row(item, *ITEM_FIELDS), "task_ids": tasks}, now=now)
    session.delete(item)
    session.flush()


def set_stall_days(session: Session, account: Account, days: object, *, actor: str,
                   now: datetime | None = None) -> bool:
    """After how many days the account's project counts as stalled (its
    lines on the pages and its alerts). Returns whether it changed."""
    low, high = STALL_DAYS_RANGE
    if type(days) is not int or not low <= days <= high:
        raise LedgerError("a project stalls after %(low)s to %(high)s days", low=low, high=high)
    if account.stall_days == days:
        return False
    before = {"stall_days": account.stall_days}
    account.stall_days = days
    session.flush()
    audit(session, actor, "project.stall_days", portal_id=account.portal_id, account_id=account.id,
          before=before, after={"stall_days": days}, now=now)
    return True


def set_stage_dates(session: Session, account: Account, stage_id: int | None, *, due_on: date | None,
                    pay_due_on: date | None, actor: str, now: datetime | None = None) -> None:
    """When a stage's work (or, with no stage, an upfront project's payment)
    is due. An upfront project's work is due by its items' dates."""
    for value in (due_on, pay_due_on):
        if value is not None and not isinstance(value, date):
            raise LedgerError("a due date is a date")
    contract = _contract(session, account)
    if stage_id is None:
        term = _upfront_term(session, contract)
        before = {"pay_due_on": term.pay_due_on}
        term.pay_due_on = pay_due_on
        audit(session, actor, "project.dates", portal_id=account.portal_id, account_id=account.id,
              before=before, after={"pay_due_on": pay_due_on}, now=now)
        return
    stage = _stage_of(session, account, stage_id)
    before = _row(stage, "due_on", "pay_due_on")
    stage.due_on, stage.pay_due_on = due_on, pay_due_on
    audit(session, actor, "stage.dates", portal_id=account.portal_id, account_id=account.id,
          before={"stage": stage.name, **before}, after={"stage": stage.name, "due_on": due_on,
                                                         "pay_due_on": pay_due_on}, now=now)


def _upfront_term(session: Session, contract: Contract) -> ContractTerm:
    if contract.kind != "upfront":
        raise LedgerError("a staged project is paid by stage")
    term = session.execute(select(ContractTerm).where(ContractTerm.contract_id == contract.id)
                           .order_by(ContractTerm.effective_on).limit(1)).scalar_one_or_none()
    assert term is not None
    return term


def record_payment(session: Session, account: Account, stage_id: int | None, paid: bool = True, *,
                   actor: str, now: datetime | None = None) -> bool:
    """Mark a stage's payment (or, with no stage, an upfront project's one
    payment) received or not. A stage of another account is refused, never
    touched. Returns whether anything changed: marking it paid twice keeps
    the first date."""
    now = now or utcnow()
    if type(paid) is not bool:
        raise LedgerError("paid is yes or no")
    contract = _contract(session, account)
    if stage_id is None:
        term = _upfront_term(session, contract)
        if (term.paid_at is not None) == paid:
            return False
        before = {"paid_at": term.paid_at}
        term.paid_at = now if paid else None
        audit(session, actor, "project.paid", portal_id=account.portal_id, account_id=account.id,
              before=before, after={"paid_at": term.paid_at}, now=now)
        return True
    stage = _stage_of(session, account, stage_id)
    if stage.paid == paid:
        return False
    before = {"stage": stage.name, "paid": stage.paid}
    stage.paid, stage.paid_at = paid, now if paid else None
    audit(session, actor, "stage.paid", portal_id=account.portal_id, account_id=account.id,
          before=before, after={"stage": stage.name, "paid": paid}, now=now)
    return True


def accept_stage(session: Session, account: Account, stage_id: int, *, actor: str,
                 now: datetime | None = None, at: datetime | None = None) -> bool:
    """The client accepted the current stage: it is closed (ledger.contracts.
    advance_stage), the next one starts, and the stage's items done so far
    are accepted with it. Accepting an accepted stage changes nothing and
    returns False; a stage not yet begun cannot be accepted.

    `at` (default: now) is when the client accepted, when the manager
    records it a few days late: the next stage starts then (the work
    logged since counts in it), as advance_stage's `ends_at`."""
    now = now or utcnow()
    at = at or now
    stage = _stage_of(session, account, stage_id)
    # The row lock makes two managers' clicks one acceptance on PostgreSQL;
    # SQLite has one writer at a time anyway.
    session.execute(select(Stage.id).where(Stage.id == stage.id).with_for_update())
    session.refresh(stage)
    if stage.accepted_at is not None:
        return False
    contract = session.get(Contract, stage.contract_id)
    assert contract is not None
    period = session.execute(select(Period).where(Period.stage_id == stage.id)).scalar_one_or_none()
    if period is None:
        raise LedgerError("this stage has not begun")
    if period.status == "open":
        advance_stage(session, contract, actor=actor, now=now, ends_at=at)
    stage.accepted_at, stage.accepted_by = at, actor
    for item in session.execute(select(ScopeItem).where(ScopeItem.stage_id == stage.id)).scalars():
        if item.done_at is not None and item.accepted_at is None:
            item.accepted_at = max(at, item.done_at)
    session.flush()
    audit(session, actor, "stage.accept", portal_id=account.portal_id, account_id=account.id,
          after={"stage": stage.name, "accepted_at": at}, now=now)
    return True


# ---------------------------------------------------------------- status, read-only


@dataclass(frozen=True)
class TaskRef:
    task_id: int
    title: str
    spent_s: int
    responsible_id: int | None


@dataclass(frozen=True)
class ItemStatus:
    id: int
    kind: str
    title: str
    planned_s: int
    spent_s: int
    due_on: date | None
    state: str  # "not_started", "in_progress", "done", "accepted"
    done_on: date | None
    accepted_on: date | None
    late: Lateness | None
    tasks: tuple[TaskRef, ...]


@dataclass(frozen=True)
class StageStatus:
    """A stage of a staged project, or the whole of an upfront one (id None)."""

    id: int | None
    position: int
    name: str
    budget_s: int
    planned_s: int  # its items' planned hours, or the budget when it has no items
    spent_s: int  # work dated in the stage (by its period)
    price_minor: int
    paid: bool
    paid_on: date | None
    pay_due_on: date | None
    due_on: date | None
    state: str  # "done", "current", "next"
    started_on: date | None
    ended_on: date | None
    first_work_on: date | None
    last_work_on: date | None
    accepted_on: date | None
    period_id: int | None
    late: Lateness | None
    stalls: tuple[Stall, ...]
    items: tuple[ItemStatus, ...]

    @property
    def counts(self) -> dict[str, int]:
        found = {"not_started": 0, "in_progress": 0, "done": 0, "accepted": 0}
        for item in self.items:
            found[item.state] += 1
        return found


@dataclass(frozen=True)
class ProjectStatus:
    account_id: int
    contract_id: int
    kind: str  # "staged" or "upfront"
    title: str
    currency: str
    today: date
    starts_on: date
    stages: tuple[StageStatus, ...]
    stall_days: int

    @property
    def items(self) -> list[ItemStatus]:
        return [i for st in self.stages for i in st.items]

    @property
    def planned_s(self) -> int:
        return sum(st.planned_s for st in self.stages)

    @property
    def spent_s(self) -> int:
        return sum(st.spent_s for st in self.stages)

    @property
    def price_minor(self) -> int:
        return sum(st.price_minor for st in self.stages)

    @property
    def paid_minor(self) -> int:
        return sum(st.price_minor for st in self.stages if st.paid)

    @property
    def current(self) -> StageStatus | None:
        return next((st for st in self.stages if st.state == "current"), None)

    @property
    def late(self) -> list[tuple[StageStatus | ItemStatus, Lateness]]:
        """What is late now (missed or projected), stages first; an item of
        a staged project is named only when its stage is not late already
        (an upfront project's items are the dates its contract names)."""
        found: list[tuple[StageStatus | ItemStatus, Lateness]] = []
        for st in self.stages:
            if st.late is not None and st.late.kind != "was":
                found.append((st, st.late))
                if st.id is not None:
                    continue  # a stage's line says it; an upfront project's items are its own dates
            found += [(i, i.late) for i in st.items if i.late is not None and i.late.kind == "missed"]
        return found

    @property
    def stalls(self) -> list[tuple[StageStatus, Stall]]:
        return [(st, s) for st in self.stages for s in st.stalls]

    @property
    def finish_on(self) -> date | None:
        """When the last stage is due, at the latest projection."""
        dates = [d for st in self.stages for d in (st.due_on, st.late.finish_on if st.late else None) if d]
        return max(dates) if dates else None


def _spent_by_task(session: Session, account_id: int, task_ids: set[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    return {t: int(s) for t, s in session.execute(
        select(TimeEntry.task_id, func.sum(TimeEntry.counted_s))
        .where(TimeEntry.account_id == account_id, TimeEntry.task_id.in_(task_ids), TimeEntry.counted_s > 0)
        .group_by(TimeEntry.task_id)).all()}


def _period_work(session: Session, period_ids: list[int]) -> dict[int, tuple[int, datetime, datetime]]:
    """Per period: counted seconds, first and last work."""
    if not period_ids:
        return {}
    return {p: (int(s), first, last) for p, s, first, last in session.execute(
        select(TimeEntry.period_id, func.sum(TimeEntry.counted_s), func.min(TimeEntry.work_at),
               func.max(TimeEntry.work_at))
        .where(TimeEntry.period_id.in_(period_ids), TimeEntry.counted_s > 0)
        .group_by(TimeEntry.period_id)).all()}


def _item_status(item: ScopeItem, links: list[ScopeTask], spent: dict[int, int], tasks: dict[int, Task],
                 tz: str, today: date) -> ItemStatus:
    refs = tuple(TaskRef(link.task_id, (tasks[link.task_id].title if link.task_id in tasks else "")
                         or f"#{link.task_id}", spent.get(link.task_id, 0),
                         tasks[link.task_id].responsible_id if link.task_id in tasks else None)
                 for link in links)
    spent_s = sum(r.spent_s for r in refs)
    done_on = cal.local_date(item.done_at, tz) if item.done_at else None
    accepted_on = cal.local_date(item.accepted_at, tz) if item.accepted_at else None
    state = ("accepted" if accepted_on else "done" if done_on else "in_progress" if spent_s > 0
             else "not_started")
    return ItemStatus(item.id, item.kind, item.title, item.planned_s, spent_s, item.due_on, state, done_on,
                      accepted_on, lateness(item.due_on, today, finished_on=done_on), refs)


def project_status(session: Session, account_id: int, now: datetime | None = None,
                   stall_days: int | None = None) -> ProjectStatus | None:
    """The account's project now, or None when it has none. Read-only.
    Stalls are counted after the account's own `stall_days` unless given."""
    now = now or utcnow()
    account = session.get(Account, account_id)
    if account is None:
        return None
    contract = project_contract(session, account)
    if contract is None:
        return None
    if stall_days is None:
        stall_days = account.stall_days or STALL_DAYS
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    tz = portal.time_zone
    today = cal.local_date(now, tz)
    items = list(session.execute(select(ScopeItem).where(ScopeItem.contract_id == contract.id)
                                 .order_by(ScopeItem.position, ScopeItem.id)).scalars())
    links: dict[int, list[ScopeTask]] = {}
    for link in session.execute(select(ScopeTask).where(ScopeTask.account_id == account.id)
                                .order_by(ScopeTask.id)).scalars():
        links.setdefault(link.item_id, []).append(link)
    task_ids = {link.task_id for group in links.values() for link in group}
    spent = _spent_by_task(session, account.id, task_ids)
    tasks = {t.task_id: t for t in session.execute(select(Task).where(
        Task.portal_id == portal.id, Task.task_id.in_(task_ids))).scalars()} if task_ids else {}
    item_rows = [(i, _item_status(i, links.get(i.id, []), spent, tasks, tz, today)) for i in items]
    periods = {p.stage_id if contract.kind == "staged" else None: p for p in session.execute(
        select(Period).where(Period.contract_id == contract.id).order_by(Period.starts_at)).scalars()}
    work = _period_work(session, [p.id for p in periods.values()])

    def local(at: datetime | None) -> date | None:
        return cal.local_date(at, tz) if at is not None else None

    def stage_status(key: int | None, position: int, name: str, budget_s: int, price_minor: int, paid_at,
                     pay_due_on, due_on, accepted_at) -> StageStatus:
        period = periods.get(key)
        own = tuple(s for i, s in item_rows if (i.stage_id if key is not None else None) == key)
        planned = sum(i.planned_s for i in own) or budget_s
        spent_s, first, last = work.get(period.id, (0, None, None)) if period else (0, None, None)
        if period is None:
            state, started, ended = "next", None, None
        else:
            started = local(period.starts_at)
            closed = period.status == "closed" or (key is not None and accepted_at is not None)
            state = "done" if closed else "current"
            # The last day of a closed stage is the day before its period ended
            # (the next stage began at that midnight).
            ended = (local(period.ends_at - timedelta(microseconds=1)) if period.status == "closed" and period.ends_at
                     else local(accepted_at))
        if key is None:  # an upfront project is due by its last item
            dates = [i.due_on for i in own if i.due_on]
            due_on = max(dates) if dates else None
            if state == "done" or (own and all(i.done_on for i in own)):
                ended = ended or max((i.done_on for i in own if i.done_on), default=None)
        late = None
        if state != "next":
            late = lateness(due_on, today, finished_on=ended, started_on=started, planned_s=planned,
                            spent_s=spent_s)
        stalls: tuple[Stall, ...] = ()
        if state == "current" and started is not None:
            done_dates = [i.done_on for i in own]
            items_done_on = max(done_dates) if own and all(done_dates) else None  # type: ignore[type-var]
            stalls = tuple(stalls_of(today, started_on=started, last_work_on=local(last), paid=paid_at is not None,
                                     priced=price_minor > 0, pay_due_on=pay_due_on, items_done_on=items_done_on,
                                     accepted=accepted_at is not None, days=stall_days))
        return StageStatus(key, position, name, budget_s, planned, spent_s, price_minor, paid_at is not None,
                           local(paid_at), pay_due_on, due_on, state, started, ended, local(first), local(last),
                           local(accepted_at), period.id if period else None, late, stalls, own)

    if contract.kind == "staged":
        stages = tuple(
            stage_status(st.id, st.position, st.name, st.budget_s, st.price_minor,
                         st.paid_at or (now if st.paid else None), st.pay_due_on, st.due_on, st.accepted_at)
            for st in session.execute(select(Stage).where(Stage.contract_id == contract.id)
                                      .order_by(Stage.position)).scalars())
    else:
        term = _upfront_term(session, contract)
        stages = (stage_status(None, 1, contract.title or "", term.hours_s, term.price_minor, term.paid_at,
                               term.pay_due_on, None, None),)
    return ProjectStatus(account.id, contract.id, contract.kind, contract.title or "", contract.currency, today,
                         contract.starts_on, stages, stall_days)


@dataclass(frozen=True)
class StallAlert:
    period_id: int
    kind: str  # "stall:" + a STALL_KINDS value
    detail: dict = field(default_factory=dict)
    days: int = 0


def stall_alerts(session: Session, account_id: int, now: datetime,
                 stall_days: int | None = None) -> list[StallAlert]:
    """One alert per stage (its period) and kind of stall: what the alert
    job fires, once each (its unique key is account, period, kind)."""
    status = project_status(session, account_id, now, stall_days)
    if status is None:
        return []
    return [StallAlert(st.period_id, f"stall:{s.kind}", {"stage": st.name, "position": st.position,
                                                         "since": s.since.isoformat(), "days": s.days,
                                                         "project": status.kind}, s.days)
            for st, s in status.stalls if st.period_id is not None]
