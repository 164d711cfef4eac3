"""Building a weekly report from the ledger: the week's records of one
account (Monday to Sunday in the portal's zone, PRODUCT.md rule 8), the
period's hours as they stand when the report is built, the tasks in
progress and the plan. The result is data (`reports.model.Report`), kept
with the sent report and rendered from there."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import calendar as cal
from ledger.db import utcnow
from ledger.models import Account, Portal, Posting, Task, TeamMember, TimeEntry
from ledger.summary import summarize

from . import agenda
from .model import SCHEMA, DirectionLine, PersonTotal, Report, TaskTotal, WorkLine

TaskUrl = Callable[[str, int, "int | None"], str]

# The manager's page stores roles as codes; a report carries them as the
# client reads them, in the report's language, fixed when it is built.
ROLES = {
    "project_manager": ("руководитель проекта", "project manager"),
    "support": ("специалист техподдержки", "support specialist"),
    "account_manager": ("аккаунт-менеджер", "account manager"),
    "assistant": ("помощник", "assistant"),
    "configurator": ("настройщик", "configurator"),
    "developer": ("разработчик", "developer"),
    "specialist": ("специалист", "specialist"),
}


def role_name(role: str, language: str) -> str:
    names = ROLES.get(role)
    return names[0 if language == "ru" else 1] if names else role


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(now: datetime, tz: str) -> date:
    """The Monday of the week before the one containing `now` in `tz`."""
    return cal.week_of(now, tz) - timedelta(days=7)


def _people(session: Session, portal_id: int, account_id: int) -> dict[int, tuple[str, str]]:
    """user id → (name, role): an account's own membership first, then the portal-wide one."""
    found: dict[int, tuple[str, str]] = {}
    for member in session.execute(
        select(TeamMember).where(TeamMember.portal_id == portal_id,
                                 (TeamMember.account_id == account_id) | TeamMember.account_id.is_(None))
        .order_by(TeamMember.account_id.is_(None), TeamMember.id)
    ).scalars():
        found.setdefault(member.user_id, (member.name or f"#{member.user_id}", member.role or ""))
    return found


def _corrections(session: Session, entry_ids: list[int]) -> set[int]:
    """Entries whose consumption was posted (partly) outside the period the
    work was dated in: changes that arrived after their month closed."""
    if not entry_ids:
        return set()
    rows = session.execute(
        select(Posting.entry_id).join(TimeEntry, TimeEntry.id == Posting.entry_id)
        .where(Posting.entry_id.in_(entry_ids), Posting.kind == "consumption",
               Posting.period_id != TimeEntry.period_id)
    ).scalars()
    return set(rows)


def span(label: str) -> tuple[date, date]:
    """A report's days from its label: an ISO week (2026-W47, Monday to
    Sunday) or a month (2026-11), as the manager asks for on demand."""
    if "-W" in label:
        monday = cal.parse_week(label)
        return monday, monday + timedelta(days=6)
    first = cal.parse_month(label)
    return first, cal.add_months(first, 1) - timedelta(days=1)


def build_report(session: Session, account_id: int, monday: date, task_url: TaskUrl,
                 now: datetime | None = None, last_day: date | None = None, label: str | None = None) -> Report:
    """The report of `account_id` for the week starting `monday` (or, given
    `last_day`, for the days from `monday` to it, named `label`)."""
    now = now or utcnow()
    account = session.get(Account, account_id)
    if account is None:
        raise LookupError(f"no account {account_id}")
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    tz = portal.time_zone
    last_day = last_day or monday + timedelta(days=6)
    start, end = cal.local_midnight(monday, tz), cal.local_midnight(last_day + timedelta(days=1), tz)
    summary = summarize(session, account_id, now)
    assert summary is not None
    people = {user_id: (name, role_name(role, account.language))
              for user_id, (name, role) in _people(session, portal.id, account.id).items()}

    entries = list(session.execute(
        select(TimeEntry).where(TimeEntry.account_id == account.id, TimeEntry.deleted.is_(False),
                                TimeEntry.work_at >= start, TimeEntry.work_at < end)
        .order_by(TimeEntry.work_at, TimeEntry.record_id)
    ).scalars())
    titles = {t.task_id: t for t in session.execute(select(Task).where(
        Task.portal_id == portal.id, Task.task_id.in_({e.task_id for e in entries} or {0}))).scalars()}
    corrected = _corrections(session, [e.id for e in entries])
    paused_lines, after_pause = agenda.paused(session, account.id, portal.id, tz)

    def url(task_id: int) -> str:
        task = titles.get(task_id)
        return task_url(portal.domain, task_id, task.responsible_id if task else None)

    lines = []
    for e in entries:
        name, role = people.get(e.user_id, (f"#{e.user_id}", ""))
        task = titles.get(e.task_id)
        lines.append(WorkLine(
            day=cal.local_date(e.work_at, tz), user_id=e.user_id, person=name,
            role=role if e.state != "not_team" else "", task_id=e.task_id,
            task=task.title if task and task.title else f"#{e.task_id}", url=url(e.task_id),
            comment=e.comment or "", duration_s=e.duration_s, counted_s=e.counted_s,
            correction=e.id in corrected, team=e.state != "not_team", paused=e.id in after_pause,
        ))

    per_task: dict[int, int] = defaultdict(int)
    per_person: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.counted_s:
            per_task[line.task_id] += line.counted_s
            per_person[line.user_id] += line.counted_s
    period_s = {t.task_id: t.period_s for t in summary.tasks}
    done = {t.task_id: t.done for t in summary.tasks}
    tasks = sorted(
        (TaskTotal(task_id, next(x.task for x in lines if x.task_id == task_id), url(task_id), seconds,
                   period_s.get(task_id, 0), done.get(task_id, False))
         for task_id, seconds in per_task.items()),
        key=lambda t: (-t.week_s, t.task_id))
    team = sorted(
        (PersonTotal(user_id, *people.get(user_id, (f"#{user_id}", "")), seconds)
         for user_id, seconds in per_person.items()),
        key=lambda p: (-p.week_s, p.user_id))
    in_progress = tuple(TaskTotal(t.task_id, t.title, url(t.task_id), per_task.get(t.task_id, 0), t.period_s, False)
                        for t in summary.tasks if not t.done)

    balance = summary.balance
    terms = balance.terms if balance else None
    period_name = None
    if balance is not None:
        period_name = balance.label
        if balance.kind == "stage":
            stage = next((s for s in summary.stages if s.state == "current"), None)
            period_name = stage.name if stage else balance.label
        elif balance.kind == "project":
            period_name = None
    f = summary.forecast
    over_plan, next_items = agenda.plan_lines(session, account.id, now)
    return Report(
        schema=SCHEMA, account_id=account.id, account=account.name, language=account.language,
        portal=portal.domain, time_zone=tz, week=label or week_label(monday), first_day=monday,
        last_day=last_day, built_at=now.replace(microsecond=0),
        contract=summary.contract_kind, period=period_name, period_last_day=summary.period_last_day,
        expiry_policy=summary.expiry_policy, allocated_s=summary.allocated_s, used_s=summary.used_s,
        left_s=summary.left_s, overage_s=summary.overage_s,
        rollover_in_s=terms.rollover_in_s if terms else 0, adjustment_s=terms.adjustment_s if terms else 0,
        forecast=f.kind, forecast_left_s=f.left_s, forecast_burn_s=f.burn_s, forecast_carry_s=f.carry_s,
        runs_out_on=f.runs_out_on, warn_burn=summary.warn_burn,
        week_s=sum(per_task.values()), others_s=sum(x.duration_s for x in lines if not x.team),
        lines=tuple(lines), tasks=tuple(tasks), people=tuple(team), in_progress=in_progress,
        directions=tuple(DirectionLine(d.name, d.planned_s, d.spent_s, d.period_s) for d in summary.directions),
        requests=agenda.open_requests(session, account.id, portal.id, tz), over_plan=over_plan, next_items=next_items,
        paused_work=paused_lines, notes=agenda.pending_notes(session, account.id),
        acts=agenda.pending_acts(session, account.id),
    )

