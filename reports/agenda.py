"""The weekly call's agenda, as the report carries it: the client's open
requests, plan items over their planned hours, the plan's next items,
time logged on paused tasks after the pause, and the notes the manager
took at the last call. Read when the report is built and kept with it
(reports.model), so a report already sent says what was on the agenda
then, whatever was decided since.

The notes and the monthly acts are "the next report's": `pending_*` reads
those not carried by any report yet; `mark_carried` names the report that
carried them, in the transaction that keeps the report.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.client_requests import paused_work, requests_of
from ledger.contracts import LedgerError, audit
from ledger.db import utcnow
from ledger.devplan import plan_status
from ledger.models import Account, Direction, PlanItem, Task, TimeEntry

from .model import ActRef, AgendaRequest, NoteLine, PausedLine, PlanLine
from .models import CallNote, MonthlyAct

NEXT_ITEMS = 5  # the plan's next items named on the agenda
MAX_NOTES = 50  # notes carried by one report; the rest wait for the next one
MAX_REQUESTS = 50
MAX_NOTE = 2000  # characters, as a request's text
MAX_PENDING_NOTES = 200  # a page that loops cannot fill the table
MAX_NOTE_AGE_DAYS = 366


def _titles(session: Session, portal_id: int, task_ids: set[int]) -> dict[int, str]:
    if not task_ids:
        return {}
    return {t.task_id: t.title for t in session.execute(select(Task).where(
        Task.portal_id == portal_id, Task.task_id.in_(task_ids))).scalars() if t.title}


def open_requests(session: Session, account_id: int, portal_id: int, tz: str) -> tuple[AgendaRequest, ...]:
    found = requests_of(session, account_id, "open")[:MAX_REQUESTS]
    if not found:
        return ()
    found.sort(key=lambda r: (r.created_at, r.request_id))  # the call takes them oldest first
    items = {i.id: i for i in session.execute(select(PlanItem).where(
        PlanItem.id.in_({r.item_id for r in found if r.item_id} or {0}))).scalars()}
    directions = {d.id: d.name for d in session.execute(select(Direction).where(
        Direction.id.in_({r.direction_id for r in found if r.direction_id} or {0}))).scalars()}
    entries = {e.id: e for e in session.execute(select(TimeEntry).where(
        TimeEntry.id.in_({r.entry_id for r in found if r.entry_id} or {0}))).scalars()}
    task_ids = ({r.task_id for r in found if r.task_id} | {i.task_id for i in items.values() if i.task_id}
                | {e.task_id for e in entries.values()})
    titles = _titles(session, portal_id, task_ids)

    def task(task_id: int) -> str:
        return titles.get(task_id) or f"#{task_id}"

    lines = []
    for r in found:
        if r.item_id is not None and r.item_id in items:
            item = items[r.item_id]
            subject = item.title or (task(item.task_id) if item.task_id else f"#{item.id}")
        elif r.direction_id is not None:
            subject = directions.get(r.direction_id, f"#{r.direction_id}")
        elif r.entry_id is not None and r.entry_id in entries:
            e = entries[r.entry_id]
            subject = f"{task(e.task_id)}, {cal.local_date(e.work_at, tz).strftime('%d.%m.%Y')}"
        elif r.task_id is not None:
            subject = task(r.task_id)
        else:
            subject = ""
        lines.append(AgendaRequest(r.request_id, r.kind, subject, r.text, r.author,
                                   cal.local_date(r.created_at, tz), r.cap_s))
    return tuple(lines)


def plan_lines(session: Session, account_id: int, now: datetime) -> tuple[tuple[PlanLine, ...], tuple[PlanLine, ...]]:
    """(items over their planned hours, the plan's next items in the client's order)."""
    if session.execute(select(PlanItem.id).where(PlanItem.account_id == account_id).limit(1)).first() is None:
        return (), ()  # no plan: spare the report the plan's usage queries
    status = plan_status(session, account_id, now)
    if status is None:
        return (), ()
    items = sorted((i for d in status.directions for i in d.items), key=lambda i: (i.priority, i.item_id))
    account = session.get(Account, account_id)
    assert account is not None
    titles = _titles(session, account.portal_id, {i.task_id for i in items if i.task_id and not i.title})

    def line(i) -> PlanLine:
        title = i.title or (titles.get(i.task_id) if i.task_id else None) or ""
        return PlanLine(i.item_id, i.task_id, title, i.priority, i.planned_s, i.spent_s, i.status)

    over = tuple(line(i) for i in items if i.status == "over")
    upcoming = tuple(line(i) for i in items if i.status in ("in_progress", "not_started", "over"))[:NEXT_ITEMS]
    return over, upcoming


def paused(session: Session, account_id: int, portal_id: int, tz: str) -> tuple[tuple[PausedLine, ...], set[int]]:
    """Time on paused tasks since the pause, per task; and the entries behind it."""
    if session.execute(select(PlanItem.id).where(PlanItem.account_id == account_id, PlanItem.state == "paused")
                       .limit(1)).first() is None:
        return (), set()
    work = paused_work(session, account_id)
    per_task: dict[int, int] = defaultdict(int)
    since: dict[int, datetime] = {}
    for w in work:
        per_task[w.task_id] += w.counted_s
        since[w.task_id] = min(since.get(w.task_id, w.paused_at), w.paused_at)
    titles = _titles(session, portal_id, set(per_task))
    lines = tuple(PausedLine(t, titles.get(t) or f"#{t}", cal.local_date(since[t], tz), s)
                  for t, s in sorted(per_task.items()))
    return lines, {w.entry_id for w in work}


def pending_notes(session: Session, account_id: int) -> tuple[NoteLine, ...]:
    return tuple(NoteLine(n.id, n.call_on, n.author, n.text) for n in session.execute(
        select(CallNote).where(CallNote.account_id == account_id, CallNote.report_id.is_(None))
        .order_by(CallNote.call_on, CallNote.id).limit(MAX_NOTES)).scalars())


def pending_acts(session: Session, account_id: int) -> tuple[ActRef, ...]:
    return tuple(ActRef(a.id, a.period, f"{a.account_id}-{a.period}") for a in session.execute(
        select(MonthlyAct).where(MonthlyAct.account_id == account_id, MonthlyAct.report_id.is_(None))
        .order_by(MonthlyAct.period)).scalars())


def add_note(session: Session, account: Account, *, call_on: date, text: str, author: str,
             now: datetime | None = None) -> CallNote:
    """A note from the weekly call, for the next report; in the change log."""
    now = now or utcnow()
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise LedgerError("a note needs its text")
    if len(text) > MAX_NOTE:
        raise LedgerError("a text is at most %(n)s characters", n=MAX_NOTE)
    if not isinstance(call_on, date) or abs((call_on - now.date()).days) > MAX_NOTE_AGE_DAYS:
        raise LedgerError("the call's day is within a year of today")
    pending = session.execute(select(func.count()).select_from(CallNote).where(
        CallNote.account_id == account.id, CallNote.report_id.is_(None))).scalar_one()
    if pending >= MAX_PENDING_NOTES:
        raise LedgerError("too many notes wait for the next report")
    note = CallNote(account_id=account.id, call_on=call_on, text=text, author=author[:255], created_at=now)
    session.add(note)
    session.flush()
    audit(session, author, "call.note", portal_id=account.portal_id, account_id=account.id,
          after={"id": note.id, "call_on": call_on.isoformat(), "text": text}, now=now)
    return note


def notes_of(session: Session, account_id: int, limit: int = 20) -> list[CallNote]:
    """An account's call notes, newest first: waiting ones and reported ones."""
    return list(session.execute(select(CallNote).where(CallNote.account_id == account_id)
                                .order_by(CallNote.call_on.desc(), CallNote.id.desc()).limit(limit)).scalars())


def mark_carried(session: Session, report_id: int, note_ids: list[int], act_ids: list[int]) -> None:
    """The notes and acts a kept report carries are no longer the next
    report's. Only those no other report took meanwhile are marked."""
    if note_ids:
        session.execute(update(CallNote).where(CallNote.id.in_(note_ids), CallNote.report_id.is_(None))
                        .values(report_id=report_id).execution_options(synchronize_session=False))
    if act_ids:
        session.execute(update(MonthlyAct).where(MonthlyAct.id.in_(act_ids), MonthlyAct.report_id.is_(None))
                        .values(report_id=report_id).execution_options(synchronize_session=False))


__all__ = ["open_requests", "plan_lines", "paused", "pending_notes", "pending_acts", "mark_carried", "add_note",
           "notes_of"]
