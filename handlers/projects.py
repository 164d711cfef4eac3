"""Implementation projects on the pages (issue 16): the scope, the late and
stalled lines and the timeline for the client (widget and cabinet, through
template globals read by `_project.html`); the manager's scope, payment
and acceptance forms; the implementation advisor beside the tariff
calculator; the handover package. Thin: the ledger decides, this reads
forms and says its answers in the reader's language."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from ledger import advisor, projects
from ledger.calendar import local_date, local_midnight
from ledger.contracts import STAGE_END_REFUSALS
from ledger.contracts import LedgerError
from ledger.db import utcnow
from ledger.models import SCOPE_KINDS, STALL_DAYS_RANGE, Account, Portal
from ledger.projects import ItemStatus, Lateness, ProjectStatus, Stall, StageStatus
from b24.links import task_url
from ledger.handover import package
from reports import timeline
from reports.handover import files as handover_files
from reports.handover import with_acts

from . import db
from .fields import Form
from .i18n import day
from .manager import _account, _account_response, actor, manager_frame, money
from .views import frame_ancestors, secure
from .widget import render_frame

bp = Blueprint("projects", __name__)


# ---------------------------------------------------------------- what the pages say


@bp.app_template_global()
def project_of(account_id: int, now: datetime | None = None) -> ProjectStatus | None:
    """The account's project for a page, or None (a retainer, no contract)."""
    return projects.project_status(db.reader(), account_id, now or utcnow())


@bp.app_template_global()
def project_timeline(p: ProjectStatus, width: int = timeline.WIDTH) -> timeline.Timeline:
    return timeline.build(p, width)


@bp.app_template_global()
def scope_kind_names() -> dict[str, str]:
    return {"setting": _("setting"), "integration": _("integration"), "widget": _("widget"),
            "training": _("training"), "instruction": _("instruction")}


@bp.app_template_global()
def item_state_names() -> dict[str, str]:
    return {"not_started": _("not started"), "in_progress": _("in progress"), "done": _("done"),
            "accepted": _("accepted")}


@bp.app_template_global()
def stage_options(p: ProjectStatus) -> list[tuple[int, str]]:
    return [(st.id, f"{st.position}. {st.name}") for st in p.stages if st.id is not None]


@bp.app_template_global()
def item_options(p: ProjectStatus) -> list[tuple[int, str]]:
    return [(i.id, i.title) for i in p.items]


def _what(subject: StageStatus | ItemStatus, p: ProjectStatus) -> str:
    if isinstance(subject, ItemStatus):
        return _("«%(name)s»", name=subject.title)
    if subject.id is None:
        return _("the project")
    return _("stage «%(name)s»", name=subject.name)


@bp.app_template_global()
def late_line(subject: StageStatus | ItemStatus, late: Lateness, p: ProjectStatus) -> str:
    """«Этап «Настройка» опаздывает на 6 дней», and its kin."""
    what = _what(subject, p)
    n = late.days
    if late.kind == "missed":
        text = ngettext("%(what)s is %(num)d day late (due %(date)s).",
                        "%(what)s is %(num)d days late (due %(date)s).", n, what=what, date=day(late.due_on))
    elif late.kind == "projected":
        text = ngettext("At this pace %(what)s will finish on %(finish)s, %(num)d day after its date.",
                        "At this pace %(what)s will finish on %(finish)s, %(num)d days after its date.", n,
                        what=what, finish=day(late.finish_on, "d MMMM y"))
    else:
        text = ngettext("%(what)s was finished %(num)d day late.", "%(what)s was finished %(num)d days late.", n,
                        what=what)
    return text[:1].upper() + text[1:]


@bp.app_template_global()
def stall_line(subject: StageStatus, stall: Stall, p: ProjectStatus) -> str:
    what = _what(subject, p)
    n = stall.days
    if stall.kind == "payment":
        text = ngettext("%(what)s: waiting for payment for %(num)d day.",
                        "%(what)s: waiting for payment for %(num)d days.", n, what=what)
    elif stall.kind == "client":
        text = ngettext("%(what)s: the work is done and has waited for acceptance for %(num)d day.",
                        "%(what)s: the work is done and has waited for acceptance for %(num)d days.", n, what=what)
    else:
        text = ngettext("%(what)s: no work for %(num)d day.", "%(what)s: no work for %(num)d days.", n, what=what)
    return text[:1].upper() + text[1:]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _late_json(late: Lateness | None) -> dict | None:
    if late is None:
        return None
    return {"kind": late.kind, "days": late.days, "due_on": _iso(late.due_on), "finish_on": _iso(late.finish_on)}


def project_json(p: ProjectStatus | None) -> dict:
    """The cabinet's JSON of the project (the same reading as _project.html):
    integer seconds and minor units, ISO dates; the late and stalled lines
    in the reader's language beside their figures. Only the account's own
    scope, stages and linked tasks: project_status reads nothing else."""
    if p is None:
        return {"project": None}
    stages = [{
        "id": st.id, "position": st.position, "name": st.name, "state": st.state,
        "planned_s": st.planned_s, "spent_s": st.spent_s, "due_on": _iso(st.due_on),
        "price_minor": st.price_minor, "paid": st.paid, "paid_on": _iso(st.paid_on),
        "pay_due_on": _iso(st.pay_due_on), "started_on": _iso(st.started_on), "ended_on": _iso(st.ended_on),
        "accepted_on": _iso(st.accepted_on), "late": _late_json(st.late),
        "stalls": [{"kind": s.kind, "since": _iso(s.since), "days": s.days} for s in st.stalls],
        "items": [{"id": i.id, "kind": i.kind, "title": i.title, "state": i.state, "planned_s": i.planned_s,
                   "spent_s": i.spent_s, "due_on": _iso(i.due_on), "done_on": _iso(i.done_on),
                   "accepted_on": _iso(i.accepted_on), "late": _late_json(i.late),
                   "tasks": [{"task_id": t.task_id, "title": t.title, "spent_s": t.spent_s} for t in i.tasks]}
                  for i in st.items]} for st in p.stages]
    late = [{"stage_id" if isinstance(subject, StageStatus) else "item_id": subject.id, **_late_json(lt),
             "line": late_line(subject, lt, p)} for subject, lt in p.late]
    stalls = [{"stage_id": st.id, "kind": s.kind, "since": _iso(s.since), "days": s.days,
               "line": stall_line(st, s, p)} for st, s in p.stalls]
    return {"project": {
        "kind": p.kind, "title": p.title, "currency": p.currency, "today": _iso(p.today),
        "planned_s": p.planned_s, "spent_s": p.spent_s, "price_minor": p.price_minor, "paid_minor": p.paid_minor,
        "finish_on": _iso(p.finish_on), "stall_days": p.stall_days, "stages": stages, "late": late,
        "stalls": stalls}}


# ---------------------------------------------------------------- the manager's forms


def _item_add(s: Session, account: Account, form: Form, who: str) -> None:
    kind = form.choice("kind", SCOPE_KINDS)
    title = form.text("title", required=True, max_len=projects.MAX_TITLE)
    planned = form.hours("planned", allow_zero=True)
    due_on = form.day("due_on")
    stage_id = form.integer("stage_id", required=False)
    tasks = []
    for part in form.raw("tasks").replace(",", " ").split():
        sub = Form({"task": part.lstrip("#")})
        number = sub.integer("task")
        if number is None:
            form.fail("tasks", _("Task numbers, separated by spaces or commas."))
            break
        tasks.append(number)
    if form.ok and planned is not None:
        projects.add_item(s, account, kind=kind, title=title, planned_s=planned, due_on=due_on, stage_id=stage_id,
                          task_ids=tuple(tasks), actor=who)


def _item_state(s: Session, account: Account, form: Form, who: str) -> None:
    item_id = form.integer("item_id")
    state = form.choice("state", projects.ITEM_STATES)
    if form.ok:
        projects.set_item_state(s, account, item_id, state, actor=who)


def _item_link(s: Session, account: Account, form: Form, who: str) -> None:
    item_id, task_id = form.integer("item_id"), form.integer("task_id")
    if form.ok:
        projects.link_task(s, account, item_id, task_id, actor=who)


def _item_remove(s: Session, account: Account, form: Form, who: str) -> None:
    item_id = form.integer("item_id")
    if form.ok:
        projects.remove_item(s, account, item_id, actor=who)


def _stage_dates(s: Session, account: Account, form: Form, who: str) -> None:
    stage_id = form.integer("stage_id", required=False)
    due_on, pay_due_on = form.day("due_on"), form.day("pay_due_on")
    if form.ok:
        projects.set_stage_dates(s, account, stage_id, due_on=due_on, pay_due_on=pay_due_on, actor=who)


def _paid(s: Session, account: Account, form: Form, who: str) -> None:
    stage_id = form.integer("stage_id", required=False)
    paid = form.choice("paid", ("1", "0")) == "1"
    if form.ok:
        projects.record_payment(s, account, stage_id, paid, actor=who)


def _stall_days(s: Session, account: Account, form: Form, who: str) -> None:
    low, high = STALL_DAYS_RANGE
    days = form.integer("stall_days", low=low, high=high)
    if form.ok:
        projects.set_stall_days(s, account, days, actor=who)


def _accept(s: Session, account: Account, form: Form, who: str) -> None:
    """Accepted now, or as of the day the client accepted when the manager
    records it later: the next stage starts that day (its work counts there)."""
    stage_id = form.integer("stage_id")
    on = form.day("at")
    if form.ok:
        portal = s.get(Portal, account.portal_id)
        assert portal is not None
        at = local_midnight(on, portal.time_zone) if on else None
        try:
            projects.accept_stage(s, account, stage_id, actor=who, at=at)
        except LedgerError as err:
            if err.template not in STAGE_END_REFUSALS:
                raise
            form.fail("_", _(err.template, **err.params))


ROW_ACTIONS = {"state", "remove", "paid", "accept"}
ACTIONS = {"item": _item_add, "state": _item_state, "link": _item_link, "remove": _item_remove,
           "dates": _stage_dates, "paid": _paid, "accept": _accept, "stall": _stall_days}


@bp.post("/app/account/<int(max=2147483647):account_id>/project/<action>")
def project_action(account_id: int, action: str):
    frame = manager_frame()
    handler = ACTIONS.get(action)
    if handler is None:
        abort(404)
    _account(frame, account_id)
    form = Form()
    s = db.session()
    account = _account(frame, account_id, s)
    try:
        handler(s, account, form, actor(frame))
    except LedgerError as err:
        form.fail("_", _(err.template, **err.params))
    if not form.ok:
        s.rollback()
        s.close()
        if action in ROW_ACTIONS and "_" not in form.errors:  # hidden fields only: the message goes on top
            form.fail("_", next(iter(form.errors.values())))
        return _account_response(frame, account_id, form, 400, section=f"project_{action}")
    s.commit()
    return redirect(url_for("manager.account", account_id=account_id, t=g.frame_token, done=f"project_{action}")
                    + "#project", 303)


# ---------------------------------------------------------------- the handover package


@bp.get("/app/account/<int(max=2147483647):account_id>/handover.<any(xlsx, json):fmt>")
def handover(account_id: int, fmt: str):
    """The package to download: the same files as `python app.py export`."""
    frame = manager_frame()
    account = _account(frame, account_id)
    portal = db.reader().get(Portal, account.portal_id)
    assert portal is not None
    data, _acts = with_acts(db.reader(), package(db.reader(), account.id,
                                                 lambda task_id, responsible: task_url(portal.domain, task_id, responsible)))
    name, content = next((n, c) for n, c in handover_files(data).items() if n.endswith(f".{fmt}"))
    response = make_response(content)
    response.headers["Content-Type"] = ("application/json; charset=utf-8" if fmt == "json" else
                                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return secure(response, frame_ancestors(db.reader(), frame.portal_id))


# ---------------------------------------------------------------- the advisor


def advisor_reason(a: advisor.Advice, currency: str = "RUB") -> str:
    r = a.reason_args
    n = int(r.get("stages_n", 0))
    finish = day(date.fromisoformat(str(r["finish_on"])), "d MMMM y") if "finish_on" in r else ""
    if a.reason == "upfront_affordable":
        return _("Pay all at once: the money is there, so the project does not stretch; everything is agreed in "
                 "the contract at once and done by %(finish)s.", finish=finish)
    if a.reason == "upfront_urgent":
        return _("Pay all at once: only without waits between stages is the work done by the wanted date "
                 "(%(finish)s).", finish=finish)
    if a.reason == "staged_budget":
        return ngettext("In %(num)d stage", "In %(num)d stages", n) + ": " + _(
            "there is no money for all at once, and this is the fewest stages within %(budget)s a month (at most "
            "%(month)s in one month). The project takes %(days)d days longer than paid upfront.",
            budget=money(int(r.get("monthly_budget_minor", 0)), currency),
            month=money(int(r["max_month_minor"]), currency), days=int(r["days_longer"]))
    if a.reason == "staged_leave_easily":
        return ngettext("In %(num)d stage", "In %(num)d stages", n) + ": " + _(
            "a contractor the client does not know yet; after the first stage (%(first)s) the client can leave "
            "with what is done and go to another. Done by %(finish)s.",
            first=money(int(r["first_payment_minor"]), currency), finish=finish)
    if a.reason == "deadline_unmet":
        return _("Nothing within the budget is done by %(wanted)s; the fastest that is (%(what)s) ends on "
                 "%(finish)s, %(late)d days later.",
                 wanted=day(date.fromisoformat(str(r["wanted_by"])), "d MMMM y"),
                 what=_("all at once") if n == 1 else ngettext("%(num)d stage", "%(num)d stages", n),
                 finish=finish, late=int(r["late_days"]))
    return _("No way of paying fits %(budget)s a month: even in %(n)d stages one month asks %(month)s.",
             budget=money(int(r["monthly_budget_minor"]), currency), n=n,
             month=money(int(r["max_month_minor"]), currency))


@bp.get("/app/advisor")
def advisor_page():
    frame = manager_frame()
    form = Form(request.args)
    account = None
    status = None
    if request.args.get("account"):
        account_id = form.integer("account")
        account = _account(frame, account_id) if account_id else None
        if account is not None:
            status = projects.project_status(db.reader(), account.id)
    portal = db.reader().get(Portal, frame.portal_id)
    today = local_date(utcnow(), portal.time_zone if portal else "Europe/Moscow")
    items = [advisor.Item(i.title, i.planned_s) for i in status.items] if status else []
    result = None
    if request.args.get("price"):
        scope_s = form.hours("scope", required=not items)
        price = form.money("price", required=True)
        pace = form.hours("pace")
        budget = form.money("budget") if form.raw("budget") else None
        wanted = form.day("wanted")
        gap = form.integer("gap", required=False, low=0, high=advisor.MAX_GAP_DAYS)
        start = form.day("start") or today
        if form.raw("scope") and scope_s and 0 < scope_s <= advisor.MAX_PLAN_S:
            items = advisor.hours_only(scope_s)
        if form.ok and not items:
            form.fail("scope", _("Required."))
        if form.ok:
            try:
                result = advisor.advise(items, price, pace, start, monthly_budget_minor=budget, wanted_by=wanted,
                                        new_contractor=form.flag("new"),
                                        gap_days=advisor.DEFAULT_GAP_DAYS if gap is None else gap)
            except ValueError:
                form.fail("_", _("These numbers make no project: check the hours, the pace and the sums."))
    return render_frame("manager_advisor.html", frame.portal_id, 400 if not form.ok else 200, frame=frame,
                        form=form, result=result, account=account, project=status, today=today,
                        reason=advisor_reason(result) if result else "", gap=advisor.DEFAULT_GAP_DAYS)
