"""What a manager sets: portals, accounts, contracts, stages, team, adjustments.

Settings are ordinary rows and may change, but every change is audited, and
every change that alters what time counts re-derives the affected entries,
which posts differences (never edits). Tariff changes take effect from the
next period; a top-up inside a period is an adjustment (PRODUCT.md rule 7).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calendar as cal
from .db import utcnow
from .entries import reapply_where
from .memo import forget
from .models import (
    Account,
    AccountBinding,
    Adjustment,
    AuditEvent,
    Cap,
    Contract,
    ContractTerm,
    Period,
    Portal,
    Direction,
    PlanItem,
    Stage,
    TeamMember,
    TimeEntry,
)
from .models import CAP_SCOPES, MATCH_KINDS
from .periods import (
    close_period,
    contract_at,
    current_open,
    due_periods,
    ensure_month,
    first_period,
    open_stage_period,
    term_for,
)
from .postings import NewPosting, lock_open_period, post


class LedgerError(ValueError):
    """A request the ledger refuses, with a message fit to show the user.

    `template` and `params` let a page translate it: the message is the
    template with the params filled in."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template, self.params = template, params


def audit(session: Session, actor: str, action: str, *, portal_id: int | None = None,
          account_id: int | None = None, before: Any = None, after: Any = None,
          now: datetime | None = None) -> None:
    session.add(AuditEvent(
        portal_id=portal_id, account_id=account_id, actor=actor or "system", action=action,
        before=json.dumps(before or {}, ensure_ascii=False, sort_keys=True, default=str),
        after=json.dumps(after or {}, ensure_ascii=False, sort_keys=True, default=str),
        at=now or utcnow(),
    ))


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


# ---------------------------------------------------------------- portals, accounts


def create_portal(session: Session, member_id: str, domain: str, time_zone: str = "Europe/Moscow",
                  mode: str = "client", actor: str = "system") -> Portal:
    if not cal.is_valid_zone(time_zone):
        raise LedgerError(f"unknown time zone: {time_zone}")
    if mode not in ("client", "integrator"):
        raise LedgerError(f"unknown mode: {mode}")
    portal = Portal(member_id=member_id, domain=domain, time_zone=time_zone, mode=mode, active=True)
    session.add(portal)
    session.flush()
    audit(session, actor, "portal.create", portal_id=portal.id,
          after=_row(portal, "member_id", "domain", "time_zone", "mode"))
    return portal


def set_time_zone(session: Session, portal: Portal, time_zone: str, actor: str) -> None:
    """Future periods follow the new zone; existing periods keep their bounds."""
    if not cal.is_valid_zone(time_zone):
        raise LedgerError(f"unknown time zone: {time_zone}")
    before = portal.time_zone
    portal.time_zone = time_zone
    audit(session, actor, "portal.time_zone", portal_id=portal.id,
          before={"time_zone": before}, after={"time_zone": time_zone})


def set_mode(session: Session, portal: Portal, mode: str, actor: str) -> None:
    """Client portal (one account) or integrator portal (an account per CRM
    company or workgroup); every entry is re-derived under the new rule."""
    if mode not in ("client", "integrator"):
        raise LedgerError(f"unknown mode: {mode}")
    if portal.mode == mode:
        return
    before = portal.mode
    portal.mode = mode
    audit(session, actor, "portal.mode", portal_id=portal.id, before={"mode": before}, after={"mode": mode})
    reapply_where(session, TimeEntry.portal_id == portal.id)


def add_account(session: Session, portal: Portal, name: str, *, company_id: int | None = None,
                group_ids: tuple[int, ...] = (), language: str = "ru", actor: str = "system",
                now: datetime | None = None) -> Account:
    name = (name or "").strip()
    if not name:
        raise LedgerError("an account needs a name")
    if language not in ("ru", "en"):
        raise LedgerError(f"unsupported language: {language}")
    account = Account(portal_id=portal.id, name=name, language=language, active=True)
    session.add(account)
    session.flush()
    forget(session)
    if company_id is not None:
        bind_account(session, account, "company", company_id, actor=actor, now=now)
    for group_id in group_ids:
        bind_account(session, account, "group", group_id, actor=actor, now=now)
    audit(session, actor, "account.create", portal_id=portal.id, account_id=account.id,
          after={"name": name, "company_id": company_id, "group_ids": list(group_ids)})
    return account


def bind_account(session: Session, account: Account, kind: str, ref_id: int, *,
                 actor: str = "system", now: datetime | None = None) -> None:
    """Tasks bound to this CRM company (or in this workgroup) count for the account."""
    if kind not in ("company", "group"):
        raise LedgerError(f"unknown binding: {kind}")
    taken = session.execute(select(AccountBinding).where(
        AccountBinding.portal_id == account.portal_id, AccountBinding.kind == kind,
        AccountBinding.ref_id == ref_id)).scalar_one_or_none()
    if taken is not None:
        if taken.account_id == account.id:
            return
        template = ("CRM company %(ref_id)s already belongs to account %(account_id)s" if kind == "company"
                    else "workgroup %(ref_id)s already belongs to account %(account_id)s")
        raise LedgerError(template, ref_id=ref_id, account_id=taken.account_id)
    session.add(AccountBinding(portal_id=account.portal_id, account_id=account.id, kind=kind, ref_id=ref_id))
    session.flush()
    audit(session, actor, "account.bind", portal_id=account.portal_id, account_id=account.id,
          after={"kind": kind, "ref_id": ref_id})
    # Entries of this portal that found no account may now have one.
    reapply_where(session, TimeEntry.portal_id == account.portal_id,
                  TimeEntry.account_id.is_(None), now=now)


# ---------------------------------------------------------------- contracts


@dataclass(frozen=True)
class Policies:
    expiry_policy: str = "burn"
    rollover_cap_s: int | None = None
    rollover_max_age_months: int | None = None
    overage_policy: str = "bill"
    rounding_mode: str = "none"
    rounding_step_s: int = 0

    def check(self) -> None:
        if self.expiry_policy not in ("burn", "rollover"):
            raise LedgerError("expiry policy is burn or rollover")
        if self.overage_policy not in ("bill", "deduct"):
            raise LedgerError("overage policy is bill or deduct")
        if self.rounding_mode not in ("none", "up", "down", "nearest"):
            raise LedgerError("rounding is none, up, down or nearest")
        if self.rounding_mode != "none" and self.rounding_step_s <= 0:
            raise LedgerError("rounding needs a step")
        if self.rollover_cap_s is not None and self.rollover_cap_s < 0:
            raise LedgerError("rollover cap must not be negative")
        if self.rollover_max_age_months is not None and self.rollover_max_age_months < 1:
            raise LedgerError("rollover age is at least one month")


POLICY_FIELDS = ("expiry_policy", "rollover_cap_s", "rollover_max_age_months", "overage_policy",
                 "rounding_mode", "rounding_step_s")


def _portal_of(session: Session, account: Account) -> Portal:
    portal = session.get(Portal, account.portal_id)
    assert portal is not None
    return portal


def active_contract(session: Session, account: Account, now: datetime) -> Contract | None:
    """The contract running now, or the next one to start."""
    portal = _portal_of(session, account)
    today = cal.local_date(now, portal.time_zone)
    found = contract_at(session, account.id, today)
    if found is not None:
        return found
    return session.execute(
        select(Contract).where(Contract.account_id == account.id, Contract.starts_on > today)
        .order_by(Contract.starts_on).limit(1)
    ).scalar_one_or_none()


def _end_running(session: Session, account: Account, starts_on: date, now: datetime, actor: str) -> None:
    """A new contract ends the one running at its start."""
    for contract in session.execute(select(Contract).where(
            Contract.account_id == account.id, Contract.ends_on.is_(None))).scalars():
        if contract.starts_on >= starts_on:
            raise LedgerError("a later contract exists; change it instead of adding one before it")
        contract.ends_on = starts_on
        for period in session.execute(select(Period).where(
                Period.contract_id == contract.id, Period.status == "open")).scalars():
            end = cal.local_midnight(starts_on, _portal_of(session, account).time_zone)
            if period.ends_at is None or period.ends_at > end:
                period.ends_at = end
        audit(session, actor, "contract.end", portal_id=account.portal_id, account_id=account.id,
              after={"contract_id": contract.id, "ends_on": starts_on})


def _positive_seconds(value: object, message: str) -> None:
    if type(value) is not int or value <= 0:
        raise LedgerError(message)


def _price(value: object) -> None:
    if type(value) is not int or value < 0:
        raise LedgerError("price must not be negative")


def _new_contract(session: Session, account: Account, kind: str, starts_on: date | None,
                  policies: Policies | None, title: str, currency: str, now: datetime,
                  actor: str) -> tuple[Portal, Contract]:
    """A contract starting on `starts_on` (default: today in the portal's
    zone), ending whatever contract runs then."""
    policies = policies or Policies()
    policies.check()
    forget(session)
    portal = _portal_of(session, account)
    starts_on = starts_on or cal.local_date(now, portal.time_zone)
    _end_running(session, account, starts_on, now, actor)
    contract = Contract(account_id=account.id, kind=kind, title=title, starts_on=starts_on,
                        currency=currency, **{f: getattr(policies, f) for f in POLICY_FIELDS})
    session.add(contract)
    session.flush()
    return portal, contract


def set_retainer(session: Session, account: Account, *, hours_s: int, price_minor: int = 0,
                 starts_on: date | None = None, policies: Policies | None = None, title: str = "",
                 currency: str = "RUB", actor: str = "system", now: datetime | None = None) -> Contract:
    """Start a retainer, or change the running one.

    A new tariff (hours, price) takes effect from the next period; policies
    apply from the next close."""
    now = now or utcnow()
    _positive_seconds(hours_s, "a retainer needs a positive number of hours")
    _price(price_minor)
    portal = _portal_of(session, account)
    today = cal.local_date(now, portal.time_zone)
    running = active_contract(session, account, now)
    if running is not None and running.kind == "retainer" and (starts_on is None or starts_on == running.starts_on):
        before = {**_row(running, *POLICY_FIELDS), "terms": _terms(session, running)}
        if policies is not None:
            policies.check()
            for f in POLICY_FIELDS:
                setattr(running, f, getattr(policies, f))
        has_periods = session.execute(select(Period.id).where(Period.contract_id == running.id).limit(1)).first()
        effective = cal.add_months(cal.month_start(today), 1) if has_periods else running.starts_on
        effective = max(effective, running.starts_on)
        term = session.execute(select(ContractTerm).where(
            ContractTerm.contract_id == running.id, ContractTerm.effective_on == effective)).scalar_one_or_none()
        current = term_for(session, running.id, effective)
        if current is None or (current.hours_s, current.price_minor) != (hours_s, price_minor):
            if term is None:
                session.add(ContractTerm(contract_id=running.id, effective_on=effective,
                                         hours_s=hours_s, price_minor=price_minor, created_at=now))
            else:
                term.hours_s, term.price_minor = hours_s, price_minor
        session.flush()
        audit(session, actor, "contract.update", portal_id=account.portal_id, account_id=account.id,
              before=before, after={**_row(running, *POLICY_FIELDS), "terms": _terms(session, running)}, now=now)
        reapply_where(session, TimeEntry.account_id == account.id, now=now)
        return running
    portal, contract = _new_contract(session, account, "retainer", starts_on, policies, title,
                                     currency, now, actor)
    starts_on = contract.starts_on
    session.add(ContractTerm(contract_id=contract.id, effective_on=starts_on, hours_s=hours_s,
                             price_minor=price_minor, created_at=now))
    session.flush()
    audit(session, actor, "contract.create", portal_id=account.portal_id, account_id=account.id,
          after={"kind": "retainer", "starts_on": starts_on, "hours_s": hours_s,
                 "price_minor": price_minor, **_row(contract, *POLICY_FIELDS)}, now=now)
    _open_and_reapply(session, portal, account, contract, now)
    return contract


def _terms(session: Session, contract: Contract) -> list[dict[str, Any]]:
    return [
        {"effective_on": t.effective_on.isoformat(), "hours_s": t.hours_s, "price_minor": t.price_minor}
        for t in session.execute(select(ContractTerm).where(ContractTerm.contract_id == contract.id)
                                 .order_by(ContractTerm.effective_on)).scalars()
    ]


def _open_and_reapply(session: Session, portal: Portal, account: Account, contract: Contract, now: datetime) -> None:
    if contract.starts_on <= cal.local_date(now, portal.time_zone):
        if contract.kind == "retainer":
            ensure_month(session, portal, account, contract,
                         cal.month_start(cal.local_date(now, portal.time_zone)), now)
        else:
            first_period(session, portal, account, contract, now)
    reapply_where(session, TimeEntry.account_id == account.id, now=now)


def set_staged(session: Session, account: Account, *, stages: list[tuple[str, int, int]],
               starts_on: date | None = None, policies: Policies | None = None, title: str = "",
               currency: str = "RUB", actor: str = "system", now: datetime | None = None) -> Contract:
    """An implementation in ordered stages: (name, budget_s, price_minor) each."""
    now = now or utcnow()
    if not stages:
        raise LedgerError("a staged contract needs at least one stage")
    for name, budget_s, price_minor in stages:
        if not (name or "").strip():
            raise LedgerError("every stage needs a name")
        _positive_seconds(budget_s, "every stage needs a positive budget of hours")
        _price(price_minor)
    portal, contract = _new_contract(session, account, "staged", starts_on, policies, title,
                                     currency, now, actor)
    for position, (name, budget_s, price_minor) in enumerate(stages, start=1):
        session.add(Stage(contract_id=contract.id, position=position, name=name.strip(),
                          budget_s=budget_s, price_minor=price_minor))
    session.flush()
    audit(session, actor, "contract.create", portal_id=account.portal_id, account_id=account.id,
          after={"kind": "staged", "starts_on": contract.starts_on, "stages": stages,
                 **_row(contract, *POLICY_FIELDS)}, now=now)
    _open_and_reapply(session, portal, account, contract, now)
    return contract


def set_upfront(session: Session, account: Account, *, budget_s: int, price_minor: int = 0,
                starts_on: date | None = None, policies: Policies | None = None, title: str = "",
                currency: str = "RUB", actor: str = "system", now: datetime | None = None) -> Contract:
    """One budget of hours for the whole project, paid at once."""
    now = now or utcnow()
    _positive_seconds(budget_s, "an upfront project needs a positive budget of hours")
    _price(price_minor)
    portal, contract = _new_contract(session, account, "upfront", starts_on, policies, title,
                                     currency, now, actor)
    session.add(ContractTerm(contract_id=contract.id, effective_on=contract.starts_on, hours_s=budget_s,
                             price_minor=price_minor, created_at=now))
    session.flush()
    audit(session, actor, "contract.create", portal_id=account.portal_id, account_id=account.id,
          after={"kind": "upfront", "starts_on": contract.starts_on, "budget_s": budget_s,
                 "price_minor": price_minor}, now=now)
    _open_and_reapply(session, portal, account, contract, now)
    return contract


def stages_of(session: Session, contract: Contract) -> list[Stage]:
    return list(session.execute(select(Stage).where(Stage.contract_id == contract.id)
                                .order_by(Stage.position)).scalars())


def current_stage(session: Session, contract: Contract) -> tuple[Stage, Period] | None:
    row = session.execute(
        select(Stage, Period).join(Period, Period.stage_id == Stage.id)
        .where(Stage.contract_id == contract.id, Period.status == "open")
        .order_by(Stage.position).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


STAGE_END_REFUSALS = ("a stage cannot end in the future", "a stage cannot end before it began")


def advance_stage(session: Session, contract: Contract, *, actor: str = "system",
                  now: datetime | None = None, ends_at: datetime | None = None) -> Stage | None:
    """Finish the current stage and start the next; returns the new stage
    (None when the last stage was finished). The finished stage closes under
    the contract's policies: leftover burns or carries to the next stage.

    `ends_at` (default: now) is where the stage ends for records, when the
    manager finishes it a few days late; it closes now all the same, so no
    posting is ever dated after the close of the period it went to."""
    now = now or utcnow()
    ends_at = ends_at or now
    if ends_at > now:
        raise LedgerError(STAGE_END_REFUSALS[0])
    if contract.kind != "staged":
        raise LedgerError("only a staged contract has stages")
    account = session.get(Account, contract.account_id)
    assert account is not None
    portal = _portal_of(session, account)
    found = current_stage(session, contract)
    if found is None:
        raise LedgerError("no stage is in progress")
    stage, period = found
    if ends_at < period.starts_at:  # zero length is allowed: two stages finished in one go
        raise LedgerError(STAGE_END_REFUSALS[1])
    lock_open_period(session, period.id, exclusive=True)
    following = session.execute(select(Stage).where(
        Stage.contract_id == contract.id, Stage.position > stage.position)
        .order_by(Stage.position).limit(1)).scalar_one_or_none()
    period.ends_at = ends_at
    if following is not None:
        open_stage_period(session, portal, account, contract, following, ends_at, now)
    else:
        contract.ends_on = cal.local_date(ends_at, portal.time_zone)
    session.flush()
    if ends_at < now:  # what was logged since belongs to the next stage: moved before the close counts
        reapply_where(session, TimeEntry.account_id == account.id, TimeEntry.work_at >= ends_at, now=now)
    close_period(session, period.id, now)
    next_from = str(cal.local_date(ends_at, portal.time_zone))
    audit(session, actor, "stage.advance", portal_id=account.portal_id, account_id=account.id,
          before={"stage": stage.name}, after={"stage": following.name if following else None, "next_from": next_from},
          now=now)
    reapply_where(session, TimeEntry.account_id == account.id, now=now)
    return following


def mark_stage_paid(session: Session, stage: Stage, paid: bool = True, *, actor: str = "system",
                    now: datetime | None = None) -> None:
    now = now or utcnow()
    contract = session.get(Contract, stage.contract_id)
    assert contract is not None
    before = {"paid": stage.paid}
    stage.paid = paid
    stage.paid_at = now if paid else None
    audit(session, actor, "stage.paid", account_id=contract.account_id,
          before=before, after={"stage": stage.name, "paid": paid}, now=now)


def finish_project(session: Session, contract: Contract, *, actor: str = "system",
                   now: datetime | None = None) -> None:
    """End an upfront project now: what is left burns, an overage is billed."""
    now = now or utcnow()
    if contract.kind != "upfront":
        raise LedgerError("only an upfront project is finished this way")
    account = session.get(Account, contract.account_id)
    assert account is not None
    portal = _portal_of(session, account)
    period = session.execute(select(Period).where(Period.contract_id == contract.id,
                                                  Period.status == "open")).scalar_one_or_none()
    contract.ends_on = cal.local_date(now, portal.time_zone)
    if period is not None:
        period.ends_at = now
        session.flush()
        close_period(session, period.id, now)
    audit(session, actor, "contract.finish", portal_id=account.portal_id, account_id=account.id,
          after={"contract_id": contract.id, "ends_on": contract.ends_on}, now=now)


# ---------------------------------------------------------------- team


def add_team_member(session: Session, portal: Portal, user_id: int, *, name: str = "",
                    role: str = "specialist", account: Account | None = None,
                    active_from: date | None = None, active_until: date | None = None,
                    actor: str = "system", now: datetime | None = None) -> TeamMember:
    """Time this user logs (for `account`, or for every account) is debited."""
    if type(user_id) is not int or user_id <= 0:
        raise LedgerError("a team member is a portal user id")
    if active_from and active_until and active_until < active_from:
        raise LedgerError("a membership cannot end before it starts")
    member = TeamMember(portal_id=portal.id, account_id=account.id if account else None, user_id=user_id,
                        name=name, role=role or "specialist", active_from=active_from, active_until=active_until)
    session.add(member)
    session.flush()
    audit(session, actor, "team.add", portal_id=portal.id, account_id=member.account_id,
          after=_row(member, "user_id", "name", "role", "active_from", "active_until"), now=now)
    conditions = [TimeEntry.portal_id == portal.id, TimeEntry.user_id == user_id]
    if account is not None:
        conditions.append(TimeEntry.account_id == account.id)
    reapply_where(session, *conditions, now=now)
    return member


def end_team_member(session: Session, member: TeamMember, until: date, *, actor: str = "system",
                    now: datetime | None = None) -> None:
    """The user's time after `until` is no longer debited; before it, it stays."""
    before = {"active_until": member.active_until}
    member.active_until = until
    audit(session, actor, "team.end", portal_id=member.portal_id, account_id=member.account_id,
          before=before, after={"user_id": member.user_id, "active_until": until}, now=now)
    reapply_where(session, TimeEntry.portal_id == member.portal_id, TimeEntry.user_id == member.user_id, now=now)


# ---------------------------------------------------------------- directions and caps
# Both only say how usage is grouped and watched: nothing they change alters
# what counts, so no entry is re-derived.


def _check_direction(name: str, planned_s: int, match_kind: str, match_value: str) -> tuple[str, str]:
    name = (name or "").strip()
    value = (match_value or "").strip()
    if not name or len(name) > 255:
        raise LedgerError("a direction needs a name")
    if type(planned_s) is not int or planned_s < 0:
        raise LedgerError("planned hours must not be negative")
    if match_kind not in MATCH_KINDS:
        raise LedgerError("a direction matches tasks by workgroup, tag or parent task")
    if not value or len(value) > 255:
        raise LedgerError("a direction needs a workgroup, tag or parent task to match")
    if match_kind in ("group", "parent") and not (value.isascii() and value.isdecimal() and int(value) > 0):
        raise LedgerError("a workgroup or parent task is given by its number")
    return name, value


def add_direction(session: Session, account: Account, name: str, *, planned_s: int, match_kind: str,
                  match_value: str, actor: str, now: datetime | None = None) -> Direction:
    name, value = _check_direction(name, planned_s, match_kind, match_value)
    last = session.execute(select(Direction.position).where(Direction.account_id == account.id)
                           .order_by(Direction.position.desc()).limit(1)).scalar_one_or_none()
    direction = Direction(account_id=account.id, name=name, planned_s=planned_s, match_kind=match_kind,
                          match_value=value, position=(last or 0) + 1)
    session.add(direction)
    session.flush()
    audit(session, actor, "direction.add", portal_id=account.portal_id, account_id=account.id,
          after=_row(direction, "id", "name", "planned_s", "match_kind", "match_value"), now=now)
    return direction


def update_direction(session: Session, direction: Direction, *, name: str, planned_s: int, match_kind: str,
                     match_value: str, actor: str, now: datetime | None = None) -> None:
    name, value = _check_direction(name, planned_s, match_kind, match_value)
    fields = ("name", "planned_s", "match_kind", "match_value")
    before = _row(direction, *fields)
    direction.name, direction.planned_s, direction.match_kind, direction.match_value = name, planned_s, match_kind, value
    account = session.get(Account, direction.account_id)
    audit(session, actor, "direction.update", portal_id=account.portal_id if account else None,
          account_id=direction.account_id, before=before, after=_row(direction, *fields), now=now)


def remove_direction(session: Session, direction: Direction, *, actor: str, now: datetime | None = None) -> None:
    """The direction, its plan items and the caps watching it go; the hours
    stay where they were counted, and the rest of the plan keeps its order."""
    account = session.get(Account, direction.account_id)
    plan = list(session.execute(select(PlanItem).where(PlanItem.account_id == direction.account_id)
                                .order_by(PlanItem.position, PlanItem.id)).scalars())
    for item in plan:
        if item.direction_id == direction.id:
            audit(session, actor, "plan.remove", portal_id=account.portal_id if account else None,
                  account_id=direction.account_id,
                  before=_row(item, "id", "direction_id", "task_id", "title", "planned_s", "position", "state"),
                  now=now)
            session.delete(item)
    session.flush()
    for n, item in enumerate((i for i in plan if i.direction_id != direction.id), start=1):
        item.position = n
    for cap in session.execute(select(Cap).where(Cap.account_id == direction.account_id, Cap.scope == "direction",
                                                 Cap.ref_id == direction.id)).scalars():
        remove_cap(session, cap, actor=actor, now=now)
    audit(session, actor, "direction.remove", portal_id=account.portal_id if account else None,
          account_id=direction.account_id,
          before=_row(direction, "id", "name", "planned_s", "match_kind", "match_value"), now=now)
    session.delete(direction)
    session.flush()


def add_cap(session: Session, account: Account, *, scope: str, ref_id: int, limit_s: int, per: str = "period",
            actor: str, now: datetime | None = None) -> Cap:
    """A limit watched on one task or one direction, per period or in total."""
    if scope not in CAP_SCOPES:
        raise LedgerError("a cap watches a task or a direction")
    if per not in ("period", "total"):
        raise LedgerError("a cap counts per period or in total")
    if type(ref_id) is not int or ref_id <= 0:
        raise LedgerError("a cap needs a task number or a direction")
    _positive_seconds(limit_s, "a cap needs a positive number of hours")
    if scope == "direction":
        direction = session.get(Direction, ref_id)
        if direction is None or direction.account_id != account.id:
            raise LedgerError("no such direction for this account")
    cap = Cap(account_id=account.id, scope=scope, ref_id=ref_id, limit_s=limit_s, per=per)
    session.add(cap)
    session.flush()
    audit(session, actor, "cap.add", portal_id=account.portal_id, account_id=account.id,
          after=_row(cap, "id", "scope", "ref_id", "limit_s", "per"), now=now)
    return cap


def remove_cap(session: Session, cap: Cap, *, actor: str, now: datetime | None = None) -> None:
    account = session.get(Account, cap.account_id)
    audit(session, actor, "cap.remove", portal_id=account.portal_id if account else None, account_id=cap.account_id,
          before=_row(cap, "id", "scope", "ref_id", "limit_s", "per"), now=now)
    session.delete(cap)
    session.flush()


# ---------------------------------------------------------------- adjustments


def adjust(session: Session, account: Account, amount_s: int, *, reason: str, author: str,
           now: datetime | None = None) -> Adjustment:
    """A manager's top-up (+) or correction (−) in the current open period."""
    now = now or utcnow()
    if type(amount_s) is not int or amount_s == 0:
        raise LedgerError("an adjustment moves a non-zero whole number of seconds")
    reason = (reason or "").strip()
    author = (author or "").strip()
    if not reason:
        raise LedgerError("an adjustment needs a reason")
    if not author:
        raise LedgerError("an adjustment needs an author")
    portal = _portal_of(session, account)
    period = current_open(session, portal, account, now)
    if period is None:
        raise LedgerError("the account has no open period to adjust")
    lock_open_period(session, period.id)
    adjustment = Adjustment(account_id=account.id, period_id=period.id, amount_s=amount_s,
                            author=author, reason=reason, created_at=now)
    session.add(adjustment)
    session.flush()
    post(session, NewPosting(
        key=f"adj:{adjustment.id}", portal_id=portal.id, account_id=account.id, period_id=period.id,
        kind="adjustment", amount_s=amount_s, origin_period_id=period.id,
        adjustment_id=adjustment.id, author=author, reason=reason,
    ), now)
    audit(session, author, "adjustment.add", portal_id=portal.id, account_id=account.id,
          after={"amount_s": amount_s, "reason": reason, "period": period.label}, now=now)
    return adjustment


# ---------------------------------------------------------------- the periodic close


@dataclass
class CloseRun:
    closed: list[Any]
    opened: int
    reapplied: int


def ensure_current_periods(session: Session, now: datetime) -> int:
    """Open this month's period for every running retainer (allocating it),
    even before anyone logs time in it. Returns how many accounts were seen."""
    seen = 0
    for account, portal in session.execute(
        select(Account, Portal).join(Portal, Portal.id == Account.portal_id)
        .where(Portal.active.is_(True), Account.active.is_(True))
    ).all():
        today = cal.local_date(now, portal.time_zone)
        contract = contract_at(session, account.id, today)
        if contract is None:
            continue
        if contract.kind == "retainer":
            ensure_month(session, portal, account, contract, cal.month_start(today), now)
        else:
            first_period(session, portal, account, contract, now)
        seen += 1
    return seen


def close_due(session: Session, now: datetime | None = None, dry_run: bool = False,
              progress: Any = None) -> CloseRun:
    """Close every period whose end has passed, oldest first, then re-derive
    entries dated in months that have now begun. Idempotent.

    A dry run does all of it inside a savepoint and rolls it back, so what it
    reports is exactly what a real run would do."""
    now = now or utcnow()
    if dry_run:
        savepoint = session.begin_nested()
        try:
            return close_due(session, now, progress=progress)
        finally:
            savepoint.rollback()
            forget(session)  # periods cached inside the savepoint are gone
    opened = ensure_current_periods(session, now)
    closed = []
    for period_id in due_periods(session, now):
        closed.append(close_period(session, period_id, now))
        if progress:
            progress(len(closed))
    reapplied = reapply_where(session, TimeEntry.state == "future", TimeEntry.work_at <= now, now=now)
    return CloseRun(closed, opened, reapplied)
