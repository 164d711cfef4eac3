"""POST /app: the app's own page from the portal's menu. Administrators and
the users they name as managers get the manager's page; anyone else gets
the client's view (a client's portal) or a refusal (an integrator's).

Every form posts to /app/…/<action> with the frame token; an action reads
its fields through `fields.Form`, calls the ledger, and either commits and
redirects back (303) or rolls back and shows the page again with the
messages beside the fields (400). Nothing here computes: the ledger does,
and audits who changed what.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from b24 import directory
from b24.client import RestError
from ledger import access, contracts, plan
from ledger.balance import balance
from ledger.calendar import is_valid_zone, local_midnight, week_of
from ledger.contracts import LedgerError, Policies
from ledger.db import utcnow
from ledger.models import (
    Account,
    AccountBinding,
    Adjustment,
    AuditEvent,
    CabinetLink,
    Cap,
    Contract,
    Direction,
    Portal,
    ReportRecipient,
    Stage,
    TeamMember,
)
from ledger.summary import summarize
from ledger.usage import cap_usage, direction_usage
from reports.build import span
from reports.models import ReportSettings, SentReport, settings_of

from . import amocrm, db, frames, plan_view
from .cabinet import cabinet_url
from .fields import Form
from .fields import own_row as _own_row
from .i18n import hours
from .views import account_view, frame_ancestors, secure
from .steering import MANAGER_ACTIONS, MANAGER_ROW_ACTIONS
from .widget import refused, render_frame

bp = Blueprint("manager", __name__)

ROLES = ("project_manager", "support", "account_manager", "assistant", "configurator", "developer", "specialist")
TIME_ZONES = ("Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
              "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok",
              "Asia/Magadan", "Asia/Kamchatka", "Europe/Minsk", "Asia/Almaty", "Asia/Tashkent", "Europe/Kyiv",
              "Europe/Berlin", "Europe/London", "America/New_York", "UTC")


def actor(frame: frames.Frame) -> str:
    return frame.who


def manager_frame() -> frames.Frame:
    """The frame of a manager's request. Named managers are checked again on
    every request: one removed from the list stops managing at once, not
    when their page's token expires."""
    frame = frames.current()
    if frame.manager and not frame.admin and not access.is_manager(db.reader(), frame.portal_id, frame.user_id):
        frame = replace(frame, manager=False)
    if not frame.may_manage:
        abort(403, description=_("Only portal administrators and the managers they name can change settings."))
    return frame


def _portal(frame: frames.Frame, session: Session | None = None) -> Portal:
    portal = (session or db.reader()).get(Portal, frame.portal_id)
    if portal is None or not portal.active:
        abort(404)
    return portal


def _account(frame: frames.Frame, account_id: int, session: Session | None = None) -> Account:
    account = (session or db.reader()).get(Account, account_id)
    if account is None or account.portal_id != frame.portal_id:
        abort(404)
    return account


def _rest(portal_id: int):
    from jobs.context import context

    return context().rest(portal_id, retries=1, timeout_s=10)


_NAMES: dict[tuple, tuple[float, list[tuple[int, str]]]] = {}
NAMES_TTL_S = 300


def _portal_names(portal_id: int, fetch: Callable[..., list[tuple[int, str]]], *args: Any) -> list[tuple[int, str]]:
    """Names for a picker, kept five minutes (a page view should not cost
    the portal a call each time), or an empty list when the portal cannot
    be asked now (the form then takes a number instead)."""
    key = (portal_id, fetch.__name__, *args)
    found = _NAMES.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    try:
        names = fetch(_rest(portal_id), *args)
    except (RestError, OSError):
        return []
    if len(_NAMES) > 1000:
        _NAMES.clear()
    _NAMES[key] = (time.monotonic() + NAMES_TTL_S, names)
    return names


# ---------------------------------------------------------------- entry


@bp.post("/app")
def entry():
    try:
        frame = frames.open_frame()
    except frames.FrameRefused as err:
        return refused(err)
    token = frames.enter(frame)
    if frame.may_manage:
        return _home(frame)
    portal = db.reader().get(Portal, frame.portal_id)
    assert portal is not None
    if portal.mode == "client":
        found = access.accounts_of(db.reader(), portal.id)
        if found:
            from .widget import _page

            return _page(frame, token, found[0].id)
        return render_frame("no_account.html", portal.id,
                            message=_("Hourbook is installed but no contract is set up yet."), manage_url=None)
    return render_frame("error.html", portal.id, 403, hint=False,
                        message=_("This page is for portal administrators and the managers they name. "
                                  "Ask your administrator if you need it."))


# ---------------------------------------------------------------- the portal's page


@bp.get("/app/home")
def home():
    return _home(manager_frame())


def _home(frame: frames.Frame, form: Form | None = None, status: int = 200):
    s = db.reader()
    portal = _portal(frame)
    # Names from the portal first: a REST call must never wait inside a
    # write transaction (on SQLite its token refresh would wait on us).
    search = (request.args.get("q") or "").strip()[:100]
    companies = _portal_names(portal.id, directory.companies, search) if portal.mode == "integrator" else []
    users = _portal_names(portal.id, directory.users) if frame.admin else []
    accounts = []
    for account in access.accounts_of(s, portal.id, active_only=False):
        accounts.append((account, balance(s, account.id), contracts.active_contract(s, account, utcnow())))
    company_id = request.args.get("company", type=int)
    return render_frame(
        "manager_home.html", portal.id, status, frame=frame, portal=portal, accounts=accounts,
        first_import=import_progress(s, portal.id, utcnow()), open_requests=plan_view.open_counts(s, portal.id),
        managers=access.managers(s, portal.id), companies=companies, users=users, company_id=company_id,
        f=lambda action: form if form is not None and action == request.view_args.get("action") else Form({}),
        row_errors=list(dict.fromkeys(form.errors.values()))
        if form is not None and request.view_args.get("action") in ROW_ACTIONS else [],
        form=form or Form({}), done=request.args.get("done"), search=search,
        zone_options=[(z, z) for z in dict.fromkeys((portal.time_zone, *TIME_ZONES))],
    )


@dataclass(frozen=True)
class ImportProgress:
    """The first import while it runs: records posted of those the portal
    has, and the time left at the rate so far (None until it can be told)."""

    done: int
    total: int | None
    percent: int | None
    minutes_left: int | None


def import_progress(s: Session, portal_id: int, now: datetime) -> ImportProgress | None:
    """None once the first sync has finished: the page then shows balances only."""
    from b24.models import SyncState

    state = s.get(SyncState, portal_id)
    if state is not None and state.first_sync_at is not None:
        return None
    done = (state.import_done or 0) if state is not None else 0
    total = state.import_total if state is not None else None
    percent = min(100, done * 100 // total) if total else None
    minutes_left = None
    if total and done and state.import_started_at is not None:
        elapsed_s = max(1, int((now - state.import_started_at).total_seconds()))
        minutes_left = -(-max(0, total - done) * elapsed_s // done // 60)  # rounded up
    return ImportProgress(done, total, percent, minutes_left)


@bp.post("/app/portal/<action>")
def portal_action(action: str):
    frame = manager_frame()
    handler = PORTAL_ACTIONS.get(action)
    if handler is None:
        abort(404)
    if action.startswith("manager_") and not frame.admin:
        abort(403, description=_("Only portal administrators name managers."))
    form = Form(_with_user_name(frame.portal_id))
    s = db.session()
    portal = _portal(frame, s)
    try:
        target = handler(s, portal, form, actor(frame))
    except LedgerError as err:
        form.fail("_", _(err.template, **err.params))
        target = None
    if not form.ok:
        s.rollback()
        s.close()
        return _home(frame, form, 400)
    s.commit()
    if isinstance(target, Account):
        return redirect(url_for("manager.account", account_id=target.id, t=g.frame_token, done=action), 303)
    return redirect(url_for("manager.home", t=g.frame_token, done=action), 303)


def _set_time_zone(s: Session, portal: Portal, form: Form, who: str) -> None:
    zone = form.text("time_zone", required=True, max_len=64)
    if zone and not is_valid_zone(zone):
        form.fail("time_zone", _("Unknown time zone."))
    if form.ok:
        contracts.set_time_zone(s, portal, zone, who)


def _set_mode(s: Session, portal: Portal, form: Form, who: str) -> None:
    mode = form.choice("mode", ("client", "integrator"))
    if form.ok:
        contracts.set_mode(s, portal, mode, who)


def _with_user_name(portal_id: int) -> dict[str, str]:
    """The form, with the portal's name for a chosen user when none was
    typed: asked before the write transaction begins."""
    data = request.form.to_dict()
    user_id = data.get("user_id", "").strip()
    if user_id.isascii() and user_id.isdecimal() and len(user_id) < 16 and not data.get("name", "").strip():
        data["name"] = dict(_portal_names(portal_id, directory.users)).get(int(user_id), "")
    return data


def _add_manager(s: Session, portal: Portal, form: Form, who: str) -> None:
    user_id = form.integer("user_id", high=10**12)
    name = form.text("name")
    if form.ok and user_id is not None:
        access.add_manager(s, portal, user_id, name, actor=who)


def _remove_manager(s: Session, portal: Portal, form: Form, who: str) -> None:
    manager_id = form.integer("manager_id")
    found = s.get(access.Manager, manager_id) if manager_id else None
    if found is None or found.portal_id != portal.id:
        form.fail("manager_id", _("No such manager."))
        return
    access.remove_manager(s, found, actor=who)


def _add_account(s: Session, portal: Portal, form: Form, who: str) -> Account | None:
    name = form.text("name", required=True)
    language = form.choice("language", ("ru", "en"), "ru")
    company_id = form.integer("company_id", required=False, high=10**15)
    group_id = form.integer("group_id", required=False, high=10**15)
    if portal.mode == "integrator" and company_id is None and group_id is None:
        form.fail("company_id", _("Choose the client's CRM company or a workgroup."))
    if not form.ok:
        return None
    return contracts.add_account(s, portal, name, company_id=company_id,
                                 group_ids=(group_id,) if group_id else (), language=language, actor=who)


PORTAL_ACTIONS: dict[str, Callable[..., Any]] = {
    "time_zone": _set_time_zone, "mode": _set_mode, "manager_add": _add_manager,
    "manager_remove": _remove_manager, "account_add": _add_account,
}


# ---------------------------------------------------------------- one account


@dataclass
class AccountPage:
    """Everything the account's settings page shows, read in one place."""

    account: Account
    contract: Contract | None
    stages: list[Stage]
    terms: list[dict]
    bindings: list[AccountBinding]
    team: list[TeamMember]
    directions: list[tuple[Direction, Any]]
    caps: list[tuple[Cap, Any]]
    adjustments: list[Adjustment]
    links: list[tuple[CabinetLink, str]]
    recipients: list[ReportRecipient]
    audit: list[AuditEvent]
    report_settings: ReportSettings
    reports: list[SentReport]
    weeks: list[str]
    steering: Any = None  # plan_view.EditorView: the plan, its forecast, the open requests


def _account_page(s: Session, account: Account) -> AccountPage:
    now = utcnow()
    contract = contracts.active_contract(s, account, now)
    period = balance(s, account.id)
    period_id = period.period_id if period else None
    usage = {d.direction_id: d for d in direction_usage(s, account.portal_id, account.id, period_id)}
    directions = [(d, usage.get(d.id)) for d in s.execute(
        select(Direction).where(Direction.account_id == account.id).order_by(Direction.position)).scalars()]
    cap_use = {c.cap_id: c for c in cap_usage(s, account.portal_id, account.id, period_id)}
    caps = [(c, cap_use.get(c.id)) for c in s.execute(
        select(Cap).where(Cap.account_id == account.id).order_by(Cap.id)).scalars()]
    return AccountPage(
        account=account, contract=contract,
        stages=contracts.stages_of(s, contract) if contract else [],
        terms=[{**t, "effective_on": date.fromisoformat(t["effective_on"])}
               for t in contracts._terms(s, contract)] if contract else [],
        bindings=list(s.execute(select(AccountBinding).where(AccountBinding.account_id == account.id)).scalars()),
        team=list(s.execute(select(TeamMember).where(
            TeamMember.portal_id == account.portal_id,
            (TeamMember.account_id == account.id) | TeamMember.account_id.is_(None))
            .order_by(TeamMember.account_id.is_(None), TeamMember.name)).scalars()),
        directions=directions, caps=caps,
        adjustments=list(s.execute(select(Adjustment).where(Adjustment.account_id == account.id)
                                   .order_by(Adjustment.id.desc()).limit(20)).scalars()),
        links=[(link, cabinet_url(link)) for link in access.cabinet_links(s, account.id)],
        recipients=access.recipients(s, account.id),
        audit=list(s.execute(select(AuditEvent).where(AuditEvent.account_id == account.id)
                             .order_by(AuditEvent.id.desc()).limit(30)).scalars()),
        report_settings=settings_of(s, account.id),
        reports=list(s.execute(select(SentReport).where(SentReport.account_id == account.id)
                               .order_by(SentReport.id.desc()).limit(20)).scalars()),
        weeks=_recent_weeks(s, account, now),
        steering=plan_view.editor(s, account, summarize(s, account.id, now), now, _chosen_tariff()),
    )


def _chosen_tariff() -> int | None:
    """The tariff the forecast is shown at (?tariff=80), else the contract's."""
    found = Form(request.args).integer("tariff", required=False, high=plan.MAX_PLAN_S // 3600) \
        if request.args.get("tariff") else None
    return found * 3600 if found else None


def _recent_weeks(s: Session, account: Account, now: datetime) -> list[str]:
    """This week and the eight before it, then this month and the two
    before it, in the portal's zone, newest first."""
    from ledger.calendar import add_months, local_date, month_label, month_start
    from reports.build import week_label

    portal = s.get(Portal, account.portal_id)
    tz = portal.time_zone if portal else "UTC"
    monday = week_of(now, tz)
    month = month_start(local_date(now, tz))
    return ([week_label(monday - timedelta(days=7 * n)) for n in range(9)]
            + [month_label(add_months(month, -n)) for n in range(3)])


@bp.get("/app/account/<int(max=2147483647):account_id>")
def account(account_id: int):
    frame = manager_frame()
    return _account_response(frame, _account(frame, account_id).id)


def _account_response(frame: frames.Frame, account_id: int, form: Form | None = None, status: int = 200,
                      section: str | None = None):
    # The portal's names first, outside any transaction of ours: on SQLite
    # the REST layer's token refresh would otherwise wait on our own lock.
    users = _portal_names(frame.portal_id, directory.users)
    s = db.reader()
    s.rollback()  # a fresh snapshot: after a failed write, show what is stored now
    account = s.get(Account, account_id)
    assert account is not None
    page = _account_page(s, account)
    v = account_view(s, account.id)
    form, section = form or Form({}), section or request.args.get("done", "")
    blank = Form({})
    row_errors = list(dict.fromkeys(form.errors.values())) if section in ROW_ACTIONS else []
    return render_frame("manager_account.html", account.portal_id, status, frame=frame, page=page, v=v,
                        f=lambda action: form if action == section else blank, form=form, section=section,
                        done=request.args.get("done"), users=users, roles=ROLES, now=utcnow(),
                        week_options=[(w, w) for w in page.weeks], row_errors=row_errors,
                        tariffs=plan.TARIFFS_H)


@bp.post("/app/account/<int(max=2147483647):account_id>/<action>")
def account_action(account_id: int, action: str):
    frame = manager_frame()
    handler = ACCOUNT_ACTIONS.get(action)
    if handler is None:
        abort(404)
    _account(frame, account_id)
    form = Form(_with_user_name(frame.portal_id))
    s = db.session()
    account = _account(frame, account_id, s)
    try:
        handler(s, account, form, actor(frame))
    except LedgerError as err:
        form.fail("_", _(err.template, **err.params))
    if not form.ok:
        s.rollback()
        s.close()  # nothing of the write session may start a transaction again in this request
        return _account_response(frame, account_id, form, 400, section=action)
    s.commit()
    return redirect(url_for("manager.account", account_id=account.id, t=g.frame_token, done=action)
                    + f"#{action.split('_')[0]}", 303)


def _policies(form: Form) -> Policies | None:
    """The policies of the form, or None when it has none (the calculator's
    "set this tariff" button changes hours and price only)."""
    if not form.raw("expiry_policy"):
        return None
    expiry = form.choice("expiry_policy", ("burn", "rollover"), "burn")
    cap_s = form.hours("rollover_cap", required=False, allow_zero=True)
    max_age = form.integer("rollover_max_age", required=False, low=1, high=120)
    overage = form.choice("overage_policy", ("bill", "deduct"), "bill")
    rounding = form.choice("rounding_mode", ("none", "up", "down", "nearest"), "none")
    step_min = form.integer("rounding_step_min", required=rounding != "none", low=1, high=240) or 0
    return Policies(expiry, cap_s if expiry == "rollover" else None, max_age if expiry == "rollover" else None,
                    overage, rounding, step_min * 60 if rounding != "none" else 0)


def _contract_fields(form: Form) -> dict[str, Any]:
    """What every contract form reads alike, after its own fields: the
    start, the title and the policies, as the contracts.set_* keywords."""
    return {"starts_on": form.day("starts_on"), "title": form.text("title"), "policies": _policies(form)}


def _retainer(s: Session, account: Account, form: Form, who: str) -> None:
    tariff = form.raw("tariff")
    if tariff and tariff != "custom":
        hours_s = form.hours("tariff")
    else:
        hours_s = form.hours("hours")
    price = form.money("price")
    fields = _contract_fields(form)
    if form.ok and hours_s is not None and price is not None:
        contracts.set_retainer(s, account, hours_s=hours_s, price_minor=price, actor=who, **fields)


def _parse_stages(form: Form) -> list[tuple[str, int, int]]:
    """One stage per line: `name; hours; price` (price optional)."""
    text = form.text("stages", required=True, max_len=5000)
    stages = []
    for number, line in enumerate((x for x in text.splitlines() if x.strip()), start=1):
        parts = [p.strip() for p in line.split(";")]
        if len(parts) < 2 or not parts[0]:
            form.fail("stages", _("Line %(n)d: write «name; hours; price».", n=number))
            break
        sub = Form({"hours": parts[1], "price": parts[2] if len(parts) > 2 else ""})
        hours_s, price = sub.hours("hours"), sub.money("price")
        if not sub.ok or hours_s is None or price is None:
            form.fail("stages", _("Line %(n)d: %(error)s", n=number, error=next(iter(sub.errors.values()))))
            break
        stages.append((parts[0][:255], hours_s, price))
    if len(stages) > 50:
        form.fail("stages", _("At most 50 stages."))
    return stages


def _staged(s: Session, account: Account, form: Form, who: str) -> None:
    stages = _parse_stages(form)
    fields = _contract_fields(form)
    if form.ok:
        contracts.set_staged(s, account, stages=stages, actor=who, **fields)


def _upfront(s: Session, account: Account, form: Form, who: str) -> None:
    budget = form.hours("budget")
    price = form.money("price")
    fields = _contract_fields(form)
    if form.ok and budget is not None and price is not None:
        contracts.set_upfront(s, account, budget_s=budget, price_minor=price, actor=who, **fields)


def _current_contract(s: Session, account: Account, form: Form, kind: str) -> Contract | None:
    contract = contracts.active_contract(s, account, utcnow())
    if contract is None or contract.kind != kind:
        form.fail("_", _("The account has no such contract running."))
        return None
    return contract


def _stage_paid(s: Session, account: Account, form: Form, who: str) -> None:
    contract = _current_contract(s, account, form, "staged")
    stage_id = form.integer("stage_id")
    stage = s.get(Stage, stage_id) if stage_id else None
    if contract is None or stage is None or stage.contract_id != contract.id:
        form.fail("_", _("No such stage."))
        return
    contracts.mark_stage_paid(s, stage, form.flag("paid"), actor=who)


def _stage_advance(s: Session, account: Account, form: Form, who: str) -> None:
    """Finish the stage now, or as of the day the next one began when the
    manager is late: the work logged since counts in the next stage."""
    contract = _current_contract(s, account, form, "staged")
    next_from = form.day("next_from")
    if contract is None or not form.ok:
        return
    portal = s.get(Portal, account.portal_id)
    assert portal is not None
    ends_at = local_midnight(next_from, portal.time_zone) if next_from else None
    try:
        contracts.advance_stage(s, contract, actor=who, ends_at=ends_at)
    except LedgerError as err:
        if err.template not in contracts.STAGE_END_REFUSALS:
            raise
        form.fail("next_from", _(err.template, **err.params))


def _finish(s: Session, account: Account, form: Form, who: str) -> None:
    contract = _current_contract(s, account, form, "upfront")
    if contract is not None:
        contracts.finish_project(s, contract, actor=who)


def _adjust(s: Session, account: Account, form: Form, who: str) -> None:
    amount = form.hours("amount", allow_negative=True)
    reason = form.text("reason", required=True, max_len=1000)
    if form.ok and amount is not None:
        contracts.adjust(s, account, amount, reason=reason, author=who)


def _settings(s: Session, account: Account, form: Form, who: str) -> None:
    name = form.text("name", required=True)
    language = form.choice("language", ("ru", "en"), "ru")
    if form.ok and (name, language) != (account.name, account.language):
        before = {"name": account.name, "language": account.language}
        account.name, account.language = name, language
        contracts.audit(s, who, "account.update", portal_id=account.portal_id, account_id=account.id,
                        before=before, after={"name": name, "language": language})


def _bind(s: Session, account: Account, form: Form, who: str) -> None:
    kind = form.choice("kind", ("company", "group"))
    ref_id = form.integer("ref_id", high=10**15)
    if form.ok and ref_id is not None:
        contracts.bind_account(s, account, kind, ref_id, actor=who)


def _team_add(s: Session, account: Account, form: Form, who: str) -> None:
    user_id = form.integer("user_id", high=10**12)
    name = form.text("name")
    role = form.choice("role", ROLES, "specialist")
    scope = form.choice("scope", ("account", "portal"), "account")
    active_from = form.day("active_from")
    if form.ok and user_id is not None:
        portal = s.get(Portal, account.portal_id)
        assert portal is not None
        contracts.add_team_member(s, portal, user_id, name=name, role=role,
                                  account=account if scope == "account" else None,
                                  active_from=active_from, actor=who)


def _team_end(s: Session, account: Account, form: Form, who: str) -> None:
    member_id = form.integer("member_id")
    until = form.day("until", required=True)
    member = s.get(TeamMember, member_id) if member_id else None
    if member is None or member.portal_id != account.portal_id or member.account_id not in (None, account.id):
        form.fail("_", _("No such team member."))
        return
    if form.ok and until is not None:
        contracts.end_team_member(s, member, until, actor=who)


def _direction_fields(form: Form) -> dict[str, Any]:
    return {"name": form.text("name", required=True), "planned_s": form.hours("planned", allow_zero=True),
            "match_kind": form.choice("match_kind", ("group", "tag", "parent")),
            "match_value": form.text("match_value", required=True)}


def _direction_add(s: Session, account: Account, form: Form, who: str) -> None:
    values = _direction_fields(form)
    if form.ok:
        contracts.add_direction(s, account, values.pop("name"), actor=who, **values)


def _direction_of(s: Session, account: Account, form: Form) -> Direction | None:
    return _own_row(s, account, form, Direction, "direction_id", _("No such direction."))


def _direction_update(s: Session, account: Account, form: Form, who: str) -> None:
    direction = _direction_of(s, account, form)
    values = _direction_fields(form)
    if form.ok and direction is not None:
        contracts.update_direction(s, direction, actor=who, **values)


def _direction_remove(s: Session, account: Account, form: Form, who: str) -> None:
    direction = _direction_of(s, account, form)
    if direction is not None:
        contracts.remove_direction(s, direction, actor=who)


def _cap_add(s: Session, account: Account, form: Form, who: str) -> None:
    scope = form.choice("scope", ("task", "direction"))
    ref_id = form.integer("task_id", high=10**15) if scope == "task" else form.integer("direction_id")
    limit_s = form.hours("limit")
    per = form.choice("per", ("period", "total"), "period")
    if form.ok and ref_id is not None and limit_s is not None:
        contracts.add_cap(s, account, scope=scope, ref_id=ref_id, limit_s=limit_s, per=per, actor=who)


def _cap_remove(s: Session, account: Account, form: Form, who: str) -> None:
    cap = _own_row(s, account, form, Cap, "cap_id", _("No such cap."))
    if cap is not None:
        contracts.remove_cap(s, cap, actor=who)


def _link_of(s: Session, account: Account, form: Form) -> CabinetLink | None:
    return _own_row(s, account, form, CabinetLink, "link_id", _("No such link."))


def _link_create(s: Session, account: Account, form: Form, who: str) -> None:
    label = form.text("label")
    days = form.integer("valid_days", required=False, low=1, high=access.MAX_LINK_DAYS)
    if form.ok:
        access.create_cabinet_link(s, account, actor=who, label=label, valid_days=days)


def _link_rotate(s: Session, account: Account, form: Form, who: str) -> None:
    link = _link_of(s, account, form)
    if link is not None:
        access.rotate_cabinet_link(s, link, actor=who)


def _link_revoke(s: Session, account: Account, form: Form, who: str) -> None:
    link = _link_of(s, account, form)
    if link is not None:
        access.revoke_cabinet_link(s, link, actor=who)


def _recipient_add(s: Session, account: Account, form: Form, who: str) -> None:
    email = form.text("email", required=True)
    name = form.text("name")
    if form.ok:
        access.add_recipient(s, account, email, name, alerts=form.flag("alerts"), actor=who)


def _recipient_remove(s: Session, account: Account, form: Form, who: str) -> None:
    found = _own_row(s, account, form, ReportRecipient, "recipient_id", _("No such recipient."))
    if found is not None:
        access.remove_recipient(s, found, actor=who)


def _report_settings(s: Session, account: Account, form: Form, who: str) -> None:
    weekly = form.flag("weekly")
    hour = form.integer("send_hour", low=0, high=23)
    dialog = form.text("chat_dialog", max_len=64)
    users = form.text("notify_user_ids", max_len=255)
    days = form.integer("alert_days", low=1, high=28)
    client_alerts = form.flag("client_alerts")
    if dialog and not (dialog.isascii() and (dialog.startswith("chat") and dialog[4:].isdecimal()
                                             or dialog.isdecimal())):
        form.fail("chat_dialog", _("A chat as chat42 (group chat) or a user number."))
    if users and not all(u.strip().isascii() and u.strip().isdecimal() for u in users.split(",")):
        form.fail("notify_user_ids", _("User numbers separated by commas."))
    if not form.ok:
        return
    current = settings_of(s, account.id)
    fields = ("weekly", "send_hour", "chat_dialog", "notify_user_ids", "alert_days", "client_alerts")
    before = {f: getattr(current, f) for f in fields}
    if s.get(ReportSettings, account.id) is None:
        s.add(current)
    current.weekly, current.send_hour, current.chat_dialog = weekly, hour, dialog
    current.notify_user_ids = ",".join(u.strip() for u in users.split(",") if u.strip())
    current.alert_days, current.client_alerts = days, client_alerts
    contracts.audit(s, who, "report.settings", portal_id=account.portal_id, account_id=account.id,
                    before=before, after={f: getattr(current, f) for f in fields})


def _report_send(s: Session, account: Account, form: Form, who: str) -> None:
    week = form.text("week", required=True, max_len=10)
    try:
        span(week)
    except ValueError:
        form.fail("week", _("A week as 2026-W47 or a month as 2026-11."))
        return
    from jobs import reports as report_jobs

    hb = current_app.extensions["hourbook"]
    hb.runner.enqueue(report_jobs.send_report, account.id, week, who, job_id=f"report-manual-{account.id}-{week}")


def _report_resend(s: Session, account: Account, form: Form, who: str) -> None:
    row = _own_row(s, account, form, SentReport, "report_id", _("No such report."))
    if row is None:
        return
    from jobs import reports as report_jobs

    current_app.extensions["hourbook"].runner.enqueue(report_jobs.resend, row.id, who,
                                                      job_id=f"report-resend-{row.id}")


# Buttons in a list's rows: their forms have no field to show a message beside,
# so a refusal is said at the top of the page.
ROW_ACTIONS = {"amocrm_disconnect", "contract_stagepaid", "contract_advance", "contract_finish", "team_end", "plan_remove",
               "plan_capremove", "access_rotate", "access_revoke", "access_recipientremove", "report_resend",
               "manager_remove", *MANAGER_ROW_ACTIONS}

ACCOUNT_ACTIONS: dict[str, Callable[..., None]] = {
    "amocrm_disconnect": amocrm.manager_disconnect,
    "contract_retainer": _retainer, "contract_staged": _staged, "contract_upfront": _upfront,
    "contract_stagepaid": _stage_paid, "contract_advance": _stage_advance, "contract_finish": _finish,
    "adjust": _adjust, "settings": _settings, "settings_bind": _bind,
    "team_add": _team_add, "team_end": _team_end,
    "plan_add": _direction_add, "plan_update": _direction_update, "plan_remove": _direction_remove,
    "plan_capadd": _cap_add, "plan_capremove": _cap_remove,
    "access_create": _link_create, "access_rotate": _link_rotate, "access_revoke": _link_revoke,
    "access_recipientadd": _recipient_add, "access_recipientremove": _recipient_remove,
    "report_settings": _report_settings, "report_send": _report_send, "report_resend": _report_resend,
    **MANAGER_ACTIONS,
}


# ---------------------------------------------------------------- sent reports


def _stored_report(frame: frames.Frame, report_id: int) -> tuple[SentReport, Any]:
    from reports.model import Report

    row = db.reader().get(SentReport, report_id)
    if row is None:
        abort(404)
    _account(frame, row.account_id)  # 404 unless it is this portal's
    return row, Report.from_json(row.data)


@bp.get("/app/report/<int(max=2147483647):report_id>")
def report_view(report_id: int):
    """The report as it was sent (re-rendered from its stored data)."""
    from reports import render

    _, report = _stored_report(manager_frame(), report_id)
    response = make_response(render.html(report))
    return secure(response, frame_ancestors(db.reader(), g.frame.portal_id))


@bp.get("/app/report/<int(max=2147483647):report_id>.xlsx")
def report_xlsx(report_id: int):
    from reports import render
    from reports.mail import XLSX, attachment_name

    _, report = _stored_report(manager_frame(), report_id)
    response = make_response(render.xlsx(report))
    response.headers["Content-Type"] = "/".join(XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{attachment_name(report)}"'
    return response


# ---------------------------------------------------------------- the tariff calculator


@bp.get("/app/calculator")
def calculator():
    frame = manager_frame()
    form = Form(request.args)
    result = None
    account = None
    if request.args.get("account"):
        account_id = form.integer("account")
        account = _account(frame, account_id) if account_id else None
    if request.args.get("plan"):
        plan_s = form.hours("plan", allow_zero=True)
        price = form.money("price", required=True)
        months = form.integer("months", required=False, low=1, high=plan.MAX_MONTHS_WANTED)
        budget = form.money("budget") if form.raw("budget") else None
        meetings = form.integer("meetings", required=False, low=1, high=plan.MAX_MEETINGS_PER_MONTH)
        if plan_s is not None and plan_s > plan.MAX_PLAN_S:
            form.fail("plan", _("At most %(n)d hours.", n=plan.MAX_PLAN_S // 3600))
        if price is not None and price > plan.MAX_HOUR_PRICE_MINOR:
            form.fail("price", _("Too large."))
        if form.ok and plan_s is not None and price is not None:
            result = plan.recommend(plan_s, price, months_wanted=months, monthly_budget_minor=budget,
                                    meetings_per_month=meetings)
    return render_frame("manager_calculator.html", frame.portal_id, 400 if not form.ok else 200, frame=frame,
                        form=form, result=result, account=account,
                        reason=reason_text(result) if result is not None else "")


def reason_text(r: plan.Recommendation) -> str:
    """The calculator's reason code, said to the manager."""
    a = r.reason_args
    h, m, w = a.get("tariff_h", 0), a.get("months", 0), a.get("months_wanted", 0)
    if r.reason == "nothing_needed":
        return _("The plan is empty: nothing to buy.")
    if r.reason == "no_tariff_fits_budget":
        return _("No package fits the budget: the smallest, %(h)d h, costs %(price)s a month against %(budget)s.",
                 h=h, price=money(a.get("monthly_price_minor")), budget=money(a.get("monthly_budget_minor")))
    if r.reason == "no_tariff_fits_contact":
        return _("Every package within the budget needs more meetings than the client can give: %(h)d h needs "
                 "%(need)d a month, the client can meet %(can)d times.", h=h, need=a.get("meetings_needed", 0),
                 can=a.get("meetings_per_month", 0))
    if r.reason == "urgency_met":
        text = _("%(h)d h a month finishes in %(m)d months, within the wanted %(w)d, with the fewest hours left "
                 "to burn.", h=h, m=m, w=w)
    elif r.reason == "urgency_unmet":
        text = _("No allowed package finishes in %(w)d months; the fastest allowed, %(h)d h a month, takes "
                 "%(m)d.", h=h, m=m, w=w)
    else:
        text = _("%(h)d h a month for %(m)d months: the plan fits with the fewest hours left to burn.", h=h, m=m)
    if a.get("allowed_count") == 1 and a.get("excluded_by") in ("budget", "budget_and_contact"):
        text += " " + _("The budget leaves no other choice.")
    return text


@bp.app_template_global()
def money(minor: int | None, currency: str = "RUB") -> str:
    """1 234 567,50 ₽ — spaces between thousands, kopecks only when there are any."""
    if minor is None:
        return ""
    whole, part = divmod(abs(minor), 100)
    text = f"{whole:,}".replace(",", "\u00a0") + (f",{part:02d}" if part else "")
    sign = "−" if minor < 0 else ""
    return f"{sign}{text}\u00a0{'₽' if currency == 'RUB' else currency}"


@bp.app_template_global()
def audit_changes(event: AuditEvent) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of an audit event, changed fields only."""
    import json

    try:
        before, after = json.loads(event.before or "{}"), json.loads(event.after or "{}")
    except ValueError:
        return []
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    changes = []
    for k in keys[:8]:
        old, new = before.get(k), after.get(k)
        if isinstance(old, list) and isinstance(new, list):  # a list that grew (terms): what was added
            old, new = None, [item for item in new if item not in old] or new
        changes.append((_audit_key(k), _audit_value(k, old), _audit_value(k, new)))
    return changes


def _audit_key(key: str) -> str:
    """hours_s → hours, price_minor → price: the unit is in the value."""
    for suffix in ("_s", "_minor"):
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def _audit_value(key: str, value: Any) -> Any:
    """Seconds as hours and minor units as money, as everywhere else on the
    page, also inside the rows a change stores (a tariff's terms)."""
    if isinstance(value, dict):
        return ", ".join(f"{_audit_key(k)}: {_audit_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(str(_audit_value(key, item)) for item in value)
    if type(value) is not int:
        return value
    if key.endswith("_s"):
        return hours(value)
    if key.endswith("_minor"):
        return money(value)
    return value


@bp.app_template_global()
def form_value(form: Form, name: str, default: Any = "") -> Any:
    """What the manager typed (after an error), else the current value."""
    value = form.data.get(name) if hasattr(form.data, "get") else None
    return default if value is None else value

