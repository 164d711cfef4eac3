"""The handover package (seed 2, issue 16): everything done so far for one
account, so that the client can leave with the work («легко уходит от
компании с настройками, которые она успела сделать, к другому
подрядчику»): contracts, stages and their payments and acceptance, the
scope item by item, every task with its link, every logged record (date,
person, role, comment), hours per person and per role.

Read-only, and of one account only: every query names the account (or its
contracts), so nothing of another account can enter; no token, key or
secret is read at all. `task_url` comes from the caller (the ledger knows
nothing of Bitrix24's addresses)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calendar as cal
from .db import utcnow
from .entries import team_member
from .models import Account, Contract, ContractTerm, Period, Portal, Stage, Task, TimeEntry
from .projects import project_status
from .summary import DONE_STATUSES

FORMAT_VERSION = 1


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def package(session: Session, account_id: int, task_url: Callable[[int, int | None], str],
            now: datetime | None = None) -> dict[str, Any] | None:
    """The package as plain data (JSON-ready: integer seconds and minor
    units, ISO dates), or None for an unknown account."""
    now = now or utcnow()
    account = session.get(Account, account_id)
    if account is None:
        return None
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    tz = portal.time_zone
    contracts = list(session.execute(select(Contract).where(Contract.account_id == account.id)
                                     .order_by(Contract.starts_on, Contract.id)).scalars())
    contract_rows = []
    for c in contracts:
        terms = list(session.execute(select(ContractTerm).where(ContractTerm.contract_id == c.id)
                                     .order_by(ContractTerm.effective_on)).scalars())
        stages = list(session.execute(select(Stage).where(Stage.contract_id == c.id)
                                      .order_by(Stage.position)).scalars())
        periods = {p.stage_id: p for p in session.execute(select(Period).where(Period.contract_id == c.id)).scalars()}
        contract_rows.append({
            "id": c.id, "kind": c.kind, "title": c.title, "starts_on": _iso(c.starts_on), "ends_on": _iso(c.ends_on),
            "currency": c.currency,
            "terms": [{"effective_on": _iso(t.effective_on), "hours_s": t.hours_s, "price_minor": t.price_minor,
                       "pay_due_on": _iso(t.pay_due_on), "paid_at": _iso(t.paid_at)} for t in terms],
            "stages": [{"id": st.id, "position": st.position, "name": st.name, "budget_s": st.budget_s,
                        "price_minor": st.price_minor, "paid": st.paid, "paid_at": _iso(st.paid_at),
                        "pay_due_on": _iso(st.pay_due_on), "due_on": _iso(st.due_on),
                        "accepted_at": _iso(st.accepted_at), "accepted_by": st.accepted_by,
                        "started_at": _iso(periods[st.id].starts_at) if st.id in periods else None,
                        "ended_at": _iso(periods[st.id].ends_at) if st.id in periods else None}
                       for st in stages],
        })

    entries = list(session.execute(select(TimeEntry).where(TimeEntry.account_id == account.id,
                                                           TimeEntry.deleted.is_(False))
                                   .order_by(TimeEntry.work_at, TimeEntry.record_id)).scalars())
    task_ids = {e.task_id for e in entries}
    status = project_status(session, account.id, now)
    item_of_task: dict[int, str] = {}
    stage_of_item: dict[int, str] = {}
    scope = []
    if status is not None:
        for st in status.stages:
            for item in st.items:
                for t in item.tasks:
                    item_of_task[t.task_id] = item.title
                    task_ids.add(t.task_id)
                stage_of_item[item.id] = st.name
                scope.append({"id": item.id, "stage": st.name if st.id is not None else None,
                              "stage_position": st.position if st.id is not None else None,
                              "kind": item.kind, "title": item.title, "planned_s": item.planned_s,
                              "spent_s": item.spent_s, "due_on": _iso(item.due_on), "state": item.state,
                              "done_on": _iso(item.done_on), "accepted_on": _iso(item.accepted_on),
                              "late_days": item.late.days if item.late else 0,
                              "tasks": [{"id": t.task_id, "title": t.title, "url": task_url(t.task_id, t.responsible_id),
                                         "spent_s": t.spent_s} for t in item.tasks]})
    tasks = {t.task_id: t for t in session.execute(select(Task).where(
        Task.portal_id == portal.id, Task.task_id.in_(task_ids))).scalars()} if task_ids else {}

    people: dict[int, dict[str, Any]] = {}
    roles: dict[str, int] = defaultdict(int)
    per_task: dict[int, int] = defaultdict(int)
    log = []
    members: dict[tuple[int, date], Any] = {}
    for e in entries:
        key = (e.user_id, cal.local_date(e.work_at, tz))
        if key not in members:
            members[key] = team_member(session, portal.id, account.id, *key)
        member = members[key]
        name, role = (member.name, member.role) if member is not None else ("", "client")
        person = people.setdefault(e.user_id, {"user_id": e.user_id, "name": name, "role": role,
                                               "logged_s": 0, "counted_s": 0})
        person["logged_s"] += e.duration_s
        person["counted_s"] += e.counted_s
        roles[role] += e.counted_s
        per_task[e.task_id] += e.counted_s
        task = tasks.get(e.task_id)
        log.append({"record_id": e.record_id, "date": _iso(cal.local_date(e.work_at, tz)),
                    "user_id": e.user_id, "person": name, "role": role, "task_id": e.task_id,
                    "task": task.title if task else "", "comment": e.comment, "duration_s": e.duration_s,
                    "counted_s": e.counted_s})
    task_rows = []
    for task_id in sorted(task_ids):
        task = tasks.get(task_id)
        task_rows.append({"id": task_id, "title": task.title if task else "",
                          "url": task_url(task_id, task.responsible_id if task else None),
                          "done": task is not None and task.status in DONE_STATUSES,
                          "counted_s": per_task.get(task_id, 0), "scope_item": item_of_task.get(task_id)})
    payments = [{"contract_id": c["id"], "stage": st["name"], "position": st["position"],
                 "amount_minor": st["price_minor"], "due_on": st["pay_due_on"], "paid": st["paid"],
                 "paid_at": st["paid_at"]} for c in contract_rows for st in c["stages"] if st["price_minor"]]
    payments += [{"contract_id": c["id"], "stage": None, "position": None, "amount_minor": t["price_minor"],
                  "due_on": t["pay_due_on"], "paid": t["paid_at"] is not None, "paid_at": t["paid_at"]}
                 for c in contract_rows if c["kind"] == "upfront" for t in c["terms"][:1] if t["price_minor"]]
    return {
        "format": FORMAT_VERSION,
        "generated_at": _iso(now),
        "account": {"id": account.id, "name": account.name, "language": account.language},
        "portal": {"domain": portal.domain, "time_zone": tz},
        "contracts": contract_rows,
        "project": None if status is None else {
            "kind": status.kind, "title": status.title, "planned_s": status.planned_s, "spent_s": status.spent_s,
            "price_minor": status.price_minor, "paid_minor": status.paid_minor,
            "late": [{"what": getattr(s, "name", None) or getattr(s, "title", ""), "kind": late.kind,
                      "days": late.days} for s, late in status.late]},
        "scope": scope,
        "payments": payments,
        "tasks": task_rows,
        "people": sorted(people.values(), key=lambda p: (-p["counted_s"], p["user_id"])),
        "roles": [{"role": r, "counted_s": s} for r, s in sorted(roles.items(), key=lambda x: (-x[1], x[0]))],
        "work_log": log,
        # The monthly acts are kept by reports/ (reports.handover.with_acts
        # adds them); the ledger's package holds what the ledger knows.
        "acts": [],
        "totals": {"counted_s": sum(e.counted_s for e in entries), "logged_s": sum(e.duration_s for e in entries),
                   "records": len(entries)},
    }
