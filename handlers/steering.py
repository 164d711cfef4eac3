"""The client steers (issue 15): requests from the widget and the cabinet,
and the manager's plan editor and request queue on the app page.

POST /widget/<account>/request   a request from the CRM widget (the frame
                                 token `_t` says who; it is the CSRF guard)
POST /cabinet/<token>/request    a request from the cabinet link (the link
                                 says whose account; a signed form token
                                 `_f` of the page guards against forgery)

A request only asks: the ledger keeps it open until the manager accepts
(which applies it) or declines it with a reason. Each new request is told
to the project chat once (jobs/steering.py). The manager's actions are
`steer_*` forms of the account page (handlers/manager.py runs them).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ledger import client_requests, devplan
from ledger.contracts import LedgerError
from ledger.models import REQUEST_KINDS, Account, ClientRequest, PlanItem

from . import db, frames
from .fields import MAX_ID, Form, own_row

bp = Blueprint("steering", __name__)

TARGET_KINDS = ("item", "direction", "task", "entry")
FORM_TOKEN_MAX_AGE_S = 7 * 86400  # a cabinet tab left open a week still asks; older: reload
NAME_COOKIE = "hb_name"


# ---------------------------------------------------------------- reading a request's form


def read_request(form: Form) -> dict[str, Any]:
    """The fields of a client's request, as open_request's keywords; a
    field in error is said beside it and nothing is sent."""
    kind = form.choice("kind", REQUEST_KINDS)
    target = form.raw("target")
    name, _sep, number = target.partition(":")
    ref = None
    if name not in TARGET_KINDS or not (number.isascii() and number.isdecimal()) or len(number) > 10 \
            or int(number) > MAX_ID:
        form.fail("target", _("Choose what the request is about."))
    else:
        ref = int(number)
    cap_s = form.hours("hours") if kind == "cap" else None
    text = form.text("text", required=kind == "question", max_len=client_requests.MAX_TEXT)
    fields: dict[str, Any] = {"kind": kind, "cap_s": cap_s, "text": text}
    if ref is not None:
        fields[f"{name}_id"] = ref
    return fields


def _open(session: Session, account: Account, form: Form, *, author: str, source: str, source_ref: str
          ) -> ClientRequest | None:
    fields = read_request(form)
    if not form.ok:
        return None
    kind = fields.pop("kind")
    try:
        return client_requests.open_request(session, account, kind, author=author, source=source,
                                            source_ref=source_ref, **fields)
    except LedgerError as err:
        form.fail("_", _(err.template, **err.params))
        return None


def _announce(request_id: int) -> None:
    """One chat message per request, sent by a job after the commit."""
    from jobs import steering as steering_jobs

    current_app.extensions["hourbook"].runner.enqueue(steering_jobs.announce_request, request_id,
                                                      job_id=f"request-chat-{request_id}")


def _ask(account_id: int, author: str, source: str, source_ref: str) -> tuple[Form, int | None]:
    form = Form()
    s = db.session()
    account = s.get(Account, account_id)
    assert account is not None
    made = _open(s, account, form, author=author, source=source, source_ref=source_ref)
    if made is None:
        s.rollback()
        s.close()
        return form, None
    request_id = made.id
    s.commit()
    _announce(request_id)
    return form, request_id


# ---------------------------------------------------------------- the widget


@bp.post("/widget/<int(max=2147483647):account_id>/request")
def widget_request(account_id: int):
    from .widget import _account_of, _page

    frame = frames.current()
    _account_of(frame, account_id)
    form, made = _ask(account_id, frame.who, "widget", str(frame.user_id))
    if made is None:
        return _page(frame, g.frame_token, account_id, 400, ask=form)
    return redirect(url_for("widget.page", account_id=account_id, t=g.frame_token, asked=made) + "#requests", 303)


# ---------------------------------------------------------------- the cabinet


def _form_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hourbook.cabinet.form")


def cabinet_form_token(link_id: int) -> str:
    return _form_serializer().dumps(link_id)


def _form_link(value: str) -> int | None:
    if not value or len(value) > 200:
        return None
    try:
        found = _form_serializer().loads(value, max_age=FORM_TOKEN_MAX_AGE_S)
    except (SignatureExpired, BadSignature):
        return None
    return found if type(found) is int else None


@bp.post("/cabinet/<token>/request")
def cabinet_request(token: str):
    from .cabinet import open_link, render_page

    account, link = open_link(token)
    if _form_link(request.form.get("_f", "")) != link.id:
        abort(403, description=_("This form has expired. Reload the page and send it again."))
    form = Form()
    who = form.text("name", max_len=100)
    author = " · ".join(x for x in (who, link.label or _("cabinet link")) if x)
    if not form.ok:
        return render_page(account, link, token, 400, ask=form)
    form, made = _ask(account.id, author, "cabinet", f"link:{link.id}")
    if made is None:
        return render_page(account, link, token, 400, ask=form)
    response = make_response(redirect(url_for("cabinet.page", token=token, asked=made) + "#requests", 303))
    if who:
        # The cabinet is a first-party page: an ordinary cookie remembers the name for the next request.
        response.set_cookie(NAME_COOKIE, who, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


# ---------------------------------------------------------------- the manager's plan editor and queue


def _item_of(s: Session, account: Account, form: Form) -> PlanItem | None:
    return own_row(s, account, form, PlanItem, "item_id", _("No such plan item."))


def _request_of(s: Session, account: Account, form: Form) -> ClientRequest | None:
    return own_row(s, account, form, ClientRequest, "request_id", _("No such request."))


def _item_fields(form: Form) -> dict[str, Any]:
    return {"direction_id": form.integer("direction_id"),
            "task_id": form.integer("task_id", required=False, high=10**15),
            "title": form.text("title", max_len=devplan.MAX_TITLE),
            "planned_s": form.hours("planned", allow_zero=True)}


def _item_add(s: Session, account: Account, form: Form, who: str) -> None:
    fields = _item_fields(form)
    if form.ok:
        devplan.add_item(s, account, actor=who, **fields)


def _item_update(s: Session, account: Account, form: Form, who: str) -> None:
    item = _item_of(s, account, form)
    planned_s = form.hours("planned", allow_zero=True)
    if form.ok and item is not None and planned_s is not None:
        devplan.update_item(s, item, direction_id=item.direction_id, planned_s=planned_s, task_id=item.task_id,
                            title=item.title, actor=who)


def _item_move(s: Session, account: Account, form: Form, who: str) -> None:
    """One place up or down the client's order."""
    item = _item_of(s, account, form)
    step = form.choice("move", ("up", "down"))
    if not form.ok or item is None:
        return
    order = [i.id for i in devplan.items(s, account.id)]
    at = order.index(item.id)
    other = at - 1 if step == "up" else at + 1
    if 0 <= other < len(order):
        order[at], order[other] = order[other], order[at]
        devplan.reorder(s, account, order, actor=who)


def _item_state(s: Session, account: Account, form: Form, who: str) -> None:
    item = _item_of(s, account, form)
    state = form.choice("state", devplan.PLAN_ITEM_STATES)
    if form.ok and item is not None:
        devplan.set_item_state(s, item, state, actor=who)


def _item_remove(s: Session, account: Account, form: Form, who: str) -> None:
    item = _item_of(s, account, form)
    if item is not None:
        devplan.remove_item(s, item, actor=who)


def _accept(s: Session, account: Account, form: Form, who: str) -> None:
    found = _request_of(s, account, form)
    answer = form.text("answer", max_len=client_requests.MAX_TEXT)
    if form.ok and found is not None:
        client_requests.accept(s, found, actor=who, answer=answer)


def _decline(s: Session, account: Account, form: Form, who: str) -> None:
    found = _request_of(s, account, form)
    reason = form.text("reason", required=True, max_len=client_requests.MAX_TEXT)
    if form.ok and found is not None:
        client_requests.decline(s, found, actor=who, reason=reason)


MANAGER_ACTIONS = {
    "steer_itemadd": _item_add, "steer_itemupdate": _item_update, "steer_itemmove": _item_move,
    "steer_itemstate": _item_state, "steer_itemremove": _item_remove,
    "steer_accept": _accept, "steer_decline": _decline,
}
# Buttons in the plan's and the queue's rows: a refusal is said at the top of the page.
MANAGER_ROW_ACTIONS = {"steer_itemupdate", "steer_itemmove", "steer_itemstate", "steer_itemremove",
                       "steer_accept", "steer_decline"}
