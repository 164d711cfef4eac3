"""POST /widget: the CRM card tab (company or deal) the portal opens in a
frame; GET /widget/<account>/part: the same view, re-fetched every minute
by the page itself; POST /frame/renew: a fresh frame token for a page left
open longer than the token lives."""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, g, jsonify, make_response, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from b24.client import Transient
from b24.frames import deal_company
from b24.models import PortalAuth
from ledger.access import account_for_company
from ledger.models import Account, Portal

from . import db, frames
from .views import account_view, frame_ancestors, secure

bp = Blueprint("widget", __name__)


def render_frame(template: str, portal_id: int, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    return secure(response, frame_ancestors(db.reader(), portal_id))


def refused(err: frames.FrameRefused):
    messages = {400: _("The portal sent an incomplete request."),
                403: _("Access denied: the portal did not confirm who you are."),
                503: _("The portal did not answer. Try again in a minute.")}
    response = make_response(render_template("error.html", message=messages.get(err.status, err.reason)),
                             err.status)
    return secure(response)


def _company_of(portal: Portal, frame: frames.Frame) -> int | None:
    if frame.entity_id is None:
        return None
    if frame.placement.startswith("CRM_COMPANY"):
        return frame.entity_id
    if frame.placement.startswith("CRM_DEAL") and portal.mode == "integrator":
        endpoint = db.reader().execute(select(PortalAuth.client_endpoint)
                                       .where(PortalAuth.portal_id == portal.id)).scalar_one()
        try:
            return deal_company(endpoint, request.form.get("AUTH_ID", ""), frame.entity_id)
        except Transient:
            raise frames.FrameRefused(503, "the portal did not answer") from None
    return None


@bp.post("/widget")
def widget():
    try:
        frame = frames.open_frame()
        portal = db.reader().get(Portal, frame.portal_id)
        assert portal is not None
        company_id = _company_of(portal, frame)
    except frames.FrameRefused as err:
        return refused(err)
    g.lang = frame.lang
    account = account_for_company(db.reader(), portal, company_id)
    if account is None:
        token = frames.enter(replace(frame, entity_id=company_id))
        manage_url = url_for("manager.home", t=token, company=company_id) if frame.may_manage else None
        message = (_("This company has no retainer in Hourbook yet.") if portal.mode == "integrator"
                   else _("Hourbook is installed but no contract is set up yet."))
        return render_frame("no_account.html", portal.id, message=message, manage_url=manage_url)
    token = frames.enter(frame)
    return _page(frame, token, account.id)


def _page(frame: frames.Frame, token: str, account_id: int, status: int = 200, **extra):
    v = account_view(db.reader(), account_id)
    assert v is not None
    refresh_url = url_for("widget.part", account_id=account_id)
    manage_url = url_for("manager.account", account_id=account_id, t=token) if frame.may_manage else None
    return render_frame("widget.html", frame.portal_id, status, v=v, refresh_url=refresh_url, manage_url=manage_url,
                        ask_url=url_for("steering.widget_request", account_id=account_id), **extra)


def _account_of(frame: frames.Frame, account_id: int) -> Account:
    account = db.reader().get(Account, account_id)
    if account is None or account.portal_id != frame.portal_id:
        abort(404)
    return account


@bp.get("/widget/<int(max=2147483647):account_id>")
def page(account_id: int):
    """The widget for an account, opened from a link inside a frame."""
    frame = frames.current()
    _account_of(frame, account_id)
    return _page(frame, g.frame_token, account_id)


@bp.get("/widget/<int(max=2147483647):account_id>/part")
def part(account_id: int):
    """The summary and the project (templates/_live.html), for the page's minute refresh."""
    frame = frames.current()
    _account_of(frame, account_id)
    v = account_view(db.reader(), account_id)
    return render_frame("_live.html", frame.portal_id, v=v)


@bp.post("/frame/renew")
def renew():
    """A page open near an hour sends the portal's fresh AUTH_ID (the SDK
    keeps it fresh); a new frame token comes back if it names the same user."""
    frame = frames.current()
    try:
        again = frames.open_frame()
    except frames.FrameRefused as err:
        return jsonify(error=err.reason), err.status
    if (again.portal_id, again.user_id) != (frame.portal_id, frame.user_id):
        return jsonify(error="another user"), 403
    token = frames.issue(replace(frame, admin=again.admin, manager=again.manager))
    return jsonify(token=token, max_age_s=frames.TOKEN_MAX_AGE_S)


def register_errors(app) -> None:
    """Frame pages answer errors as pages (or JSON to a fetch), never a
    bare 500 text."""
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith(("/events", "/install", "/healthz")):
            return err  # machine endpoints keep their plain answers
        if request.headers.get(frames.HEADER) or request.path.endswith(".json"):
            return jsonify(error=err.name, description=err.description), err.code
        return secure(make_response(render_template("error.html", message=err.description), err.code))
