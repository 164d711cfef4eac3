"""The monthly acts and the weekly call's notes on the pages.

- The manager's account page lists the account's acts (PDF and XLSX
  links), makes the missing ones on demand, and takes notes from the
  weekly call (`_manager_acts.html`, included by manager_account.html).
- The client's cabinet lists the same acts (`_cabinet_acts.html`); its
  signed link is what authenticates a download, and an act of another
  account answers the cabinet's plain 404.

An act is rendered from the data it was kept with (reports.act), so what
is downloaded is the same bytes every time.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, make_response, redirect, url_for
from flask_babel import gettext as _

from ledger.calendar import local_date
from ledger.contracts import LedgerError
from ledger.db import utcnow
from ledger.models import Portal
from reports import act as acts
from reports import act_render, agenda
from reports.models import MonthlyAct

from . import db
from .cabinet import _open as open_cabinet
from .fields import Form
from .manager import _account, _account_response, actor, manager_frame

bp = Blueprint("acts", __name__)
FORMATS = {"pdf": (act_render.pdf, act_render.PDF_TYPE), "xlsx": (act_render.xlsx, act_render.XLSX_TYPE)}


def _l(message: str) -> str:
    return message


# The refusals of reports.agenda a manager can meet, marked for the catalogs.
MESSAGES = (
    _l("a note needs its text"),
    _l("the call's day is within a year of today"),
    _l("too many notes wait for the next report"),
)


@bp.app_context_processor
def _lists() -> dict:
    """What the partial templates list, read when they are rendered (they
    are included by pages other branches change; this keeps those pages'
    handlers untouched)."""
    return {"acts_of": lambda account_id: acts.acts_of(db.reader(), account_id),
            "call_notes_of": lambda account_id: agenda.notes_of(db.reader(), account_id)}


def _download(row: MonthlyAct, fmt: str):
    render, mime = FORMATS[fmt]
    act = acts.stored(row)
    response = make_response(render(act))
    response.headers["Content-Type"] = mime
    response.headers["Content-Disposition"] = f'attachment; filename="{act_render.filename(act, fmt)}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- the manager


@bp.get("/app/act/<int(max=2147483647):act_id>.<any(pdf, xlsx):fmt>")
def manager_download(act_id: int, fmt: str):
    frame = manager_frame()
    row = db.reader().get(MonthlyAct, act_id)
    if row is None:
        abort(404)
    _account(frame, row.account_id)  # 404 unless it is this portal's
    return _download(row, fmt)


@bp.post("/app/account/<int(max=2147483647):account_id>/acts/make")
def make_missing(account_id: int):
    """Backfill: the acts of this account's closed months that have none."""
    frame = manager_frame()
    _account(frame, account_id)
    s = db.session()
    acts.make_missing(s, account_id, made_by=actor(frame))
    s.commit()
    return redirect(url_for("manager.account", account_id=account_id, t=g.frame_token, done="acts") + "#acts", 303)


@bp.post("/app/account/<int(max=2147483647):account_id>/notes")
def add_note(account_id: int):
    frame = manager_frame()
    _account(frame, account_id)
    form = Form()
    text = form.text("text", required=True, max_len=agenda.MAX_NOTE)
    call_on = form.day("call_on")
    s = db.session()
    account = _account(frame, account_id, s)
    if form.ok:
        if call_on is None:
            portal = s.get(Portal, account.portal_id)
            call_on = local_date(utcnow(), portal.time_zone if portal else "UTC")
        try:
            agenda.add_note(s, account, call_on=call_on, text=text, author=actor(frame))
        except LedgerError as err:
            form.fail("_", _(err.template, **err.params))
    if not form.ok:
        s.rollback()
        s.close()
        return _account_response(frame, account_id, form, 400, section="acts_note")
    s.commit()
    return redirect(url_for("manager.account", account_id=account_id, t=g.frame_token, done="acts_note")
                    + "#acts", 303)


# ---------------------------------------------------------------- the client's cabinet


@bp.get("/cabinet/<token>/act/<int(max=2147483647):act_id>.<any(pdf, xlsx):fmt>")
def cabinet_download(token: str, act_id: int, fmt: str):
    account = open_cabinet(token)
    row = db.reader().get(MonthlyAct, act_id)
    if row is None or row.account_id != account.id:
        abort(404)  # as for any wrong link: nothing learned about other accounts' acts
    return _download(row, fmt)
