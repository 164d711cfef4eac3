"""What the client's views (the widget, the cabinet) and the manager's plan
editor read about the development plan and the client's requests: read in
one place from the ledger, shaped for the templates. Nothing here writes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.client_requests import MAX_OPEN, PausedWork, RequestView, paused_work, requests_of, target_title
from ledger.devplan import MonthForecast, PlanStatus, forecast_months, ForecastItem, items, plan_status
from ledger.models import Account, Direction, Period, Portal, Task, TimeEntry
from ledger.summary import Summary

SHOWN_REQUESTS = 30  # the newest; older ones are in the change log
QUESTION_LINES = 40  # report lines of the open period a question may name


@dataclass(frozen=True)
class RequestLine:
    request: RequestView
    target: str  # what it speaks of, in words ("" when it is gone)
    at_local: datetime  # when it was asked, on the portal's clock (the page says no zone)


@dataclass(frozen=True)
class ReportLine:
    """A line of the open period's report, for a question about it."""

    entry_id: int
    day: date
    task: str
    duration_s: int


@dataclass(frozen=True)
class PlanView:
    status: PlanStatus | None  # None while the plan has no items
    requests: list[RequestLine]
    paused: dict[int, list[PausedWork]]  # item id → time logged after its pause
    task_titles: dict[int, str]  # the mirror's titles of the plan's tasks
    lines: list[ReportLine] = field(default_factory=list)

    @property
    def open_requests(self) -> list[RequestLine]:
        return [r for r in self.requests if r.request.state == "open"]

    def title(self, item) -> str:
        """A plan item's name: its own title, else its task's."""
        if item.title:
            return item.title
        return self.task_titles.get(item.task_id, f"#{item.task_id}") if item.task_id is not None else ""

    def paused_s(self, item_id: int) -> int:
        return sum(w.counted_s for w in self.paused.get(item_id, ()))


def monthly_tariff_s(summary: Summary | None) -> int | None:
    """The pace of the forecast: a retainer's hours a month; projects have none."""
    if summary is None or summary.contract_kind != "retainer" or summary.balance is None:
        return None
    return summary.balance.terms.allocation_s or None


def _request_lines(session: Session, account_id: int, state: str | None = None,
                   limit: int = SHOWN_REQUESTS) -> list[RequestLine]:
    account = session.get(Account, account_id)
    portal = session.get(Portal, account.portal_id) if account is not None else None
    tz = cal.zone(portal.time_zone if portal is not None else "UTC")
    return [RequestLine(r, target_title(session, account_id, item_id=r.item_id, direction_id=r.direction_id,
                                        task_id=r.task_id, entry_id=r.entry_id),
                        (r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=timezone.utc))
                        .astimezone(tz))
            for r in requests_of(session, account_id, state)[:limit]]


def _task_titles(session: Session, account: Account, task_ids: list[int]) -> dict[int, str]:
    if not task_ids:
        return {}
    return {t: title for t, title in session.execute(select(Task.task_id, Task.title).where(
        Task.portal_id == account.portal_id, Task.task_id.in_(task_ids))).all()}


def report_lines(session: Session, account: Account, now: datetime) -> list[ReportLine]:
    """The newest lines of the account's open periods: a closed period's
    lines are frozen and cannot be questioned here (the ledger refuses)."""
    portal = session.get(Portal, account.portal_id)
    tz = portal.time_zone if portal is not None else "UTC"
    rows = session.execute(
        select(TimeEntry.id, TimeEntry.work_at, TimeEntry.task_id, TimeEntry.duration_s)
        .join(Period, Period.id == TimeEntry.period_id)
        .where(TimeEntry.account_id == account.id, Period.status == "open", TimeEntry.deleted.is_(False),
               TimeEntry.counted_s > 0, TimeEntry.work_at <= now)
        .order_by(TimeEntry.work_at.desc(), TimeEntry.id.desc()).limit(QUESTION_LINES)).all()
    titles = _task_titles(session, account, sorted({r.task_id for r in rows}))
    return [ReportLine(r.id, cal.local_date(r.work_at, tz), titles.get(r.task_id, f"#{r.task_id}"), r.duration_s)
            for r in rows]


def client_plan(session: Session, account_id: int, summary: Summary | None, now: datetime) -> PlanView:
    """The plan as the client sees it, with each item's expected month at
    the retainer's pace (what is still free this month first)."""
    account = session.get(Account, account_id)
    assert account is not None
    tariff_s = monthly_tariff_s(summary)
    first_s = max(0, summary.left_s) if tariff_s and summary is not None else None
    status = plan_status(session, account_id, now, tariff_s=tariff_s, first_month_s=first_s) \
        if items(session, account_id) else None
    paused: dict[int, list[PausedWork]] = {}
    for work in paused_work(session, account_id):
        paused.setdefault(work.item_id, []).append(work)
    task_ids = sorted({i.task_id for d in (status.directions if status else ()) for i in d.items
                       if i.task_id is not None})
    return PlanView(status, _request_lines(session, account_id), paused, _task_titles(session, account, task_ids),
                    report_lines(session, account, now))


@dataclass(frozen=True)
class ForecastMonth:
    month: date
    worked_s: int  # hours of the plan worked that month
    finished: list[str]  # directions (or items of them) done that month


@dataclass(frozen=True)
class EditorView:
    """The manager's plan editor: the plan, the queue of open requests, and
    the month-by-month forecast at a chosen tariff."""

    plan: PlanView
    directions: list[Direction]
    tariff_s: int | None
    months: list[ForecastMonth]
    beyond_s: int  # hours the forecast's horizon does not reach
    queue: list[RequestLine]


SHOWN_MONTHS = 36


def forecast_table(status: PlanStatus, tariff_s: int, first_month_s: int | None, start: date,
                   ) -> tuple[list[ForecastMonth], int]:
    """Month by month at `tariff_s`: the plan's hours worked, and which
    directions are done by the end of each month."""
    ordered = [i for d in sorted(status.directions, key=lambda d: d.priority) for i in d.items]
    ordered.sort(key=lambda i: i.priority)
    result: MonthForecast = forecast_months(
        [ForecastItem(i.item_id, 0 if i.state == "done" else i.planned_s, i.spent_s, i.state == "paused")
         for i in ordered], tariff_s, first_month_s)
    done_in: dict[int, int | None] = {f.key: f.month for f in result.items}
    finished: dict[int, list[str]] = {}
    for d in status.directions:
        # As the ledger says a direction's month (plan_status): its last
        # scheduled task's; paused tasks wait outside the forecast.
        months = [done_in.get(i.item_id) for i in d.items if i.state not in ("done", "paused")]
        if not months or None in months:
            continue
        finished.setdefault(max(m for m in months if m is not None), []).append(d.name)
    count = min(SHOWN_MONTHS, max(len(result.months), max(finished, default=-1) + 1))
    table = [ForecastMonth(cal.add_months(cal.month_start(start), n),
                           sum(s for _, s in result.months[n]) if n < len(result.months) else 0,
                           finished.get(n, [])) for n in range(count)]
    hidden = sum(s for month in result.months[count:] for _, s in month)
    return table, result.beyond_s + hidden


def editor(session: Session, account: Account, summary: Summary | None, now: datetime,
           tariff_s: int | None) -> EditorView:
    plan = client_plan(session, account.id, summary, now)
    directions = list(session.execute(select(Direction).where(Direction.account_id == account.id)
                                      .order_by(Direction.position, Direction.id)).scalars())
    tariff_s = tariff_s or monthly_tariff_s(summary)
    months: list[ForecastMonth] = []
    beyond = 0
    if plan.status is not None and tariff_s:
        portal = session.get(Portal, account.portal_id)
        today = cal.local_date(now, portal.time_zone if portal is not None else "UTC")
        first_s = max(0, summary.left_s) if summary is not None and summary.contract_kind == "retainer" else None
        months, beyond = forecast_table(plan.status, tariff_s, first_s, today)
    # The whole queue: the ledger keeps at most MAX_OPEN requests open at once.
    queue = _request_lines(session, account.id, "open", limit=MAX_OPEN)
    return EditorView(plan, directions, tariff_s, months, beyond, queue)


def plan_json(plan: PlanView | None) -> dict:
    """The cabinet's JSON of the plan and the requests: integer seconds, ISO dates."""
    def iso(value: date | datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    if plan is None:
        return {"plan": None, "requests": []}
    status = plan.status
    body: dict = {"plan": None if status is None else {
        "planned_s": status.planned_s, "spent_s": status.spent_s, "left_s": status.left_s,
        "tariff_s": status.tariff_s,
        "directions": [{
            "id": d.direction_id, "name": d.name, "priority": d.priority, "planned_s": d.planned_s,
            "spent_s": d.spent_s, "left_s": d.left_s, "status": d.status, "finish_month": iso(d.finish_month),
            "items": [{"id": i.item_id, "task_id": i.task_id, "title": plan.title(i), "priority": i.priority,
                       "state": i.state, "status": i.status, "planned_s": i.planned_s, "spent_s": i.spent_s,
                       "left_s": i.left_s, "over_s": i.over_s, "finish_month": iso(i.finish_month),
                       "paused_at": iso(i.paused_at), "after_pause_s": plan.paused_s(i.item_id)}
                      for i in d.items]} for d in status.directions]}}
    body["requests"] = [{"id": r.request.request_id, "kind": r.request.kind, "about": r.target,
                         "cap_s": r.request.cap_s, "text": r.request.text, "author": r.request.author,
                         "source": r.request.source, "created_at": iso(r.request.created_at),
                         "state": r.request.state, "decided_at": iso(r.request.decided_at),
                         "reason": r.request.reason, "answer": r.request.answer} for r in plan.requests]
    return body


def open_counts(session: Session, portal_id: int) -> dict[int, int]:
    """Open requests per account of the portal, for the list of clients."""
    from sqlalchemy import func

    from ledger.models import ClientRequest

    return {a: n for a, n in session.execute(
        select(ClientRequest.account_id, func.count()).join(Account, Account.id == ClientRequest.account_id)
        .where(Account.portal_id == portal_id, ClientRequest.state == "open")
        .group_by(ClientRequest.account_id)).all()}
